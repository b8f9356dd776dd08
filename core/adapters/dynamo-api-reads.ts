import { type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { DAY_RUN_SHARDS, JOB_LIST_SHARDS, physicalName, shardKeys } from '../../infra/resources';
import type {
  AlertFilter,
  ApiReads,
  AuditFilter,
  AuditLog,
  JobFilter,
  RunFilter,
  Visit,
  WalkOptions,
  WalkResult,
} from '../api/ports';
import { type AuditRecord, AuditRecordSchema } from '../api/schemas';
import { InvalidCursorError } from '../errors';
import { type AlertRecord, isoSeconds, type Job, type Run } from '../model';
import { errorName } from './aws-errors';
import type { DynamoAlertStore } from './dynamo-alert-store';
import {
  DAY_MS,
  DynamoTable,
  decodeItem,
  dynamoCall,
  Expr,
  type Item,
  jsonAttr,
  marshal,
  marshalItem,
  parseJsonAttr,
  ttlSeconds,
  unmarshal,
  unmarshalItem,
  utcDay,
} from './dynamo-items';
import { DynamoJobStore, JOB_LIST_KEY } from './dynamo-job-store';
import type { DynamoRunLedger } from './dynamo-run-ledger';

/** Audit records are kept this long, then DynamoDB's TTL deletes them. */
export const AUDIT_RETENTION_MS = 400 * DAY_MS;

/** One index partition to read (or the shards of one), optionally narrowed to a range of its sort key. */
interface Segment {
  /** Stable name in cursors: the UTC day for day walks, `all` otherwise. */
  readonly id: string;
  readonly index: string;
  /** The partition key and its value; with `shards`, the value's shards (`value#0` …) are read and merged. */
  readonly partition: readonly [attribute: string, value: string];
  /** The index's write shards (infra/resources.ts); their sort key must be unique across shards. */
  readonly shards?: number;
  /** Read the unsharded value too: items written before the index was sharded (docs/deploy.md). */
  readonly unsharded?: boolean;
  /** The index's sort key, when no range names it. */
  readonly sortKey?: string;
  readonly range?: {
    readonly attribute: string;
    readonly from: string | number;
    readonly to: string | number;
  };
}

interface WalkSpec<T> {
  readonly table: DynamoTable;
  /** The table's own key attribute: with the index's keys, it makes an item's position. */
  readonly tableKey: string;
  readonly segments: readonly Segment[];
  readonly newestFirst: boolean;
  /** A FilterExpression on attributes the index projects. */
  readonly filter?: (expr: Expr) => string | undefined;
  /** Keys-only indexes: the items are read by key, then kept when they match. */
  readonly fetch?: { readonly matches: (item: T) => boolean };
  readonly decode: (item: Item) => T;
}

/**
 * The management API's paged reads on DynamoDB (core/api/ports.ts): each walk queries one index
 * partition after another (one partition, or one per UTC day of a time window, newest first), a
 * bounded number of Query requests per page, never a Scan. Filters without an index become a
 * FilterExpression on the chosen index; a short page then still carries a position to go on from.
 */
export class DynamoApiReads implements ApiReads, AuditLog {
  private readonly jobsTable: DynamoTable;
  private readonly runsTable: DynamoTable;
  private readonly alertsTable: DynamoTable;
  private readonly auditTable: DynamoTable;
  private readonly jobCodec: DynamoJobStore;

  constructor(
    private readonly options: {
      readonly client: DynamoDBClient;
      readonly prefix: string;
      readonly runs: DynamoRunLedger;
      readonly alerts: DynamoAlertStore;
      readonly clock?: { now(): number };
    },
  ) {
    const table = (name: string) =>
      new DynamoTable({ client: options.client, table: physicalName(options.prefix, name) });
    this.jobsTable = table('jobs');
    this.runsTable = table('runs');
    this.alertsTable = table('alerts');
    this.auditTable = table('audit');
    this.jobCodec = new DynamoJobStore({ client: options.client, table: this.jobsTable.name });
  }

  walkJobs(filter: JobFilter, visit: Visit<Job>, options: WalkOptions): Promise<WalkResult> {
    // The most selective filter with an index picks the index; the rest filter its items.
    const [index, attribute, value] = filter.owner
      ? ['byOwner', 'owner', filter.owner]
      : filter.group
        ? ['byGroup', 'group', filter.group]
        : filter.handler
          ? ['byHandler', 'handler', filter.handler]
          : filter.pool
            ? ['byPool', 'pool', filter.pool]
            : ['byList', 'listKey', JOB_LIST_KEY];
    const rest: Array<[string, unknown]> = (
      [
        ['owner', filter.owner],
        ['group', filter.group],
        ['handler', filter.handler],
        ['pool', filter.pool],
        ['mode', filter.mode],
        ['paused', filter.paused],
      ] as Array<[string, unknown]>
    ).filter(([name, v]) => v !== undefined && name !== attribute);
    return walk(
      {
        table: this.jobsTable,
        tableKey: 'jobId',
        segments: [
          {
            id: 'all',
            index,
            partition: [attribute, value],
            sortKey: 'jobId',
            ...(index === 'byList' ? { shards: JOB_LIST_SHARDS, unsharded: true } : {}),
          },
        ],
        newestFirst: false,
        filter: (expr) =>
          equalities(
            expr,
            rest,
            filter.q ? [`contains(${expr.name('searchText')}, ${expr.value(filter.q.toLowerCase())})`] : [],
          ),
        decode: (item) => this.jobCodec.decode(item),
      },
      visit,
      options,
    );
  }

  walkRuns(filter: RunFilter, visit: Visit<Run>, options: WalkOptions): Promise<WalkResult> {
    const range = { attribute: 'scheduledTime', from: isoSeconds(filter.from), to: isoSeconds(filter.to) };
    // The runs indexes hold keys only (infra/resources.ts): the walk reads the runs by key and
    // filters them here. A job or a worker is one partition; else the window's days, shard-merged.
    const keyed: Array<[string, string, string | undefined]> = [
      ['byJob', 'jobId', filter.jobId],
      ['byWorker', 'workerId', filter.workerId],
    ];
    const chosen = keyed.find(([, , v]) => v !== undefined);
    const segments: Segment[] = chosen
      ? [{ id: 'all', index: chosen[0], partition: [chosen[1], chosen[2]!], range }]
      : runDaySegments(filter.from, filter.to);
    const wanted: Array<[keyof Run, string | undefined]> = [
      ['jobId', filter.jobId],
      ['workerId', filter.workerId],
      ['status', filter.status],
    ];
    return walk(
      {
        table: this.runsTable,
        tableKey: 'runId',
        segments,
        newestFirst: true,
        fetch: {
          matches: (run) => wanted.every(([field, value]) => value === undefined || run[field] === value),
        },
        decode: (item) => this.options.runs.decode(item),
      },
      visit,
      options,
    );
  }

  walkAlerts(filter: AlertFilter, visit: Visit<AlertRecord>, options: WalkOptions): Promise<WalkResult> {
    const range = { attribute: 'createdAt', from: filter.from, to: filter.to };
    const segments: Segment[] = filter.jobId
      ? [{ id: 'all', index: 'byJob', partition: ['jobId', filter.jobId], range }]
      : daySegments(filter.from, filter.to, range);
    return walk(
      {
        table: this.alertsTable,
        tableKey: 'alertId',
        segments,
        newestFirst: true,
        filter: (expr) => {
          // OPEN: nobody took it and people were or are being told; ACKNOWLEDGED: someone took it.
          const state =
            filter.status === 'OPEN'
              ? [
                  `attribute_not_exists(${expr.name('acknowledgement')})`,
                  `${expr.name('status')} IN (${['PENDING', 'SENT', 'FAILED'].map((s) => expr.value(s)).join(', ')})`,
                ]
              : filter.status === 'ACKNOWLEDGED'
                ? [`attribute_exists(${expr.name('acknowledgement')})`]
                : [];
          const status = state.length ? undefined : filter.status;
          return equalities(
            expr,
            [
              ['kind', filter.kind],
              ['status', status],
            ],
            state,
          );
        },
        decode: (item) => this.options.alerts.decode(item),
      },
      visit,
      options,
    );
  }

  walkAudit(filter: AuditFilter, visit: Visit<AuditRecord>, options: WalkOptions): Promise<WalkResult> {
    // auditId starts with the ISO instant: a window is a range of ids.
    const range = {
      attribute: 'auditId',
      from: new Date(filter.from).toISOString(),
      to: `${new Date(filter.to).toISOString()}~`,
    };
    const segments: Segment[] = filter.entity
      ? [{ id: 'all', index: 'byEntity', partition: ['entity', filter.entity], range }]
      : daySegments(filter.from, filter.to, range);
    return walk(
      {
        table: this.auditTable,
        tableKey: 'auditId',
        segments,
        newestFirst: true,
        decode: (item) => decodeAudit(item, this.auditTable.name),
      },
      visit,
      options,
    );
  }

  async append(record: AuditRecord): Promise<void> {
    const now = this.options.clock?.now() ?? Date.now();
    await this.auditTable.put({
      Item: marshalItem({
        ...record,
        before: jsonAttr(record.before),
        after: jsonAttr(record.after),
        day: utcDay(record.at),
        expiresAt: ttlSeconds(Math.max(record.at, now) + AUDIT_RETENTION_MS),
      }),
    });
  }
}

function decodeAudit(item: Item, table: string): AuditRecord {
  return decodeItem(AuditRecordSchema, item, table, ({ day: _day, expiresAt: _ttl, ...raw }) => ({
    ...raw,
    before: parseJsonAttr(raw.before, table, 'before'),
    after: parseJsonAttr(raw.after, table, 'after'),
  }));
}

/** One `byDay` partition per UTC day from `to` back to `from`, newest first, each narrowed to `range`. */
function daySegments(from: number, to: number, range: Segment['range']): Segment[] {
  const out: Segment[] = [];
  for (let day = Date.parse(utcDay(to)); day >= Date.parse(utcDay(from)); day -= DAY_MS) {
    const id = utcDay(day);
    out.push({ id, index: 'byDay', partition: ['day', id], range });
  }
  return out;
}

/**
 * The runs `byDay` shards of each UTC day from `to` back to `from`, newest first, narrowed to the
 * window by `dayOrder` (`<scheduledTime> <runId>`: `~` sorts after the space before a run id).
 */
function runDaySegments(from: number, to: number): Segment[] {
  const range = { attribute: 'dayOrder', from: isoSeconds(from), to: `${isoSeconds(to)}~` };
  return daySegments(from, to, range).map((segment) => ({ ...segment, shards: DAY_RUN_SHARDS }));
}

/** `a = :a AND b = :b …` over the pairs whose value is given; undefined when none is. */
function equalities(
  expr: Expr,
  pairs: ReadonlyArray<readonly [string, unknown]>,
  extra: string[] = [],
): string | undefined {
  const terms = pairs
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${expr.name(name)} = ${expr.value(value)}`)
    .concat(extra);
  return terms.length ? terms.join(' AND ') : undefined;
}

/**
 * Reads `spec.segments` from `options.start`, one read after another (at most `options.maxReads`
 * that hold items), calling `visit` per item until it answers false; answers where the next page
 * starts. A read is one Query, or for a sharded segment one Query per shard merged (`readShards`).
 */
async function walk<T>(spec: WalkSpec<T>, visit: Visit<T>, options: WalkOptions): Promise<WalkResult> {
  let segmentIndex = 0;
  let startKey: Item | undefined;
  if (options.start) {
    segmentIndex = spec.segments.findIndex((s) => s.id === options.start?.segment);
    if (segmentIndex < 0) throw new InvalidCursorError('does not belong to this window');
    startKey = options.start.key
      ? checkedKey(spec, spec.segments[segmentIndex]!, options.start.key)
      : undefined;
  }
  let reads = 0;
  let charged = 0;
  let visited = 0;
  // The key of the last item visited in the current segment (or the cursor's start key): an
  // exclusive start key that resumes with the item after it.
  let previous = startKey;
  while (segmentIndex < spec.segments.length) {
    const segment = spec.segments[segmentIndex]!;
    if (charged >= options.maxReads) {
      return {
        next: { segment: segment.id, ...(startKey ? { key: plainKey(startKey) } : {}) },
        reads,
        visited,
      };
    }
    const out = segment.shards
      ? await readShards(spec, segment, startKey, options.pageSize)
      : await readPartition(spec, segment, startKey, options.pageSize);
    reads += out.reads;
    if (out.scanned > 0 || out.last) charged++;
    const items = spec.fetch
      ? await spec.table.getMany(out.items.map((entry) => ({ [spec.tableKey]: entry[spec.tableKey]! })))
      : out.items;
    const byId = new Map(items.map((item) => [JSON.stringify(item[spec.tableKey]), item]));
    for (const entry of out.items) {
      const item = byId.get(JSON.stringify(entry[spec.tableKey]));
      // The index lags its table: an entry whose item is gone (TTL) is passed over.
      const decoded = item === undefined ? undefined : spec.decode(item);
      const key = keyOf(spec, segment, entry);
      if (decoded !== undefined && (spec.fetch?.matches(decoded) ?? true)) {
        visited++;
        if (!visit(decoded)) {
          return {
            next: { segment: segment.id, key: plainKey(key) },
            before: { segment: segment.id, ...(previous ? { key: plainKey(previous) } : {}) },
            reads,
            visited,
          };
        }
      }
      previous = key;
    }
    startKey = out.last;
    if (!startKey) {
      segmentIndex++;
      previous = undefined;
    }
  }
  return { reads, visited };
}

/** One read of a segment: its index entries in walk order, and where to go on (absent: the segment's end). */
interface SegmentRead {
  readonly items: readonly Item[];
  readonly last?: Item;
  readonly scanned: number;
  readonly reads: number;
}

/** One Query of one partition from `startKey`. */
async function readPartition<T>(
  spec: WalkSpec<T>,
  segment: Segment,
  startKey: Item | undefined,
  pageSize: number,
): Promise<SegmentRead> {
  const expr = new Expr();
  let condition = `${expr.name(segment.partition[0])} = ${expr.value(segment.partition[1])}`;
  if (segment.range) {
    condition += ` AND ${expr.name(segment.range.attribute)} BETWEEN ${expr.value(segment.range.from)} AND ${expr.value(segment.range.to)}`;
  }
  const out = await query(spec, segment, expr, condition, pageSize, startKey);
  return {
    items: out.Items ?? [],
    ...(out.LastEvaluatedKey ? { last: out.LastEvaluatedKey } : {}),
    scanned: out.ScannedCount ?? out.Items?.length ?? 0,
    reads: 1,
  };
}

/**
 * One read of a sharded segment: a Query of every shard from the position (a sort key value, unique
 * across shards), merged in walk order. A shard that had more stops the merge at its last evaluated
 * key, past which it is unknown; the next read resumes there.
 */
async function readShards<T>(
  spec: WalkSpec<T>,
  segment: Segment,
  startKey: Item | undefined,
  pageSize: number,
): Promise<SegmentRead> {
  const sortKey = sortKeyOf(segment);
  const position = startKey ? unmarshal(startKey[sortKey]!) : undefined;
  const shards = await Promise.all(
    [
      ...shardKeys(segment.partition[1], segment.shards ?? 1),
      ...(segment.unsharded ? [segment.partition[1]] : []),
    ].map(async (value) => {
      const expr = new Expr();
      let lower = segment.range?.from;
      let upper = segment.range?.to;
      if (position !== undefined) {
        if (spec.newestFirst) upper = position as string | number;
        else lower = position as string | number;
      }
      let condition = `${expr.name(segment.partition[0])} = ${expr.value(value)}`;
      if (lower !== undefined && upper !== undefined)
        condition += ` AND ${expr.name(sortKey)} BETWEEN ${expr.value(lower)} AND ${expr.value(upper)}`;
      else if (upper !== undefined) condition += ` AND ${expr.name(sortKey)} <= ${expr.value(upper)}`;
      else if (lower !== undefined) condition += ` AND ${expr.name(sortKey)} >= ${expr.value(lower)}`;
      // One more than a page: the position's own item may come back (the bounds include it).
      const out = await query(spec, segment, expr, condition, pageSize + 1, undefined);
      const items = (out.Items ?? []).filter((item) => unmarshal(item[sortKey]!) !== position);
      const last = out.LastEvaluatedKey?.[sortKey];
      return { items, last: last && unmarshal(last), scanned: out.ScannedCount ?? items.length };
    }),
  );
  const before = (a: unknown, b: unknown) => (spec.newestFirst ? compare(a, b) > 0 : compare(a, b) < 0);
  // The furthest a shard that has more is known to reach: entries beyond it wait for the next read.
  let bound: unknown;
  for (const shard of shards) {
    if (shard.last !== undefined && (bound === undefined || before(shard.last, bound))) bound = shard.last;
  }
  const items = shards
    .flatMap((shard) => shard.items)
    .filter((item) => bound === undefined || !before(bound, unmarshal(item[sortKey]!)))
    .sort((a, b) => (before(unmarshal(a[sortKey]!), unmarshal(b[sortKey]!)) ? -1 : 1));
  const lastValue = bound ?? undefined;
  return {
    items,
    ...(lastValue !== undefined ? { last: { [sortKey]: marshal(lastValue) } } : {}),
    scanned: shards.reduce((sum, shard) => sum + shard.scanned, 0),
    reads: shards.length,
  };
}

function compare(a: unknown, b: unknown): number {
  return typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
}

function sortKeyOf(segment: Segment): string {
  const key = segment.range?.attribute ?? segment.sortKey;
  if (!key) throw new Error(`segment ${segment.id} of ${segment.index}: a sharded read needs its sort key`);
  return key;
}

/** One Query of the segment's index; a start key DynamoDB refuses came from a cursor. */
function query<T>(
  spec: WalkSpec<T>,
  segment: Segment,
  expr: Expr,
  condition: string,
  limit: number,
  exclusiveStart: Item | undefined,
): Promise<{ Items?: Item[]; LastEvaluatedKey?: Item; ScannedCount?: number }> {
  const filter = spec.filter?.(expr);
  return dynamoCall(`index ${spec.table.name}.${segment.index}`, async () => {
    try {
      return await spec.table.client.send(
        new QueryCommand({
          TableName: spec.table.name,
          IndexName: segment.index,
          KeyConditionExpression: condition,
          ...(filter ? { FilterExpression: filter } : {}),
          ScanIndexForward: !spec.newestFirst,
          Limit: limit,
          ...(exclusiveStart ? { ExclusiveStartKey: exclusiveStart } : {}),
          ...expr.params(),
        }),
      );
    } catch (error) {
      // A start key DynamoDB refuses came from a cursor: the caller's input, not our fault.
      if (exclusiveStart && errorName(error) === 'ValidationException') {
        throw new InvalidCursorError('does not point into this list');
      }
      throw error;
    }
  });
}

/** An item's position in its index: the index keys and the table key. */
function keyOf<T>(spec: WalkSpec<T>, segment: Segment, item: Item): Item {
  const names = keyNames(spec, segment);
  return Object.fromEntries(names.filter((n) => item[n] !== undefined).map((n) => [n, item[n]!]));
}

function keyNames<T>(spec: WalkSpec<T>, segment: Segment): string[] {
  // A sharded segment's position is its sort key's value alone (unique across the shards).
  if (segment.shards) return [sortKeyOf(segment)];
  const sortKey = segment.range?.attribute ?? (spec.tableKey === 'jobId' ? 'jobId' : undefined);
  return [...new Set([segment.partition[0], ...(sortKey ? [sortKey] : []), spec.tableKey])];
}

function plainKey(key: Item): Record<string, string | number> {
  return unmarshalItem(key) as Record<string, string | number>;
}

/** A cursor's key, checked to name exactly this index's key attributes and this segment's partition. */
function checkedKey<T>(
  spec: WalkSpec<T>,
  segment: Segment,
  key: Readonly<Record<string, string | number>>,
): Item {
  const expected = keyNames(spec, segment).sort();
  const given = Object.keys(key).sort();
  const partitionOk = segment.shards !== undefined || key[segment.partition[0]] === segment.partition[1];
  if (expected.join() !== given.join() || !partitionOk) {
    throw new InvalidCursorError('does not point into this list');
  }
  return Object.fromEntries(Object.entries(key).map(([k, v]) => [k, marshal(v)]));
}
