import { isDeepStrictEqual } from 'node:util';
import {
  type DynamoDBClient,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { DAY_RUN_SHARDS, OPEN_RUN_SHARDS, shardKey, shardKeys } from '../../infra/resources';
import {
  AlreadyFiredError,
  CloverError,
  LockHeldError,
  NotFoundError,
  RunNotInStateError,
  StaleFenceError,
  VersionConflictError,
} from '../errors';
import {
  CLAIM_CHECKED_FIELDS,
  checkTransitionFields,
  claimJson,
  claimRefusal,
  type HistoryEntry,
  isClaimJsonField,
  isOpenStatus,
  type JobHealth,
  jobLockKey,
  type Lock,
  LockSchema,
  type OpenRunStatus,
  PLANNED_REASON,
  type Run,
  type RunClaim,
  RunSchema,
  type RunStatus,
} from '../model';
import {
  type Clock,
  type JobExpectation,
  type LockClaim,
  type LockStore,
  type RunFinish,
  type RunFinished,
  type RunLedger,
  type RunPatch,
  type RunQuery,
  type RunTransition,
  systemClock,
} from '../ports';
import {
  type CancellationReason,
  DAY_MS,
  DynamoTable,
  type DynamoTtlTableOptions,
  decodeItem,
  dynamoCall,
  Expr,
  type Item,
  jsonAttr,
  marshalItem,
  parseJsonAttr,
  ttlSeconds,
  unmarshalItem,
  utcDay,
} from './dynamo-items';

/** Runs are kept this long after they are created, then DynamoDB's TTL (`expiresAt`, epoch seconds) deletes them. */
export const RUN_RETENTION_MS = 90 * DAY_MS;
/** A lock item lingers this long after its lease ended (`ttl`, epoch seconds), then TTL deletes it. */
export const LOCK_RETENTION_MS = DAY_MS;
export const DEFAULT_RUN_QUERY_LIMIT = 50;
/** Attempts at a transaction that DynamoDB cancelled for a conflicting concurrent transaction. */
const TRANSACTION_CONFLICT_ATTEMPTS = 5;

/** Before attempt `attempt + 1` of a conflicted transaction: a random pause, doubling its bound each time. */
function conflictPause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt * Math.random()));
}

export interface DynamoRunLedgerOptions {
  readonly client: DynamoDBClient;
  /** Physical name of the runs table: key `runId`; GSIs `byJob` (jobId, scheduledTime; keys only) and `byOpen` (open shard, scheduledTime; keys and status) as infra/resources.ts defines them. */
  readonly runsTable: string;
  /** Physical name of the locks table: key `lockKey`. */
  readonly locksTable: string;
  /** Physical name of the jobs table (key `jobId`), which a fire written with a JobExpectation checks. */
  readonly jobsTable?: string;
  /** @default 'byJob' */
  readonly byJobIndex?: string;
  /** @default 'byOpen' */
  readonly byOpenIndex?: string;
  /** Wall clock for TTL attributes only (never for conditions, which take the caller's `now`). @default systemClock */
  readonly clock?: Clock;
}

/** Fields that are not plain JSON in the model and are stored as JSON strings. */
const JSON_FIELDS = ['payload', 'result', 'upstream'] as const;

/**
 * The run ledger in DynamoDB. One item per run (the model's fields; `payload`, `result` and `upstream` as JSON
 * strings; `expiresAt` = creation + {@link RUN_RETENTION_MS} in epoch seconds for TTL). Every write is
 * conditional: creation on the run id not existing (one run per fire), transitions on the current
 * status and fence (fenced transitions). Failed conditions become domain errors carrying the
 * current run, read from the `ALL_OLD` item DynamoDB returns with the failure (no extra read).
 *
 * History entries record the attempt.
 * cannot copy the stored one into the appended entry (an update expression cannot read an attribute
 * into a list element), so it writes the entry without it and reads fill it in from the entry
 * before (the attempt changes only through a transition that names it, so this is exact).
 *
 * @example
 * const ledger = new DynamoRunLedger({ client, runsTable: physicalName(p, 'runs'), locksTable: physicalName(p, 'locks') });
 * await ledger.createWithLock(run, { key: jobLockKey(run.jobId), owner: run.runId, expiresAt, now });
 */
