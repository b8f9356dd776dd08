/**
 * Clover's tables, queues and schedule group, as plain data.
 *
 * Why plain data: two things build these resources — the CDK stack (in AWS) and local provisioning
 * (`core/adapters/provision.ts`, on an emulator for `npm start` and the integration tests). Both
 * read this one file, so a key, index, TTL attribute or redrive setting cannot differ between what
 * the tests exercise and what is deployed. Nothing here imports CDK or the AWS SDK.
 *
 * Physical names are `${prefix}-${logicalName}`; the prefix names a stage (`clover-dev`,
 * `clover-prod`) or one test file (`t-1a2b3c4d`). The prefix alone names the stage's EventBridge
 * Scheduler group.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../core/errors';

export type AttributeType = 'S' | 'N' | 'B';

export interface KeyAttribute {
  readonly name: string;
  readonly type: AttributeType;
}

/** A global secondary index. */
export interface IndexDefinition {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /**
   * What the index copies of each item. `ALL`: every attribute, so every write of the item writes the
   * index too (a write unit per KB); `KEYS_ONLY`: the keys alone, written only when a key changes,
   * and readers fetch the items by key; a list: the keys and those attributes, written when one of
   * them changes. @default 'ALL'
   */
  readonly projection?: 'ALL' | 'KEYS_ONLY' | readonly string[];
  /**
   * Write shards: the partition key's value ends in `#<n>`, n = {@link shardOf} of the table key, so
   * one logical key's writes spread over `shards` index partitions (each takes ~1,000 writes/s);
   * readers query every shard and merge. @default 1 (the value is the key itself)
   */
  readonly shards?: number;
}

export interface TableDefinition {
  readonly logicalName: string;
  /**
   * The physical name's part after the prefix when it is not the logical name: a table whose
   * indexes changed more than CloudFormation can change in place (one index per update, no
   * projection change) gets a new name (docs/deploy.md, "Upgrading", says what becomes of the old one).
   * @default logicalName
   */
  readonly physicalSuffix?: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** @default [] */
  readonly indexes: readonly IndexDefinition[];
  /** Attribute holding an expiry in epoch seconds; DynamoDB deletes the item some time after it. */
  readonly ttlAttribute?: string;
  readonly billingMode: 'PAY_PER_REQUEST';
}

export interface QueueDefinition {
  readonly logicalName: string;
  /** How long a received message stays hidden before another consumer may receive it. */
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  /** Queue-level default long-poll wait; receivers usually pass their own WaitTimeSeconds. @default 0 */
  readonly receiveWaitTimeSeconds: number;
  /**
   * Where a message goes after `maxReceiveCount` receives without a delete. `queue` is the logical
   * name of another definition listed before this one. Absent on dead-letter queues themselves.
   */
  readonly deadLetter?: { readonly queue: string; readonly maxReceiveCount: number };
}

const s = (name: string): KeyAttribute => ({ name, type: 'S' });
const n = (name: string): KeyAttribute => ({ name, type: 'N' });

const DAY = 86_400;
/** The SQS maximum. Dead-letter queues keep messages long enough for a person to look at them. */
const DEAD_LETTER_RETENTION = 14 * DAY;
const MAX_RECEIVE_COUNT = 5;
/** The notifier Lambda's timeout (infra/constructs/notifier-function.ts): one alert's mail and channel posts. */
export const NOTIFIER_TIMEOUT_SECONDS = 30;
/**
 * AWS advises a Lambda's SQS source queue to hide a received message for at least six times the
 * function's timeout, so a batch retried after throttling is not delivered again while still in work.
 */
export const VISIBILITY_PER_FUNCTION_TIMEOUT = 6;

/**
 * Shards of the single-key indexes (write rates at 1,000 fires/s in docs/capacity.md): the day's
 * runs take one index write per fire (1,000/s over 16 keys), open runs two (created, finished),
 * jobs one per change.
 */
export const DAY_RUN_SHARDS = 16;
export const OPEN_RUN_SHARDS = 16;
export const JOB_LIST_SHARDS = 8;

/** The runs index of the runs still open, keys only (the monitor's, the planner's and the retries' reads). */
export const OPEN_RUNS_INDEX = 'byOpenKeys';

