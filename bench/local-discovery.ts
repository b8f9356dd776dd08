/**
 * What LOCAL job discovery costs each agent (issue 16): with 10,000 jobs defined, a few of them
 * LOCAL, the DynamoDB requests and read units one agent spends per hour finding the LOCAL jobs it
 * fires — before (a consistent Scan of the whole jobs table on every refresh, what LocalFires read
 * until issue 16: `JobStore.list()`) and after (a Query of the `byMode` index's LOCAL partition:
 * `JobStore.listLocal(pool)`, what LocalFires reads on every refresh now).
 *
 * Requests are counted by operation with an SDK middleware, as aws-requests.ts counts them. Read units are not
 * what the emulator reports (moto answers a fixed number): they are estimated from the items each
 * Scan or Query response returned, by DynamoDB's rules — the items' sizes summed per response and
 * rounded up to 4 KB, one unit per 4 KB for a consistent read, half for an eventually consistent
 * one (every index read). Dollars use the on-demand read price of docs/aws-prices.md.
 *
 *   npx tsx bench/local-discovery.ts [jobs=10000] [localJobs=3]
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { awsClients } from '../core/adapters/aws-clients';
import { DynamoJobStore, encodeJob } from '../core/adapters/dynamo-job-store';
import { provision, teardown } from '../core/adapters/provision';
import { JobSchema } from '../core/model';
import { startEmulator } from '../infra/local/emulator';
import { physicalName } from '../infra/resources';
import { DEFAULT_LOCAL_REFRESH_INTERVAL_MS } from '../worker-agent/local-fires';

/** docs/aws-prices.md, DynamoDB on-demand read request units (us-east-1, dated 2026-11-27). */
const DOLLARS_PER_MILLION_READ_UNITS = 0.125;
/** Refreshes measured per side; the figures are per refresh, scaled to an hour. */
const REFRESHES = 3;
/** The most a Scan or Query page returns. */
const SCAN_PAGE_BYTES = 1024 * 1024;
const POOL = 'default';

export async function localDiscovery(jobCount = 10_000, localCount = 3): Promise<Record<string, unknown>> {
  const emulator = await startEmulator();
  const clients = awsClients({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: emulator.credentials,
  });
  const prefix = `bench-disc-${process.pid}`;
  try {
    await provision(clients, prefix);
    const seeded = await seed(clients, prefix, jobCount, localCount);
    // What LocalFires read on every refresh before issue 16, JobStore.list(): a consistent Scan of
    // every job. Computed from the items seeded, as DynamoDB pages (1 MB) and charges it: moto takes
    // about 12 ms per item returned (a 1 MB page outlasts its proxy's 15 s deadline on this machine).
    const before = scanCost(seeded);

    // What it reads now, measured: its reads go through a DynamoDB client of their own, so only they
    // are counted, with a deadline moto needs under load (every index Query walks the whole table).
    const dynamodb = new DynamoDBClient({
      endpoint: emulator.endpoint,
      region: emulator.region,
      credentials: emulator.credentials,
      requestHandler: { requestTimeout: 60_000, socketTimeout: 60_000 },
    });
    const reads = new ReadCounter(dynamodb);
    const jobs = new DynamoJobStore({
      client: dynamodb,
      table: physicalName(prefix, 'jobs'),
      locksTable: physicalName(prefix, 'locks'),
    });
    try {
      for (let i = 0; i < REFRESHES; i += 1) {
        const found = await jobs.listLocal(POOL);
        if (found.length !== localCount)
          throw new Error(`found ${found.length} LOCAL jobs, not ${localCount}`);
      }
      const after = reads.perRefresh(REFRESHES);
      const refreshesPerHour = 3_600_000 / DEFAULT_LOCAL_REFRESH_INTERVAL_MS;
      const hourly = (side: ReturnType<ReadCounter['perRefresh']>) => ({
        requests: side.requests * refreshesPerHour,
        readUnits: Math.round(side.readUnits * refreshesPerHour * 10) / 10,
        dollarsPerMonth: round4(
          (side.readUnits * refreshesPerHour * 730 * DOLLARS_PER_MILLION_READ_UNITS) / 1e6,
        ),
      });
      return {
        emulator: emulator.kind,
        jobs: jobCount,
        localJobs: localCount,
        refreshIntervalMs: DEFAULT_LOCAL_REFRESH_INTERVAL_MS,
        perRefresh: {
          before: { ...before, how: 'computed from the seeded items' },
          after: { ...after, how: 'measured' },
        },
        perAgentPerHour: { before: hourly(before), after: hourly(after) },
      };
    } finally {
      dynamodb.destroy();
    }
  } finally {
    await teardown(clients, prefix).catch(() => undefined);
    clients.destroy();
    await emulator.stop();
  }
}

