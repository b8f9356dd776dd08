import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../core/errors';
import {
  MAX_PREFIX_LENGTH,
  physicalName,
  poolQueueName,
  queueDefinition,
  queues,
  runtimeDispatchQueue,
  scheduleGroupName,
  tableDefinition,
  tables,
  validatePrefix,
  workerQueueName,
} from './resources';

const SQS_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const longestPrefix = 'p'.repeat(MAX_PREFIX_LENGTH);

describe('resource definitions', () => {
  test('every table and index is PAY_PER_REQUEST with consistently typed key attributes', () => {
    assert.deepEqual(tables.map((t) => t.logicalName).sort(), [
      'alerts',
      'audit',
      'contacts',
      'jobs',
      'leases',
      'locks',
      'runs',
      'workers',
    ]);
    for (const table of tables) {
      assert.equal(table.billingMode, 'PAY_PER_REQUEST');
      const types = new Map<string, string>();
      for (const key of [
        table.partitionKey,
        table.sortKey,
        ...table.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
      ]) {
        if (key === undefined) continue;
        assert.equal(types.get(key.name) ?? key.type, key.type, `${table.logicalName}.${key.name}`);
        types.set(key.name, key.type);
      }
    }
    assert.deepEqual(
      tableDefinition('runs').indexes.map((i) => [i.name, i.partitionKey.name, i.sortKey?.name]),
      [
        ['byJob', 'jobId', 'scheduledTime'],
        ['byOpenKeys', 'open', 'scheduledTime'],
        ['byWorker', 'workerId', 'scheduledTime'],
        ['byDay', 'day', 'dayOrder'],
      ],
    );
    assert.equal(tableDefinition('locks').ttlAttribute, 'ttl');
  });

  test('each dead-letter queue is listed before the queues that name it', () => {
    const seen = new Set<string>();
    for (const queue of queues) {
      if (queue.deadLetter !== undefined) {
        assert.ok(
          seen.has(queue.deadLetter.queue),
          `${queue.logicalName} names ${queue.deadLetter.queue} before it`,
        );
        assert.equal(queueDefinition(queue.deadLetter.queue as 'alerts-dlq').deadLetter, undefined);
      }
      seen.add(queue.logicalName);
    }
    assert.equal(queueDefinition('dispatch-default').deadLetter?.maxReceiveCount, 5);
    assert.equal(queueDefinition('fires-dlq').deadLetter, undefined);
  });

  test('names fit SQS and Scheduler limits with the longest prefix', () => {
    for (const queue of queues) assert.match(physicalName(longestPrefix, queue.logicalName), SQS_NAME);
    assert.ok(scheduleGroupName(longestPrefix).length <= 64);
    assert.equal(physicalName('clover-dev', 'runs'), 'clover-dev-runs-v2');
  });

  test('prefixes outside the SQS alphabet or too long are rejected, naming prefix and why', () => {
    for (const bad of ['', 'clover.dev', '-x', 'a b', 'p'.repeat(MAX_PREFIX_LENGTH + 1)]) {
      assert.throws(
        () => validatePrefix(bad),
        (error: unknown) => error instanceof ValidationError && error.issues[0]?.field === 'prefix',
        JSON.stringify(bad),
      );
    }
    assert.throws(() => physicalName('a/b', 'jobs'), /prefix: "a\/b" may contain only/);
  });

  test('pool and worker queue names are SQS-safe, short enough and distinct', () => {
    assert.equal(poolQueueName('default'), 'dispatch-default');
    assert.equal(workerQueueName('host-1'), 'worker-host-1');
    const ids = ['ip-10.0.0.1', 'ip-10-0-0-1', 'x'.repeat(64), `${'x'.repeat(63)}y`, 'a.b_c'];
    const names = ids.map(workerQueueName);
    assert.equal(new Set(names).size, ids.length);
    for (const name of [...names, poolQueueName('p'.repeat(64))]) {
      assert.match(physicalName(longestPrefix, name), SQS_NAME, name);
    }
    assert.equal(workerQueueName('ip-10.0.0.1'), workerQueueName('ip-10.0.0.1'));
    assert.equal(runtimeDispatchQueue(workerQueueName('w')).deadLetter?.queue, 'dispatch-default-dlq');
    assert.throws(() => runtimeDispatchQueue('bad.name'), ValidationError);
  });
});
