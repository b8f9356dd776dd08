import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { OPEN_RUN_SHARDS, shardKeys } from '../../infra/resources';
import {
  isOpenStatus,
  type OpenRunStatus,
  OpenRunStatuses,
  type Run,
  type RunClaim,
  type RunStatus,
} from '../model';
import {
  type Clock,
  type LockClaim,
  type OpenRunQuery,
  type OpenRuns,
  type RunFinish,
  type RunFinished,
  type RunLedger,
  type RunPatch,
  type RunQuery,
  type RunTransition,
  systemClock,
} from '../ports';
import { type DynamoTable, Expr, type Item } from './dynamo-items';
import { DynamoLockStore } from './dynamo-lock-store';
import { RunCreation } from './dynamo-run-creation';
import { RunItems, runKey } from './dynamo-run-items';
import { RunUpdates } from './dynamo-run-updates';

export const DEFAULT_RUN_QUERY_LIMIT = 50;

export interface DynamoRunLedgerOptions {
  readonly client: DynamoDBClient;
  /** Physical name of the runs table: key `runId`; GSIs `byJob` (jobId, scheduledTime; keys only) and `byOpen` (open shard, scheduledTime; keys and status) as infra/resources.ts defines them. */
  readonly runsTable: string;
  /** Physical name of the locks table: key `lockKey`. */
  readonly locksTable: string;
  /** @default 'byJob' */
  readonly byJobIndex?: string;
  /** @default 'byOpen' */
  readonly byOpenIndex?: string;
  /** Wall clock for TTL attributes only (never for conditions, which take the caller's `now`). @default systemClock */
  readonly clock?: Clock;
}

/**
 * The run ledger in DynamoDB. One item per run (its attributes and TTL: dynamo-run-items.ts). Every write is
 * conditional: creation on the run id not existing (one run per fire), transitions on the current
 * status and fence (fenced transitions). Failed conditions become domain errors carrying the
 * current run, read from the `ALL_OLD` item DynamoDB returns with the failure (no extra read).
 *
 * This class is the port and its reads by index; the writes live by operation family: creating runs
 * with their lock (dynamo-run-creation.ts), and every later write of a run — claims,
 * transitions, finishing with the job's lock and health, patches, marks (dynamo-run-updates.ts).
 *
 * @example
 * const ledger = new DynamoRunLedger({ client, runsTable: physicalName(p, 'runs'), locksTable: physicalName(p, 'locks') });
 * await ledger.createWithLock(run, { key: jobLockKey(run.jobId), owner: run.runId, expiresAt, now });
 */
export class DynamoRunLedger implements RunLedger {
  private readonly runItems: RunItems;
  private readonly runs: DynamoTable;
  private readonly creation: RunCreation;
  private readonly updates: RunUpdates;
  private readonly byJob: string;
  private readonly byOpen: string;

  constructor(options: DynamoRunLedgerOptions) {
    const clock = options.clock ?? systemClock;
    this.runItems = new RunItems({ client: options.client, table: options.runsTable }, clock);
    this.runs = this.runItems.table;
    const locks = new DynamoLockStore({
      client: options.client,
      table: options.locksTable,
      clock: options.clock,
    });
    this.creation = new RunCreation(this.runItems, locks);
    this.updates = new RunUpdates(this.runItems, locks, clock);
    this.byJob = options.byJobIndex ?? 'byJob';
    this.byOpen = options.byOpenIndex ?? 'byOpen';
  }

  get(runId: string): Promise<Run | null> {
    return this.runItems.get(runId);
  }

  create(run: Run): Promise<void> {
    return this.creation.create(run);
  }

  createWithLock(run: Run, lock: LockClaim): Promise<void> {
    return this.creation.createWithLock(run, lock);
  }

  claim(runId: string, claim: RunClaim): Promise<Run> {
    return this.updates.claim(runId, claim);
  }

  transition(runId: string, change: RunTransition): Promise<Run> {
    return this.updates.transition(runId, change);
  }

  finish(run: Run, change: RunFinish): Promise<RunFinished> {
    return this.updates.finish(run, change);
  }

  patch(runId: string, change: RunPatch): Promise<Run> {
    return this.updates.patch(runId, change);
  }

  markResent(runId: string, fence: number, at: number, note: string): Promise<boolean> {
    return this.updates.markResent(runId, fence, at, note);
  }

  markDependentsFired(runId: string, downstreamRuns: readonly string[], at: number): Promise<boolean> {
    return this.updates.markDependentsFired(runId, downstreamRuns, at);
  }

  async listByJob(jobId: string, query: RunQuery = {}): Promise<Run[]> {
    return this.fetch(await this.query(this.byJob, 'jobId', jobId, query));
  }

