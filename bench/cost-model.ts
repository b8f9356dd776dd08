/**
 * The price model of the `costs` bench (bench/costs.ts measures, this prices): the dated price table
 * bench/aws-prices.json (the one source; docs/aws-prices.md shows it, docs/deploy.md cites both), what
 * the model assumes beyond measured request counts (`COST_ASSUMPTIONS`), and the arithmetic that turns
 * request counts and a stage's inventory (bench/stage-inventory.ts) into dollars per million fires and
 * per month at idle. Pure functions: the figures are recomputed from the last bench's counts by
 * bench/costs.test.ts and test/monitor/idle-hour.test.ts.
 *
 * The unit model (stated in the figures): every item ≤ 1 KB; a write costs 1 write unit per item
 * (2 in a transaction) plus 1 per index that projects every attribute (`ALL`: every write of the item
 * reaches it). The runs indexes project keys only, so a write reaches one only when its
 * keys change: `runIndexWrites` counts that over a fire's three writes of
 * its run (created, claimed, finished) from infra/resources.ts — a put or a delete 1, a move between
 * keys 2. A read costs 1 read unit (strongly consistent ≤ 4 KB; a BatchGetItem counted as one item).
 */
import { readFileSync } from 'node:fs';
import { type IndexDefinition, projectionOf, tableDefinition, tables } from '../infra/resources';
import type { StageInventory } from './stage-inventory';

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

/** What the model assumes beyond request counts and the template; reported beside every cost. */
export const COST_ASSUMPTIONS = {
  /** Dispatcher Lambda: billed duration per fire (warm); its memory comes from the template. */
  dispatcherMs: 100,
  /**
   * Dispatcher Lambda: billed duration of an idle planner pass (warm): at most the precise mark's
   * GetItem, the jobs Scan and the open-run shards in parallel, tens of ms each in AWS; a quiet pass
   * reads only the mark — an estimate that prices every pass as a full one (the
   * emulator's time, `idle.hour.plannerPassMs`, is reported beside it, not priced).
   */
  plannerPassMs: 200,
  /**
   * Lambda's own START, END and REPORT lines of one invocation, where the function keeps them (its
   * system log level is not WARN). A fire's own lines are measured (requests-per-fire's
   * `dispatcherLogBytesPerFire`), not assumed.
   */
  platformLogKbPerInvocation: 1,
  hoursPerMonth: 720,
  /**
   * Lambda polls an SQS event source (the notifier's alerts queue) with long polls even when it is
   * empty: AWS starts 5 pollers per event source, each waiting up to 20 s, and bills their
   * ReceiveMessage calls as SQS requests — an estimate, not measured here.
   */
  sqsEventSourcePollers: 5,
  sqsEventSourcePollSeconds: 20,
} as const;

/**
 * The figures before issue #26 (costs bench on c7e3088, 2026-12-07, load 23-29): the monitor
 * swept every 5 s all the time and published 8 metrics a sweep, zeros included; a lease renewal
 * every 2 s rewrote the worker's indexed profile.
 */
export const BEFORE_IDLE_WORK = {
  measuredAt: '2026-12-07T07:02:34Z',
  commit: '7091e86',
  idleStageTotal: 21.82,
  idleStageComputeAndData: 11.23,
  perAgent: 1.63,
  perMillionFires: 19.13,
} as const;

/**
 * What a fire's three writes of its run item change (core/adapters/dynamo-run-*.ts): created
 * with every attribute (a dispatch to a worker's own queue names the worker; a pool run gets it at
 * the claim instead — one byWorker put either way); claimed: the status and timings; finished: the
 * status, timings and outcome, and `open` removed (the run leaves `byOpenKeys`).
 */
export const FIRE_RUN_WRITES = [
  { write: 'created', created: true, changes: [], removes: [] },
  { write: 'claimed', created: false, changes: ['status', 'startedAt', 'updatedAt', 'history'], removes: [] },
  {
    write: 'finished',
    created: false,
    changes: ['status', 'finishedAt', 'updatedAt', 'history', 'result'],
    removes: ['open'],
  },
] as const;

/** Index writes of one run write: a put or delete 1, a move between keys 2, an in-place update 1, none 0. */
function indexWrites(index: IndexDefinition, w: (typeof FIRE_RUN_WRITES)[number]): number {
  if (w.created) return 1;
  const keys = [index.partitionKey.name, index.sortKey?.name];
  if (keys.some((k) => (w.removes as readonly string[]).includes(k ?? ''))) return 1;
  if (keys.some((k) => (w.changes as readonly string[]).includes(k ?? ''))) return 2;
  const { type, attributes } = projectionOf(index);
  if (type === 'ALL') return 1;
  return attributes?.some((a) => (w.changes as readonly string[]).includes(a)) ? 1 : 0;
}

