// One file on purpose: the domain's whole contract, interfaces with almost no code, read as one page
// when writing an adapter or a fake; many callers take ports of several roles, which a split would scatter.
/**
 * Ports: what the domain needs from the outside world, named by role. Adapters in core/adapters/
 * implement them by technology (DynamoDB, SQS, EventBridge Scheduler, SES, ZeroMQ); in-memory fakes
 * for unit tests live in core/testing/ and pass the same contract suites as the real adapters.
 *
 * Conditional-write failures surface as domain errors carrying the current item:
 * AlreadyFiredError, RunNotInStateError, StaleFenceError, ClaimRefusedError, LeaseLostError, LockHeldError,
 * VersionConflictError, NotFoundError.
 *
 * Each port's behaviour is pinned by its contract suite in core/testing/contracts/, one file per port.
 */
import type { DispatchEnvelope } from './envelope';
import type {
  Acknowledgement,
  AlertKind,
  AlertRecord,
  AlertStatus,
  ChannelDelivery,
  Contact,
  DigestEntry,
  Job,
  JobHealth,
  Lock,
  OpenRunStatus,
  Run,
  RunChange,
  RunClaim,
  RunStatus,
  Silence,
  SyncState,
  UpstreamRef,
  Worker,
  WorkerRegistration,
} from './model';

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface JobStore {
  get(jobId: string): Promise<Job | null>;
  /**
   * Creates (`expectedVersion` 0) or replaces the job, only if its stored version is `expectedVersion`
   * and — in the same atomic write — every job in `unchanged` is still as it was read (or still absent).
   * JobService.define passes the upstream graph it checked for cycles when it adds to `after`, so two
   * concurrent edits that together would close a cycle cannot both land (docs/dependent-jobs.md).
   * A changed one fails the write with GraphChangedError; at most {@link MAX_GRAPH_CHECKS} of them.
   */
  put(job: Job, expectedVersion: number, unchanged?: readonly GraphRead[]): Promise<void>;
  /**
   * The planner's mark (core/planner.ts), read consistently. A `put` of a precise job (paused or not)
   * moves it on in the same atomic write — `generation` + 1, `quietUntil` cleared — so a job turned
   * precise, edited or resumed is planned at the next pass. Never written: generation 0, no quietUntil.
   */
  preciseMark(): Promise<PreciseMark>;
  /**
   * Records that no pass need read the jobs before `quietUntil`, only if no precise job was put since
   * `seen` was read (its generation is still the stored one): true when recorded.
   */
  quietPrecise(seen: PreciseMark, quietUntil: number): Promise<boolean>;
  setSyncState(jobId: string, version: number, state: SyncState): Promise<void>;
  /** Deletes the job; with `expectedVersion`, only if it is still at that version. */
  delete(jobId: string, expectedVersion?: number): Promise<void>;
  /** Every job: a full read, for the monitor and the declared-jobs sync, never on a hot loop. */
  list(): Promise<Job[]>;
  /**
   * Adds (`linked`) or removes `downstreamId` in the job's `downstream` list, without changing its
   * version: the list is bookkeeping kept by JobService.define, not part of the spec. False when
   * the job does not exist.
   */
  linkDownstream(jobId: string, downstreamId: string, linked: boolean): Promise<boolean>;
  /**
   * The LOCAL jobs whose target pool is `pool`, sorted by id: what an agent polls to discover the
   * jobs it fires itself. A keyed read whose cost grows with the LOCAL jobs, not with every job; it
   * may lag a write by a moment (an index), which the agent's next refresh catches up on.
   */
  listLocal(pool: string): Promise<Job[]>;
  /**
   * What identifies the stored job's content (version, updatedAt, has-dependents, as a JobExpectation
   * compares it), read consistently without the spec: a warm dispatcher's check that a job it keeps is
   * still the stored one, cheaper than reading the job. Null when the job does not exist.
   */
  stamp(jobId: string): Promise<JobExpectation | null>;
  /**
   * The jobs whose `updatedAt` is at or after `since`, sorted by id: a warm reader's refresh of a
   * list it keeps (the monitor). A keyed read whose cost grows with the jobs changed, not with every
   * job. It may lag a write by a moment (an index) and cannot show deletes, so a reader reaches back
   * past its last read and still lists every job at a bounded interval.
   */
  listUpdatedSince(since: number): Promise<Job[]>;
}

/**
 * What the planner last found, as of the precise jobs' `generation` (JobStore.preciseMark): nothing to
 * plan and no placeholder to watch before `quietUntil` (epoch ms), so a pass before it reads nothing
 * more. Absent `quietUntil`: the next pass reads the jobs.
 */
