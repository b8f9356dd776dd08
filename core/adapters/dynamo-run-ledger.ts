import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { OPEN_RUN_SHARDS, OPEN_RUNS_INDEX, shardKeys } from '../../infra/resources';
import { isOpenStatus, type OpenRunStatus, OpenRunStatuses, type Run, type RunClaim } from '../model';
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
  /** Physical name of the runs table: key `runId`; GSIs `byJob` (jobId, scheduledTime) and `byOpenKeys` (open shard, scheduledTime), both keys only, as infra/resources.ts defines them. */
  readonly runsTable: string;
  /** Physical name of the locks table: key `lockKey`. */
  readonly locksTable: string;
  /** @default 'byJob' */
  readonly byJobIndex?: string;
  /** @default OPEN_RUNS_INDEX ('byOpenKeys') */
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
    this.byOpen = options.byOpenIndex ?? OPEN_RUNS_INDEX;
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
   * Every `byOpenKeys` shard read in parallel, in rounds: a page of up to 100 keys from each shard
   * still reading, then the runs of all those keys by consistent BatchGetItem (100 a request), since
   * the index copies keys only — a claim changes a run's status without writing it — and the statuses
   * are the runs' own. A shard stops when it gave every status asked for its limit or ran out. The
   * shards merged by scheduled time, each status's first `limits[status]` kept; a run read final
   * (the index lags its table) is left out. An idle stage pays one Query per shard and no read by key;
   * a read wanting few statuses also fetches the runs of the others it pages past.
   */
  async listOpen(query: OpenRunQuery): Promise<OpenRuns> {
    const open: Record<OpenRunStatus, Run[]> = { PENDING: [], DISPATCHED: [], RUNNING: [], NO_WORKER: [] };
    const limits = new Map(
      OpenRunStatuses.map((status) => [status, query.limits[status] ?? 0] as const).filter(([, n]) => n > 0),
    );
    if (limits.size === 0) return open;
    const order = query.order ?? 'newest';
    const shards = shardKeys('open', OPEN_RUN_SHARDS).map((key) => ({
      pages: this.openPages(key, order),
      runs: [] as Run[],
    }));
    let reading = shards;
    while (reading.length > 0) {
      const read = await Promise.all(
        reading.map(async (shard) => ({ shard, page: await shard.pages.next() })),
      );
      const shardOf = new Map<string, (typeof shards)[number]>();
      for (const { shard, page } of read)
        for (const entry of page.done ? [] : page.value) shardOf.set(entry.runId?.S ?? '', shard);
      for (const run of await this.fetch([...shardOf.keys()].map((runId) => ({ runId: { S: runId } }))))
        shardOf.get(run.runId)?.runs.push(run);
      reading = read
        .filter(({ shard, page }) => !page.done && !holdsEnough(shard.runs, limits))
        .map(({ shard }) => shard);
    }
    const sign = order === 'oldest' ? 1 : -1;
    const runs = shards
      .flatMap((shard) => shard.runs)
      .sort((a, b) => sign * runOrder(a).localeCompare(runOrder(b)));
    for (const run of runs) {
      if (!isOpenStatus(run.status)) continue;
      if (open[run.status].length < (limits.get(run.status) ?? 0)) open[run.status].push(run);
    }
    return open;
  }

  /** One `byOpenKeys` shard's entries, a page of BATCH_GET_KEYS at a time, in scheduled-time order. */
  private openPages(shard: string, order: 'newest' | 'oldest'): AsyncGenerator<Item[]> {
    return this.runs.pages(() => {
      const expr = new Expr();
      return {
        query: {
          IndexName: this.byOpen,
          KeyConditionExpression: `${expr.name('open')} = ${expr.value(shard)}`,
          ScanIndexForward: order === 'oldest',
          Limit: BATCH_GET_KEYS,
          ...expr.params(),
        },
      };
    }, `index ${this.runs.name}.${this.byOpen}`);
  }

  /** The runs of keys-only index entries, in their order, read consistently by key. */
  private async fetch(entries: readonly Item[]): Promise<Run[]> {
    const items = await this.runs.getMany(
      entries.map((entry) => runKey(entry.runId?.S ?? '')),
      { consistent: true },
    );
    return items.map((item) => this.runItems.decode(item));
  }

  /** Index entries under one key, in scheduled-time order: the first `query.limit`. */
  private query(index: string, keyName: string, keyValue: string, query: RunQuery): Promise<Item[]> {
    const limit = query.limit ?? DEFAULT_RUN_QUERY_LIMIT;
    if (limit <= 0) return Promise.resolve([]);
    return this.runs.readPages(
      (remaining) => {
        const expr = new Expr();
        return {
          query: {
            IndexName: index,
            KeyConditionExpression: `${expr.name(keyName)} = ${expr.value(keyValue)}`,
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

  /** @internal The item a run is stored as (benchmarks seed tables with it). */
  encode(run: Run): Item {
    return this.runItems.encode(run);
  }

  /** @internal The API's paged reads (dynamo-api-reads.ts) decode with it too. */
  decode(item: Item): Run {
    return this.runItems.decode(item);
  }
}

/**
 * A page of open-run entries: BatchGetItem's most keys a request, so a page is fetched in one. Fixed
 * rather than the limits asked for: the statuses are unknown until fetched, and a page of keys-only
 * entries costs a few read units where a page per wanted run would cost a request pair each.
 */
const BATCH_GET_KEYS = 100;

/** Whether `runs` hold `limit` of each status in `limits`. */
function holdsEnough(runs: readonly Run[], limits: ReadonlyMap<OpenRunStatus, number>): boolean {
  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.status, (counts.get(run.status) ?? 0) + 1);
  return [...limits].every(([status, limit]) => (counts.get(status) ?? 0) >= limit);
}

/** A run's place in the open-runs index: scheduled time, then run id. */
function runOrder(run: Run): string {
  return `${run.scheduledTime} ${run.runId}`;
}