/** Each runs index's write units per fire, by index name (infra/resources.ts). */
export function runIndexWrites(): Record<string, number> {
  return Object.fromEntries(
    tableDefinition('runs').indexes.map((index) => [
      index.name,
      FIRE_RUN_WRITES.reduce((sum, w) => sum + indexWrites(index, w), 0),
    ]),
  );
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);
const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem']);
/** Indexes every write of the table's items reaches (ALL projections); the runs table's are counted per fire. */
const indexCount = (table: string) =>
  table === 'runs'
    ? 0
    : (tables.find((t) => t.logicalName === table)?.indexes.filter((i) => projectionOf(i).type === 'ALL')
        .length ?? 0);

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
export function perMillionFires(
  prices: PriceTable,
  requestsPerFire: Readonly<Record<string, number>>,
  inventory: Pick<StageInventory, 'dispatcherGb' | 'dispatcherPlatformLines'>,
  /** What the dispatcher's handler writes to its log per fire, measured (requests-per-fire). */
  logBytesPerFire: number,
) {
  const a = COST_ASSUMPTIONS;
  const million = 1_000_000;
  const requests = requestDollars(prices, requestsPerFire, million);
  const byIndex = runIndexWrites();
  const indexWrites = Object.values(byIndex).reduce((x, y) => x + y, 0);
  const dollars = {
    'Scheduler invocation': million * unitPrice(prices, 'scheduler.invocations'),
    'dispatcher Lambda requests': million * unitPrice(prices, 'lambda.requests'),
    'dispatcher Lambda duration':
      million * (a.dispatcherMs / 1000) * inventory.dispatcherGb * unitPrice(prices, 'lambda.armGbSecond'),
    ...requests.dollars,
    'DynamoDB writes':
      (requests.dynamoWriteUnits + indexWrites) * million * unitPrice(prices, 'dynamodb.writeUnits'),
    logs:
      ((million * fireLogBytes(logBytesPerFire, inventory)) / 1024 ** 3) *
      unitPrice(prices, 'logs.ingestionGb'),
  };
  return {
    perFire: {
      logBytes: Math.round(fireLogBytes(logBytesPerFire, inventory)),
      dynamoWriteUnits: Math.round((requests.dynamoWriteUnits + indexWrites) * 100) / 100,
      runIndexWriteUnits: byIndex,
      dynamoReadUnits: requests.dynamoReadUnits,
      sqsRequests: requests.sqsRequests,
    },
    dollars: roundAll(dollars),
    total: total(dollars),
  };
}

/** A fire's log bytes: the handler's own, measured, and Lambda's lines of the invocation where it keeps them. */
function fireLogBytes(measured: number, inventory: Pick<StageInventory, 'dispatcherPlatformLines'>): number {
  return (
    measured + (inventory.dispatcherPlatformLines ? COST_ASSUMPTIONS.platformLogKbPerInvocation * 1024 : 0)
  );
}

/**
 * Dollars per 30-day month: a stage at idle — its compute and data (the monitor's one sweep a minute,
 * the planner's pass a minute, the notifier's queue pollers, custom metrics) apart from the optional
 * extras (alarms, dashboard, secret, NAT gateway, public IPv4) —, each idle agent, what a stage adds
 * per month once fires run (the dispatcher's metrics), and what an hour of watching (runs in flight)
 * costs the monitor.
 */