/**
 * The write shard (0 … shards-1) of the item whose table key is `id`: a stable hash, so an item
 * keeps its shard through every write and readers know nothing but the count.
 * @example shardOf('nightly@2026-12-07T00:00:00Z', 16) // the same number on every call
 */
export function shardOf(id: string, shards: number): number {
  if (shards <= 1) return 0;
  return createHash('sha256').update(id).digest().readUInt32BE(0) % shards;
}

/** `base#<shard>`: a sharded index's partition key value. */
export function shardKey(base: string, id: string, shards: number): string {
  return `${base}#${shardOf(id, shards)}`;
}

/** Every partition key value of a sharded index's logical key `base`, shard 0 first. */
export function shardKeys(base: string, shards: number): string[] {
  return Array.from({ length: shards }, (_, n) => `${base}#${n}`);
}

const tableList = [
  {
    logicalName: 'jobs',
    partitionKey: s('jobId'),
    // The API lists jobs by id a page at a time (bounded reads, never a full scan per request): by
    // the filter with an index, the most selective first, the other filters applied to that page.
    // `listKey` is `job#<shard>` (JOB_LIST_SHARDS shards by job id): `byList` holds all jobs in id
    // order per shard, and readers merge the shards; the others are sparse where the attribute is
    // optional (group, owner). A job write writes every index it appears in (ALL projections: the
    // API filters on their attributes), but jobs change at people's pace, not per fire.
    indexes: [
      { name: 'byList', partitionKey: s('listKey'), sortKey: s('jobId'), shards: JOB_LIST_SHARDS },
      { name: 'byPool', partitionKey: s('pool'), sortKey: s('jobId') },
      { name: 'byHandler', partitionKey: s('handler'), sortKey: s('jobId') },
      { name: 'byGroup', partitionKey: s('group'), sortKey: s('jobId') },
      { name: 'byOwner', partitionKey: s('owner'), sortKey: s('jobId') },
      // Agents discover LOCAL jobs with one Query of the `LOCAL` partition every refresh instead of a
      // Scan of every job (worker-agent/local-fires.ts). `mode` is on every job item already, so
      // DynamoDB backfills the index when it is added to a deployed table.
      { name: 'byMode', partitionKey: s('mode'), sortKey: s('jobId') },
      // A warm monitor refreshes its job list with one Query of the jobs changed since its last sweep
      // (core/monitor/job-list.ts) instead of a Scan of every job every 5 s. `updatedAt` is on every job item
      // already, so DynamoDB backfills it too — in its own stack update (one new GSI per update).
      { name: 'byUpdate', partitionKey: s('listKey'), sortKey: n('updatedAt'), shards: JOB_LIST_SHARDS },
    ],
    billingMode: 'PAY_PER_REQUEST',
  },
  {
    logicalName: 'runs',
    // `runs-v2` since the indexes became keys only and sharded (`byOpen` for `byStatus`): docs/deploy.md,
    // "Upgrading", says what became of an older stage's `runs` table.
    physicalSuffix: 'runs-v2',
    partitionKey: s('runId'),
    // A run item is written three times per fire (created, claimed, finished). Every index copies
    // only keys, so the claim and the outcome write an index only where a key appears or goes: a
    // fire writes each index once, `byOpenKeys` twice — in when created, out when final (bench/cost-model.ts).
    indexes: [
      // A job's history, newest first (ScanIndexForward=false); scheduledTime is ISO-8601 UTC.
      { name: 'byJob', partitionKey: s('jobId'), sortKey: s('scheduledTime'), projection: 'KEYS_ONLY' },
      // Runs still open (a status with transitions left: PENDING, DISPATCHED, RUNNING, NO_WORKER):
      // the monitor's and the retry sweep's reads. `open` is `open#<shard>` while open and absent
      // once final, so the index holds only the runs in flight, spread over OPEN_RUN_SHARDS keys.
      // Keys only: a claim changes the status in place and writes no index; readers take the status
      // from the runs they fetch by key anyway (core/adapters/dynamo-run-ledger.ts). It replaced
      // `byOpen`, which copied `status` too (docs/deploy.md, "Upgrading").
      {
        name: OPEN_RUNS_INDEX,
        partitionKey: s('open'),
        sortKey: s('scheduledTime'),
        projection: 'KEYS_ONLY',
        shards: OPEN_RUN_SHARDS,
      },
      // The API's run lists by worker, newest first.
      { name: 'byWorker', partitionKey: s('workerId'), sortKey: s('scheduledTime'), projection: 'KEYS_ONLY' },
      // Every run of one UTC day (`day` = `YYYY-MM-DD#<shard>` of scheduledTime): the run list, the
      // error search and the stats walk a time window day by day, newest first, merging the shards
      // by `dayOrder` (`<scheduledTime> <runId>`, unique, so a position in the merge is one value).
      {
        name: 'byDay',
        partitionKey: s('day'),
        sortKey: s('dayOrder'),
        projection: 'KEYS_ONLY',
        shards: DAY_RUN_SHARDS,
      },
    ],
    ttlAttribute: 'expiresAt',
    billingMode: 'PAY_PER_REQUEST',
  },
  {
    logicalName: 'locks',
    partitionKey: s('lockKey'),
    indexes: [],
    // Only garbage collection: lock expiry is decided by the conditional write, never by TTL deletion,
    // which may lag by days.
    ttlAttribute: 'ttl',
    billingMode: 'PAY_PER_REQUEST',
  },
  {
    // Worker profiles (what an agent registered, and its lease as registered), indexed by pool for the
    // dispatcher. Written at registration and when the lease ends, never by a heartbeat.
    logicalName: 'workers',
    partitionKey: s('workerId'),
    indexes: [{ name: 'byPool', partitionKey: s('pool'), sortKey: s('workerId') }],
    ttlAttribute: 'ttl',
    billingMode: 'PAY_PER_REQUEST',
  },
  {
    // Worker leases apart from their profiles: a heartbeat rewrites one small item that no index
    // copies, one write unit (core/adapters/dynamo-worker-registry.ts; docs/capacity.md, "Heartbeats").
    logicalName: 'leases',
    partitionKey: s('workerId'),
    indexes: [],
    ttlAttribute: 'ttl',
    billingMode: 'PAY_PER_REQUEST',
  },
  { logicalName: 'contacts', partitionKey: s('contactId'), indexes: [], billingMode: 'PAY_PER_REQUEST' },
  {
    logicalName: 'alerts',
    partitionKey: s('alertId'),
    indexes: [
      { name: 'byJob', partitionKey: s('jobId'), sortKey: n('createdAt') },
      // The API's alert list across jobs: one partition per UTC day of `createdAt`.
      { name: 'byDay', partitionKey: s('day'), sortKey: n('createdAt') },
    ],
    ttlAttribute: 'expiresAt',
    billingMode: 'PAY_PER_REQUEST',
  },
  {
    // Every change accepted through the API (who, what, when, before, after). `auditId` begins with
    // the ISO instant, so it sorts by time; listed by day or by entity (`job:<id>`), newest first.
    logicalName: 'audit',
    partitionKey: s('auditId'),
    indexes: [
      { name: 'byDay', partitionKey: s('day'), sortKey: s('auditId') },
      { name: 'byEntity', partitionKey: s('entity'), sortKey: s('auditId') },
    ],
    ttlAttribute: 'expiresAt',
    billingMode: 'PAY_PER_REQUEST',
  },
] as const satisfies readonly TableDefinition[];

