import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
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
      /** The body as received, for the dead-letter queue. */
      readonly body: string;
    };

/** A message to move to the dead-letter queue, and why. */
export interface DeadLetter {
  readonly receipt: string;
  readonly body: string;
  readonly reason: string;
  readonly receiveCount: number;
}

/** What {@link SqsInbox.deadLetter} did: moved to the queue's dead-letter queue, or deleted when it has none. */
export type DeadLetterResult =
  | { readonly moved: number; readonly deadLetterQueueUrl: string }
  | { readonly moved: 0; readonly deleted: number; readonly deadLetterQueueUrl?: undefined };

/** Message attributes a dead-lettered message carries: why, from where, after how many receives. */
export const DEAD_LETTER_ATTRIBUTES = {
  reason: 'clover-reason',
  sourceQueue: 'clover-source-queue',
  receiveCount: 'clover-receive-count',
} as const;

/**
 * A worker's end of an SQS dispatch queue (its own queue or its pool's): long-poll, decode, and
 * settle each message — `ack` once the run's claim is decided, `extend` while a run lasts, `release`
 * to let another consumer have it now, `deadLetter` to move poison to the queue's dead-letter queue at
 * once (a malformed message is garbage on its first receipt; waiting for `maxReceiveCount` receives
 * would let it hold up real work).
 */
export class SqsInbox {
  private deadLetterUrl: Promise<string | undefined> | undefined;

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
        return { ok: false, error: malformed, receipt, receiveCount, body: message.Body ?? '' };
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

  /**
   * Moves up to 10 received messages to this queue's dead-letter queue (the redrive policy's target):
   * one SendMessageBatch with each body and its reason, source queue and receive count as message
   * attributes, then one DeleteMessageBatch of what was sent. A queue without a redrive policy has
   * nowhere to keep them: they are deleted. Throws (leaving every message in place) when the send
   * fails; a message the batch did not take stays in the queue.
   */
  async deadLetter(messages: readonly DeadLetter[]): Promise<DeadLetterResult> {
    if (messages.length === 0) return { moved: 0, deleted: 0 };
    if (messages.length > 10) throw new RangeError('deadLetter: at most 10 messages at a time');
    const target = await this.findDeadLetterQueue();
    let sent = messages;
    if (target !== undefined) {
      const out = await this.settleWith(() =>
        this.client.send(
          new SendMessageBatchCommand({
            QueueUrl: target,
            Entries: messages.map((message, index) => ({
              Id: String(index),
              // SQS refuses an empty body; an empty message is still worth keeping as evidence.
              MessageBody: message.body === '' ? '(empty body)' : message.body,
              MessageAttributes: {
                [DEAD_LETTER_ATTRIBUTES.reason]: {
                  DataType: 'String',
                  StringValue: message.reason.slice(0, 1024),
                },
                [DEAD_LETTER_ATTRIBUTES.sourceQueue]: { DataType: 'String', StringValue: this.queueUrl },
                [DEAD_LETTER_ATTRIBUTES.receiveCount]: {
                  DataType: 'Number',
                  StringValue: String(message.receiveCount),
                },
              },
            })),
          }),
        ),
      );
      const ok = new Set((out.Successful ?? []).map((entry) => entry.Id));
      sent = messages.filter((_, index) => ok.has(String(index)));
    }
    if (sent.length > 0) {
      await this.settle(() =>
        this.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: sent.map((message, index) => ({ Id: String(index), ReceiptHandle: message.receipt })),
          }),
        ),
      );
    }
    return target === undefined
      ? { moved: 0, deleted: sent.length }
      : { moved: sent.length, deadLetterQueueUrl: target };
  }

  /** The redrive policy's target, looked up once (GetQueueAttributes, then GetQueueUrl by the ARN's name and account). */
  private findDeadLetterQueue(): Promise<string | undefined> {
    this.deadLetterUrl ??= (async () => {
      const attributes = await this.settleWith(() =>
        this.client.send(
          new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ['RedrivePolicy'] }),
        ),
      );
      const policy = attributes.Attributes?.RedrivePolicy;
      if (!policy) return undefined;
      const arn = String((JSON.parse(policy) as { deadLetterTargetArn?: unknown }).deadLetterTargetArn ?? '');
      // arn:aws:sqs:<region>:<account>:<name>
      const [, , , , account, name] = arn.split(':');
      if (!name) return undefined;
      const out = await this.settleWith(() =>
        this.client.send(
          new GetQueueUrlCommand({
            QueueName: name,
            ...(account ? { QueueOwnerAWSAccountId: account } : {}),
          }),
        ),
      );
      return out.QueueUrl;
    })().catch((error: unknown) => {
      this.deadLetterUrl = undefined;
      throw error;
    });
    return this.deadLetterUrl;
  }

  private async settle(call: () => Promise<unknown>): Promise<void> {
    await this.settleWith(call);
  }

  private async settleWith<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
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