export function idlePerMonth(prices: PriceTable, inventory: StageInventory, inputs: CostInputs) {
  const a = COST_ASSUMPTIONS;
  const m = inventory.monitor;
  const p = inventory.planner;
  const monitor = requestDollars(prices, inputs.monitorRequestsPerHour, a.hoursPerMonth);
  const planner = requestDollars(prices, inputs.plannerRequestsPerHour, a.hoursPerMonth);
  const platformLogBytes = (invocations: number) => invocations * a.platformLogKbPerInvocation * 1024;
  const logDollars = (bytes: number) => (bytes / 1024 ** 3) * unitPrice(prices, 'logs.ingestionGb');
  const month = (key: string, count: number) => count * unitPrice(prices, key);
  const pollsPerMonth =
    inventory.sqsEventSources *
    a.sqsEventSourcePollers *
    ((a.hoursPerMonth * 3600) / a.sqsEventSourcePollSeconds);
  const stack = {
    'monitor Lambda duration':
      m.invocationsPerMonth * m.secondsPerInvocation * m.gb * unitPrice(prices, 'lambda.armGbSecond'),
    'monitor Lambda requests': month('lambda.requests', m.invocationsPerMonth),
    ...Object.fromEntries(Object.entries(monitor.dollars).map(([k, v]) => [`monitor ${k}`, v])),
    'monitor logs': logDollars(m.sweepsPerMonth * m.bytesPerSweep + platformLogBytes(m.invocationsPerMonth)),
    'planner Scheduler invocations': month('scheduler.invocations', p.invocationsPerMonth),
    'planner Lambda requests': month('lambda.requests', p.invocationsPerMonth),
    'planner Lambda duration':
      p.invocationsPerMonth *
      (a.plannerPassMs / 1000) *
      inventory.dispatcherGb *
      unitPrice(prices, 'lambda.armGbSecond'),
    ...Object.fromEntries(Object.entries(planner.dollars).map(([k, v]) => [`planner ${k}`, v])),
    'planner logs': logDollars(
      inventory.dispatcherPlatformLines ? platformLogBytes(p.invocationsPerMonth) : 0,
    ),
    'custom metrics': month('cloudwatch.customMetricMonth', inventory.idleCustomMetrics),
    'notifier queue pollers': pollsPerMonth * unitPrice(prices, 'sqs.requests'),
  };
  const extras = {
    alarms: month('cloudwatch.alarmMonth', inventory.alarmMetrics),
    dashboard: month('cloudwatch.dashboardMonth', inventory.dashboards),
    secret: month('secrets.secretMonth', inventory.secrets),
    'NAT gateway': inventory.natGateways * a.hoursPerMonth * unitPrice(prices, 'nat.hour'),
    'public IPv4': inventory.publicIpv4 * a.hoursPerMonth * unitPrice(prices, 'vpc.publicIpv4Hour'),
  };
  const agent = requestDollars(prices, inputs.agentRequestsPerHour, a.hoursPerMonth).dollars;
  const firing = {
    'dispatcher custom metrics': month('cloudwatch.customMetricMonth', inventory.firingCustomMetrics),
  };
  // An hour with runs in flight: every invocation watches for `runSeconds`, sweeping every
  // `loopSeconds`, each sweep priced as an idle one (which also does the housekeeping: an upper bound).
  const sweepsPerIdleHour = m.sweepsPerMonth / a.hoursPerMonth;
  const watchingSweeps = m.loopSeconds > 0 ? 60 * (Math.floor(m.runSeconds / m.loopSeconds) + 1) : 60;
  const watchingSeconds = 60 * (m.loopSeconds > 0 ? m.runSeconds : m.secondsPerInvocation);
  const watching = {
    'monitor Lambda duration': watchingSeconds * m.gb * unitPrice(prices, 'lambda.armGbSecond'),
    ...requestDollars(prices, inputs.monitorRequestsPerHour, watchingSweeps / sweepsPerIdleHour).dollars,
  };
  const perPass = (units: number, passes: number) => Math.round((units / passes) * 100) / 100;
  return {
    /** Read units of one idle sweep and of one planner pass (the hour's, divided). */
    readUnits: {
      perSweep: perPass(monitor.dynamoReadUnits, sweepsPerIdleHour),
      perPlannerPass: perPass(planner.dynamoReadUnits, p.invocationsPerMonth / a.hoursPerMonth),
    },
    stack: { dollars: roundAll(stack), total: total(stack) },
    extras: { dollars: roundAll(extras), total: total(extras) },
    perAgent: { dollars: roundAll(agent), total: total(agent) },
    whileFiring: { dollars: roundAll(firing), total: total(firing) },
    /** Dollars per hour of watching, to 4 decimals (a cent buys several hours). */
    watchingPerHour: Math.round(Object.values(watching).reduce((x, y) => x + y, 0) * 10_000) / 10_000,
  };
}

/** The measured request counts every cost figure is priced from (the `costs` bench's inputs). */
export interface CostInputs {
  /** Requests by label a quiet stage's monitor makes in an hour (bench/idle-hour.ts). */
  readonly monitorRequestsPerHour: Readonly<Record<string, number>>;
  /** Requests by label the dispatcher's planner passes make in that hour. */
  readonly plannerRequestsPerHour: Readonly<Record<string, number>>;
  readonly agentRequestsPerHour: Readonly<Record<string, number>>;
  readonly requestsPerFire?: Readonly<Record<string, number>>;
  /** Bytes the dispatcher's handler logs per fire (requests-per-fire); required with `requestsPerFire`. */
  readonly logBytesPerFire?: number;
}

/** Every cost figure of a stage: its inventory (from the template) priced with the measured requests. */
export function stageCosts(prices: PriceTable, inventory: StageInventory, inputs: CostInputs) {
  return {
    inventory,
    idle: idlePerMonth(prices, inventory, inputs),
    ...(inputs.requestsPerFire
      ? {
          perMillionFires: perMillionFires(
            prices,
            inputs.requestsPerFire,
            inventory,
            requiredLogBytes(inputs.logBytesPerFire),
          ),
        }
      : {}),
  };
}

function requiredLogBytes(bytes: number | undefined): number {
  if (bytes === undefined || !Number.isFinite(bytes)) {
    throw new Error('no dispatcherLogBytesPerFire: run the requests-per-fire bench again before costs');
  }
  return bytes;
}
