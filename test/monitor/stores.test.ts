/** The alert and contact adapters against the emulator, through the same contracts as the fakes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoAlertStore } from '../../core/adapters/dynamo-alert-store';
import { DynamoContactStore } from '../../core/adapters/dynamo-contact-store';
import { parseAlertMessage, SqsAlertQueue } from '../../core/adapters/sqs-alert-queue';
import { SqsFireDeadLetters } from '../../core/adapters/sqs-fire-dead-letters';
import { alertStoreContract } from '../../core/testing/contracts/alert-store';
import { contactStoreContract } from '../../core/testing/contracts/contact-store';
import { useEmulator } from '../harness';

const aws = useEmulator();

async function stores() {
  const stack = await aws.provisioned();
  return {
    stack,
    alerts: new DynamoAlertStore({ client: aws.clients.dynamodb, table: stack.tables.alerts }),
    contacts: new DynamoContactStore({ client: aws.clients.dynamodb, table: stack.tables.contacts }),
  };
}

alertStoreContract('DynamoDB', stores);
contactStoreContract('DynamoDB', stores);

describe('SQS alert queue and scheduler dead letters', () => {
  it('sends alert ids the notifier can parse, delayed when asked', async () => {
    const { stack } = await stores();
    const queue = new SqsAlertQueue({ client: aws.clients.sqs, queueUrl: stack.queues.alerts });
    await queue.send({ alertId: 'a-1' });
    await queue.send({ alertId: 'a-2' }, { delaySeconds: 1 });
    const out = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.queues.alerts,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    assert.deepEqual(
      (out.Messages ?? []).map((m) => parseAlertMessage(m.Body ?? '').alertId),
      ['a-1'],
    );
  });

  it('drains dead-lettered fires, parsed, and deletes what was acked', async () => {
    const { stack } = await stores();
    const url = stack.queues['fires-dlq'];
    const dead = new SqsFireDeadLetters({ client: aws.clients.sqs, queueUrl: url });
    await aws.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: JSON.stringify({ jobId: 'j', scheduledTime: '2026-01-30T10:00:00Z' }),
      }),
    );
    await aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'not json' }));
    const got = await dead.receive(10);
    assert.deepEqual(
      got.map((g) => g.body).sort(),
      [{ jobId: 'j', scheduledTime: '2026-01-30T10:00:00Z' }, 'not json'].sort(),
    );
    for (const g of got) await dead.ack(g.receipt);
  });

  it("unwraps the dispatcher's on-failure destination records into the fire they failed", async () => {
    const { stack } = await stores();
    const url = stack.queues['fires-dlq'];
    const dead = new SqsFireDeadLetters({ client: aws.clients.sqs, queueUrl: url });
    const fire = { jobId: 'late', scheduledTime: '2026-01-30T11:00:00Z' };
    // The shape Lambda puts on an SQS on-failure destination after the async retries.
    const record = {
      version: '1.0',
      timestamp: '2026-01-30T11:03:00.000Z',
      requestContext: { requestId: 'r-1', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: fire,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'UnavailableError', errorMessage: 'DynamoDB did not answer' },
    };
    await aws.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(record) }),
    );
    const got = await dead.receive(10);
    assert.deepEqual(
      got.map((g) => g.body),
      [fire],
    );
    for (const g of got) await dead.ack(g.receipt);
  });
});
