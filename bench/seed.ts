/**
 * Seeding tables for benches at size: BatchWriteItem, 25 items a request (DynamoDB's limit), a few
 * requests in flight, unprocessed items sent again. Orders of magnitude faster than one PutItem per
 * item on the emulator, and what a bulk import on AWS would do.
 */
import { BatchWriteItemCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import type { AwsClients } from '../core/adapters/aws-clients';

export async function batchWrite(
  clients: Pick<AwsClients, 'dynamodb'>,
  table: string,
  items: readonly WriteRequest[],
  inFlight = 2,
): Promise<void> {
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let pending = batches[next++]!;
      while (pending.length) {
        const out = await clients.dynamodb.send(
          new BatchWriteItemCommand({ RequestItems: { [table]: pending } }),
        );
        pending = out.UnprocessedItems?.[table] ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}