/** The projection of an index as DynamoDB names it. */
export function projectionOf(index: IndexDefinition): {
  readonly type: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  readonly attributes?: readonly string[];
} {
  const p = index.projection ?? 'ALL';
  return typeof p === 'string' ? { type: p } : { type: 'INCLUDE', attributes: p };
}

/** Every table, in no particular order. */
export const tables: readonly TableDefinition[] = tableList;

/** The attributes every dispatch queue has, including pool and worker queues created at runtime. */
const dispatchQueue = {
  visibilityTimeoutSeconds: 60,
  // A dispatch message older than a day is noise: the monitor has long since re-dispatched or
  // failed its run, and the agent's claim (a conditional write on DISPATCHED) would be refused.
  retentionSeconds: 1 * DAY,
  // Agents long-poll; a queue-level default makes a forgotten WaitTimeSeconds cost no empty receives.
  receiveWaitTimeSeconds: 20,
  deadLetter: { queue: 'dispatch-default-dlq', maxReceiveCount: MAX_RECEIVE_COUNT },
} as const;

/** Dead-letter queues come before the queues that name them, so a single pass can create them. */
const queueList = [
  {
    logicalName: 'dispatch-default-dlq',
    visibilityTimeoutSeconds: 60,
    retentionSeconds: DEAD_LETTER_RETENTION,
    receiveWaitTimeSeconds: 0,
  },
  // The default worker pool's queue. Pool and worker queues made at runtime (`runtimeDispatchQueue`)
  // share its dead-letter queue, so the monitor and the console watch one place for poison dispatches.
  { logicalName: 'dispatch-default', ...dispatchQueue },
  {
    logicalName: 'alerts-dlq',
    visibilityTimeoutSeconds: 60,
    retentionSeconds: DEAD_LETTER_RETENTION,
    receiveWaitTimeSeconds: 0,
  },
  // Consumed by the notifier Lambda, whose event source mapping does its own long polling.
  {
    logicalName: 'alerts',
    visibilityTimeoutSeconds: VISIBILITY_PER_FUNCTION_TIMEOUT * NOTIFIER_TIMEOUT_SECONDS,
    retentionSeconds: 4 * DAY,
    receiveWaitTimeSeconds: 0,
    deadLetter: { queue: 'alerts-dlq', maxReceiveCount: MAX_RECEIVE_COUNT },
  },
  // EventBridge Scheduler's dead-letter target for fires it could not deliver to the dispatcher, and
  // the dispatcher's on-failure destination for fires it accepted but failed after Lambda's retries.
  // The monitor drains it and records each as a missed fire; it has no dead-letter queue of its own.
  {
    logicalName: 'fires-dlq',
    visibilityTimeoutSeconds: 60,
    retentionSeconds: DEAD_LETTER_RETENTION,
    receiveWaitTimeSeconds: 0,
  },
  // The monitor's on-failure destination (in AWS): invocations that failed, kept for a person to read.
  // Nothing drains it; the next minute's sweep does the failed one's work again.
  {
    logicalName: 'monitor-failures',
    visibilityTimeoutSeconds: 60,
    retentionSeconds: DEAD_LETTER_RETENTION,
    receiveWaitTimeSeconds: 0,
  },
] as const satisfies readonly QueueDefinition[];