export interface PreciseMark {
  readonly generation: number;
  readonly quietUntil?: number;
}

/** A lock to take in the same transaction as a new run. */
export interface LockClaim {
  readonly key: string;
  readonly owner: string;
  readonly expiresAt: number;
  /** Locks whose `expiresAt` is at or before this instant count as free. */
  readonly now: number;
  /** REPLACE policy: take the lock even though this owner holds it. */
  readonly takeOverFrom?: string;
}

/**
 * What identifies a stored job's content (JobStore.stamp): a warm dispatcher fires from a job it keeps
 * only while the stored job's stamp still names it (core/dispatch/job-cache.ts).
 */
export interface JobExpectation {
  readonly jobId: string;
  readonly version: number;
  /** With the version: a job deleted and defined again starts at version 1 again. */
  readonly updatedAt: number;
  /** Whether the job has dependents (`downstream`, which changes without a new version): its runs say so. */
  readonly hasDownstream: boolean;
}

/**
 * A job as a define read it while checking the dependency graph: its version and write instant, or
 * absent (a name an `after` list points at with no job behind it — defining it later could close a cycle).
 */
export type GraphRead =
  | { readonly jobId: string; readonly version: number; readonly updatedAt: number }
  | { readonly jobId: string; readonly absent: true };

/**
 * The most jobs one JobStore.put can check beside the job it writes and the precise mark
 * (DynamoDB: 100 items per transaction).
 */
export const MAX_GRAPH_CHECKS = 98;

/** The stamp of `job` as it was read: what JobStore.stamp gives while the stored job is still this one. */
export function jobStamp(job: Job): JobExpectation {
  return {
    jobId: job.spec.jobId,
    version: job.version,
    updatedAt: job.updatedAt,
    hasDownstream: (job.downstream?.length ?? 0) > 0,
  };
}

/** Whether two stamps name the same stored job content. */
export function sameStamp(a: JobExpectation, b: JobExpectation): boolean {
  return (
    a.jobId === b.jobId &&
    a.version === b.version &&
    a.updatedAt === b.updatedAt &&
    a.hasDownstream === b.hasDownstream
  );
}

/** A fenced change of a run's status. The write happens only if the run is in one of `from` and holds `fence`. */
export interface RunTransition extends RunChange {
  readonly from: readonly RunStatus[];
  readonly fence: number;
}

/**
 * A run's final transition with what goes with it, in one write: releasing the job's lock it holds
 * and recording the job's health (core/model `healthAfter`) on the job's lock item.
 */
export interface RunFinish extends RunTransition {
  /** Release the job's lock (`jobLockKey(run.jobId)`) if this run still owns it. */
  readonly release?: boolean;
  readonly health?: JobHealth;
}

export interface RunFinished {
  /** The run as the change left it (fields patched meanwhile, such as progress and log lines, as in the caller's copy). */
  readonly run: Run;
  /** Whether the lock was released by this write (false when the run did not own it). */
  readonly released: boolean;
  /** Health `healthy` given and the job was failing: this run is the job's first success after failures. */
  readonly recovered: boolean;
}

/**
 * A fenced in-place update of a run by the worker running it: progress and log lines. It changes no
 * status and adds no history entry; it applies only while the run is in one of `from` and holds `fence`.
 */
export interface RunPatch {
  readonly from: readonly RunStatus[];
  readonly fence: number;
  readonly at: number;
  readonly progress?: { readonly percent: number; readonly message: string };
  /** Lines appended to the run's `log`. */
  readonly appendLog?: readonly string[];
}

export interface RunQuery {
  readonly limit?: number;
  /** Newest scheduledTime first (default) or oldest first. */
  readonly order?: 'newest' | 'oldest';
}

/** Open runs of several statuses read at once: at most `limits[status]` of each status asked for. */
export interface OpenRunQuery {
  readonly limits: Readonly<Partial<Record<OpenRunStatus, number>>>;
  /** Newest scheduledTime first (default) or oldest first, within each status. */
  readonly order?: 'newest' | 'oldest';
}

/** The open runs by status; a status not asked for is empty. */
export type OpenRuns = Readonly<Record<OpenRunStatus, readonly Run[]>>;

