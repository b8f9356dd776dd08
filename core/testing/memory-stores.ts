/**
 * In-memory implementations of the ports, for unit tests. They keep the same semantics as the
 * DynamoDB / SQS / Scheduler / SES adapters — the same conditions, fences and domain errors — and
 * pass the same contract suites (core/testing/contracts/). Values are copied in and out
 * (memory-copies.ts), so a caller mutating what it got back changes nothing stored, as with a database.
 *
 * Not modelled: eventual consistency of index reads, TTL deletion, size limits other than the
 * envelope's JSON limit (the frame limit needs Snappy, which belongs to the adapters).
 *
 * @example
 * const locks = new MemoryLockStore();
 * const ledger = new MemoryRunLedger(locks);
 * await ledger.createWithLock(run, { key: jobLockKey(run.jobId), owner: run.runId, expiresAt, now });
 */
import { type DispatchEnvelope, envelopeToJson } from '../envelope';
import {
  AlreadyFiredError,
  CloverError,
  type FieldIssue,
  GraphChangedError,
  LeaseLostError,
  LockHeldError,
  NotFoundError,
  RunNotInStateError,
  ScheduleError,
  StaleFenceError,
  ValidationError,
  VersionConflictError,
} from '../errors';
import {
  applyTransition,
  checkTransitionFields,
  claimDifferences,
  claimRefusal,
  isHeld,
  isPlaceholder,
  type Job,
  jobLockKey,
  type Lock,
  type OpenRunStatus,
  OpenRunStatuses,
  type Run,
  type RunClaim,
  type SyncState,
  type UpstreamRef,
  type Worker,
  type WorkerRegistration,
} from '../model';
import {
  type Delivery,
  type DeliveryTarget,
  type DependencyJoins,
  type GraphRead,
  type JobExpectation,
  type JobStore,
  jobStamp,
  type LockClaim,
  type LockStore,
  type Mailer,
  type MailMessage,
  type MonitorWatch,
  type OpenRunQuery,
  type OpenRuns,
  type RunFinish,
  type RunFinished,
  type RunLedger,
  type RunPatch,
  type RunQuery,
  type RunTransition,
  type ScheduleEntry,
  type ScheduleGateway,
  sameStamp,
  type WatchStore,
  type WorkerRegistry,
} from '../ports';
import { clone, copiesById, copyOf } from './memory-copies';

export class MemoryJobStore implements JobStore {
  readonly jobs = new Map<string, Job>();

  async get(jobId: string): Promise<Job | null> {
    return copyOf(this.jobs, jobId);
  }

  async put(job: Job, expectedVersion: number, unchanged: readonly GraphRead[] = []): Promise<void> {
    this.check(job.spec.jobId, expectedVersion);
    for (const read of unchanged) {
      const stored = this.jobs.get(read.jobId);
      const same =
        'absent' in read ? !stored : stored?.version === read.version && stored.updatedAt === read.updatedAt;
      if (!same) throw new GraphChangedError(job.spec.jobId, read.jobId);
    }
    this.jobs.set(job.spec.jobId, clone(job));
  }

  async setSyncState(jobId: string, version: number, state: SyncState): Promise<void> {
    const job = this.check(jobId, version);
    if (job) job.syncState = state;
  }

  async delete(jobId: string, expectedVersion?: number): Promise<void> {
    if (expectedVersion !== undefined) this.check(jobId, expectedVersion);
    this.jobs.delete(jobId);
  }

  async list(): Promise<Job[]> {
    return copiesById(this.jobs.values(), (job) => job.spec.jobId);
  }

  async stamp(jobId: string): Promise<JobExpectation | null> {
    const job = this.jobs.get(jobId);
    return job ? jobStamp(job) : null;
  }

  async listUpdatedSince(since: number): Promise<Job[]> {
    return copiesById(
      [...this.jobs.values()].filter((job) => job.updatedAt >= since),
      (job) => job.spec.jobId,
    );
  }

  async linkDownstream(jobId: string, downstreamId: string, linked: boolean): Promise<boolean> {
    const job = this.jobs.get(jobId);
    if (!job) return false;
    const downstream = new Set(job.downstream ?? []);
    if (linked) downstream.add(downstreamId);
    else downstream.delete(downstreamId);
    if (downstream.size) job.downstream = [...downstream].sort();
    else delete job.downstream;
    return true;
  }