/** `jobCount` jobs like the API bench's (REMOTE, spread over pools and handlers), `localCount` of them LOCAL in {@link POOL}. */
async function seed(
  clients: ReturnType<typeof awsClients>,
  prefix: string,
  jobCount: number,
  localCount: number,
): Promise<Record<string, AttributeValue>[]> {
  const at = Date.parse('2026-11-27T00:00:00Z');
  const items = Array.from({ length: jobCount }, (_, i) => {
    const local = i < localCount;
    const job = JobSchema.parse({
      spec: {
        jobId: `job-${String(i).padStart(5, '0')}`,
        handler: `handler.h${i % 50}`,
        description: `report ${i}`,
        payload: { region: 'eu', batch: i },
        mode: local ? 'LOCAL' : 'REMOTE',
        schedule: { expression: local ? '*/10 * * * * ?' : 'cron(0 10 * * ? *)', timezone: 'UTC' },
        target: { pool: local ? POOL : `pool-${i % 10}` },
      },
      version: 1,
      createdAt: at,
      updatedAt: at,
      syncState: 'IN_SYNC',
    });
    return encodeJob(job);
  });
  const requests: WriteRequest[] = items.map((Item) => ({ PutRequest: { Item } }));
  const table = physicalName(prefix, 'jobs');
  for (let i = 0; i < requests.length; i += 25) {
    let pending = requests.slice(i, i + 25);
    while (pending.length > 0) {
      const out = await clients.dynamodb.send(
        new BatchWriteItemCommand({ RequestItems: { [table]: pending } }),
      );
      pending = out.UnprocessedItems?.[table] ?? [];
    }
  }
  return items;
}

/** What one consistent Scan of `items` costs: DynamoDB returns at most 1 MB a page and charges a page by its bytes. */
function scanCost(items: readonly Record<string, AttributeValue>[]) {
  const pages: number[] = [0];
  for (const item of items) {
    const bytes = itemBytes(item);
    if ((pages.at(-1) ?? 0) + bytes > SCAN_PAGE_BYTES) pages.push(0);
    pages[pages.length - 1] = (pages.at(-1) ?? 0) + bytes;
  }
  const total = pages.reduce((a, b) => a + b, 0);
  return {
    requests: pages.length,
    byOperation: { 'DynamoDB.Scan': pages.length },
    itemsRead: items.length,
    kilobytesRead: Math.round(total / 102.4) / 10,
    readUnits: pages.reduce((sum, bytes) => sum + Math.max(1, Math.ceil(bytes / 4096)), 0),
  };
}

/** Counts a DynamoDB client's requests by operation, and estimates the read units of its Scans and Queries. */
class ReadCounter {
  private counts = new Map<string, number>();
  private items = 0;
  private bytes = 0;
  private units = 0;

  constructor(client: DynamoDBClient) {
    (client as unknown as Stack).middlewareStack.add(
      (next, context) => async (args) => {
        const op = `DynamoDB.${String(context.commandName).replace(/Command$/, '')}`;
        this.counts.set(op, (this.counts.get(op) ?? 0) + 1);
        const result = await next(args);
        if (op !== 'DynamoDB.Scan' && op !== 'DynamoDB.Query') return result;
        const input = args.input as { ConsistentRead?: boolean; IndexName?: string };
        const items = (result.output as { Items?: Record<string, AttributeValue>[] }).Items ?? [];
        const bytes = items.reduce((sum, item) => sum + itemBytes(item), 0);
        const consistent = input.ConsistentRead === true && input.IndexName === undefined;
        this.items += items.length;
        this.bytes += bytes;
        this.units += Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);
        return result;
      },
      { step: 'initialize', name: 'clover-bench-read-counter' },
    );
  }

  reset(): void {
    this.counts = new Map();
    this.items = 0;
    this.bytes = 0;
    this.units = 0;
  }

  perRefresh(refreshes: number) {
    const counts = [...this.counts.entries()].sort();
    return {
      requests: counts.reduce((sum, [, n]) => sum + n, 0) / refreshes,
      byOperation: Object.fromEntries(counts.map(([op, n]) => [op, n / refreshes])),
      itemsRead: this.items / refreshes,
      kilobytesRead: Math.round(this.bytes / refreshes / 102.4) / 10,
      readUnits: this.units / refreshes,
    };
  }
}

interface Stack {
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: { input: unknown }) => Promise<{ output: unknown }>,
        context: { readonly commandName?: string },
      ) => (args: { input: unknown }) => Promise<{ output: unknown }>,
      options: { readonly step: 'initialize'; readonly name: string },
    ): void;
  };
}

/** DynamoDB's item size: attribute names plus values (numbers about one byte per two digits). */
function itemBytes(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + valueBytes(value),
    0,
  );
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\./g, '').length / 2) + 1;
  if (value.B !== undefined) return value.B.length;
  if (value.M !== undefined) return 3 + itemBytes(value.M) + Object.keys(value.M).length;
  if (value.L !== undefined) return 3 + value.L.reduce((sum, v) => sum + 1 + valueBytes(v), 0);
  if (value.SS !== undefined) return value.SS.reduce((sum, v) => sum + Buffer.byteLength(v), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, v) => sum + v.length / 2 + 1, 0);
  return 1; // BOOL, NULL
}

const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(
    JSON.stringify(
      await localDiscovery(Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 3)),
      null,
      2,
    ),
  );
}