export interface RunLedger {
  get(runId: string): Promise<Run | null>;
  /** Writes a new run in one conditional put. AlreadyFiredError (with the existing run) if the id exists. */
  create(run: Run): Promise<void>;
  /**
   * Takes the job's lock naming the run, then writes the run: two single-item conditional writes, not
   * a transaction (which bills every item twice). One run per fire and no overlap rest on this:
   * AlreadyFiredError if the run exists (before any lock question: a duplicate fire is never an
   * overlap); LockHeldError with the current owner if another run holds the lock. A lock already
   * named for this run (a retried fire whose first attempt died between the writes) counts as taken.
   * A put refused because the run exists gives back a lock it took. What repairs a writer that died
   * between the two writes: core/dispatch/record.ts.
   */
  createWithLock(run: Run, lock: LockClaim): Promise<void>;
  /**
   * A worker's claim, DISPATCHED → RUNNING, in one conditional write: the run is DISPATCHED to
   * `claim.workerId` (or to no worker — a pool-queue run, assigned to it by the same write), holds
   * `claim.fence`, and agrees with every field of `claim.expect`. Sets `workerId` and `startedAt`,
   * appends a history entry, and returns the run as written: what the worker executes. Refusals write
   * nothing and carry the current run (model/claim.ts `claimRefusal`): RunNotInStateError,
   * StaleFenceError, ClaimRefusedError (naming each field that differs); NotFoundError.
   */
  claim(runId: string, claim: RunClaim): Promise<Run>;
  /** Applies a fenced transition and returns the run as written. RunNotInStateError / StaleFenceError / NotFoundError. */
  transition(runId: string, change: RunTransition): Promise<Run>;
  /**
   * A fenced transition of `run` (the caller's copy: its id, job and lock) that also releases the job's
   * lock and records the job's health, all in one write (one request when the lock release and the
   * health check agree with what is stored). The transition's refusals are `transition`'s; the lock
   * and the health never refuse it: a lock another run owns is left alone, and `recovered` says what
   * the stored health was. Of concurrent successes of a failing job, exactly one is `recovered`.
   */
  finish(run: Run, change: RunFinish): Promise<RunFinished>;
  /** Applies a fenced patch (progress, log lines) and returns the run as written. RunNotInStateError / StaleFenceError / NotFoundError. */
  patch(runId: string, change: RunPatch): Promise<Run>;
  listByJob(jobId: string, query?: RunQuery): Promise<Run[]>;
  /** Runs of an open status (one with transitions left); final runs are listed by job or by day. */
  listByStatus(status: OpenRunStatus, query?: RunQuery): Promise<Run[]>;
  /**
   * Each status's runs as `listByStatus` lists them, for several statuses in one read (the monitor
   * reads its DISPATCHED, RUNNING, PENDING and NO_WORKER runs once a sweep): many runs of one status
   * never crowd out another's.
   */
  listOpen(query: OpenRunQuery): Promise<OpenRuns>;
  /**
   * Records that the envelope of the run's dispatch under `fence` was sent again (`resentFence`, a
   * history entry with `note`), if the run is still DISPATCHED under that fence (unclaimed) and that
   * dispatch was not resent yet: true for the caller that recorded it. Changes neither status nor fence.
   */
  markResent(runId: string, fence: number, at: number, note: string): Promise<boolean>;
  /**
   * Clears `dependentsPending` and records the dependent runs fired, if the flag is still set: true
   * for the caller that cleared it. Changes neither status nor fence (the run is final).
   */
  markDependentsFired(runId: string, downstreamRuns: readonly string[], at: number): Promise<boolean>;
}

/**
 * Fan-in bookkeeping (`waitFor: ALL`): per downstream job and chain, the upstream runs that have
 * reached their outcome. One record per (job, chain), updated by conditional writes; the first
 * arrival per upstream job is kept, so a repeated arrival changes nothing.
 */
export interface DependencyJoins {
  /**
   * Records that the dependent run `runId` of `downstreamJobId` fired in chain `chainId` during the
   * minute starting at `minute` (epoch ms), once per run id however often it is recorded; returns how
   * many distinct runs of that job the chain fired in that minute: the run-away guard's count.
   */
  countFire(downstreamJobId: string, chainId: string, minute: number, runId: string): Promise<number>;
  /** Records `arrival` unless its upstream job already arrived; returns every arrival now recorded, by upstream job id. */
  arrive(
    downstreamJobId: string,
    chainId: string,
    arrival: UpstreamRef,
    now: number,
  ): Promise<Map<string, UpstreamRef>>;
}

export interface LockStore {
  get(key: string): Promise<Lock | null>;
  /**
   * Every lock with an owner whose lease has not lapsed by `now`: what the monitor checks for owners
   * that are final or gone. One read of the locks (a Scan), not one read per job.
   */
  listHeld(now: number): Promise<Lock[]>;
  /** Clears the owner if `owner` still holds it; false when it did not. The fence counter stays. */
  release(key: string, owner: string): Promise<boolean>;
  /** Moves a held lock from one owner to another (QUEUE: the next queued run inherits it). */
  handOver(key: string, from: string, to: string, expiresAt: number): Promise<boolean>;
}

