/**
 * What Clover costs on AWS, from request counts measured here and the dated price table
 * bench/aws-prices.json (the one source; docs/aws-prices.md shows it, docs/deploy.md cites both):
 *
 * - per million fires on the SQS path: the requests per fire by operation that `requests-per-fire`
 *   measured (read from bench/results/latest.json, so run it first; its date is reported), turned
 *   into DynamoDB request units by the table's indexes (infra/resources.ts), SQS requests, the
 *   Scheduler invocation and the dispatcher Lambda;
 * - per month at idle: the requests one idle agent makes (heartbeats, long polls, job discovery)
 *   and one monitor sweep makes, counted on the emulator and scaled to a 30-day month, plus the
 *   monitor Lambda's duration and the stack's fixed items (alarms, dashboard, secret).
 *
 * The unit model (stated in the figures): every item ≤ 1 KB; a write costs 1 write unit per item
 * (2 in a transaction) plus 1 per global secondary index of its table (all of Clover's project every
 * attribute, so every write of an indexed item reaches each index; a write that moves an item between
 * index keys costs one more there, not counted); a read costs 1 read unit (strongly consistent ≤ 4 KB).
 */
import { readFileSync } from 'node:fs';
import { Monitor } from '../core/monitor';
import { tables } from '../infra/resources';
import { RequestCounter } from './aws-requests';
import { withBenchStack } from './harness';
import type { Figures } from './results';

export interface PriceItem {
  readonly key: string;
  readonly service: string;
  readonly item: string;
  /** As a person reads it, e.g. `$0.20 per million`. */
  readonly price: string;
  /** `usd` per `per` units. */
  readonly usd: number;
  readonly per: number;
}

export interface PriceTable {
  readonly date: string;
  readonly region: string;
  readonly currency: string;
  readonly basis: string;
  readonly checked: string;
  readonly items: readonly PriceItem[];
}

export function loadPrices(): PriceTable {
  return JSON.parse(readFileSync(new URL('./aws-prices.json', import.meta.url), 'utf8')) as PriceTable;
}

/** Dollars per one unit of the item `key`; throws on a key the table lacks. */
export function unitPrice(prices: PriceTable, key: string): number {
  const item = prices.items.find((i) => i.key === key);
  if (!item) throw new Error(`bench/aws-prices.json has no item ${key}`);
  return item.usd / item.per;
}

/** What the model assumes beyond request counts; reported beside every cost. */
export const COST_ASSUMPTIONS = {
  /** Dispatcher Lambda: billed duration per fire (warm) and memory (infra/constructs/dispatcher-function.ts). */
  dispatcherMs: 100,
  dispatcherGb: 0.5,
  /** Log lines per fire (the dispatcher's line and EMF metrics). */
  logKbPerFire: 1,
  /** The monitor Lambda: every minute, looping 55 s at 256 MB (infra/constructs/monitor-function.ts). */
  monitorInvocationsPerMonth: 43_200,
  monitorSecondsPerInvocation: 55,
  monitorGb: 0.25,
  /** One sweep every 5 s while it loops: 12 a minute. */
  monitorSweepsPerMonth: 43_200 * 12,
  /** The stack's alarms without the API (docs/deploy.md), one dashboard, one CURVE secret. */
  alarms: 18,
  dashboards: 1,
  secrets: 1,
  hoursPerMonth: 720,
} as const;

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);
const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem']);
const indexCount = (table: string) => tables.find((t) => t.logicalName === table)?.indexes.length ?? 0;

/**
 * DynamoDB request units of one request, by its label (`DynamoDB.UpdateItem(runs)`,
 * `DynamoDB.TransactWriteItems(check:jobs+locks+runs)`, a condition check counted as 2 write units — an
 * upper bound: AWS may bill it as reads; a label without a table counts as the runs table, the
 * most indexed, so an unlabelled count errs high). Not DynamoDB: zero.
 */
export function requestUnits(label: string): { readonly read: number; readonly write: number } {
  const match = /^DynamoDB\.(\w+)(?:\(([^)]*)\))?/.exec(label);
  if (!match) return { read: 0, write: 0 };
  const [, op = '', target = 'runs'] = match;
  const itemTables = target.split('+');
  if (op === 'TransactWriteItems') {
    // A condition check (`check:jobs`) is counted as a transactional item without index writes.
    const units = (t: string) => (t.startsWith('check:') ? 2 : 2 + indexCount(t));
    return { read: 0, write: itemTables.reduce((sum, t) => sum + units(t), 0) };
  }
  if (WRITES.has(op)) return { read: 0, write: 1 + indexCount(itemTables[0] ?? 'runs') };
  if (READS.has(op)) return { read: 1, write: 0 };
  return { read: 0, write: 0 };
}

/** Dollars by item for `count` occurrences of the requests in `byLabel` (counts per one occurrence). */
function requestDollars(prices: PriceTable, byLabel: Readonly<Record<string, number>>, count: number) {
  let read = 0;
  let write = 0;
  let sqs = 0;
  for (const [label, n] of Object.entries(byLabel)) {
    const units = requestUnits(label);
    read += units.read * n;
    write += units.write * n;
    if (label.startsWith('SQS.')) sqs += n;
  }
  return {
    dynamoWriteUnits: write,
    dynamoReadUnits: read,
    sqsRequests: sqs,
    dollars: {
      'DynamoDB writes': write * count * unitPrice(prices, 'dynamodb.writeUnits'),
      'DynamoDB reads': read * count * unitPrice(prices, 'dynamodb.readUnits'),
      'SQS requests': sqs * count * unitPrice(prices, 'sqs.requests'),
    },
  };
}

