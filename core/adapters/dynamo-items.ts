import {
  type AttributeValue,
  BatchGetItemCommand,
  DeleteItemCommand,
  type DeleteItemCommandInput,
  type DeleteItemCommandOutput,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type PutItemCommandInput,
  type PutItemCommandOutput,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import type { z } from 'zod';
import { CloverError } from '../errors';
import type { Clock } from '../ports';
import { awsFailure, errorName } from './aws-errors';

/**
 * DynamoDB item plumbing shared by every Dynamo adapter:
 * - `marshal*` / `unmarshal*`: plain JSON values ⇄ AttributeValue (`@aws-sdk/util-dynamodb` is not a
 *   dependency, and Clover only stores JSON-shaped data, so these are small). Arrays are stored as
 *   lists (`L`), never sets, so empty arrays survive.
 * - `decodeItem`: every raw item is validated with the model's zod schema on the way in; an item
 *   that does not parse is corrupt data and surfaces as an `internal` error naming the table.
 * - `dynamoCall`: the one try/catch around a DynamoDB request. It turns
 *   `ConditionalCheckFailedException` (with the `ALL_OLD` item) and `TransactionCanceledException`
 *   (with one reason per transact item) into calls of the adapter's handler, which throws the
 *   domain error (or returns a value), and everything else into {@link awsFailure}.
 * - `DynamoTable`: one table's GetItem/PutItem/UpdateItem/DeleteItem and paginated Scan/Query, each
 *   through `dynamoCall`, so that an adapter writes only its keys, expressions and failure mapping.
 */
export type Item = Record<string, AttributeValue>;

export function marshal(value: unknown): AttributeValue {
  if (value === null) return { NULL: true };
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'boolean':
      return { BOOL: value };
    case 'number':
      if (!Number.isFinite(value)) throw new CloverError('internal', `cannot store the number ${value}`);
      return { N: String(value) };
    case 'object':
      if (Array.isArray(value)) return { L: value.map((v) => marshal(v ?? null)) };
      return { M: marshalItem(value as Record<string, unknown>) };
    default:
      throw new CloverError('internal', `cannot store a value of type ${typeof value}`);
  }
}

/** Marshals an object's defined fields; `undefined` fields are left out (absent attributes). */
export function marshalItem(value: Readonly<Record<string, unknown>>): Item {
  const item: Item = {};
  for (const [key, field] of Object.entries(value)) {
    if (field !== undefined) item[key] = marshal(field);
  }
  return item;
}

export function unmarshal(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return Number(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.L !== undefined) return value.L.map(unmarshal);
  if (value.M !== undefined) return unmarshalItem(value.M);
  if (value.SS !== undefined) return [...value.SS];
  if (value.NS !== undefined) return value.NS.map(Number);
  if (value.B !== undefined) return value.B;
  if (value.BS !== undefined) return [...value.BS];
  throw new CloverError('internal', `unknown DynamoDB attribute type ${Object.keys(value).join(',')}`);
}

export function unmarshalItem(item: Readonly<Item>): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(item)) value[key] = unmarshal(field);
  return value;
}

/**
 * Validates an unmarshalled item against `schema`. `prepare` may first undo storage-only encodings
 * (JSON-string payloads, TTL attributes).
 */
export function decodeItem<S extends z.ZodType>(
  schema: S,
  item: Readonly<Item>,
  table: string,
  prepare?: (raw: Record<string, unknown>) => Record<string, unknown>,
): z.output<S> {
  const raw = unmarshalItem(item);
  const parsed = schema.safeParse(prepare ? prepare(raw) : raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new CloverError(
      'internal',
      `table ${table} holds an invalid item: ${first?.path.join('.') || '(item)'}: ${first?.message ?? 'invalid'}`,
      {
        details: {
          table,
          issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        },
      },
    );
  }
  return parsed.data;
}

/** Opaque user JSON (payloads, results) is stored as a JSON string: no 32-level nesting limit, no map-key rules. */
export function jsonAttr(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

export function parseJsonAttr(value: unknown, table: string, field: string): unknown {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new CloverError('internal', `table ${table}: ${field} is not a JSON string`);
  }
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new CloverError('internal', `table ${table}: ${field} is not valid JSON`, { cause: error });
  }
}

/** TTL attributes are epoch seconds. */
export function ttlSeconds(epochMs: number): number {
  return Math.floor(epochMs / 1000);
}

export const DAY_MS = 24 * 3600 * 1000;

/** One reason per item of a cancelled transaction, in request order. */
export interface CancellationReason {
  /** `None` for items that were fine, `ConditionalCheckFailed`, `TransactionConflict`, ... */
  readonly code: string;
  /** The item as it was, when the request asked for `ALL_OLD` and the item exists. */
  readonly item?: Item;
}