/**
 * Which monitor invocation sweeps closely (every few seconds) and until when: the monitor watches
 * only while work is in flight, and whoever starts work wakes it unless a watch already covers now
 * (core/monitor/watch.ts). `sweeper` names one invocation; `until` is epoch milliseconds.
 */
export interface MonitorWatch {
  readonly sweeper: string;
  readonly until: number;
}

export interface WatchStore {
  /** The latest watch taken, or null when none ever was (or it was collected). */
  read(): Promise<MonitorWatch | null>;
  /**
   * Records `watch` as the current one. With `ifEndsBy`, only when the current watch ends at or before
   * that instant (none counts as ended): two invocations woken together take it once. True when taken.
   */
  take(watch: MonitorWatch, options?: { readonly ifEndsBy?: number }): Promise<boolean>;
}

/** Starts a monitor invocation that was not scheduled (a wake); resolves once it is queued. */
export interface MonitorInvoker {
  invoke(): Promise<void>;
}

export interface WorkerRegistry {
  /** Registers (or re-registers) a worker as ACTIVE with a new, higher lease fence. */
  register(registration: WorkerRegistration, now: number, ttlMs: number): Promise<Worker>;
  /** Extends the lease if `leaseFence` still holds it and it has not expired. LeaseLostError otherwise. */
  renew(workerId: string, leaseFence: number, now: number, ttlMs: number, load: number): Promise<Worker>;
  /** DRAINING: take nothing new. GONE: the lease is released. Fenced like renew (except GONE may follow expiry). */
  setStatus(workerId: string, leaseFence: number, status: 'DRAINING' | 'GONE', now: number): Promise<void>;
  /** Monitor: marks a worker GONE only if its lease (this fence) has expired by `now`. False if it was renewed. */
  expire(workerId: string, leaseFence: number, now: number): Promise<boolean>;
  get(workerId: string): Promise<Worker | null>;
  /** All workers not GONE, optionally of one pool. */
  list(pool?: string): Promise<Worker[]>;
}

export type DeliveryTarget =
  | { readonly kind: 'pool'; readonly pool: string }
  | { readonly kind: 'worker'; readonly worker: Worker };

/** Hands an envelope to a worker or a pool. Resolves once the transport accepted it (queued or acknowledged). */
export interface Delivery {
  deliver(target: DeliveryTarget, envelope: DispatchEnvelope): Promise<void>;
}

/** What EventBridge Scheduler (or the local emulation of it) holds for one job. */
export interface ScheduleEntry {
  readonly jobId: string;
  readonly expression: string;
  readonly timezone: string;
  readonly startDate?: string;
  readonly endDate?: string;
  readonly enabled: boolean;
}

export interface ScheduleGateway {
  /** Creates or updates the job's schedule so that it fires the dispatcher with {jobId, scheduledTime}. */
  upsert(entry: ScheduleEntry): Promise<void>;
  /** Deletes the job's schedule; absent is fine. */
  remove(jobId: string): Promise<void>;
  get(jobId: string): Promise<ScheduleEntry | null>;
  list(): Promise<ScheduleEntry[]>;
}

export interface AlertEvent {
  readonly kind: AlertKind;
  readonly jobId: string;
  readonly runId?: string;
  readonly message: string;
  readonly at: number;
}

/** Where alerts go: the alerts table and queue in the deployed system, a log line or a list in tests. */
export interface AlertHook {
  raise(alert: AlertEvent): Promise<void>;
}

export interface MailMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
}

/** Sends email (alerts to contacts). Resolves once the provider accepted the message. */
export interface Mailer {
  send(message: MailMessage): Promise<{ messageId: string }>;
}

/** One POST to an alert channel: the rendered body and its headers (signature included). */
export interface ChannelRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface ChannelResponse {
  readonly status: number;
  /** The start of the response body (at most a few hundred characters), for the alert's record. */
  readonly body: string;
}

/**
 * Posts alerts to webhook and chat channels. Resolves with whatever status the receiver answered;
 * throws when no answer came: a refused connection, a deadline, or an address the endpoint policy
 * forbids (a CloverError with `retryable: false`).
 */
export interface AlertChannelSender {
  post(request: ChannelRequest): Promise<ChannelResponse>;
}

/** Resolves a host name to its addresses (throws when it does not resolve). */
export interface HostResolver {
  lookup(host: string): Promise<readonly string[]>;
}