  async listLocal(pool: string): Promise<Job[]> {
    return copiesById(
      [...this.jobs.values()].filter((job) => job.spec.mode === 'LOCAL' && job.spec.target.pool === pool),
      (job) => job.spec.jobId,
    );
  }

  private check(jobId: string, expectedVersion: number): Job | undefined {
    const current = this.jobs.get(jobId);
    if (!current && expectedVersion !== 0) throw new NotFoundError('job', jobId);
    if (expectedVersion === 0 ? current : current?.version !== expectedVersion) {
      throw new VersionConflictError('job', jobId, expectedVersion, current?.version);
    }
    return current;
  }
}

export class MemoryLockStore implements LockStore {
  readonly locks = new Map<string, Lock>();

  async get(key: string): Promise<Lock | null> {
    return copyOf(this.locks, key);
  }

  async listHeld(now: number): Promise<Lock[]> {
    return copiesById(
      [...this.locks.values()].filter((lock) => isHeld(lock, now)),
      (lock) => lock.lockKey,
    );
  }

  async release(key: string, owner: string): Promise<boolean> {
    const lock = this.locks.get(key);
    if (lock?.owner !== owner) return false;
    delete lock.owner;
    return true;
  }

  async handOver(key: string, from: string, to: string, expiresAt: number): Promise<boolean> {
    const lock = this.locks.get(key);
    if (lock?.owner !== from) return false;
    this.locks.set(key, { ...lock, owner: to, fence: lock.fence + 1, expiresAt });
    return true;
  }

  /** @internal The lock condition of createWithLock: free, expired, or held by `takeOverFrom`. */
  checkClaim(claim: LockClaim): void {
    const lock = this.locks.get(claim.key);
    if (!lock || lock.owner === undefined || lock.expiresAt <= claim.now) return;
    if (claim.takeOverFrom !== undefined && lock.owner === claim.takeOverFrom) return;
    throw new LockHeldError(claim.key, lock.owner);
  }

  /** @internal */
  take(claim: LockClaim): void {
    const lock = this.locks.get(claim.key);
    const fence = (lock?.fence ?? 0) + 1;
    // An update, as in DynamoDB: what else the item holds (the job's health) stays.
    this.locks.set(claim.key, {
      ...lock,
      lockKey: claim.key,
      owner: claim.owner,
      fence,
      expiresAt: claim.expiresAt,
    });
  }
}

export class MemoryRunLedger implements RunLedger {
  readonly runs = new Map<string, Run>();

  /** `jobs`: the store a fire written with a JobExpectation is checked against. */
  constructor(
    readonly locks: MemoryLockStore = new MemoryLockStore(),
    readonly jobs?: MemoryJobStore,
  ) {}

  async get(runId: string): Promise<Run | null> {
    return copyOf(this.runs, runId);
  }

  async create(run: Run, expect?: JobExpectation): Promise<void> {
    this.checkNew(run);
    this.checkJob(expect);
    this.runs.set(run.runId, clone(run));
  }

  async createWithLock(run: Run, lock: LockClaim, expect?: JobExpectation): Promise<void> {
    this.checkNew(run);
    this.checkJob(expect);
    this.locks.checkClaim(lock);
    this.runs.set(run.runId, clone(run));
    this.locks.take(lock);
  }

  async claim(runId: string, claim: RunClaim): Promise<Run> {
    const current = this.runs.get(runId);
    if (!current) throw new NotFoundError('run', runId);
    if (current.status !== 'DISPATCHED' || claimDifferences(current, claim).length > 0) {
      throw claimRefusal(runId, clone(current), claim);
    }
    const written: Run = {
      ...clone(current),
      status: 'RUNNING',
      workerId: claim.workerId,
      startedAt: claim.at,
      updatedAt: claim.at,
      history: [
        ...current.history,
        { at: claim.at, status: 'RUNNING', attempt: current.attempt, workerId: claim.workerId },
      ],
    };
    this.runs.set(runId, written);
    return clone(written);
  }