export class DynamoRunLedger implements RunLedger {
  private readonly runs: DynamoTable;
  private readonly locks: DynamoLockStore;
  private readonly jobs: DynamoTable | undefined;
  private readonly byJob: string;
  private readonly byOpen: string;
  private readonly clock: Clock;

  constructor(options: DynamoRunLedgerOptions) {
    this.runs = new DynamoTable({ client: options.client, table: options.runsTable });
    this.locks = new DynamoLockStore({
      client: options.client,
      table: options.locksTable,
      clock: options.clock,
    });
    this.jobs = options.jobsTable
      ? new DynamoTable({ client: options.client, table: options.jobsTable })
      : undefined;
    this.byJob = options.byJobIndex ?? 'byJob';
    this.byOpen = options.byOpenIndex ?? 'byOpen';
    this.clock = options.clock ?? systemClock;
  }

  async get(runId: string): Promise<Run | null> {
    const item = await this.runs.get(runKey(runId));
    return item ? this.decode(item) : null;
  }

  async create(run: Run, expect?: JobExpectation): Promise<void> {
    if (expect) return this.createTransacted(run, undefined, expect);
    const expr = new Expr();
    await this.runs.put(
      {
        Item: this.encode(run),
        ConditionExpression: createCondition(run, expr),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...expr.params(),
      },
      {
        conditionFailed: async (old, { retried }) => {
          // A retried put whose first attempt landed finds this very run: it was created, not fired twice.
          if (retried && old && isDeepStrictEqual(this.decode(old), this.decode(this.encode(run)))) return;
          return this.alreadyFired(run.runId, old);
        },
      },
    );
  }

  createWithLock(run: Run, lock: LockClaim, expect?: JobExpectation): Promise<void> {
    return this.createTransacted(run, lock, expect);
  }

  /** One TransactWriteItems: the new run, the lock taken, the job checked — in that order, as the cancellation reasons are. */
  private async createTransacted(
    run: Run,
    lock: LockClaim | undefined,
    expect: JobExpectation | undefined,
  ): Promise<void> {
    const runExpr = new Expr();
    const items: TransactWriteItem[] = [
      {
        Put: {
          TableName: this.runs.name,
          Item: this.encode(run),
          ConditionExpression: createCondition(run, runExpr),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ...runExpr.params(),
        },
      },
    ];
    if (lock) items.push(this.lockTake(lock));
    if (expect) items.push({ ConditionCheck: this.jobCheck(expect) });
    const tables = [
      this.runs.name,
      ...(lock ? [this.locks.table.name] : []),
      ...(expect ? [this.jobsTable()] : []),
    ];
    for (let attempt = 1; ; attempt++) {
      const outcome = await dynamoCall<'ok' | 'retry'>(
        `tables ${tables.join(' + ')}`,
        async (): Promise<'ok' | 'retry'> => {
          await this.runs.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
          return 'ok';
        },
        {
          cancelled: async (reasons, { retried }): Promise<'ok' | 'retry'> => {
            // A retried transaction whose first attempt landed finds this very run and its lock: created.
            if (retried && this.ownCreate(run, lock, reasons)) return 'ok';
            if (
              reasons.some((r) => r.code === 'TransactionConflict') &&
              attempt < TRANSACTION_CONFLICT_ATTEMPTS
            ) {
              return 'retry';
            }
            return this.cancelledCreate(run.runId, lock?.key, expect, reasons);
          },
        },
      );
      if (outcome === 'ok') return;
      await conflictPause(attempt);
    }
  }

  /** The cancelled create found the run it writes (and its lock held by it): its own earlier attempt. */
  private ownCreate(run: Run, lock: LockClaim | undefined, reasons: readonly CancellationReason[]): boolean {
    const [runReason, lockReason] = reasons;
    if (runReason?.code !== 'ConditionalCheckFailed' || !runReason.item) return false;
    if (!isDeepStrictEqual(this.decode(runReason.item), this.decode(this.encode(run)))) return false;
    return (
      !lock || (lockReason?.item !== undefined && this.locks.decode(lockReason.item).owner === run.runId)
    );
  }

