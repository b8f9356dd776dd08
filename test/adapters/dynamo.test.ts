/**
 * The DynamoDB adapters against the emulator, through the same contract suites as the in-memory fakes
 * (core/testing/memory-stores.test.ts), plus what only the real store shows: the raw item layout
 * (JSON-string payloads, TTL attributes) and refusal of corrupt items.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { awsClients } from '../../core/adapters/aws-clients';
import { DynamoDependencyJoins } from '../../core/adapters/dynamo-dependency-joins';
import { marshalItem } from '../../core/adapters/dynamo-items';
import { DynamoJobStore } from '../../core/adapters/dynamo-job-store';
import { DynamoLockStore } from '../../core/adapters/dynamo-lock-store';
import { RUN_RETENTION_MS } from '../../core/adapters/dynamo-run-items';
import { DynamoRunLedger } from '../../core/adapters/dynamo-run-ledger';
import { DynamoWatchStore } from '../../core/adapters/dynamo-watch-store';
import { DynamoWorkerRegistry } from '../../core/adapters/dynamo-worker-registry';
import type { ProvisionedStack } from '../../core/adapters/provision';
import { claimFromEnvelope, envelopeFor } from '../../core/envelope';
import { CloverError, LeaseLostError } from '../../core/errors';
import { jobLockKey, type Worker } from '../../core/model';
import { dependencyJoinsContract } from '../../core/testing/contracts/dependency-joins';
import {
  sampleJob,
  sampleRegistration,
  sampleRun,
  T0,
  uniqueId,
} from '../../core/testing/contracts/fixtures';
import { jobStoreContract } from '../../core/testing/contracts/job-store';
import { runLedgerContract } from '../../core/testing/contracts/run-ledger';
import { watchStoreContract } from '../../core/testing/contracts/watch-store';
import { workerRegistryContract } from '../../core/testing/contracts/worker-registry';
import { tableDefinition } from '../../infra/resources';
import { useEmulator } from '../harness';
import { LostAnswerProxy } from '../harness/lost-answer-proxy';

const aws = useEmulator();
/** A TTL (epoch seconds) a day out: items the tests write by hand must outlive the test. */
const FUTURE_TTL = Math.floor(Date.now() / 1000) + 86_400;

/** The job store and run ledger over `client` (the emulator's, or one through a proxy). */
function jobsAndLedger(client: DynamoDBClient, tables: ProvisionedStack['tables']) {
  return {
    jobs: new DynamoJobStore({ client, table: tables.jobs, locksTable: tables.locks }),
    ledger: new DynamoRunLedger({
      client,
      runsTable: tables.runs,
      locksTable: tables.locks,
    }),
  };
}

async function stores() {
  const stack = await aws.provisioned();
  const client = aws.clients.dynamodb;
  return {
    client,
    stack,
    ...jobsAndLedger(client, stack.tables),
    locks: new DynamoLockStore({ client, table: stack.tables.locks }),
    joins: new DynamoDependencyJoins({ client, table: stack.tables.locks }),
    workers: workerRegistry(client, stack.tables),
  };
}

function workerRegistry(client: DynamoDBClient, tables: ProvisionedStack['tables']) {
  return new DynamoWorkerRegistry({ client, table: tables.workers, leasesTable: tables.leases });
}

jobStoreContract('DynamoDB', stores);
runLedgerContract('DynamoDB', stores);
dependencyJoinsContract('DynamoDB', stores);
workerRegistryContract('DynamoDB', stores);
watchStoreContract('DynamoDB', async () => {
  const stack = await aws.provisioned();
  // One watch item per test: they share the stage's locks table.
  return {
    watch: new DynamoWatchStore({
      client: aws.clients.dynamodb,
      table: stack.tables.locks,
      key: uniqueId('watch'),
    }),
  };
});

