import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetteredFire, FireDeadLetters } from '../ports';
import { awsFailure } from './aws-errors';
import { queueUrlResolver } from './sqs-alert-queue';

export interface SqsFireDeadLettersOptions {
  readonly client: SQSClient;
  /** URL of the stage's `fires-dlq` queue (EventBridge Scheduler's dead-letter target), or its name. */
  readonly queueUrl: string | { readonly name: string };
}

/**
 * EventBridge Scheduler's dead letters: each message body is the schedule's target input
 * (`{"jobId":..., "scheduledTime":...}`), or the dispatcher's on-failure destination record whose
 * `requestPayload` is that input; returned parsed when it is JSON and as the raw string otherwise. Short polls: the monitor drains what is there and moves on.
 *
 * @example
 * const dead = new SqsFireDeadLetters({ client: clients.sqs, queueUrl: stack.queues['fires-dlq'] });
 * for (const fire of await dead.receive(10)) { ...; await dead.ack(fire.receipt); }
 */
export class SqsFireDeadLetters implements FireDeadLetters {
  private readonly client: SQSClient;
  private readonly url: () => Promise<string>;

  constructor(options: SqsFireDeadLettersOptions) {
    this.client = options.client;
    this.url = queueUrlResolver(options.client, options.queueUrl);
  }

  async receive(max: number): Promise<DeadLetteredFire[]> {
    const queueUrl = await this.url();
    const out = await this.client
      .send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, Math.max(1, max)),
          WaitTimeSeconds: 0,
        }),
      )
      .catch((error: unknown) => {
        throw awsFailure(`SQS queue ${queueUrl}`, error);
      });
    return (out.Messages ?? []).map((message) => ({
      receipt: message.ReceiptHandle ?? '',
      body: parseBody(message.Body ?? ''),
    }));
  }

  async ack(receipt: string): Promise<void> {
    const queueUrl = await this.url();
    await this.client
      .send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt }))
      .catch((error: unknown) => {
        throw awsFailure(`SQS queue ${queueUrl}`, error);
      });
  }
}

function parseBody(body: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return body;
  }
  // A Lambda on-failure destination record (the dispatcher's, after its async retries) carries the
  // fire it failed as `requestPayload`; Scheduler's own dead letters are the fire itself.
  if (
    typeof parsed === 'object' &&
    parsed !== null &&
    'requestPayload' in parsed &&
    'requestContext' in parsed
  ) {
    return (parsed as { requestPayload: unknown }).requestPayload;
  }
  return parsed;
}