  async transition(runId: string, change: RunTransition): Promise<Run> {
    checkTransitionFields(change.set, change.unset);
    const written = clone(applyTransition(this.fenced(runId, change), change));
    this.runs.set(runId, written);
    return clone(written);
  }

  async finish(run: Run, change: RunFinish): Promise<RunFinished> {
    await this.transition(run.runId, change);
    const key = jobLockKey(run.jobId);
    const lock = this.locks.locks.get(key);
    const released = change.release === true && lock?.owner === run.runId;
    if (lock && released) delete lock.owner;
    const recovered = change.health === 'healthy' && lock?.failing === true;
    if (lock && recovered) delete lock.failing;
    if (change.health === 'failing') {
      this.locks.locks.set(key, { lockKey: key, fence: 0, expiresAt: 0, ...lock, failing: true });
    }
    return { run: clone(applyTransition(run, change)), released, recovered };
  }

  async patch(runId: string, change: RunPatch): Promise<Run> {
    const current = this.fenced(runId, change);
    const next: Run = { ...clone(current), updatedAt: change.at };
    if (change.progress) next.progress = { ...change.progress };
    if (change.appendLog?.length) next.log = [...(current.log ?? []), ...change.appendLog];
    this.runs.set(runId, next);
    return clone(next);
  }

  async listByJob(jobId: string, query: RunQuery = {}): Promise<Run[]> {
    return this.query((run) => run.jobId === jobId, query);
  }

  async listByStatus(status: OpenRunStatus, query: RunQuery = {}): Promise<Run[]> {
    return this.query((run) => run.status === status, query);
  }

  async listOpen(query: OpenRunQuery): Promise<OpenRuns> {
    const open: Record<OpenRunStatus, Run[]> = { PENDING: [], DISPATCHED: [], RUNNING: [], NO_WORKER: [] };
    for (const status of OpenRunStatuses) {
      const limit = query.limits[status] ?? 0;
      if (limit > 0) open[status] = this.query((run) => run.status === status, { ...query, limit });
    }
    return open;
  }

  async markResent(runId: string, fence: number, at: number, note: string): Promise<boolean> {
    const run = this.runs.get(runId);
    if (run?.status !== 'DISPATCHED' || run.fence !== fence || run.resentFence === fence) return false;
    run.resentFence = fence;
    run.updatedAt = at;
    run.history = [...run.history, { at, status: 'DISPATCHED', attempt: run.attempt, note }];
    return true;
  }

  async markDependentsFired(runId: string, downstreamRuns: readonly string[], at: number): Promise<boolean> {
    const run = this.runs.get(runId);
    if (!run?.dependentsPending) return false;
    delete run.dependentsPending;
    run.downstreamRuns = [...downstreamRuns];
    run.updatedAt = at;
    return true;
  }

  private query(match: (run: Run) => boolean, query: RunQuery): Run[] {
    const sign = query.order === 'oldest' ? 1 : -1;
    return [...this.runs.values()]
      .filter(match)
      .sort((a, b) => sign * a.scheduledTime.localeCompare(b.scheduledTime))
      .slice(0, Math.max(0, query.limit ?? 50))
      .map(clone);
  }

  /**
   * The condition of `transition` and `patch`, as the DynamoDB ledger's fenced update: the run
   * exists, is in one of the `from` statuses, and still has the caller's fence.
   */
  private fenced(runId: string, change: Pick<RunPatch, 'from' | 'fence'>): Run {
    const current = this.runs.get(runId);
    if (!current) throw new NotFoundError('run', runId);
    if (!change.from.includes(current.status))
      throw new RunNotInStateError(runId, change.from, clone(current));
    if (current.fence !== change.fence)
      throw new StaleFenceError(`run ${runId}`, change.fence, clone(current));
    return current;
  }

  private checkJob(expect: JobExpectation | undefined): void {
    if (!expect) return;
    if (!this.jobs) throw new CloverError('internal', 'MemoryRunLedger: a job expectation needs a job store');
    const job = this.jobs.jobs.get(expect.jobId);
    if (!job || !sameStamp(jobStamp(job), expect)) {
      throw new VersionConflictError('job', expect.jobId, expect.version, job?.version);
    }
  }

