/**
 * The agent's own queue, whoever made it: a queue the agent creates (local runtime, tests) is
 * deleted on a clean exit; a queue the stack made (-c agents, AWS) is used as it is and kept.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { ensureQueue } from '../core/adapters/provision';
import { physicalName, runtimeDispatchQueue, workerQueueName } from '../infra/resources';
import { useEmulator } from '../test/harness';
import { sqsAgentQueues } from './sqs-queues';

const aws = useEmulator();
const exists = async (name: string) => {
  try {
    await aws.clients.sqs.send(new GetQueueUrlCommand({ QueueName: physicalName(aws.prefix, name) }));
    return true;
  } catch {
    return false;
  }
};

test('GIVEN no queue WHEN the agent starts and exits cleanly THEN it creates its queue and deletes it', async () => {
  await aws.provisioned();
  const queues = sqsAgentQueues(aws.clients.sqs, aws.prefix);
  const own = await queues.own('made-by-agent');
  assert.ok(await exists(workerQueueName('made-by-agent')));
  await queues.remove(own);
  assert.equal(await exists(workerQueueName('made-by-agent')), false);
});

test('GIVEN a queue the stack made WHEN the agent starts and exits cleanly THEN it uses that queue and leaves it', async () => {
  await aws.provisioned();
  const name = workerQueueName('made-by-stack');
  const made = await ensureQueue(aws.clients.sqs, aws.prefix, runtimeDispatchQueue(name));
  const queues = sqsAgentQueues(aws.clients.sqs, aws.prefix);
  const own = await queues.own('made-by-stack');
  assert.equal(own.queueUrl, made.url);
  await queues.remove(own);
  assert.ok(await exists(name));
});
