import {
  GetQueueUrlCommand,
  type MessageAttributeValue,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { physicalName, poolQueueName, validatePrefix } from '../../infra/resources';
import { type DispatchEnvelope, MAX_SQS_BODY_BYTES } from '../envelope';
import { CloverError, PayloadTooLargeError } from '../errors';
import type { Delivery, DeliveryTarget } from '../ports';
import { awsFailure, errorName } from './aws-errors';
import { toSqsBody } from './envelope-codec';

export interface SqsDeliveryOptions {
  readonly client: SQSClient;
  /** The stage's resource prefix: a pool's queue is `physicalName(prefix, poolQueueName(pool))` (infra/resources.ts). */
  readonly prefix: string;
}

/** Message attribute names every delivery carries (for filtering, tracing and DLQ triage without decoding). */
export const SQS_ATTRIBUTES = { runId: 'clover.runId', jobId: 'clover.jobId', version: 'clover.v' } as const;

/**
 * Delivers envelopes over SQS: to a pool's queue (competing capable consumers) or to one worker's
 * own queue (`worker.endpoints.queueUrl`). One SendMessage per delivery; a pool's queue URL is
 * resolved with GetQueueUrl once per pool and kept for the life of the (warm) process.
 *
 * Size: the body is the base64 frame (see envelope-codec.ts); SQS counts message attributes
 * towards its 262,144-byte limit too, so the total is checked here, before sending
 * ({@link PayloadTooLargeError}, nothing sent).
 *
 * @example
 * const delivery = new SqsDelivery({ client: clients.sqs, prefix: 'clover-dev' });
 * await delivery.deliver({ kind: 'pool', pool: 'default' }, envelope);
 */
export class SqsDelivery implements Delivery {
  private readonly client: SQSClient;
  private readonly poolQueueName: (pool: string) => string;
  private readonly poolUrls = new Map<string, Promise<string>>();

  constructor(options: SqsDeliveryOptions) {
    this.client = options.client;
    const prefix = validatePrefix(options.prefix);
    this.poolQueueName = (pool) => physicalName(prefix, poolQueueName(pool));
  }

  async deliver(target: DeliveryTarget, envelope: DispatchEnvelope): Promise<void> {
    const body = toSqsBody(envelope);
    const attributes: Record<string, MessageAttributeValue> = {
      [SQS_ATTRIBUTES.runId]: { DataType: 'String', StringValue: envelope.runId },
      [SQS_ATTRIBUTES.jobId]: { DataType: 'String', StringValue: envelope.jobId },
      [SQS_ATTRIBUTES.version]: { DataType: 'Number', StringValue: String(envelope.v) },
    };
    const size = body.length + attributesSize(attributes);
    if (size > MAX_SQS_BODY_BYTES) throw new PayloadTooLargeError('envelope', size, MAX_SQS_BODY_BYTES);
    const queueUrl = await this.queueUrl(target);
    try {
      await this.client.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageAttributes: attributes }),
      );
    } catch (error) {
      if (errorName(error) === 'QueueDoesNotExist') {
        if (target.kind === 'pool') this.poolUrls.delete(target.pool); // deleted since we looked it up
        throw missingQueue(target, error);
      }
      throw awsFailure(`SQS queue ${queueUrl}`, error);
    }
  }

  private async queueUrl(target: DeliveryTarget): Promise<string> {
    if (target.kind === 'worker') {
      const url = target.worker.endpoints.queueUrl;
      if (!url) {
        throw new CloverError('no_worker', `worker ${target.worker.workerId} has no SQS queue endpoint`, {
          details: { workerId: target.worker.workerId },
        });
      }
      return url;
    }
    let url = this.poolUrls.get(target.pool);
    if (!url) {
      url = this.resolvePool(target.pool);
      this.poolUrls.set(target.pool, url);
      // A failed lookup is not cached: the queue may be created, or the network come back.
      url.catch(() => this.poolUrls.delete(target.pool));
    }
    return url;
  }

  private async resolvePool(pool: string): Promise<string> {
    const queueName = this.poolQueueName(pool);
    try {
      const out = await this.client.send(new GetQueueUrlCommand({ QueueName: queueName }));
      if (!out.QueueUrl) throw new CloverError('internal', `GetQueueUrl for ${queueName} returned no URL`);
      return out.QueueUrl;
    } catch (error) {
      if (errorName(error) === 'QueueDoesNotExist') throw missingQueue({ kind: 'pool', pool }, error);
      throw awsFailure(`SQS queue ${queueName}`, error);
    }
  }
}

function missingQueue(target: DeliveryTarget, cause: unknown): CloverError {
  if (target.kind === 'pool') {
    return new CloverError('not_found', `no SQS queue for pool ${JSON.stringify(target.pool)}`, {
      cause,
      details: { kind: 'pool queue', id: target.pool, pool: target.pool },
    });
  }
  return new CloverError('no_worker', `the SQS queue of worker ${target.worker.workerId} does not exist`, {
    cause,
    details: { workerId: target.worker.workerId, queueUrl: target.worker.endpoints.queueUrl },
  });
}

/** SQS counts each attribute's name, type and value towards the message size. */
function attributesSize(attributes: Record<string, MessageAttributeValue>): number {
  let size = 0;
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '');
    size += Buffer.byteLength(value.StringValue ?? '');
  }
  return size;
}
