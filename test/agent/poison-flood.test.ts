/**
 * Poison goes straight to the dead-letter queue: 200 malformed messages (every kind the decoder
 * refuses; test/harness/poison.ts) land on a real agent's own queue, then a real fire is delivered to
 * the same queue behind them. Each malformed message is moved to the dead-letter queue on its first
 * receipt, with its reason, its source queue and its receive count (1) as message attributes, and the
 * real run starts and succeeds. The source queue ends empty: nothing was left to come back.
 * Fire-to-start with and without the flood is measured by the benchmark (bench/poison-flood.ts).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { GetQueueAttributesCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { controlPlane } from '../../core/adapters/control-plane';
import { DEAD_LETTER_ATTRIBUTES } from '../../core/adapters/sqs-inbox';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { poisonBodies, sendBodies } from '../harness/poison';

const aws = useEmulator();
const agents = useAgents();

test('200 malformed messages then a real fire on the same queue: all 200 dead-lettered after one receive each, and the run starts', async () => {
  const stack = await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const agent = await agents.start({
    aws,
    workerId: 'f1',
    config: `pool: flood\ncapacity: 2\nheartbeatIntervalSeconds: 1\nleaseTtlSeconds: 5\n${testHandlersConfig()}`,
  });
  await agent.waitForLog(/agent started/, 30_000);
  const queueUrl = (await plane.workers.get('f1'))?.endpoints.queueUrl ?? '';
  assert.ok(queueUrl);
  await plane.jobService.define({
    jobId: 'real-work',
    handler: 'work',
    payload: { sleepMs: 10 },
    target: { pool: 'flood' },
  });

  const bodies = poisonBodies(200);
  await sendBodies(aws.clients.sqs, queueUrl, bodies);
  const firedAt = Date.now();
  const outcome = await plane.dispatcher.fire({ jobId: 'real-work', trigger: 'MANUAL' });
  assert.equal(outcome.kind, 'dispatched');
  const run = outcome.kind === 'dispatched' ? outcome.runs[0]! : assert.fail('not dispatched');
  assert.equal(run.workerId, 'f1');

  let done = await plane.runs.get(run.runId);
  for (let i = 0; i < 600 && done?.status !== 'SUCCEEDED'; i += 1) {
    await new Promise((r) => setTimeout(r, 100));
    done = await plane.runs.get(run.runId);
  }
  assert.equal(done?.status, 'SUCCEEDED', agent.text.slice(-4000));
  const executed = (await readFile(agent.execFile, 'utf8')).split('\n').filter(Boolean);
  assert.deepEqual(executed, [run.runId], 'the real run ran, once');
  console.log(`fire to handler start behind 200 malformed messages: ${(done?.startedAt ?? 0) - firedAt} ms`);

  // Every malformed message is in the dead-letter queue, moved on its first receipt, with its reason.
  const letters = new Map<string, Message>();
  for (let empty = 0; letters.size < 200 && empty < 3; ) {
    const out = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.queues['dispatch-default-dlq'],
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 300,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
      }),
    );
    if (!out.Messages?.length) empty += 1;
    for (const message of out.Messages ?? []) letters.set(message.MessageId ?? '', message);
  }
  assert.equal(letters.size, 200, 'all 200 are in the dead-letter queue');
  const attribute = (message: Message, name: string) => message.MessageAttributes?.[name]?.StringValue;
  for (const message of letters.values()) {
    assert.equal(attribute(message, DEAD_LETTER_ATTRIBUTES.receiveCount), '1', 'moved on its first receipt');
    assert.equal(attribute(message, DEAD_LETTER_ATTRIBUTES.sourceQueue), queueUrl);
    assert.match(attribute(message, DEAD_LETTER_ATTRIBUTES.reason) ?? '', /^malformed message: /);
  }
  assert.deepEqual(
    [...letters.values()].map((message) => message.Body).sort(),
    [...bodies].sort(),
    'the bodies are kept as they were sent',
  );
  const moved = agent
    .lines()
    .filter((line) => line.message === 'malformed message moved to the dead-letter queue');
  assert.equal(moved.length, 200, 'one log line each, with the reason');
  assert.ok(moved.every((line) => typeof line.reason === 'string' && line.reason !== ''));

  const left = await aws.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  assert.equal(left.Attributes?.ApproximateNumberOfMessages, '0');
  assert.equal(left.Attributes?.ApproximateNumberOfMessagesNotVisible, '0', 'nothing waits to come back');

  agent.signal('SIGTERM');
  assert.equal((await agent.waitForExit()).code, 0, agent.text);
});