export interface DynamoFailureHandlers<T> {
  /**
   * The write's condition failed; `old` is the current item (absent if there is none). `retried`: the
   * SDK sent the request more than once (an attempt timed out or its answer was lost), so the failing
   * condition may be this very write's own first attempt, which landed — `old` then shows it.
   */
  readonly conditionFailed?: (
    old: Item | undefined,
    attempt: { readonly retried: boolean },
  ) => T | Promise<T>;
  /**
   * A transaction was cancelled; `reasons` has one entry per transact item (empty if the service sent
   * none). `retried` as for `conditionFailed`.
   */
  readonly cancelled?: (
    reasons: readonly CancellationReason[],
    attempt: { readonly retried: boolean },
  ) => T | Promise<T>;
}

/**
 * Runs one DynamoDB request and maps its failure: the handlers decide what a failed condition or a
 * cancelled transaction means (throw a domain error, or return a value such as `false`); anything
 * else goes through {@link awsFailure}.
 *
 * @example
 * await dynamoCall(`table ${table}`, () => client.send(put), {
 *   conditionFailed: (old) => { throw new AlreadyFiredError(run.runId, old && decode(old)); },
 * });
 */
export async function dynamoCall<T>(
  what: string,
  request: () => Promise<T>,
  handlers: DynamoFailureHandlers<T> = {},
): Promise<T> {
  try {
    return await request();
  } catch (error) {
    const name = errorName(error);
    const attempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
    if (name === 'ConditionalCheckFailedException' && handlers.conditionFailed) {
      return handlers.conditionFailed((error as { Item?: Item }).Item, { retried: attempts > 1 });
    }
    if (name === 'TransactionCanceledException' && handlers.cancelled) {
      const raw =
        (error as { CancellationReasons?: { Code?: string; Item?: Item }[] }).CancellationReasons ?? [];
      return handlers.cancelled(
        raw.map((r) => ({ code: r.Code ?? 'None', ...(r.Item ? { item: r.Item } : {}) })),
        { retried: attempts > 1 },
      );
    }
    throw awsFailure(what, error);
  }
}

/** Builds ExpressionAttributeNames/Values without hand-numbering placeholders. */
export class Expr {
  readonly names: Record<string, string> = {};
  readonly values: Item = {};
  private n = 0;

  /** `#name` placeholder for an attribute name (all names go through here: many are reserved words). */
  name(attribute: string): string {
    const key = `#${attribute.replace(/[^A-Za-z0-9_]/g, '_')}`;
    this.names[key] = attribute;
    return key;
  }

  /** `:vN` placeholder for a value. */
  value(value: unknown): string {
    const key = `:v${this.n++}`;
    this.values[key] = marshal(value);
    return key;
  }

