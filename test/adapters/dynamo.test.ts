/**
 * The DynamoDB adapters against the emulator, through the same contract suites as the in-memory fakes
 * (core/testing/memory-stores.test.ts), plus what only the real store shows: the raw item layout
 * (JSON-string payloads, TTL attributes) and refusal of corrupt items.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDependencyJoins } from '../../core/adapters/dynamo-dependency-joins';
import { DynamoJobStore } from '../../core/adapters/dynamo-job-store';
import { DynamoLockStore, DynamoRunLedger, RUN_RETENTION_MS } from '../../core/adapters/dynamo-run-ledger';
import { DynamoWorkerRegistry } from '../../core/adapters/dynamo-worker-registry';
import { CloverError } from '../../core/errors';
import { jobLockKey } from '../../core/model';
import { dependencyJoinsContract } from '../../core/testing/contracts/dependency-joins';
import { sampleRegistration, sampleRun, T0 } from '../../core/testing/contracts/fixtures';
import { jobStoreContract } from '../../core/testing/contracts/job-store';
import { runLedgerContract } from '../../core/testing/contracts/run-ledger';
import { workerRegistryContract } from '../../core/testing/contracts/worker-registry';
import { useEmulator } from '../harness';

const aws = useEmulator();

async function stores() {
  const stack = await aws.provisioned();
  const client = aws.clients.dynamodb;
  const locks = new DynamoLockStore({ client, table: stack.tables.locks });
  return {
    client,
    stack,
    jobs: new DynamoJobStore({ client, table: stack.tables.jobs }),
    ledger: new DynamoRunLedger({ client, runsTable: stack.tables.runs, locksTable: stack.tables.locks }),
    locks,
    joins: new DynamoDependencyJoins({ client, table: stack.tables.locks }),
    workers: new DynamoWorkerRegistry({ client, table: stack.tables.workers }),
  };
}

jobStoreContract('DynamoDB', stores);
runLedgerContract('DynamoDB', stores);
dependencyJoinsContract('DynamoDB', stores);
workerRegistryContract('DynamoDB', stores);

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
