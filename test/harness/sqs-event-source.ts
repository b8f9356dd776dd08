/**
 * What Lambda's SQS event source does for a function that reports batch item failures, one pass at
 * a time, so integration tests can drive the notifier (or any SQS-fed handler) over the real queue.
 */
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export type SqsBatchHandler = (event: { Records: { messageId: string; body: string }[] }) => Promise<{
  batchItemFailures: readonly { itemIdentifier: string }[];
}>;

export interface EventSourcePass {
  /** Messages handed to the handler. */
  readonly delivered: number;
  /** Messages the handler reported as failed. */
  readonly failures: number;
  /** The bodies handed over, in order. */
  readonly bodies: readonly string[];
}

/**
 * Receives what the queue holds now in batches of 10, invokes `handler` on each batch and deletes
 * what it did not report as failed; failed messages stay for redelivery after their visibility
 * timeout, as in Lambda. `deleteFailed` deletes them too, for tests that share a queue and must not
 * see one test's failure come back in the next.
 */
export async function eventSourcePass(
  sqs: SQSClient,
  queueUrl: string,
  handler: SqsBatchHandler,
  { deleteFailed = false }: { readonly deleteFailed?: boolean } = {},
): Promise<EventSourcePass> {
  let failures = 0;
  const bodies: string[] = [];
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) return { delivered: bodies.length, failures, bodies };
    const { batchItemFailures } = await handler({
      Records: messages.map((m) => ({ messageId: m.MessageId ?? '', body: m.Body ?? '' })),
    });
    failures += batchItemFailures.length;
    const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
    for (const m of messages) {
      bodies.push(m.Body ?? '');
      if (failed.has(m.MessageId ?? '') && !deleteFailed) continue;
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}
