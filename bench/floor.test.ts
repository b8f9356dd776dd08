import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TimedCall } from './aws-timeline';
import { replayable } from './floor';

test('a replayed path writes its run and lock under fresh keys, reads the real job, and leaves SQS out', async () => {
  const S = (value: string) => ({ S: value });
  const call = (label: string, input: unknown): TimedCall => ({ label, start: 0, end: 1, input });
  const runId = 'job@2026-01-30T10:00:00Z';
  const put = { TableName: 'p-runs', Item: { runId: S(runId), jobId: S('job') } };
  const calls = [
    call('DynamoDB.TransactWriteItems(check:jobs+locks+runs)', {
      TransactItems: [
        { Put: put },
        {
          Update: {
            TableName: 'p-locks',
            Key: { lockKey: S('job#job') },
            ExpressionAttributeValues: { ':o': S(runId) },
          },
        },
        { ConditionCheck: { TableName: 'p-jobs', Key: { jobId: S('job') } } },
      ],
    }),
    call('SQS.SendMessage(worker)', { QueueUrl: 'http://q/worker-a', MessageBody: runId }),
    call('DynamoDB.UpdateItem(runs)', { TableName: 'p-runs', Key: { runId: S(runId) } }),
  ];
  const { commands, keys } = replayable(calls, '#floor1', { runs: 'p-runs', locks: 'p-locks' });
  assert.deepEqual(keys, [
    { table: 'p-runs', key: { runId: S(`${runId}#floor1`) } },
    { table: 'p-locks', key: { lockKey: S('job#job#floor1') } },
  ]);
  assert.equal(commands.length, 3);
  assert.ok(commands[0] && commands[2], 'the DynamoDB calls are replayed');
  assert.equal(commands[1], undefined, 'SQS is not replayed');

  const sent: unknown[] = [];
  const db = { send: async (command: { input: unknown }) => void sent.push(command.input) };
  for (const command of commands) await command?.(db as never);
  const [transaction, update] = sent as [
    {
      TransactItems: Record<string, { Item?: unknown; Key?: unknown; ExpressionAttributeValues?: unknown }>[];
    },
    { Key: unknown },
  ];
  assert.deepEqual(transaction.TransactItems[0]?.Put?.Item, { runId: S(`${runId}#floor1`), jobId: S('job') });
  assert.deepEqual(transaction.TransactItems[1]?.Update?.ExpressionAttributeValues, {
    ':o': S(`${runId}#floor1`),
  });
  assert.deepEqual(transaction.TransactItems[2]?.ConditionCheck?.Key, { jobId: S('job') }, 'the real job');
  assert.deepEqual(update.Key, { runId: S(`${runId}#floor1`) });
  assert.deepEqual(put.Item, { runId: S(runId), jobId: S('job') }, 'the recorded input is left as it was');
});