  private lockTake(lock: LockClaim): TransactWriteItem {
    const expr = new Expr();
    const owner = expr.name('owner');
    const expiresAt = expr.name('expiresAt');
    let condition = `attribute_not_exists(${owner}) OR ${expiresAt} <= ${expr.value(lock.now)}`;
    if (lock.takeOverFrom !== undefined) condition += ` OR ${owner} = ${expr.value(lock.takeOverFrom)}`;
    return {
      Update: {
        TableName: this.locks.table.name,
        Key: lockKey(lock.key),
        UpdateExpression:
          `SET ${owner} = ${expr.value(lock.owner)}, ${expiresAt} = ${expr.value(lock.expiresAt)}, ` +
          `${expr.name('ttl')} = ${expr.value(this.locks.ttlFor(lock.expiresAt))} ` +
          `ADD ${expr.name('fence')} ${expr.value(1)}`,
        ConditionExpression: condition,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...expr.params(),
      },
    };
  }

  /** The stored job is still the one the fire was built from: same version, written at the same instant, dependents or none. */
  private jobCheck(expect: JobExpectation): NonNullable<TransactWriteItem['ConditionCheck']> {
    const expr = new Expr();
    return {
      TableName: this.jobsTable(),
      Key: { jobId: { S: expect.jobId } },
      ConditionExpression:
        `${expr.name('version')} = ${expr.value(expect.version)} AND ${expr.name('updatedAt')} = ${expr.value(expect.updatedAt)} AND ` +
        // An empty string set is no attribute at all: removing the last dependent removes `downstream`.
        `${expect.hasDownstream ? 'attribute_exists' : 'attribute_not_exists'}(${expr.name('downstream')})`,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      ...expr.params(),
    };
  }

  private jobsTable(): string {
    if (!this.jobs)
      throw new CloverError('internal', 'DynamoRunLedger: a job expectation needs the jobsTable option');
    return this.jobs.name;
  }

  async claim(runId: string, claim: RunClaim): Promise<Run> {
    const expr = new Expr();
    const workerId = expr.name('workerId');
    const me = expr.value(claim.workerId);
    const history = expr.name('history');
    // The condition holds the attempt to the envelope's, so the entry can name it exactly.
    const entry = {
      at: claim.at,
      status: 'RUNNING',
      attempt: claim.expect.attempt,
      workerId: claim.workerId,
    };
    const update =
      `SET ${expr.name('status')} = ${expr.value('RUNNING')}, ${workerId} = ${me}, ` +
      `${expr.name('startedAt')} = ${expr.value(claim.at)}, ${expr.name('updatedAt')} = ${expr.value(claim.at)}, ` +
      `${history} = list_append(${history}, ${expr.value([entry])})`;
    const conditions = [
      `${expr.name('status')} = ${expr.value('DISPATCHED')}`,
      `${expr.name('fence')} = ${expr.value(claim.fence)}`,
      // Dispatched to this worker, or to no one (the pool queue): then this write assigns it.
      `(attribute_not_exists(${workerId}) OR ${workerId} = ${me})`,
      ...CLAIM_CHECKED_FIELDS.map((field) => {
        const expected = isClaimJsonField(field) ? claimJson(claim.expect[field]) : claim.expect[field];
        return expected === undefined
          ? `attribute_not_exists(${expr.name(field)})`
          : `${expr.name(field)} = ${expr.value(expected)}`;
      }),
    ];
    return this.conditionalUpdate(
      'claim',
      runId,
      { UpdateExpression: update, ConditionExpression: conditions.join(' AND ') },
      expr,
      (current, { retried }) => {
        // A retried claim whose first attempt landed finds the run claimed by this worker at this instant.
        const ours =
          current.status === 'RUNNING' &&
          current.workerId === claim.workerId &&
          current.fence === claim.fence &&
          current.startedAt === claim.at;
        if (retried && ours) return current;
        throw claimRefusal(runId, current, claim);
      },
    );
  }

  async transition(runId: string, change: RunTransition): Promise<Run> {
    const { expr, write } = transitionWrite(runId, change);
    return this.fencedUpdate('update', runId, change, write, expr);
  }