const cents = (usd: number) => Math.round(usd * 100) / 100;
const roundAll = (record: Record<string, number>) =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, cents(v)]));
const total = (record: Record<string, number>) => cents(Object.values(record).reduce((a, b) => a + b, 0));

/** Dollars per million fires on the SQS path, from the requests one fire makes, by label. */
export function perMillionFires(prices: PriceTable, requestsPerFire: Readonly<Record<string, number>>) {
  const a = COST_ASSUMPTIONS;
  const million = 1_000_000;
  const requests = requestDollars(prices, requestsPerFire, million);
  const dollars = {
    'Scheduler invocation': million * unitPrice(prices, 'scheduler.invocations'),
    'dispatcher Lambda requests': million * unitPrice(prices, 'lambda.requests'),
    'dispatcher Lambda duration':
      million * (a.dispatcherMs / 1000) * a.dispatcherGb * unitPrice(prices, 'lambda.armGbSecond'),
    ...requests.dollars,
    logs: ((million * a.logKbPerFire) / 1024 ** 2) * unitPrice(prices, 'logs.ingestionGb'),
  };
  return {
    perFire: {
      dynamoWriteUnits: requests.dynamoWriteUnits,
      dynamoReadUnits: requests.dynamoReadUnits,
      sqsRequests: requests.sqsRequests,
    },
    dollars: roundAll(dollars),
    total: total(dollars),
  };
}

/** Dollars per 30-day month at idle: the monitor and the fixed items, and each idle agent. */
export function idlePerMonth(
  prices: PriceTable,
  monitorRequestsPerSweep: Readonly<Record<string, number>>,
  agentRequestsPerHour: Readonly<Record<string, number>>,
) {
  const a = COST_ASSUMPTIONS;
  const monitor = requestDollars(prices, monitorRequestsPerSweep, a.monitorSweepsPerMonth);
  const stack = {
    'monitor Lambda duration':
      a.monitorInvocationsPerMonth *
      a.monitorSecondsPerInvocation *
      a.monitorGb *
      unitPrice(prices, 'lambda.armGbSecond'),
    'monitor Lambda requests': a.monitorInvocationsPerMonth * unitPrice(prices, 'lambda.requests'),
    ...Object.fromEntries(Object.entries(monitor.dollars).map(([k, v]) => [`monitor ${k}`, v])),
    alarms: a.alarms * unitPrice(prices, 'cloudwatch.alarmMonth'),
    dashboard: a.dashboards * unitPrice(prices, 'cloudwatch.dashboardMonth'),
    secret: a.secrets * unitPrice(prices, 'secrets.secretMonth'),
  };
  const agent = requestDollars(prices, agentRequestsPerHour, a.hoursPerMonth).dollars;
  return {
    stack: { dollars: roundAll(stack), total: total(stack) },
    perAgent: { dollars: roundAll(agent), total: total(agent) },
  };
}

/**
 * The `costs` bench: counts an idle agent's requests for `idleSeconds` and `sweeps` monitor sweeps on
 * a stack of its own, reads requests per fire from `requestsPerFire` (requests-per-fire's figures),
 * and prices both.
 */
export function costs(
  requestsPerFire: { readonly figures?: Figures; readonly measuredAt: string } | undefined,
  idleSeconds = 60,
  sweeps = 5,
): Promise<Figures> {
  const prices = loadPrices();
  return withBenchStack({ name: 'costs' }, async ({ plane, clients, prefix, agent }) => {
    await plane.jobService.define({
      jobId: 'costs',
      handler: 'bench.noop',
      schedule: { expression: 'rate(1 hour)' },
    });
    const counter = new RequestCounter(clients, prefix);
    // Default agent settings: heartbeat every 2 s, 20 s long polls, job discovery.
    await agent({ workerId: 'bench-idle', handlers: { 'bench.noop': async () => {} } });
    counter.reset();
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const idle = counter.snapshot();
    const agentPerHour = Object.fromEntries(
      Object.entries(idle).map(([label, n]) => [label, Math.round((n * 3600) / idleSeconds)]),
    );

    const monitor = new Monitor({ ...plane, deadLetters: plane.fireDeadLetters });
    await monitor.sweep();
    counter.reset();
    const sweepsStarted = performance.now();
    for (let i = 0; i < sweeps; i += 1) await monitor.sweep();
    const sweepHours = (performance.now() - sweepsStarted) / 3_600_000;
    // The idle agent keeps calling meanwhile: take its rate's share out, leaving the monitor's.
    const perSweep = Object.fromEntries(
      Object.entries(counter.snapshot())
        .map(([label, n]) => [label, (n - (agentPerHour[label] ?? 0) * sweepHours) / sweeps] as const)
        .filter(([, n]) => n > 0.05)
        .map(([label, n]) => [label, Math.round(n * 10) / 10]),
    );
    const byOperation = requestsPerFire?.figures?.byOperation as Record<string, number> | undefined;
    return {
      priceTable: { date: prices.date, region: prices.region, source: 'bench/aws-prices.json' },
      assumptions: COST_ASSUMPTIONS,
      idle: {
        agentRequestsPerHour: agentPerHour,
        monitorRequestsPerSweep: perSweep,
        ...idlePerMonth(prices, perSweep, agentPerHour),
      },
      ...(byOperation
        ? {
            perMillionFires: {
              requestsPerFire: byOperation,
              requestsMeasuredAt: requestsPerFire?.measuredAt,
              ...perMillionFires(prices, byOperation),
            },
          }
        : { perMillionFires: 'not computed: run the requests-per-fire bench first' }),
    };
  });
}
