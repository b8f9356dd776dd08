/**
 * Paged walks over DynamoDB index partitions (the management API's lists, dynamo-api-reads.ts): one
 * partition after another, a bounded number of Query requests per page, a sharded partition's shards
 * merged in order, and a position to resume from that a cursor carries and that is checked when it
 * comes back.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { shardKeys } from '../../infra/resources';
import type { Visit, WalkOptions, WalkResult } from '../api/ports';
import { InvalidCursorError } from '../errors';
import { errorName } from './aws-errors';
import {
  type DynamoTable,
  dynamoCall,
  Expr,
  type Item,
  marshal,
  unmarshal,
  unmarshalItem,
} from './dynamo-items';

/** One index partition to read (or the shards of one), optionally narrowed to a range of its sort key. */
export interface Segment {
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

export interface WalkSpec<T> {
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
 * Reads `spec.segments` from `options.start`, one read after another (at most `options.maxReads`
 * that hold items), calling `visit` per item until it answers false; answers where the next page
 * starts. A read is one Query, or for a sharded segment one Query per shard merged (`readShards`).
 */
export async function walk<T>(spec: WalkSpec<T>, visit: Visit<T>, options: WalkOptions): Promise<WalkResult> {
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