  /** No run with the id yet, or (a planned fire decided: `replacesPlan`) its placeholder under that fence. */
  private checkNew(run: Run): void {
    const existing = this.runs.get(run.runId);
    if (!existing) return;
    if (run.replacesPlan !== undefined && isPlaceholder(existing) && existing.fence === run.replacesPlan)
      return;
    throw new AlreadyFiredError(run.runId, clone(existing));
  }
}

export class MemoryDependencyJoins implements DependencyJoins {
  readonly joins = new Map<string, Map<string, UpstreamRef>>();
  readonly fires = new Map<string, Set<string>>();

  async countFire(downstreamJobId: string, chainId: string, minute: number, runId: string): Promise<number> {
    const key = `${downstreamJobId}\n${chainId}\n${minute}`;
    const fired = this.fires.get(key) ?? new Set<string>();
    fired.add(runId);
    this.fires.set(key, fired);
    return fired.size;
  }

  async arrive(
    downstreamJobId: string,
    chainId: string,
    arrival: UpstreamRef,
    _now: number,
  ): Promise<Map<string, UpstreamRef>> {
    const key = `${downstreamJobId}\n${chainId}`;
    const join = this.joins.get(key) ?? new Map<string, UpstreamRef>();
    if (!join.has(arrival.jobId)) join.set(arrival.jobId, clone(arrival));
    this.joins.set(key, join);
    return clone(join);
  }
}

/** The monitor's watch in memory (core/monitor/watch.ts). */
export class MemoryWatchStore implements WatchStore {
  private current: MonitorWatch | null = null;

  async read(): Promise<MonitorWatch | null> {
    return this.current && { ...this.current };
  }

  async take(watch: MonitorWatch, options: { readonly ifEndsBy?: number } = {}): Promise<boolean> {
    const { ifEndsBy } = options;
    if (ifEndsBy !== undefined && this.current && this.current.until > ifEndsBy) return false;
    this.current = { ...watch };
    return true;
  }
}

export class MemoryWorkerRegistry implements WorkerRegistry {
  readonly workers = new Map<string, Worker>();

  async register(registration: WorkerRegistration, now: number, ttlMs: number): Promise<Worker> {
    const leaseFence = (this.workers.get(registration.workerId)?.leaseFence ?? 0) + 1;
    const worker: Worker = {
      ...clone(registration),
      status: 'ACTIVE',
      leaseFence,
      leaseExpiresAt: now + ttlMs,
      registeredAt: now,
      heartbeatAt: now,
      load: 0,
    };
    this.workers.set(worker.workerId, worker);
    return clone(worker);
  }

  async renew(
    workerId: string,
    leaseFence: number,
    now: number,
    ttlMs: number,
    load: number,
  ): Promise<Worker> {
    const worker = this.live(workerId, leaseFence, now);
    Object.assign(worker, { leaseExpiresAt: now + ttlMs, heartbeatAt: now, load });
    return clone(worker);
  }

  async setStatus(
    workerId: string,
    leaseFence: number,
    status: 'DRAINING' | 'GONE',
    now: number,
  ): Promise<void> {
    if (status === 'GONE') {
      const worker = this.workers.get(workerId);
      if (worker?.leaseFence !== leaseFence) throw new LeaseLostError(workerId);
      worker.status = 'GONE';
      return;
    }
    this.live(workerId, leaseFence, now).status = status;
  }

  async expire(workerId: string, leaseFence: number, now: number): Promise<boolean> {
    const worker = this.workers.get(workerId);
    if (
      !worker ||
      worker.leaseFence !== leaseFence ||
      worker.leaseExpiresAt > now ||
      worker.status === 'GONE'
    ) {
      return false;
    }
    worker.status = 'GONE';
    return true;
  }

  async get(workerId: string): Promise<Worker | null> {
    return copyOf(this.workers, workerId);
  }

  async list(pool?: string): Promise<Worker[]> {
    const listed = [...this.workers.values()].filter(
      (w) => w.status !== 'GONE' && (pool === undefined || w.pool === pool),
    );
    return copiesById(listed, (worker) => worker.workerId);
  }