describe('DynamoDB item layout', () => {
  it('stores opaque payloads as JSON strings and sets the run TTL 90 days out', async () => {
    const { client, stack, ledger } = await stores();
    const run = sampleRun({ payload: { deep: { deeper: [1, { deepest: true }] } } });
    const before = Date.now();
    await ledger.create(run);
    const out = await client.send(
      new GetItemCommand({ TableName: stack.tables.runs, Key: { runId: { S: run.runId } } }),
    );
    assert.equal(out.Item?.payload?.S, JSON.stringify(run.payload));
    const expiresAt = Number(out.Item?.expiresAt?.N);
    assert.ok(expiresAt >= Math.floor((before + RUN_RETENTION_MS) / 1000));
    assert.ok(expiresAt <= Math.ceil((Date.now() + RUN_RETENTION_MS) / 1000));
  });

  it('sets a TTL on locks and leases, never in the past even for old lease times', async () => {
    const { client, stack, ledger, workers } = await stores();
    const run = sampleRun();
    await ledger.createWithLock(run, {
      key: jobLockKey(run.jobId),
      owner: run.runId,
      expiresAt: T0 + 1,
      now: T0,
    });
    const lock = await client.send(
      new GetItemCommand({ TableName: stack.tables.locks, Key: { lockKey: { S: jobLockKey(run.jobId) } } }),
    );
    assert.ok(Number(lock.Item?.ttl?.N) > Date.now() / 1000);
    const worker = await workers.register(sampleRegistration(), T0, 10_000);
    const key = { workerId: { S: worker.workerId } };
    const lease = await client.send(new GetItemCommand({ TableName: stack.tables.leases, Key: key }));
    assert.ok(Number(lease.Item?.ttl?.N) > Date.now() / 1000);
    assert.equal(lease.Item?.leaseFence?.N, '1');
    // The profile is not rewritten while the lease lives, so it gets its TTL only when the lease ends.
    const profile = await client.send(new GetItemCommand({ TableName: stack.tables.workers, Key: key }));
    assert.equal(profile.Item?.ttl, undefined);
    assert.equal(profile.Item?.leaseFence?.N, '1');
    await workers.setStatus(worker.workerId, worker.leaseFence, 'GONE', T0 + 1);
    const gone = await client.send(new GetItemCommand({ TableName: stack.tables.workers, Key: key }));
    assert.equal(gone.Item?.status?.S, 'GONE');
    assert.ok(Number(gone.Item?.ttl?.N) > Date.now() / 1000);
  });

  it('refuses a corrupt item with an internal error naming the table', async () => {
    const { client, stack, ledger } = await stores();
    await client.send(
      new PutItemCommand({
        TableName: stack.tables.runs,
        Item: { runId: { S: 'corrupt-1' }, status: { S: 'WHATEVER' } },
      }),
    );
    await assert.rejects(ledger.get('corrupt-1'), (error: unknown) => {
      assert.ok(error instanceof CloverError);
      assert.equal(error.code, 'internal');
      assert.match(error.message, new RegExp(stack.tables.runs));
      return true;
    });
  });
});

