/**
 * Poison for dispatch queues: SQS bodies that are not valid envelopes, of every kind the agent's
 * decoding refuses (core/adapters/envelope-codec.ts) — not base64, base64 of bytes that are not
 * Snappy, Snappy of text that is not JSON, JSON of another version, an envelope missing fields, an
 * envelope with extra fields naming code. For the poison-flood test and benchmark.
 *
 * @example
 * await sendBodies(clients.sqs, queueUrl, poisonBodies(200));
 */
import { randomBytes } from 'node:crypto';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { compressSync } from 'snappy';

const base64 = (data: string | Buffer) => Buffer.from(data).toString('base64');
const snappy = (text: string) => compressSync(Buffer.from(text, 'utf8')).toString('base64');

const kinds: readonly ((i: number) => string)[] = [
  (i) => `not an envelope #${i} %%%`,
  () => base64(randomBytes(48)),
  (i) => snappy(`{"v":1,"type":"dispatch", broken ${i}`),
  (i) => snappy(JSON.stringify({ v: 99, type: 'dispatch', runId: `x@${i}` })),
  (i) => snappy(JSON.stringify({ v: 1, type: 'dispatch', runId: `x@${i}` })),
  (i) =>
    snappy(
      JSON.stringify({
        v: 1,
        type: 'dispatch',
        runId: `x@${i}`,
        jobId: 'x',
        handler: 'work',
        payload: null,
        scheduledTime: '2026-01-30T10:00:00Z',
        attempt: 1,
        fence: 1,
        deadlineAt: 0,
        sentAt: 0,
        command: 'rm -rf /',
      }),
    ),
];

/** `count` malformed bodies, cycling through the kinds above. */
export function poisonBodies(count: number): string[] {
  return Array.from({ length: count }, (_, i) => kinds[i % kinds.length]!(i));
}

/** Sends bodies to a queue, ten at a time. */
export async function sendBodies(sqs: SQSClient, queueUrl: string, bodies: readonly string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    const out = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })),
      }),
    );
    if (out.Failed?.length) throw new Error(`sending poison failed: ${JSON.stringify(out.Failed)}`);
  }
}
