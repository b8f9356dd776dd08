import { isDeepStrictEqual } from 'node:util';
import { type TransactWriteItem, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { JOB_LIST_SHARDS, shardKey, shardKeys } from '../../infra/resources';
import {
  CloverError,
  GraphChangedError,
  NotFoundError,
  UnavailableError,
  VersionConflictError,
} from '../errors';
import { isPrecise, type Job, JobSchema, type SyncState } from '../model';
import type { GraphRead, JobExpectation, JobStore, PreciseMark } from '../ports';
import {
  DynamoTable,
  type DynamoTableOptions,
  decodeItem,
  dynamoCall,
  Expr,
  type Item,
  jsonAttr,
  marshalItem,
  parseJsonAttr,
  unmarshalItem,
} from './dynamo-items';

/** `table`: the jobs table, partition key `jobId`. */
export interface DynamoJobStoreOptions extends DynamoTableOptions {
  /** The locks table (key `lockKey`), where the planner's precise mark is kept ({@link PRECISE_MARK_KEY}). */
  readonly locksTable: string;
}

/**
 * The key of the planner's precise mark in the locks table: no job lock, join or watch key has this
 * shape. It lives there, not in the jobs table, because the planner (the dispatcher's role) writes the
 * locks table and only reads the jobs; it has no `owner`, so the stale-lock sweep never sees it.
 */
export const PRECISE_MARK_KEY = 'planner#precise';

/**
 * Jobs in DynamoDB, one item per job: `jobId` (key), `spec` (a map; its opaque `payload` stored as a
 * JSON string), `version`, `createdAt`, `updatedAt`, `syncState`, `owner`, `downstream` (a string set
 * of the jobs that run after this one, kept by {@link linkDownstream}). Every write is conditional
 * on the stored `version` (optimistic concurrency): a lost race is a {@link VersionConflictError}
 * carrying the version found. The planner's precise mark is one small item of the locks table
 * (`generation`, `quietUntil`), moved on in the same transaction as every put of a precise job.
 *
 * @example
 * const jobs = new DynamoJobStore({ client: clients.dynamodb, table: physicalName(prefix, 'jobs'), locksTable: physicalName(prefix, 'locks') });
 * await jobs.put(job, 0); // create
 */
export class DynamoJobStore implements JobStore {
  private readonly table: DynamoTable;
  private readonly locks: DynamoTable;

  constructor(options: DynamoJobStoreOptions) {
    this.table = new DynamoTable(options);
    this.locks = new DynamoTable({ client: options.client, table: options.locksTable });
  }

  /** One consistent GetItem of a small item: what an idle planner pass reads. */
  async preciseMark(): Promise<PreciseMark> {
    const item = await this.locks.get(markKey());
    const raw = item ? unmarshalItem(item) : {};
    const generation = typeof raw.generation === 'number' ? raw.generation : 0;
    return typeof raw.quietUntil === 'number' ? { generation, quietUntil: raw.quietUntil } : { generation };
  }

  async quietPrecise(seen: PreciseMark, quietUntil: number): Promise<boolean> {
    const expr = new Expr();
    // Generation 0 is the mark no precise put has moved yet: absent, or written only by this method.
    const condition =
      seen.generation === 0
        ? `attribute_not_exists(${expr.name('generation')})`
        : `${expr.name('generation')} = ${expr.value(seen.generation)}`;
    return this.locks.updateIf({
      Key: markKey(),
      UpdateExpression: `SET ${expr.name('quietUntil')} = ${expr.value(quietUntil)}`,
      ConditionExpression: condition,
      ...expr.params(),
    });
  }

  /** The mark's move for a precise put: a transact item beside the job's write. */
  private markMove(): TransactWriteItem {
    const expr = new Expr();
    return {
      Update: {
        TableName: this.locks.name,
        Key: markKey(),
        UpdateExpression: `ADD ${expr.name('generation')} ${expr.value(1)} REMOVE ${expr.name('quietUntil')}`,
        ...expr.params(),
      },
    };
  }

  async get(jobId: string): Promise<Job | null> {
    const item = await this.table.get(key(jobId));
    return item ? this.decode(item) : null;
  }

  /** One GetItem of three attributes: moto serializes the nested `spec` map slowly, and the dispatcher does not need it. */
  async stamp(jobId: string): Promise<JobExpectation | null> {
    const expr = new Expr();
    const names = ['version', 'updatedAt', 'downstream'].map((name) => expr.name(name));
    const item = await this.table.get(key(jobId), { expression: names.join(', '), expr });
    if (!item) return null;
    const raw = unmarshalItem(item);
    if (typeof raw.version !== 'number' || typeof raw.updatedAt !== 'number') {
      throw new CloverError(
        'internal',
        `table ${this.table.name}: job ${jobId} has no numeric version or updatedAt`,
      );
    }
    return {
      jobId,
      version: raw.version,
      updatedAt: raw.updatedAt,
      hasDownstream: raw.downstream !== undefined,
    };
  }

  async put(job: Job, expectedVersion: number, unchanged: readonly GraphRead[] = []): Promise<void> {
    const jobId = job.spec.jobId;
    const expr = new Expr();
    const condition =
      expectedVersion === 0
        ? `attribute_not_exists(${expr.name('jobId')})`
        : `${expr.name('version')} = ${expr.value(expectedVersion)}`;
    const put = {
      Item: encodeJob(job),
      ConditionExpression: condition,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      ...expr.params(),
    };
    // A retried write whose first attempt landed finds its own job: that is success, not a conflict.
    const own = (old: Item | undefined, retried: boolean) =>
      retried && old !== undefined && isDeepStrictEqual(this.decode(old), this.decode(encodeJob(job)));
    const mark = isPrecise(job.spec) ? [this.markMove()] : [];
    if (unchanged.length === 0 && mark.length === 0) {
      await this.table.put(put, {
        conditionFailed: (old, { retried }) => {
          if (!own(old, retried)) this.conflict(jobId, expectedVersion, old);
        },
      });
      return;
    }
    // One TransactWriteItems: the job, the precise mark's move (a precise job), and a ConditionCheck
    // per job of the graph as it was read.
    const items: TransactWriteItem[] = [
      { Put: { TableName: this.table.name, ...put } },
      ...mark,
      ...unchanged.map((read) => ({ ConditionCheck: this.unchangedCheck(read) })),
    ];
    await dynamoCall(
      `table ${this.table.name}`,
      async () => {
        await this.table.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
      },
      {
        cancelled: (reasons, { retried }) => {
          const [first, ...rest] = reasons;
          if (first?.code === 'ConditionalCheckFailed') {
            if (own(first.item, retried)) return;
            this.conflict(jobId, expectedVersion, first.item);
          }
          // Another precise put moving the mark at the same moment (TransactionConflict): nothing was
          // written, and the same define a moment later succeeds.
          if (mark.length && rest[0]?.code !== undefined && rest[0].code !== 'None') {
            throw new UnavailableError(`the precise mark in table ${this.locks.name}`);
          }
          // A failed check, or a concurrent transaction on one of the items (DynamoDB's
          // TransactionConflict): either way the graph may have moved, so the define must read it again.
          const checks = rest.slice(mark.length);
          const changed = checks.findIndex((r) => r.code !== 'None');
          throw new GraphChangedError(jobId, unchanged[changed]?.jobId ?? jobId);
        },
      },
    );
  }

  /** The job is still at the version and write instant it was read at, or still absent. */
  private unchangedCheck(read: GraphRead): NonNullable<TransactWriteItem['ConditionCheck']> {
    const expr = new Expr();
    const condition =
      'absent' in read
        ? `attribute_not_exists(${expr.name('jobId')})`
        : `${expr.name('version')} = ${expr.value(read.version)} AND ${expr.name('updatedAt')} = ${expr.value(read.updatedAt)}`;
    return {
      TableName: this.table.name,
      Key: key(read.jobId),
      ConditionExpression: condition,
      ...expr.params(),
    };
  }

  async setSyncState(jobId: string, version: number, state: SyncState): Promise<void> {
    const expr = new Expr();
    await this.table.update(
      {
        Key: key(jobId),
        UpdateExpression: `SET ${expr.name('syncState')} = ${expr.value(state)}`,
        ConditionExpression: `${expr.name('version')} = ${expr.value(version)}`,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...expr.params(),
      },
      { conditionFailed: (old) => this.conflict(jobId, version, old) },
    );
  }

  async delete(jobId: string, expectedVersion?: number): Promise<void> {
    const expr = new Expr();
    const condition =
      expectedVersion === undefined ? undefined : `${expr.name('version')} = ${expr.value(expectedVersion)}`;
    await this.table.delete(
      {
        Key: key(jobId),
        ...(condition
          ? { ConditionExpression: condition, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }
          : {}),
        ...expr.params(),
      },
      {
        conditionFailed: (old, { retried }) => {
          // A retried delete whose first attempt landed finds nothing left to delete: done.
          if (retried && !old) return;
          this.conflict(jobId, expectedVersion ?? 0, old);
        },
      },
    );
  }

  async linkDownstream(jobId: string, downstreamId: string, linked: boolean): Promise<boolean> {
    const expr = new Expr();
    // A string set: ADD and DELETE are atomic and idempotent, and never touch the version.
    expr.values[':member'] = { SS: [downstreamId] };
    return this.table.updateIf({
      Key: key(jobId),
      UpdateExpression: `${linked ? 'ADD' : 'DELETE'} ${expr.name('downstream')} :member`,
      ConditionExpression: `attribute_exists(${expr.name('jobId')})`,
      ...expr.params(),
    });
  }

  async list(): Promise<Job[]> {
    const jobs = await this.table.readPages(
      () => ({ scan: { ConsistentRead: true } }),
      (item) => this.decode(item),
    );
    return jobs.sort((a, b) => a.spec.jobId.localeCompare(b.spec.jobId));
  }

  /**
   * One Query of the `byMode` index's `LOCAL` partition (infra/resources.ts), the pool as a filter:
   * it reads only LOCAL items, so an agent's poll costs the same at ten jobs or ten thousand. An
   * index read is eventually consistent: a job written a moment ago may show at the next poll.
   */
  async listLocal(pool: string): Promise<Job[]> {
    const expr = new Expr();
    const keyCondition = `${expr.name('mode')} = ${expr.value('LOCAL')}`;
    const filter = `${expr.name('pool')} = ${expr.value(pool)}`;
    const jobs = await this.table.readPages(
      () => ({
        query: {
          IndexName: 'byMode',
          KeyConditionExpression: keyCondition,
          FilterExpression: filter,
          ...expr.params(),
        },
      }),
      (item) => this.decode(item),
    );
    return jobs.sort((a, b) => a.spec.jobId.localeCompare(b.spec.jobId));
  }

  /**
   * One Query per shard of the `byUpdate` index (infra/resources.ts: the jobs under `listKey`
   * `job#<shard>`, sorted by `updatedAt`), from `since` on. An index read is eventually consistent,
   * and deletes leave no trace in it: the port says how a reader makes up for both.
   */
  async listUpdatedSince(since: number): Promise<Job[]> {
    const shards = await Promise.all(
      // The bare `job` key too: jobs written before the index was sharded, until their next write.
      [...shardKeys(JOB_LIST_KEY, JOB_LIST_SHARDS), JOB_LIST_KEY].map((listKey) => {
        const expr = new Expr();
        const keyCondition = `${expr.name('listKey')} = ${expr.value(listKey)} AND ${expr.name('updatedAt')} >= ${expr.value(since)}`;
        return this.table.readPages(
          () => ({
            query: { IndexName: 'byUpdate', KeyConditionExpression: keyCondition, ...expr.params() },
          }),
          (item) => this.decode(item),
        );
      }),
    );
    return shards.flat().sort((a, b) => a.spec.jobId.localeCompare(b.spec.jobId));
  }

  /** A failed version condition: NotFoundError when there is no job to update, else VersionConflictError. */
  private conflict(jobId: string, expectedVersion: number, old: Item | undefined): never {
    if (!old && expectedVersion !== 0) throw new NotFoundError('job', jobId);
    const current = old ? this.decode(old).version : undefined;
    throw new VersionConflictError('job', jobId, expectedVersion, current);
  }

  /** @internal The API's paged reads (dynamo-api-reads.ts) decode with it too. */
  decode(item: Item): Job {
    return decodeItem(JobSchema, item, this.table.name, ({ jobId: _key, ...raw }) => {
      const spec = raw.spec as Record<string, unknown> | undefined;
      if (spec && typeof spec === 'object') {
        raw.spec = { ...spec, payload: parseJsonAttr(spec.payload, this.table.name, 'spec.payload') };
      }
      if (Array.isArray(raw.downstream)) raw.downstream = [...raw.downstream].sort();
      return raw;
    });
  }
}

function key(jobId: string): Item {
  return { jobId: { S: jobId } };
}

function markKey(): Item {
  return { lockKey: { S: PRECISE_MARK_KEY } };
}

/** @internal The item a job is stored as (benchmarks seed tables with it). */
export function encodeJob(job: Job): Item {
  const { downstream, ...rest } = job;
  return {
    ...marshalItem({
      ...rest,
      jobId: job.spec.jobId,
      spec: { ...job.spec, payload: jsonAttr(job.spec.payload) },
      ...jobIndexAttributes(job),
    }),
    // A string set (linkDownstream adds and deletes members); DynamoDB has no empty sets.
    ...(downstream?.length ? { downstream: { SS: [...downstream] } } : {}),
  };
}

/**
 * Top-level copies of what the API lists jobs by (infra/resources.ts, the jobs table's indexes):
 * the index keys, and a lower-cased `searchText` (id and description) for the `q` filter.
 * `group` and `owner` stay absent when the job has none, so their indexes are sparse.
 */
export function jobIndexAttributes(job: Job): Record<string, unknown> {
  return {
    listKey: shardKey(JOB_LIST_KEY, job.spec.jobId, JOB_LIST_SHARDS),
    pool: job.spec.target.pool,
    handler: job.spec.handler,
    group: job.spec.group,
    mode: job.spec.mode,
    paused: job.spec.paused,
    searchText: `${job.spec.jobId}\n${job.spec.description}`.toLowerCase(),
  };
}

/** The base of the `listKey` every job carries (`job#<shard>`): the `byList` and `byUpdate` partitions. */
export const JOB_LIST_KEY = 'job';