  /** The request fields, leaving out empty maps (DynamoDB rejects empty ExpressionAttribute maps). */
  params(): { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Item } {
    return {
      ...(Object.keys(this.names).length ? { ExpressionAttributeNames: this.names } : {}),
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

/** What every single-table Dynamo adapter is built from: an injected client (never built here) and the table. */
export interface DynamoTableOptions {
  readonly client: DynamoDBClient;
  /** Physical name of the table (the adapter's doc gives its keys and indexes). */
  readonly table: string;
}

/** Adapters that write a TTL attribute also take the wall clock it is computed from. */
export interface DynamoTtlTableOptions extends DynamoTableOptions {
  /** Wall clock for the TTL attribute only: conditions compare the caller's `now`, never this. @default systemClock */
  readonly clock?: Clock;
}

/** An SDK request input without `TableName`, which {@link DynamoTable} fills in. */
export type TableInput<I> = Omit<I, 'TableName'>;

/** One page of a Scan or a Query; {@link DynamoTable.readPages} fills in the table and the start key. */
export type PageRequest =
  | { readonly scan: Omit<ScanCommandInput, 'TableName' | 'ExclusiveStartKey'> }
  | { readonly query: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'> };

/**
 * One table's requests, each run through {@link dynamoCall} with failures naming `table <name>`.
 * The write methods take the same failure handlers as `dynamoCall`; a handler's return value is the
 * method's result when the condition fails (`F`, `never` when the handler throws).
 *
 * @example
 * const table = new DynamoTable({ client, table: physicalName(prefix, 'contacts') });
 * const item = await table.get({ contactId: { S: 'ops' } });
 * await table.put({ Item, ConditionExpression }, { conditionFailed: () => { throw new AlreadyExistsError('contact', id); } });
 */
export class DynamoTable {
  readonly client: DynamoDBClient;
  readonly name: string;
  /** How failures name this table. */
  readonly what: string;

  constructor(options: DynamoTableOptions) {
    this.client = options.client;
    this.name = options.table;
    this.what = `table ${options.table}`;
  }

  /**
   * The item under `key`, read consistently (a read right after a write sees it), or undefined;
   * only the attributes `projection` names when given (an Expr's names, e.g. `#a, #b`).
   */
  async get(
    key: Item,
    projection?: { readonly expression: string; readonly expr: Expr },
  ): Promise<Item | undefined> {
    const out = await dynamoCall(this.what, () =>
      this.client.send(
        new GetItemCommand({
          TableName: this.name,
          Key: key,
          ConsistentRead: true,
          ...(projection ? { ProjectionExpression: projection.expression, ...projection.expr.params() } : {}),
        }),
      ),
    );
    return out.Item;
  }

  put<F = never>(
    input: TableInput<PutItemCommandInput>,
    handlers: DynamoFailureHandlers<F> = {},
  ): Promise<PutItemCommandOutput | F> {
    return dynamoCall<PutItemCommandOutput | F>(
      this.what,
      () => this.client.send(new PutItemCommand({ TableName: this.name, ...input })),
      handlers,
    );
  }

  update<F = never>(
    input: TableInput<UpdateItemCommandInput>,
    handlers: DynamoFailureHandlers<F> = {},
  ): Promise<UpdateItemCommandOutput | F> {
    return dynamoCall<UpdateItemCommandOutput | F>(
      this.what,
      () => this.client.send(new UpdateItemCommand({ TableName: this.name, ...input })),
      handlers,
    );
  }

  delete<F = never>(
    input: TableInput<DeleteItemCommandInput>,
    handlers: DynamoFailureHandlers<F> = {},
  ): Promise<DeleteItemCommandOutput | F> {
    return dynamoCall<DeleteItemCommandOutput | F>(
      this.what,
      () => this.client.send(new DeleteItemCommand({ TableName: this.name, ...input })),
      handlers,
    );
  }

  /** An update whose failed condition is an answer, not an error: true when it wrote, false when the condition failed. */
  async updateIf(input: TableInput<UpdateItemCommandInput>): Promise<boolean> {
    const out = await this.update(input, { conditionFailed: () => false as const });
    return out !== false;
  }

  /**
   * The items under `keys`, in the order of `keys` (missing ones left out): BatchGetItem, 100 keys a
   * request, asking again for what DynamoDB left unprocessed. What a keys-only index read fetches.
   */
  async getMany(keys: readonly Item[], options: { readonly consistent?: boolean } = {}): Promise<Item[]> {
    const found = new Map<string, Item>();
    const id = (item: Item) => JSON.stringify(Object.keys(keys[0] ?? {}).map((k) => item[k]));
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Item[] | undefined = keys.slice(i, i + 100);
      for (let attempt = 0; pending?.length; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** Math.min(attempt, 6)));
        const request: Item[] = pending;
        const out = await dynamoCall(this.what, () =>
          this.client.send(
            new BatchGetItemCommand({
              RequestItems: { [this.name]: { Keys: request, ConsistentRead: options.consistent ?? false } },
            }),
          ),
        );
        for (const item of out.Responses?.[this.name] ?? []) found.set(id(item), item);
        pending = out.UnprocessedKeys?.[this.name]?.Keys;
      }
    }
    return keys.flatMap((key): Item[] => {
      const item = found.get(id(key));
      return item ? [item] : [];
    });
  }

  /**
   * Reads a Scan or Query page after page, decoding each page's items before asking for the next,
   * until the last page, until `limit` items are read or until `enough` says so of the items read.
   * `request` builds each page's request from the number of items still wanted (for its `Limit`).
   * `what` names failures (default `table <name>`).
   */
  async readPages<T>(
    request: (remaining: number) => PageRequest,
    decode: (item: Item) => T,
    options: {
      readonly limit?: number;
      readonly enough?: (read: readonly T[]) => boolean;
      readonly what?: string;
    } = {},
  ): Promise<T[]> {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const results: T[] = [];
    for await (const page of this.pages(() => request(limit - results.length), options.what)) {
      for (const item of page) results.push(decode(item));
      if (results.length >= limit || options.enough?.(results)) break;
    }
    return results.slice(0, limit);
  }

  /**
   * A Scan or Query, one page at a time, for a reader that does work between pages (reads the
   * items of a keys-only index page by key before it decides whether to ask for the next). Asks for
   * the next page only when the caller takes it, so a caller that stops early pays for no more.
   */
  async *pages(request: () => PageRequest, what = this.what): AsyncGenerator<Item[]> {
    let startKey: Item | undefined;
    do {
      const page = request();
      const out = await dynamoCall<{ Items?: Item[]; LastEvaluatedKey?: Item }>(what, () =>
        'scan' in page
          ? this.client.send(
              new ScanCommand({ TableName: this.name, ...page.scan, ExclusiveStartKey: startKey }),
            )
          : this.client.send(
              new QueryCommand({ TableName: this.name, ...page.query, ExclusiveStartKey: startKey }),
            ),
      );
      startKey = out.LastEvaluatedKey;
      yield out.Items ?? [];
    } while (startKey);
  }
}

/** The UTC day (`YYYY-MM-DD`) of an instant: the partition of the `byDay` indexes (runs, alerts, audit). */
export function utcDay(at: number | string): string {
  return (typeof at === 'number' ? new Date(at).toISOString() : at).slice(0, 10);
}