/** Every queue, dead-letter queues first. */
export const queues: readonly QueueDefinition[] = queueList;

export type TableName = (typeof tableList)[number]['logicalName'];
export type QueueName = (typeof queueList)[number]['logicalName'];

/** The longest prefix: leaves 39 characters of an 80-character SQS queue name for the logical part. */
export const MAX_PREFIX_LENGTH = 40;
const PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** SQS allows 80 characters; the prefix and its dash may take 41 of them. */
const MAX_LOGICAL_QUEUE_NAME = 80 - MAX_PREFIX_LENGTH - 1;

/**
 * Throws a ValidationError naming `prefix` unless it is safe in every resource name that uses it:
 * SQS queue names allow only `[A-Za-z0-9_-]` (no dots) and 80 characters, schedule groups 64.
 */
export function validatePrefix(prefix: string): string {
  if (prefix.length === 0 || prefix.length > MAX_PREFIX_LENGTH) {
    throw ValidationError.field(
      'prefix',
      `must be 1-${MAX_PREFIX_LENGTH} characters, got ${prefix.length} (${JSON.stringify(prefix)})`,
    );
  }
  if (!PREFIX_PATTERN.test(prefix)) {
    throw ValidationError.field(
      'prefix',
      `${JSON.stringify(prefix)} may contain only letters, digits, "_" and "-", starting with a letter or digit (SQS queue names allow no other characters)`,
    );
  }
  return prefix;
}

/**
 * The name of a resource in AWS: `${prefix}-${logicalName}`.
 * @example physicalName('clover-dev', 'jobs') // 'clover-dev-jobs'; 'runs' → 'clover-dev-runs-v2' (its physicalSuffix)
 */
export function physicalName(prefix: string, logicalName: string): string {
  const table: TableDefinition | undefined = tables.find((t) => t.logicalName === logicalName);
  return `${validatePrefix(prefix)}-${table?.physicalSuffix ?? logicalName}`;
}