  /**
   * Two single-item writes, no transaction (a transaction writes each item twice, at twice the
   * price): the run's fenced transition, then one conditional write of the job's lock item that
   * releases the lock (if this run owns it) and records the job's health, returning the item as it
   * was (was the job failing: a recovery). The lock is released only after the run is final, so no
   * overlap can follow from the order; a crash between the two leaves the lock held by a final run,
   * which the monitor's stale-lock step releases (core/monitor.ts), and the health as it was.
   */
  async finish(run: Run, change: RunFinish): Promise<RunFinished> {
    const { expr, write } = transitionWrite(run.runId, change);
    const written = await this.conditionalUpdate('update', run.runId, write, expr, (current, { retried }) => {
      // A retried transition whose first attempt landed finds the run as this change leaves it: written.
      if (retried && isOwnTransition(current, change)) return current;
      if (!change.from.includes(current.status))
        throw new RunNotInStateError(run.runId, change.from, current);
      throw new StaleFenceError(`run ${run.runId}`, change.fence, current);
    });
    if (change.release === true) {
      const released = await this.releaseWithHealth(run, change.health);
      if (released) return { run: written, released: true, recovered: released.recovered };
    }
    return { run: written, released: false, recovered: await this.recordHealth(run, change.health) };
  }

  /**
   * Releases the job's lock held by `run` and records `health` in the same write: undefined when the
   * run no longer owns the lock (then nothing was written).
   */
  private async releaseWithHealth(
    run: Run,
    health: JobHealth | undefined,
  ): Promise<{ recovered: boolean } | undefined> {
    const expr = new Expr();
    const remove = [expr.name('owner')];
    const set: string[] = [];
    if (health === 'failing') set.push(...this.failingAssignments(expr));
    if (health === 'healthy') remove.push(expr.name('failing'));
    const out = await this.locks.table.update(
      {
        Key: lockKey(jobLockKey(run.jobId)),
        UpdateExpression: `${set.length ? `SET ${set.join(', ')} ` : ''}REMOVE ${remove.join(', ')}`,
        ConditionExpression: `${expr.name('owner')} = ${expr.value(run.runId)}`,
        ReturnValues: 'ALL_OLD',
        ...expr.params(),
      },
      { conditionFailed: () => undefined },
    );
    if (!out) return undefined;
    return { recovered: health === 'healthy' && out.Attributes?.failing?.BOOL === true };
  }

  /**
   * The job's health on its lock item, without the lock: `failing` sets it (creating the item for
   * a job that never takes its lock), `healthy` clears it only where it is set, so of concurrent
   * successes one is the recovery. True for that one.
   */
  private async recordHealth(run: Run, health: JobHealth | undefined): Promise<boolean> {
    const expr = new Expr();
    const key = lockKey(jobLockKey(run.jobId));
    if (health === 'failing') {
      await this.locks.table.update({
        Key: key,
        UpdateExpression: `SET ${this.failingAssignments(expr).join(', ')}`,
        ...expr.params(),
      });
      return false;
    }
    if (health !== 'healthy') return false;
    return this.locks.table.updateIf({
      Key: key,
      UpdateExpression: `REMOVE ${expr.name('failing')}`,
      ConditionExpression: `${expr.name('failing')} = ${expr.value(true)}`,
      ...expr.params(),
    });
  }

  /** `failing` set on the job's lock item, which lives as long as the runs it sums up (a lock's own TTL is a day after its lease). */
  private failingAssignments(expr: Expr): string[] {
    const zero = expr.value(0);
    return [
      `${expr.name('failing')} = ${expr.value(true)}`,
      `${expr.name('fence')} = if_not_exists(${expr.name('fence')}, ${zero})`,
      `${expr.name('expiresAt')} = if_not_exists(${expr.name('expiresAt')}, ${zero})`,
      `${expr.name('ttl')} = ${expr.value(ttlSeconds(this.clock.now() + RUN_RETENTION_MS))}`,
    ];
  }

  async patch(runId: string, change: RunPatch): Promise<Run> {
    const expr = new Expr();
    const assignments = [`${expr.name('updatedAt')} = ${expr.value(change.at)}`];
    if (change.progress) assignments.push(`${expr.name('progress')} = ${expr.value(change.progress)}`);
    if (change.appendLog?.length) {
      const log = expr.name('log');
      assignments.push(
        `${log} = list_append(if_not_exists(${log}, ${expr.value([])}), ${expr.value([...change.appendLog])})`,
      );
    }
    const from = change.from.map((status) => expr.value(status));
    const condition = `${expr.name('status')} IN (${from.join(', ')}) AND ${expr.name('fence')} = ${expr.value(change.fence)}`;
    return this.fencedUpdate(
      'patch',
      runId,
      change,
      { UpdateExpression: `SET ${assignments.join(', ')}`, ConditionExpression: condition },
      expr,
    );
  }