describe('worker profiles and leases apart (cheap heartbeats, docs/capacity.md)', () => {
  /** The registry over a client that records each DynamoDB request as `Command(table)`. */
  async function recorded() {
    const { client, stack } = await stores();
    const { region, credentials } = aws.emulator;
    const clients = awsClients({ endpoint: aws.emulator.endpoint, region, credentials });
    after(() => clients.destroy());
    const sent: string[] = [];
    clients.dynamodb.middlewareStack.add(
      (next, context) => (args) => {
        const table = (args.input as { TableName?: string }).TableName;
        sent.push(
          `${context.commandName}(${table === stack.tables.leases ? 'leases' : table === stack.tables.workers ? 'workers' : table})`,
        );
        return next(args);
      },
      { step: 'initialize' },
    );
    return { client, stack, workers: workerRegistry(clients.dynamodb, stack.tables), sent };
  }

  /** An item as an agent from before the split wrote it: profile and lease in one `workers` item. */
  async function oldItem(client: DynamoDBClient, table: string, worker: Worker) {
    await client.send(
      new PutItemCommand({ TableName: table, Item: marshalItem({ ...worker, ttl: FUTURE_TTL }) }),
    );
  }

  it('a renewal is one UpdateItem of the leases table, which has no index; the profile is left alone', async () => {
    const { client, stack, workers, sent } = await recorded();
    const me = await workers.register(sampleRegistration(), T0, 10_000);
    const key = { workerId: { S: me.workerId } };
    const profile = await client.send(new GetItemCommand({ TableName: stack.tables.workers, Key: key }));
    sent.length = 0;
    const renewed = await workers.renew(me.workerId, me.leaseFence, T0 + 1_000, 10_000, 2);
    assert.deepEqual(sent, ['UpdateItemCommand(leases)']);
    assert.deepEqual(renewed, { ...me, leaseExpiresAt: T0 + 11_000, heartbeatAt: T0 + 1_000, load: 2 });
    assert.deepEqual(tableDefinition('leases').indexes, []);
    const after = await client.send(new GetItemCommand({ TableName: stack.tables.workers, Key: key }));
    assert.deepEqual(after.Item, profile.Item);
    const lease = await client.send(new GetItemCommand({ TableName: stack.tables.leases, Key: key }));
    assert.deepEqual(Object.keys(lease.Item ?? {}).sort(), [
      'heartbeatAt',
      'leaseExpiresAt',
      'leaseFence',
      'load',
      'registeredAt',
      'status',
      'ttl',
      'workerId',
    ]);
  });

  it('reads, drains and expires a worker written before the split, and a new registration takes its id over', async () => {
    const { client, stack, workers } = await stores();
    const pool = uniqueId('pool');
    const registration = sampleRegistration({ pool });
    const old: Worker = {
      ...registration,
      status: 'ACTIVE',
      leaseFence: 7,
      leaseExpiresAt: T0 + 10_000,
      registeredAt: T0,
      heartbeatAt: T0,
      load: 1,
    };
    await oldItem(client, stack.tables.workers, old);
    assert.deepEqual(await workers.get(old.workerId), old);
    assert.deepEqual(await workers.list(pool), [old]);
    await workers.setStatus(old.workerId, 7, 'DRAINING', T0 + 1);
    assert.equal((await workers.get(old.workerId))?.status, 'DRAINING');
    await assert.rejects(workers.setStatus(old.workerId, 6, 'DRAINING', T0 + 1), LeaseLostError);
    assert.equal(await workers.expire(old.workerId, 7, T0 + 9_999), false);
    assert.equal(await workers.expire(old.workerId, 7, T0 + 10_000), true);
    assert.equal((await workers.get(old.workerId))?.status, 'GONE');
    assert.deepEqual(await workers.list(pool), []);

    const next = await workers.register(registration, T0 + 20_000, 10_000);
    assert.equal(next.leaseFence, 8, 'above the old item’s fence');
    assert.deepEqual(await workers.list(pool), [next]);
    await workers.renew(next.workerId, 8, T0 + 21_000, 10_000, 0);
  });

  it('an agent from before the split registering over a split worker is read with its higher fence', async () => {
    const { client, stack, workers } = await stores();
    const registration = sampleRegistration();
    const split = await workers.register(registration, T0, 10_000);
    // The old agent's registration: ADD 1 to the profile's fence, its lease in the profile.
    const old: Worker = {
      ...split,
      leaseFence: split.leaseFence + 1,
      registeredAt: T0 + 1,
      heartbeatAt: T0 + 1,
    };
    await oldItem(client, stack.tables.workers, old);
    assert.deepEqual(await workers.get(registration.workerId), old);
    assert.deepEqual(await workers.list(registration.pool), [old]);
    const again = await workers.register(registration, T0 + 3, 10_000);
    assert.equal(again.leaseFence, old.leaseFence + 1);
  });

  it('leaves out a registration whose profile is still being written', async () => {
    const { client, stack, workers } = await stores();
    const pool = uniqueId('pool');
    const first = await workers.register(sampleRegistration({ pool }), T0, 10_000);
    // The next registration's lease landed, its profile not yet.
    await client.send(
      new PutItemCommand({
        TableName: stack.tables.leases,
        Item: marshalItem({
          workerId: first.workerId,
          status: 'ACTIVE',
          leaseFence: 2,
          leaseExpiresAt: T0 + 20_000,
          heartbeatAt: T0,
          registeredAt: T0,
          load: 0,
          ttl: FUTURE_TTL,
        }),
      }),
    );
    assert.deepEqual(await workers.list(pool), []);
    assert.equal(await workers.get(first.workerId), null);
  });
});