/** A change of an alert record's delivery state; written only if the record is in one of `from`. */
export interface AlertUpdate {
  readonly from: readonly AlertStatus[];
  readonly status: AlertStatus;
  readonly at: number;
  readonly reason?: string;
  readonly attempts?: number;
  readonly recipients?: readonly string[];
  readonly messageId?: string;
  readonly sentAt?: number;
  readonly foldedInto?: string;
  readonly silencedBy?: string;
  /** Replaces the record's channel deliveries. */
  readonly deliveries?: readonly ChannelDelivery[];
}

/** A job's silence window for one alert kind: the first alert in it is mailed, the rest go to its digest. */
export interface SilenceWindow {
  readonly jobId: string;
  readonly kind: AlertKind;
  /** The alert that opened it (and was mailed at once). */
  readonly openedBy: string;
  readonly openedAt: number;
  readonly endsAt: number;
}

/**
 * Alert records (the `alerts` table), the silence windows that rate-limit them and the standing
 * conditions (such as `job_unavailable`) that must alert once per episode, not once per sweep.
 */
export interface AlertStore {
  /** Writes a new record. AlreadyExistsError if the id exists. */
  create(record: AlertRecord): Promise<void>;
  get(alertId: string): Promise<AlertRecord | null>;
  /** Applies `change` if the record is in one of `change.from`; null if it is not. NotFoundError if absent. */
  update(alertId: string, change: AlertUpdate): Promise<AlertRecord | null>;
  /** A job's alerts, newest first. */
  listByJob(jobId: string, query?: { readonly limit?: number }): Promise<AlertRecord[]>;
  /**
   * Opens the job's window for `kind` at `now` unless another alert holds one that has not ended.
   * `opened` is true for the alert holding it (also when it asks again, for a retry).
   */
  openWindow(
    jobId: string,
    kind: AlertKind,
    openedBy: string,
    now: number,
    windowMs: number,
  ): Promise<SilenceWindow & { readonly opened: boolean }>;
  /**
   * Appends `entry` to the digest `template.alertId` (creating it from `template` on the first call)
   * and counts it. `created` is true for the call that created it. Entries past MAX_DIGEST_ENTRIES are
   * counted, not kept.
   */
  fold(template: AlertRecord, entry: DigestEntry): Promise<{ digest: AlertRecord; created: boolean }>;
  /** Ids flagged for a standing condition: job ids (JOB_UNAVAILABLE), alert ids (ALERT_UNQUEUED). */
  flagged(condition: string): Promise<ReadonlySet<string>>;
  /** Flags an id; true only for the caller that flagged it (false when it already was). */
  flag(condition: string, jobId: string): Promise<boolean>;
  /** Clears a flag; true only for the caller that cleared it. */
  unflag(condition: string, jobId: string): Promise<boolean>;
  /**
   * Sets the record's acknowledgement, once. NotFoundError if there is no such alert;
   * AlreadyAcknowledgedError (changing nothing) if it has one.
   */
  acknowledge(alertId: string, acknowledgement: Acknowledgement): Promise<AlertRecord>;
  /** The silences stored, ended ones included until a later write drops them. */
  silences(): Promise<Silence[]>;
  /** Adds a silence and drops those that ended before `now`. */
  addSilence(silence: Silence, now: number): Promise<void>;
  /** Removes a silence; false when there was none with that id. */
  removeSilence(silenceId: string): Promise<boolean>;
}

/** What travels on the alerts queue: only the record's id; the record is the truth. */
export interface AlertMessage {
  readonly alertId: string;
}

/** The alerts queue the notifier consumes. `delaySeconds` (at most 900) holds a message back, for digests. */
export interface AlertQueue {
  send(message: AlertMessage, options?: { readonly delaySeconds?: number }): Promise<void>;
}

/** People to alert (the `contacts` table). */
export interface ContactStore {
  get(contactId: string): Promise<Contact | null>;
  /** AlreadyExistsError if the id exists. */
  create(contact: Contact): Promise<void>;
  /** NotFoundError if the id does not exist. */
  replace(contact: Contact): Promise<void>;
  /** False if there was nothing to delete. */
  delete(contactId: string): Promise<boolean>;
  list(): Promise<Contact[]>;
}

/** A fire EventBridge Scheduler could not deliver to the dispatcher: its input, parsed as JSON where possible. */
export interface DeadLetteredFire {
  readonly receipt: string;
  readonly body: unknown;
}

/** The scheduler's dead-letter queue (`fires-dlq`), drained by the monitor. */
export interface FireDeadLetters {
  receive(max: number): Promise<DeadLetteredFire[]>;
  ack(receipt: string): Promise<void>;
}