  async listByJob(jobId: string, query: RunQuery = {}): Promise<Run[]> {
    return this.fetch(await this.query(this.byJob, 'jobId', jobId, query));
  }

  /**
   * Open runs of `status`: every `byOpen` shard queried at once (its `status` projected, so the
   * filter runs in DynamoDB), merged by scheduled time, then the runs read by key — and kept only
   * if still of that status (the index lags its table).
   */
  async listByStatus(status: OpenRunStatus, query: RunQuery = {}): Promise<Run[]> {
    const limit = query.limit ?? DEFAULT_RUN_QUERY_LIMIT;
    if (limit <= 0) return [];
    const shards = await Promise.all(
      shardKeys('open', OPEN_RUN_SHARDS).map((key) => this.query(this.byOpen, 'open', key, query, status)),
    );
    const sign = query.order === 'oldest' ? 1 : -1;
    const keys = shards
      .flat()
      .sort((a, b) => sign * sortValue(a).localeCompare(sortValue(b)))
      .slice(0, limit);
    return (await this.fetch(keys)).filter((run) => run.status === status);
  }

  /** The runs of keys-only index entries, in their order, read consistently by key. */
  private async fetch(entries: readonly Item[]): Promise<Run[]> {
    const items = await this.runs.getMany(
      entries.map((entry) => runKey(entry.runId?.S ?? '')),
      { consistent: true },
    );
    return items.map((item) => this.decode(item));
  }

  markResent(runId: string, fence: number, at: number, note: string): Promise<boolean> {
    const expr = new Expr();
    const resent = expr.name('resentFence');
    const fenceValue = expr.value(fence);
    const history = expr.name('history');
    const entry = expr.value([marshalEntry({ at, status: 'DISPATCHED', note })]);
    return this.runs.updateIf({
      Key: runKey(runId),
      UpdateExpression:
        `SET ${resent} = ${fenceValue}, ${expr.name('updatedAt')} = ${expr.value(at)}, ` +
        `${history} = list_append(${history}, ${entry})`,
      ConditionExpression:
        `${expr.name('status')} = ${expr.value('DISPATCHED')} AND ${expr.name('fence')} = ${fenceValue} ` +
        `AND (attribute_not_exists(${resent}) OR ${resent} <> ${fenceValue})`,
      ...expr.params(),
    });
  }

  markDependentsFired(runId: string, downstreamRuns: readonly string[], at: number): Promise<boolean> {
    const expr = new Expr();
    const pending = expr.name('dependentsPending');
    return this.runs.updateIf({
      Key: runKey(runId),
      UpdateExpression:
        `REMOVE ${pending} SET ${expr.name('downstreamRuns')} = ${expr.value([...downstreamRuns])}, ` +
        `${expr.name('updatedAt')} = ${expr.value(at)}`,
      ConditionExpression: `attribute_exists(${pending})`,
      ...expr.params(),
    });
  }

  /**
   * The one conditional UpdateItem of `transition` and `patch`: both are fenced on the run's status
   * and fence, so a failed condition means the same thing for both (the run is missing, in another
   * state, or fenced off), read from the `ALL_OLD` item.
   */
  private fencedUpdate(
    verb: 'update' | 'patch',
    runId: string,
    change: Pick<RunPatch, 'from' | 'fence'>,
    write: { readonly UpdateExpression: string; readonly ConditionExpression: string },
    expr: Expr,
  ): Promise<Run> {
    return this.conditionalUpdate(verb, runId, write, expr, (current) => {
      if (!change.from.includes(current.status)) throw new RunNotInStateError(runId, change.from, current);
      throw new StaleFenceError(`run ${runId}`, change.fence, current);
    });
  }

  /** One conditional UpdateItem returning the run as written; a failed condition on an existing run goes to `refused`. */
  private async conditionalUpdate(
    verb: 'update' | 'patch' | 'claim',
    runId: string,
    write: { readonly UpdateExpression: string; readonly ConditionExpression: string },
    expr: Expr,
    /** A failed condition on an existing run: throw the refusal, or return the run when it shows this write landed. */
    refused: (current: Run, attempt: { readonly retried: boolean }) => Run,
  ): Promise<Run> {
    let landed: Run | undefined;
    const out = await this.runs.update(
      {
        Key: runKey(runId),
        ...write,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...expr.params(),
      },
      {
        conditionFailed: (old, attempt) => {
          if (!old) throw new NotFoundError('run', runId);
          landed = refused(this.decode(old), attempt);
          return undefined;
        },
      },
    );
    if (landed) return landed;
    if (!out?.Attributes)
      throw new CloverError('internal', `table ${this.runs.name}: ${verb} of ${runId} returned no item`);
    return this.decode(out.Attributes);
  }