  async listByStatus(status: OpenRunStatus, query: RunQuery = {}): Promise<Run[]> {
    const limits = { [status]: query.limit ?? DEFAULT_RUN_QUERY_LIMIT };
    return [...(await this.listOpen({ limits, order: query.order ?? 'newest' }))[status]];
  }

  /**
   * One Query per `byOpen` shard for every status asked for (the index projects `status`, so the
   * filter runs in DynamoDB; a shard is paged until it gave each status its limit or ran out), the
   * shards merged by scheduled time, each status's first `limits[status]` read by key — and kept
   * only if still of that status (the index lags its table).
   */
  async listOpen(query: OpenRunQuery): Promise<OpenRuns> {
    const open: Record<OpenRunStatus, Run[]> = { PENDING: [], DISPATCHED: [], RUNNING: [], NO_WORKER: [] };
    const limits = new Map(
      OpenRunStatuses.map((status) => [status, query.limits[status] ?? 0] as const).filter(([, n]) => n > 0),
    );
    if (limits.size === 0) return open;
    const shards = await Promise.all(
      shardKeys('open', OPEN_RUN_SHARDS).map((key) =>
        this.query(this.byOpen, 'open', key, { order: query.order ?? 'newest' }, limits),
      ),
    );
    const sign = query.order === 'oldest' ? 1 : -1;
    const taken = new Map<string, number>();
    const entries = shards
      .flat()
      .sort((a, b) => sign * sortValue(a).localeCompare(sortValue(b)))
      .filter((entry) => {
        const status = entry.status?.S ?? '';
        taken.set(status, (taken.get(status) ?? 0) + 1);
        return (taken.get(status) ?? 0) <= (limits.get(status as OpenRunStatus) ?? 0);
      });
    const listedAs = new Map(entries.map((entry) => [entry.runId?.S, entry.status?.S]));
    for (const run of await this.fetch(entries))
      if (isOpenStatus(run.status) && listedAs.get(run.runId) === run.status) open[run.status].push(run);
    return open;
  }

  /** The runs of keys-only index entries, in their order, read consistently by key. */
  private async fetch(entries: readonly Item[]): Promise<Run[]> {
    const items = await this.runs.getMany(
      entries.map((entry) => runKey(entry.runId?.S ?? '')),
      { consistent: true },
    );
    return items.map((item) => this.runItems.decode(item));
  }

  /**
   * Index entries (keys, and what the index projects) under one key, in scheduled-time order: the
   * first `query.limit`, or with `statuses` (an index projecting `status`), those of each status up
   * to its limit there.
   */
  private async query(
    index: string,
    keyName: string,
    keyValue: string,
    query: RunQuery,
    statuses?: ReadonlyMap<RunStatus, number>,
  ): Promise<Item[]> {
    const limit = statuses
      ? [...statuses.values()].reduce((sum, n) => sum + n, 0)
      : (query.limit ?? DEFAULT_RUN_QUERY_LIMIT);
    if (limit <= 0) return [];
    return this.runs.readPages(
      (remaining) => {
        const expr = new Expr();
        const filter =
          statuses &&
          `${expr.name('status')} IN (${[...statuses.keys()].map((s) => expr.value(s)).join(', ')})`;
        return {
          query: {
            IndexName: index,
            KeyConditionExpression: `${expr.name(keyName)} = ${expr.value(keyValue)}`,
            ...(filter ? { FilterExpression: filter } : {}),
            ScanIndexForward: query.order === 'oldest',
            Limit: statuses ? limit : remaining,
            ...expr.params(),
          },
        };
      },
      (item) => item,
      statuses
        ? { enough: (items) => enoughOf(items, statuses), what: `index ${this.runs.name}.${index}` }
        : { limit, what: `index ${this.runs.name}.${index}` },
    );
  }

  /** @internal The item a run is stored as (benchmarks seed tables with it). */
  encode(run: Run): Item {
    return this.runItems.encode(run);
  }

  /** @internal The API's paged reads (dynamo-api-reads.ts) decode with it too. */
  decode(item: Item): Run {
    return this.runItems.decode(item);
  }
}

/** Whether `entries` hold `limit` of each status in `limits`. */
function enoughOf(entries: readonly Item[], limits: ReadonlyMap<RunStatus, number>): boolean {
  const counts = new Map<string, number>();
  for (const entry of entries)
    counts.set(entry.status?.S ?? '', (counts.get(entry.status?.S ?? '') ?? 0) + 1);
  return [...limits].every(([status, limit]) => (counts.get(status) ?? 0) >= limit);
}

/** The order of a `byJob`/`byOpen` entry: scheduled time, then run id. */
function sortValue(entry: Item): string {
  return `${entry.scheduledTime?.S ?? ''} ${entry.runId?.S ?? ''}`;
}