describe('a conditional write the SDK sends twice (the first landed, its answer was lost)', () => {
  // Under load a request can time out after DynamoDB carried it out; the SDK's retry then fails the
  // write's own condition. Each write must recognise its own first attempt, not report a conflict.
  async function lossyStores() {
    const { stack, ledger } = await stores();
    const proxy = await LostAnswerProxy.start(aws.emulator.endpoint);
    const { region, credentials } = aws.emulator;
    const clients = awsClients({ endpoint: proxy.endpoint, region, credentials });
    after(async () => {
      clients.destroy();
      await proxy.close();
    });
    return {
      proxy,
      direct: ledger,
      ...jobsAndLedger(clients.dynamodb, stack.tables),
      workers: workerRegistry(clients.dynamodb, stack.tables),
    };
  }

  it('a worker registration whose lease put was retried keeps its fence', async () => {
    const { proxy, workers } = await lossyStores();
    proxy.loseNext('PutItem');
    const worker = await workers.register(sampleRegistration(), T0, 10_000);
    assert.equal(proxy.lost, 1);
    assert.equal(worker.leaseFence, 1);
    assert.deepEqual(await workers.renew(worker.workerId, 1, T0 + 1, 10_000, 0), {
      ...worker,
      heartbeatAt: T0 + 1,
      leaseExpiresAt: T0 + 10_001,
    });
  });

  it('a job put and a job delete succeed; a real conflict still fails', async () => {
    const { proxy, jobs } = await lossyStores();
    const job = sampleJob({ jobId: 'retried-put' });
    proxy.loseNext('PutItem');
    await jobs.put(job, 0);
    assert.deepEqual(await jobs.get('retried-put'), job);
    proxy.loseNext('DeleteItem');
    await jobs.delete('retried-put', job.version);
    assert.equal(await jobs.get('retried-put'), null);
    assert.equal(proxy.lost, 2, 'both answers were lost and both writes were retried');
    await jobs.put(job, 0);
    await assert.rejects(jobs.put({ ...job, version: 2 }, 0), { code: 'version_conflict' });
  });

  it('a run create is not taken for a second fire, and a claim is not refused as taken', async () => {
    const { proxy, direct, ledger } = await lossyStores();
    const run = sampleRun({ status: 'DISPATCHED', fence: 1, workerId: 'w-1', deadlineAt: T0 + 60_000 });
    proxy.loseNext('PutItem');
    await ledger.create(run);
    await assert.rejects(direct.create(run), { code: 'already_fired' }, 'a second fire still collides');
    proxy.loseNext('UpdateItem');
    const claim = claimFromEnvelope(envelopeFor(run, T0 + 60_000, T0), 'w-1', T0 + 10);
    const claimed = await ledger.claim(run.runId, claim);
    assert.equal(claimed.status, 'RUNNING');
    assert.equal(claimed.startedAt, T0 + 10);
    assert.equal(proxy.lost, 2);
    await assert.rejects(ledger.claim(run.runId, { ...claim, workerId: 'w-2' }), 'another worker is refused');
  });

  it('a fire written with its lock, then its finish and release, are each their own success', async () => {
    const { proxy, ledger } = await lossyStores();
    const run = sampleRun({ jobId: 'retried-fire', status: 'RUNNING', workerId: 'w-1' });
    const key = jobLockKey(run.jobId);
    const locked = { ...run, lockKey: key };
    // The lock take and the run's put are two single-item writes: lose both answers.
    proxy.loseNext('UpdateItem');
    proxy.loseNext('PutItem');
    await ledger.createWithLock(locked, { key, owner: run.runId, expiresAt: T0 + 60_000, now: T0 });
    // The finish is two single-item writes (the run, then the lock item): lose the run's answer.
    proxy.loseNext('UpdateItem');
    const change = { from: ['RUNNING' as const], fence: 1, to: 'FAILED' as const, at: T0 + 5 };
    const finished = await ledger.finish(locked, { ...change, release: true, health: 'failing' });
    assert.equal(finished.run.status, 'FAILED');
    assert.equal(finished.released, true);
    assert.equal(proxy.lost, 3, 'every answer was lost and every write was retried');
    await assert.rejects(ledger.finish(locked, { ...change, release: true }), { code: 'run_not_in_state' });
  });
});