  /** Index entries (keys, and what the index projects) under one key, in scheduled-time order. */
  private async query(
    index: string,
    keyName: string,
    keyValue: string,
    query: RunQuery,
    status?: RunStatus,
  ): Promise<Item[]> {
    const limit = query.limit ?? DEFAULT_RUN_QUERY_LIMIT;
    if (limit <= 0) return [];
    return this.runs.readPages(
      (remaining) => {
        const expr = new Expr();
        return {
          query: {
            IndexName: index,
            KeyConditionExpression: `${expr.name(keyName)} = ${expr.value(keyValue)}`,
            ...(status ? { FilterExpression: `${expr.name('status')} = ${expr.value(status)}` } : {}),
            ScanIndexForward: query.order === 'oldest',
            Limit: remaining,
            ...expr.params(),
          },
        };
      },
      (item) => item,
      { limit, what: `index ${this.runs.name}.${index}` },
    );
  }

  /** Maps a cancelled create: the run item first (one run per fire), then the lock, then the job. */
  private async cancelledCreate(
    runId: string,
    key: string | undefined,
    expect: JobExpectation | undefined,
    reasons: readonly CancellationReason[],
  ): Promise<never> {
    const [runReason] = reasons;
    const lockReason = key === undefined ? undefined : reasons[1];
    const jobReason = expect === undefined ? undefined : reasons[key === undefined ? 1 : 2];
    // No reasons at all (some emulators): read the items to find out which condition failed.
    if (!runReason || runReason.code === 'ConditionalCheckFailed') {
      const existing = runReason?.item ? this.decode(runReason.item) : await this.get(runId);
      if (existing || runReason) throw new AlreadyFiredError(runId, existing ?? undefined);
    }
    if (expect && (!jobReason || jobReason.code === 'ConditionalCheckFailed')) {
      const current = jobReason
        ? jobReason.item && unmarshalItem(jobReason.item)
        : await this.jobItem(expect.jobId);
      const hasDownstream = current?.downstream !== undefined;
      if (
        jobReason ||
        current?.version !== expect.version ||
        current?.updatedAt !== expect.updatedAt ||
        hasDownstream !== expect.hasDownstream
      ) {
        const version = typeof current?.version === 'number' ? current.version : undefined;
        throw new VersionConflictError('job', expect.jobId, expect.version, version);
      }
    }
    if (key !== undefined && (!lockReason || lockReason.code === 'ConditionalCheckFailed')) {
      const current = lockReason?.item ? this.locks.decode(lockReason.item) : await this.locks.get(key);
      throw new LockHeldError(key, current?.owner);
    }
    throw new CloverError(
      'unavailable',
      `creating run ${runId} was cancelled: ${reasons.map((r) => r.code).join(', ')}`,
      {
        retryable: true,
        details: { runId, reasons: reasons.map((r) => r.code) },
      },
    );
  }

  private async jobItem(jobId: string): Promise<Record<string, unknown> | undefined> {
    const item = await this.jobs?.get({ jobId: { S: jobId } });
    return item ? unmarshalItem(item) : undefined;
  }

  private async alreadyFired(runId: string, old: Item | undefined): Promise<never> {
    const existing = old ? this.decode(old) : await this.get(runId);
    throw new AlreadyFiredError(runId, existing ?? undefined);
  }

  /** @internal The item a run is stored as (benchmarks seed tables with it). */
  encode(run: Run): Item {
    const item = marshalItem({
      ...run,
      payload: jsonAttr(run.payload),
      result: jsonAttr(run.result),
      upstream: jsonAttr(run.upstream),
      expiresAt: ttlSeconds(this.clock.now() + RUN_RETENTION_MS),
      createdAttempt: run.attempt,
      ...runIndexKeys(run.runId, run.scheduledTime),
      open: isOpenStatus(run.status) ? openKey(run.runId) : undefined,
    });
    return item;
  }

