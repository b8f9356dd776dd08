import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { runtimeDispatchQueue, workerQueueName } from '../../infra/resources';
import type { DispatchEnvelope } from '../envelope';
import { MalformedMessageError } from '../errors';
import { longPollTimeoutMs } from './aws-clients';
import { awsFailure } from './aws-errors';
import { fromSqsBody } from './envelope-codec';
import { ensureQueue } from './provision';

/** One received message: the decoded envelope, or why it could not be decoded. */
export type InboxMessage =
  | {
      readonly ok: true;
      readonly envelope: DispatchEnvelope;
      readonly receipt: string;
      readonly receiveCount: number;
    }
  | {
      readonly ok: false;
      readonly error: MalformedMessageError;
      readonly receipt: string;
      readonly receiveCount: number;
    };

/**
 * A worker's end of an SQS dispatch queue (its own queue or its pool's): long-poll, decode, and
 * settle each message — `ack` once the run's claim is decided, `extend` while a run lasts, `release`
 * to let another consumer have it now. A malformed message is never acked: it is left to reach the
 * queue's dead-letter queue after `maxReceiveCount` receives.
 */
export class SqsInbox {
  constructor(
    private readonly client: SQSClient,
    readonly queueUrl: string,
  ) {}

  async receive(
    options: { maxMessages?: number; waitSeconds?: number; signal?: AbortSignal } = {},
  ): Promise<InboxMessage[]> {
    const waitSeconds = options.waitSeconds ?? 20;
    const out = await this.client
      .send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: Math.min(10, Math.max(1, options.maxMessages ?? 10)),
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        // The client's default deadline is for quick calls; a long poll gets its wait plus slack.
        {
          requestTimeout: longPollTimeoutMs(waitSeconds),
          ...(options.signal ? { abortSignal: options.signal } : {}),
        },
      )
      .catch((error: unknown) => {
        throw awsFailure(`SQS queue ${this.queueUrl}`, error);
      });
    return (out.Messages ?? []).map((message): InboxMessage => {
      const receipt = message.ReceiptHandle ?? '';
      const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
      try {
        return { ok: true, envelope: fromSqsBody(message.Body ?? ''), receipt, receiveCount };
      } catch (error) {
        const malformed =
          error instanceof MalformedMessageError
            ? error
            : new MalformedMessageError('undecodable body', error);
        return { ok: false, error: malformed, receipt, receiveCount };
      }
    });
  }

  async ack(receipt: string): Promise<void> {
    await this.settle(() =>
      this.client.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receipt })),
    );
  }

  /** Keeps the message invisible for `seconds` more (a run longer than the queue's visibility timeout). */
  async extend(receipt: string, seconds: number): Promise<void> {
    await this.settle(() =>
      this.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.queueUrl,
          ReceiptHandle: receipt,
          VisibilityTimeout: seconds,
        }),
      ),
    );
  }

  /** Makes the message visible again at once, for another consumer. */
  async release(receipt: string): Promise<void> {
    await this.extend(receipt, 0);
  }

  private async settle(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (error) {
      throw awsFailure(`SQS queue ${this.queueUrl}`, error);
    }
  }
}

/** Creates (or finds) a worker's own dispatch queue and returns its URL, for the worker's lease endpoints. */
export async function ensureWorkerQueue(
  client: SQSClient,
  prefix: string,
  workerId: string,
): Promise<string> {
  const queue = await ensureQueue(client, prefix, runtimeDispatchQueue(workerQueueName(workerId)));
  return queue.url;
}

/** Deletes a worker's own queue when it leaves for good. */
export async function removeWorkerQueue(client: SQSClient, queueUrl: string): Promise<void> {
  await client.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch((error: unknown) => {
    throw awsFailure(`SQS queue ${queueUrl}`, error);
  });
}
