import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DescribeTableCommand, DescribeTimeToLiveCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetScheduleGroupCommand } from '@aws-sdk/client-scheduler';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import {
  projectionOf,
  queues,
  runtimeDispatchQueue,
  tableDefinition,
  tables,
  workerQueueName,
} from '../../infra/resources';
import { useEmulator } from '../../test/harness';
import { ValidationError } from '../errors';
import { ensureQueue, type ProvisionProgress, provision, teardown } from './provision';

const aws = useEmulator();

async function attributes(url: string) {
  const out = await aws.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
  );
  return out.Attributes ?? {};
}

describe('provision', () => {
  test('creates every table, queue and the schedule group, and a second run changes nothing', async () => {
    const first: ProvisionProgress[] = [];
    const stack = await provision(aws.clients, aws.prefix, { onProgress: (p) => first.push(p) });
    assert.equal(stack.tables.runs, `${aws.prefix}-runs-v2`);
    assert.equal(stack.scheduleGroup, aws.prefix);
    assert.equal(first.filter((p) => p.action === 'created').length, first.length, JSON.stringify(first));
    assert.equal(first.length, tables.length + queues.length + 1); // + the schedule group

    const second: ProvisionProgress[] = [];
    const again = await provision(aws.clients, aws.prefix, { onProgress: (p) => second.push(p) });
    assert.deepEqual(again, stack);
    assert.deepEqual(
      second.filter((p) => p.action !== 'unchanged'),
      [],
    );
    assert.equal(second.length, first.length);
  });

  test('the runs table has its key, every declared index and TTL on expiresAt', async () => {
    const stack = await provision(aws.clients, aws.prefix);
    const { Table } = await aws.clients.dynamodb.send(
      new DescribeTableCommand({ TableName: stack.tables.runs }),
    );
    assert.equal(Table?.TableStatus, 'ACTIVE');
    assert.equal(Table?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST', 'PAY_PER_REQUEST');
    assert.deepEqual(Table?.KeySchema, [{ AttributeName: 'runId', KeyType: 'HASH' }]);
    const indexes = Object.fromEntries(
      (Table?.GlobalSecondaryIndexes ?? []).map((i) => [
        i.IndexName,
        { keys: i.KeySchema, projection: i.Projection },
      ]),
    );
    // Every index that infra/resources.ts declares for the runs table, as declared: keys and projection.
    const declared = Object.fromEntries(
      tableDefinition('runs').indexes.map((index) => [
        index.name,
        {
          keys: [
            { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
            ...(index.sortKey ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' }] : []),
          ],
          projection: projectionOf(index).attributes
            ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...(projectionOf(index).attributes ?? [])] }
            : { ProjectionType: projectionOf(index).type },
        },
      ]),
    );
    assert.ok(
      'byJob' in declared && 'byOpenKeys' in declared,
      'the monitor and run history need byJob and byOpenKeys',
    );
    assert.deepEqual(indexes, declared);
    const ttl = await aws.clients.dynamodb.send(
      new DescribeTimeToLiveCommand({ TableName: stack.tables.runs }),
    );
    assert.deepEqual(ttl.TimeToLiveDescription, { TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
  });

  test('queues redrive to their dead-letter queue after five receives; fires-dlq has none', async () => {
    const stack = await provision(aws.clients, aws.prefix);
    const dispatch = await attributes(stack.queues['dispatch-default']);
    assert.equal(dispatch.VisibilityTimeout, '60');
    assert.deepEqual(JSON.parse(dispatch.RedrivePolicy ?? '{}'), {
      deadLetterTargetArn: stack.queueArns['dispatch-default-dlq'],
      maxReceiveCount: 5,
    });
    const alerts = await attributes(stack.queues.alerts);
    assert.equal(JSON.parse(alerts.RedrivePolicy ?? '{}').deadLetterTargetArn, stack.queueArns['alerts-dlq']);
    const fires = await attributes(stack.queues['fires-dlq']);
    assert.equal(fires.RedrivePolicy, undefined);
    assert.equal(fires.MessageRetentionPeriod, String(14 * 86_400));
  });

  test('the schedule group exists', async () => {
    const stack = await provision(aws.clients, aws.prefix);
    const group = await aws.clients.scheduler.send(
      new GetScheduleGroupCommand({ Name: stack.scheduleGroup }),
    );
    assert.equal(group.Name, aws.prefix);
    assert.equal(group.State, 'ACTIVE');
  });

  test('a changed queue attribute is put back', async () => {
    const stack = await provision(aws.clients, aws.prefix);
    const url = stack.queues['dispatch-default'];
    await aws.clients.sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: '5' } }),
    );
    const progress: ProvisionProgress[] = [];
    await provision(aws.clients, aws.prefix, { onProgress: (p) => progress.push(p) });
    assert.deepEqual(
      progress.filter((p) => p.action !== 'unchanged'),
      [
        {
          resource: 'queue',
          name: `${aws.prefix}-dispatch-default`,
          action: 'updated',
          detail: 'VisibilityTimeout',
        },
      ],
    );
    assert.equal((await attributes(url)).VisibilityTimeout, '60');
  });

  test('a runtime worker queue gets dispatch-default attributes and its dead-letter queue', async () => {
    const stack = await provision(aws.clients, aws.prefix);
    const queue = await ensureQueue(
      aws.clients.sqs,
      aws.prefix,
      runtimeDispatchQueue(workerQueueName('ip-10.0.0.7')),
    );
    assert.match(queue.url, /-worker-ip-10-0-0-7-[0-9a-f]{8}$/);
    const attrs = await attributes(queue.url);
    assert.equal(attrs.VisibilityTimeout, '60');
    assert.equal(
      JSON.parse(attrs.RedrivePolicy ?? '{}').deadLetterTargetArn,
      stack.queueArns['dispatch-default-dlq'],
    );
    const again = await ensureQueue(
      aws.clients.sqs,
      aws.prefix,
      runtimeDispatchQueue(workerQueueName('ip-10.0.0.7')),
    );
    assert.deepEqual(again, queue);
  });

  test('rejects a prefix that SQS would not accept, naming the prefix', async () => {
    await assert.rejects(provision(aws.clients, 'clover.dev'), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.issues[0]?.field, 'prefix');
      assert.match(error.message, /clover\.dev/);
      return true;
    });
  });

  test('teardown removes everything, runtime queues included, and is safe to repeat', async () => {
    const stack = await provision(aws.clients, aws.prefix);
    await ensureQueue(aws.clients.sqs, aws.prefix, runtimeDispatchQueue(workerQueueName('w-1')));
    const progress: ProvisionProgress[] = [];
    await teardown(aws.clients, aws.prefix, { onProgress: (p) => progress.push(p) });
    assert.ok(progress.some((p) => p.name === `${aws.prefix}-worker-w-1` && p.action === 'deleted'));

    const listed = await aws.clients.dynamodb.send(new ListTablesCommand({}));
    assert.deepEqual(
      (listed.TableNames ?? []).filter((name) => name.startsWith(`${aws.prefix}-`)),
      [],
    );
    for (const name of [
      `${aws.prefix}-dispatch-default`,
      `${aws.prefix}-fires-dlq`,
      `${aws.prefix}-worker-w-1`,
    ]) {
      await assert.rejects(aws.clients.sqs.send(new GetQueueUrlCommand({ QueueName: name })), {
        name: 'QueueDoesNotExist',
      });
    }
    await assert.rejects(
      aws.clients.scheduler.send(new GetScheduleGroupCommand({ Name: stack.scheduleGroup })),
      {
        name: 'ResourceNotFoundException',
      },
    );

    const repeat: ProvisionProgress[] = [];
    await teardown(aws.clients, aws.prefix, { onProgress: (p) => repeat.push(p) });
    assert.deepEqual(
      repeat.filter((p) => p.action !== 'absent'),
      [],
    );
  });
});