  /** @internal The API's paged reads (dynamo-api-reads.ts) decode with it too. */
  decode(item: Item): Run {
    return decodeItem(RunSchema, item, this.runs.name, (raw) => {
      for (const field of JSON_FIELDS) {
        if (raw[field] !== undefined) raw[field] = parseJsonAttr(raw[field], this.runs.name, field);
      }
      raw.history = fillAttempts(raw.history, raw.createdAttempt ?? raw.attempt);
      return raw;
    });
  }
}

/** `table`: the locks table, key `lockKey`, TTL attribute `ttl`. */
export type DynamoLockStoreOptions = DynamoTtlTableOptions;

/**
 * Lease locks in DynamoDB: `lockKey`, `owner` (absent when free), `fence` (only ever grows: `ADD`),
 * `expiresAt` (epoch ms), `ttl` (epoch seconds, a day after the lease ends; the item is recreated
 * with fence 1 after TTL deletes it, which is safe because nothing refers to a lock that long dead).
 * Locks are taken in {@link DynamoRunLedger.createWithLock}; this class reads, releases and hands them over.
 */
export class DynamoLockStore implements LockStore {
  /** @internal The ledger's run+lock transaction writes this table too. */
  readonly table: DynamoTable;
  private readonly clock: Clock;

  constructor(options: DynamoLockStoreOptions) {
    this.table = new DynamoTable(options);
    this.clock = options.clock ?? systemClock;
  }

  async get(key: string): Promise<Lock | null> {
    const item = await this.table.get(lockKey(key));
    return item ? this.decode(item) : null;
  }

  /** A Scan, filtered: it reads every lock item (small; TTL collects them a day after their lease). */
  async listHeld(now: number): Promise<Lock[]> {
    const expr = new Expr();
    const filter = `attribute_exists(${expr.name('owner')}) AND ${expr.name('expiresAt')} > ${expr.value(now)}`;
    const locks = await this.table.readPages(
      () => ({ scan: { ConsistentRead: true, FilterExpression: filter, ...expr.params() } }),
      (item) => this.decode(item),
    );
    return locks.sort((a, b) => a.lockKey.localeCompare(b.lockKey));
  }

  async release(key: string, owner: string): Promise<boolean> {
    const expr = new Expr();
    return this.table.updateIf({
      Key: lockKey(key),
      UpdateExpression: `REMOVE ${expr.name('owner')}`,
      ConditionExpression: `${expr.name('owner')} = ${expr.value(owner)}`,
      ...expr.params(),
    });
  }

  async handOver(key: string, from: string, to: string, expiresAt: number): Promise<boolean> {
    const expr = new Expr();
    return this.table.updateIf({
      Key: lockKey(key),
      UpdateExpression:
        `SET ${expr.name('owner')} = ${expr.value(to)}, ${expr.name('expiresAt')} = ${expr.value(expiresAt)}, ` +
        `${expr.name('ttl')} = ${expr.value(this.ttlFor(expiresAt))} ADD ${expr.name('fence')} ${expr.value(1)}`,
      ConditionExpression: `${expr.name('owner')} = ${expr.value(from)}`,
      ...expr.params(),
    });
  }

  /** @internal TTL for a lock whose lease ends at `expiresAt`: a day later, and never before a day from now. */
  ttlFor(expiresAt: number): number {
    return ttlSeconds(Math.max(expiresAt, this.clock.now()) + LOCK_RETENTION_MS);
  }

  /** @internal */
  decode(item: Item): Lock {
    return decodeItem(LockSchema, item, this.table.name);
  }
}

function openKey(runId: string): string {
  return shardKey('open', runId, OPEN_RUN_SHARDS);
}

/**
 * The `byDay` index's keys of a run (infra/resources.ts): its UTC day's shard, and `dayOrder`, the
 * scheduled time then the run id (unique: a position in the shards' merge). The API reads them too.
 */
export function runIndexKeys(runId: string, scheduledTime: string): { day: string; dayOrder: string } {
  return {
    day: shardKey(utcDay(scheduledTime), runId, DAY_RUN_SHARDS),
    dayOrder: `${scheduledTime} ${runId}`,
  };
}

/** The order of a `byJob`/`byOpen` entry: scheduled time, then run id. */
function sortValue(entry: Item): string {
  return `${entry.scheduledTime?.S ?? ''} ${entry.runId?.S ?? ''}`;
}

