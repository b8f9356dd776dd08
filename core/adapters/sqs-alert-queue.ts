import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { MalformedMessageError } from '../errors';
import type { AlertMessage, AlertQueue } from '../ports';
import { awsFailure } from './aws-errors';

/** The body of an alerts-queue message: `{"v":1,"alertId":"..."}`. */
export const AlertMessageSchema = z.strictObject({ v: z.literal(1), alertId: z.string().min(1).max(256) });

/** SQS holds a message back at most 15 minutes. */
export const MAX_DELAY_SECONDS = 900;

export function alertMessageBody(message: AlertMessage): string {
  return JSON.stringify({ v: 1, alertId: message.alertId });
}

/** Parses an alerts-queue body; MalformedMessageError for anything else. */
export function parseAlertMessage(body: string): AlertMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new MalformedMessageError('alert message is not JSON', error);
  }
  const parsed = AlertMessageSchema.safeParse(json);
  if (!parsed.success) throw new MalformedMessageError(`alert message: ${parsed.error.issues[0]?.message}`);
  return { alertId: parsed.data.alertId };
}

export interface SqsAlertQueueOptions {
  readonly client: SQSClient;
  /** URL of the stage's `alerts` queue, or its name, resolved once with GetQueueUrl. */
  readonly queueUrl: string | { readonly name: string };
}

/** A queue URL given, or looked up by name on first use and kept (a warm Lambda asks once). */
export function queueUrlResolver(
  client: SQSClient,
  queue: string | { readonly name: string },
): () => Promise<string> {
  if (typeof queue === 'string') return async () => queue;
  let url: Promise<string> | undefined;
  return () => {
    url ??= client.send(new GetQueueUrlCommand({ QueueName: queue.name })).then(
      (out) => out.QueueUrl ?? '',
      (error: unknown) => {
        url = undefined;
        throw awsFailure(`SQS queue ${queue.name}`, error);
      },
    );
    return url;
  };
}

/**
 * The alerts queue: one small JSON message per alert id (the record in the alerts table is the
 * truth). Digests are sent with `DelaySeconds` so they arrive when their silence window ends.
 *
 * @example
 * const queue = new SqsAlertQueue({ client: clients.sqs, queueUrl: stack.queues.alerts });
 * await queue.send({ alertId });
 */
export class SqsAlertQueue implements AlertQueue {
  private readonly client: SQSClient;
  private readonly url: () => Promise<string>;

  constructor(options: SqsAlertQueueOptions) {
    this.client = options.client;
    this.url = queueUrlResolver(options.client, options.queueUrl);
  }

  async send(message: AlertMessage, options: { readonly delaySeconds?: number } = {}): Promise<void> {
    const delay = Math.max(0, Math.min(MAX_DELAY_SECONDS, Math.ceil(options.delaySeconds ?? 0)));
    const queueUrl = await this.url();
    try {
      await this.client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: alertMessageBody(message),
          ...(delay > 0 ? { DelaySeconds: delay } : {}),
        }),
      );
    } catch (error) {
      throw awsFailure(`SQS queue ${queueUrl}`, error);
    }
  }
}
