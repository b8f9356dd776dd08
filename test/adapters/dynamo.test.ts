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
import { DynamoJobStore } from '../../core/adapters/dynamo-job-store';
import { DynamoLockStore } from '../../core/adapters/dynamo-lock-store';
import { RUN_RETENTION_MS } from '../../core/adapters/dynamo-run-items';
import { DynamoRunLedger } from '../../core/adapters/dynamo-run-ledger';
import { DynamoWatchStore } from '../../core/adapters/dynamo-watch-store';
import { DynamoWorkerRegistry } from '../../core/adapters/dynamo-worker-registry';
import type { ProvisionedStack } from '../../core/adapters/provision';
import { claimFromEnvelope, envelopeFor } from '../../core/envelope';
import { CloverError } from '../../core/errors';
import { jobLockKey } from '../../core/model';
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
import { useEmulator } from '../harness';
import { LostAnswerProxy } from '../harness/lost-answer-proxy';

const aws = useEmulator();

/** The job store and run ledger over `client` (the emulator's, or one through a proxy). */
function jobsAndLedger(client: DynamoDBClient, tables: ProvisionedStack['tables']) {
  return {
    jobs: new DynamoJobStore({ client, table: tables.jobs }),
    ledger: new DynamoRunLedger({
      client,
      runsTable: tables.runs,
      locksTable: tables.locks,
      jobsTable: tables.jobs,
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
    workers: new DynamoWorkerRegistry({ client, table: stack.tables.workers }),
  };
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

  it('sets a TTL on locks and workers, never in the past even for old lease times', async () => {
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
    const item = await client.send(
      new GetItemCommand({ TableName: stack.tables.workers, Key: { workerId: { S: worker.workerId } } }),
    );
    assert.ok(Number(item.Item?.ttl?.N) > Date.now() / 1000);
    assert.equal(item.Item?.leaseFence?.N, '1');
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
    return { proxy, direct: ledger, ...jobsAndLedger(clients.dynamodb, stack.tables) };
  }

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

  it('a fire written with its lock and the job check, then its finish and release, are each their own success', async () => {
    const { proxy, jobs, ledger } = await lossyStores();
    const job = sampleJob({ jobId: 'retried-fire', concurrency: { policy: 'FORBID' } });
    await jobs.put(job, 0);
    const run = sampleRun({ jobId: 'retried-fire', status: 'RUNNING', workerId: 'w-1' });
    const key = jobLockKey(run.jobId);
    const locked = { ...run, lockKey: key };
    const expect = { jobId: run.jobId, version: 1, updatedAt: job.updatedAt, hasDownstream: false };
    proxy.loseNext('TransactWriteItems');
    await ledger.createWithLock(locked, { key, owner: run.runId, expiresAt: T0 + 60_000, now: T0 }, expect);
    // The finish is two single-item writes (the run, then the lock item): lose the run's answer.
    proxy.loseNext('UpdateItem');
    const change = { from: ['RUNNING' as const], fence: 1, to: 'FAILED' as const, at: T0 + 5 };
    const finished = await ledger.finish(locked, { ...change, release: true, health: 'failing' });
    assert.equal(finished.run.status, 'FAILED');
    assert.equal(finished.released, true);
    assert.equal(proxy.lost, 2, 'both answers were lost and both writes were retried');
    await assert.rejects(ledger.finish(locked, { ...change, release: true }), { code: 'run_not_in_state' });
  });
});