function runKey(runId: string): Item {
  return { runId: { S: runId } };
}

function lockKey(key: string): Item {
  return { lockKey: { S: key } };
}

/** `current` is what `change` wrote: its status, fence and instant, and the history entry it appended. */
function isOwnTransition(current: Run, change: RunTransition): boolean {
  const last = current.history.at(-1);
  return (
    current.status === change.to &&
    current.fence === (change.newFence ?? change.fence) &&
    current.updatedAt === change.at &&
    last?.status === change.to &&
    last.at === change.at
  );
}

/** The update and condition of a fenced transition (RunLedger.transition and the run's part of finish). */
function transitionWrite(
  runId: string,
  change: RunTransition,
): {
  expr: Expr;
  write: { readonly UpdateExpression: string; readonly ConditionExpression: string };
} {
  const set = checkTransitionFields(change.set, change.unset);
  const unset: string[] = (change.unset ?? []).filter((field) => set[field] === undefined);
  // A final status leaves `byOpen`; an open one stays in (or, in principle, re-enters) its shard.
  if (!isOpenStatus(change.to)) unset.push('open');
  const expr = new Expr();
  const assignments: string[] = [
    `${expr.name('status')} = ${expr.value(change.to)}`,
    `${expr.name('updatedAt')} = ${expr.value(change.at)}`,
  ];
  if (change.attempt !== undefined)
    assignments.push(`${expr.name('attempt')} = ${expr.value(change.attempt)}`);
  if (change.newFence !== undefined)
    assignments.push(`${expr.name('fence')} = ${expr.value(change.newFence)}`);
  if (isOpenStatus(change.to)) assignments.push(`${expr.name('open')} = ${expr.value(openKey(runId))}`);
  for (const [field, value] of Object.entries(set)) {
    if (value !== undefined)
      assignments.push(`${expr.name(field)} = ${expr.value(encodeField(field, value))}`);
  }
  const entry = {
    at: change.at,
    status: change.to,
    attempt: change.attempt,
    workerId: typeof set.workerId === 'string' ? set.workerId : undefined,
    note: change.note,
  };
  const history = expr.name('history');
  assignments.push(`${history} = list_append(${history}, ${expr.value([marshalEntry(entry)])})`);
  let update = `SET ${assignments.join(', ')}`;
  if (unset.length) update += ` REMOVE ${unset.map((f) => expr.name(f)).join(', ')}`;
  const from = change.from.map((status) => expr.value(status));
  const condition = from.length
    ? `${expr.name('status')} IN (${from.join(', ')}) AND ${expr.name('fence')} = ${expr.value(change.fence)}`
    : `attribute_not_exists(${expr.name('runId')}) AND attribute_exists(${expr.name('runId')})`;
  return { expr, write: { UpdateExpression: update, ConditionExpression: condition } };
}

/**
 * A new run's put condition: no run with its id yet — or, for a precise job's fire decided at its
 * instant (`replacesPlan`), that fire's planned placeholder under exactly that fence (RunSchema).
 */
function createCondition(run: Run, expr: Expr): string {
  const absent = `attribute_not_exists(${expr.name('runId')})`;
  if (run.replacesPlan === undefined) return absent;
  return (
    `${absent} OR (${expr.name('status')} = ${expr.value('PENDING')} AND ` +
    `${expr.name('reason')} = ${expr.value(PLANNED_REASON)} AND ${expr.name('fence')} = ${expr.value(run.replacesPlan)})`
  );
}

function encodeField(field: string, value: unknown): unknown {
  return (JSON_FIELDS as readonly string[]).includes(field) ? jsonAttr(value) : value;
}

function marshalEntry(entry: Partial<HistoryEntry>): unknown {
  return Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined));
}

/**
 * Fills in the attempt of history entries written without one (see DynamoRunLedger): the attempt of
 * the entry before, or for the first entries the attempt the run was created with.
 */
function fillAttempts(history: unknown, createdAttempt: unknown): unknown {
  if (!Array.isArray(history)) return history;
  let previous = createdAttempt;
  return history.map((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return entry;
    const e = entry as Record<string, unknown>;
    if (e.attempt === undefined) return { ...e, attempt: previous };
    previous = e.attempt;
    return e;
  });
}