/**
 * Schedules in the stage's group whose names start with this are the stage's own, not a job's: job
 * schedules are named by their job id, which starts with a letter or digit. Whatever lists the group
 * for job schedules skips them (EventBridgeScheduleGateway.list), and nothing deletes them by job id.
 */
export const RESERVED_SCHEDULE_PREFIX = '_';

/** The precise-jobs planner's schedule in the stage's group (infra/constructs/planner-schedule.ts): a reserved name. */
export const PLANNER_SCHEDULE_NAME = `${RESERVED_SCHEDULE_PREFIX}clover-planner`;

/**
 * The CloudWatch namespace of every Clover metric: the Lambdas' (functions/metrics.ts, embedded metric
 * format) and the agents' (worker-agent/agent-metrics.ts, PutMetricData). The agent policy may put
 * metrics in this namespace only.
 */
export const METRIC_NAMESPACE = 'Clover';

/**
 * The metrics worker agents publish (worker-agent/agent-metrics.ts), read by the stack's dashboard:
 * every one carries the `Stage` dimension.
 */
export const AGENT_METRICS = {
  /**
   * How late a scheduled run's handler started after its nominal instant, by the agent's clock (the
   * run's `startLateMs`); dimensions Stage, Pool, Precision (`SECOND`: precise REMOTE, `MINUTE`: plain
   * REMOTE, `LOCAL`). Sent as values and counts, so percentiles work.
   */
  runStartLateness: { name: 'RunStartLatenessMs', unit: 'Milliseconds' },
  /** An agent's clock offset from the control plane's, only while past the threshold (signed: + behind). */
  clockOffset: { name: 'AgentClockOffsetMs', unit: 'Milliseconds' },
} as const;

/** The stage's EventBridge Scheduler group: every job's schedule lives in it, and the planner's. */
export function scheduleGroupName(prefix: string): string {
  return validatePrefix(prefix);
}

export function tableDefinition(name: TableName): TableDefinition {
  return tables.find((t) => t.logicalName === name)!;
}

export function queueDefinition(name: QueueName): QueueDefinition {
  return queues.find((q) => q.logicalName === name)!;
}

/**
 * The logical name of a worker pool's dispatch queue, made at runtime by `runtimeDispatchQueue`.
 * @example poolQueueName('gpu') // 'dispatch-gpu'; the default pool's queue is 'dispatch-default'
 */
export function poolQueueName(pool: string): string {
  return `dispatch-${queueSafe(pool, MAX_LOGICAL_QUEUE_NAME - 'dispatch-'.length)}`;
}

/**
 * The logical name of one worker's own queue. Worker ids may hold dots and be 64 characters long;
 * SQS names may not, so such ids are shortened and given a hash of the full id, keeping names distinct.
 * @example workerQueueName('host-1') // 'worker-host-1'; workerQueueName('ip-10.0.0.1') // 'worker-ip-10-0-0-1-<hash>'
 */
export function workerQueueName(workerId: string): string {
  return `worker-${queueSafe(workerId, MAX_LOGICAL_QUEUE_NAME - 'worker-'.length)}`;
}

/** A queue made at runtime (pool or worker queue): the attributes of `dispatch-default` under another name. */
export function runtimeDispatchQueue(logicalName: string): QueueDefinition {
  if (!/^[A-Za-z0-9_-]+$/.test(logicalName) || logicalName.length > MAX_LOGICAL_QUEUE_NAME) {
    throw ValidationError.field(
      'queue',
      `${JSON.stringify(logicalName)} is not a valid logical queue name (1-${MAX_LOGICAL_QUEUE_NAME} of [A-Za-z0-9_-])`,
    );
  }
  return { logicalName, ...dispatchQueue };
}

/** `id` unchanged when it is already SQS-safe and short enough, else a safe shortened form plus a hash. */
function queueSafe(id: string, max: number): string {
  if (id.length === 0) throw ValidationError.field('id', 'must not be empty');
  if (/^[A-Za-z0-9_-]+$/.test(id) && id.length <= max) return id;
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  const safe = id.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, max - hash.length - 1);
  return `${safe}-${hash}`;
}