  private live(workerId: string, leaseFence: number, now: number): Worker {
    const worker = this.workers.get(workerId);
    if (
      !worker ||
      worker.leaseFence !== leaseFence ||
      worker.leaseExpiresAt <= now ||
      (worker.status !== 'ACTIVE' && worker.status !== 'DRAINING')
    ) {
      throw new LeaseLostError(workerId);
    }
    return worker;
  }
}

const AWS_EXPRESSION = /^(cron|rate|at)\(.+\)$/;

export class MemoryScheduleGateway implements ScheduleGateway {
  readonly schedules = new Map<string, ScheduleEntry>();

  async upsert(entry: ScheduleEntry): Promise<void> {
    if (!AWS_EXPRESSION.test(entry.expression)) {
      throw new ScheduleError(
        'schedule.expression',
        `${JSON.stringify(entry.expression)} is not an EventBridge Scheduler expression (cron(...), rate(...) or at(...))`,
      );
    }
    const stored: ScheduleEntry = {
      jobId: entry.jobId,
      expression: entry.expression,
      timezone: entry.timezone,
      ...(entry.startDate ? { startDate: instant('startDate', entry.startDate) } : {}),
      ...(entry.endDate ? { endDate: instant('endDate', entry.endDate) } : {}),
      enabled: entry.enabled,
    };
    this.schedules.set(entry.jobId, stored);
  }

  async remove(jobId: string): Promise<void> {
    this.schedules.delete(jobId);
  }

  async get(jobId: string): Promise<ScheduleEntry | null> {
    return copyOf(this.schedules, jobId);
  }

  async list(): Promise<ScheduleEntry[]> {
    return copiesById(this.schedules.values(), (entry) => entry.jobId);
  }
}

/** Renders an instant the way the Scheduler adapter reads one back: UTC, to the second when whole. */
function instant(field: string, value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new ScheduleError(`schedule.${field}`, `${JSON.stringify(value)} is not an ISO-8601 instant`);
  }
  return date.toISOString().replace(/\.000Z$/, 'Z');
}

export interface RecordedDelivery {
  readonly target: DeliveryTarget;
  readonly envelope: DispatchEnvelope;
}

/** Records deliveries. `failNext(error)` makes the next deliveries throw (a transport that refuses). */
export class MemoryDelivery implements Delivery {
  readonly delivered: RecordedDelivery[] = [];
  private readonly failures: Error[] = [];

  failNext(...errors: Error[]): void {
    this.failures.push(...errors);
  }

  async deliver(target: DeliveryTarget, envelope: DispatchEnvelope): Promise<void> {
    envelopeToJson(envelope); // the envelope's size limit, as every transport checks it before sending
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.delivered.push({ target: clone(target), envelope: clone(envelope) });
  }
}

export const MEMORY_MAX_RECIPIENTS = 50;

/** Records sent mail; `rejectFrom` names senders that are refused like an unverified SES identity. */
export class MemoryMailer implements Mailer {
  readonly sent: (MailMessage & { readonly messageId: string })[] = [];
  readonly verified = new Set<string>();
  private n = 0;

  /** Senders must be verified first, as with SES; with `requireVerified: false` anyone may send. */
  constructor(private readonly options: { readonly requireVerified?: boolean } = {}) {}

  async send(message: MailMessage): Promise<{ messageId: string }> {
    const issues: FieldIssue[] = [];
    if (!message.from.trim()) issues.push({ field: 'from', reason: 'is required' });
    if (message.to.length === 0) issues.push({ field: 'to', reason: 'needs at least one recipient' });
    if (message.to.length > MEMORY_MAX_RECIPIENTS) {
      issues.push({
        field: 'to',
        reason: `has ${message.to.length} recipients; SES allows ${MEMORY_MAX_RECIPIENTS}`,
      });
    }
    if (/[\r\n]/.test(message.subject)) issues.push({ field: 'subject', reason: 'must be one line' });
    if (issues.length) throw new ValidationError(issues);
    if (this.options.requireVerified !== false && !this.verified.has(message.from)) {
      throw new CloverError(
        'validation_failed',
        `SES rejected the message: Email address not verified ${message.from}`,
        {
          details: { sesError: 'MessageRejected', from: message.from },
        },
      );
    }
    const messageId = `memory-${++this.n}`;
    this.sent.push({ ...clone(message), messageId });
    return { messageId };
  }
}
