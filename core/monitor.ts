import { ALERT_UNQUEUED } from './alerts';
import { DependentFires } from './dependents';
import { type Dispatcher, FireRequestSchema, RETRY_READ_LIMITS } from './dispatch';
import { AlreadyFiredError, RunNotInStateError, StaleFenceError, VersionConflictError } from './errors';
import type { JobService } from './jobs';
import type { Logger } from './log';
import {
  fireRunId,
  isFinal,
  isLive,
  isoSeconds,
  isPrecise,
  type Job,
  type Run,
  scheduleModeOf,
  type Worker,
} from './model';
import type {
  AlertHook,
  AlertQueue,
  AlertStore,
  Clock,
  FireDeadLetters,
  JobStore,
  LockStore,
  OpenRuns,
  RunLedger,
  WorkerRegistry,
} from './ports';
import { eligibleWorkers, explainEligibility } from './routing';
import { parseSchedule } from './schedule';

export interface MonitorDeps {
  readonly jobs: JobStore;
  readonly runs: RunLedger;
  readonly locks: LockStore;
  readonly workers: WorkerRegistry;
  readonly dispatcher: Dispatcher;
  readonly jobService: JobService;
  /** Raises lost, timeout, misfire and job_unavailable alerts. */
  readonly alerts: AlertHook;
  /** Keeps the job_unavailable flags, so an outage alerts once. */
  readonly alertStore: AlertStore;
  /** EventBridge Scheduler's dead-letter queue; absent where there is none (unit tests, no DLQ configured). */
  readonly deadLetters?: FireDeadLetters;
  /** The alerts queue, to queue again alerts whose first send failed; without it they stay PENDING. */
  readonly alertQueue?: AlertQueue;
  /** Dependent jobs: fires those of runs this sweep finishes, repairs `downstream` lists, fires leftovers. */
  readonly dependents?: DependentFires;
  readonly clock: Clock;
  readonly log: Logger;
  readonly options?: MonitorOptions;
}

export interface MonitorOptions {
  /** A scheduled fire counts as missed once it is this old without a run. @default 60_000 */
  readonly misfireGraceMs?: number;
  /** OUT_OF_SYNC jobs are repaired once they have stayed so this long (a define in flight is not a drift). @default 30_000 */
  readonly syncGraceMs?: number;
  /**
   * Schedule repair, stale-lock release and dependency repair run at most this often, on a full read
   * of the jobs table; the sweeps between refresh their job list with the jobs changed since. @default 60_000
   */
  readonly housekeepingMs?: number;
  /**
   * How far before its previous read a warm sweep asks for changed jobs: covers the index's lag and
   * writers' clocks (a job's `updatedAt` is stamped before its write lands). @default 60_000
   */
  readonly jobChangeLagMs?: number;
  /** Most active runs looked at per status per sweep. @default 1000 */
  readonly maxActiveRuns?: number;
  /**
   * A DISPATCHED run still unclaimed this long after its dispatch has its envelope sent again, once per
   * dispatch (Dispatcher.resend). Well above normal queueing: a message waiting in a busy pool queue,
   * or held by a full agent, is claimed late, not lost — and the resend is then a spare copy that
   * cannot be claimed twice. @default 60_000
   */
  readonly unclaimedResendMs?: number;
  /** A final run still flagged `dependentsPending` this long after its write gets its dependents fired by the sweep. @default 30_000 */
  readonly dependentsGraceMs?: number;
}

export interface SweepReport {
  readonly at: number;
  workersExpired: number;
  runsRecovered: number;
  runsLost: number;
  runsTimedOut: number;
  /** DISPATCHED runs left unclaimed past `unclaimedResendMs` whose envelope this sweep sent again. */
  runsResent: number;
  retriesDispatched: number;
  /** DISPATCHED and RUNNING runs this sweep read: while any, the monitor watches (core/monitor-watch.ts). */
  inFlight: number;
  /** When the earliest waiting retry is due, if any. */
  nextRetryAt?: number;
  catchUpFires: number;
  misfiresSkipped: number;
  deadLettersDrained: number;
  /** Jobs newly flagged unavailable in this sweep (each raised one alert). */
  jobsUnavailable: number;
  /** Every job (not paused) no live worker could run at this sweep, flagged before or now: a gauge. */
  jobsWithoutLiveWorker: number;
  schedulesRepaired: number;
  locksReleased: number;
  alertsRequeued: number;
  /** Final runs whose dependents were left unfired (their writer died) and were fired by this sweep. */
  dependentsRecovered: number;
  /** `downstream` links repaired to match the jobs' `after` lists. */
  dependencyLinksRepaired: number;
  readonly errors: { step: string; message: string }[];
}

/**
 * True when the run was claimed before the worker's current lease was registered: by an earlier
 * process under the same worker id. The claim and the registration both carry the agent's own clock.
 */
function claimedBeforeRegistration(run: Run, worker: Worker): boolean {
  return run.status === 'RUNNING' && run.startedAt !== undefined && run.startedAt < worker.registeredAt;
}

/** The standing condition under which unavailable jobs are flagged in the alert store. */
export const JOB_UNAVAILABLE = 'job_unavailable';
const MAX_MISSED_PER_JOB = 100;

/**
 * The monitor (ARCHITECTURE.md, "Monitor"): one `sweep(now)` is one pass over
 *  1. leases — expired ones are marked GONE; every DISPATCHED/RUNNING run held by a worker that is
 *     no longer live, or RUNNING since before its worker id registered again (a restarted agent), is
 *     re-dispatched as a new attempt (recoverOnWorkerLoss) or marked LOST, and a `lost` alert tells
 *     the owner either way (invariant 4);
 *  2. deadlines — DISPATCHED/RUNNING runs past `deadlineAt` become TIMED_OUT with `cancelRequested`;
 *     unclaimed — a DISPATCHED run (not LOCAL) of a live worker or the pool, unclaimed past
 *     `unclaimedResendMs`, has its envelope sent again, same fence, once per dispatch: its dispatcher
 *     may have died between the run write and the send (Dispatcher.resend);
 *  3. retries whose backoff passed (Dispatcher.retryDue);
 *  4. missed fires — scheduler dead letters, REMOTE schedules whose last due fire has no run, and
 *     LOCAL schedules while no live agent could fire them (agents fire LOCAL jobs themselves; with
 *     none alive nobody would record the misses): FIRE_ONCE_NOW makes one CATCHUP fire at the latest
 *     missed instant, SKIP one SKIPPED(misfire) record per missed instant, both within
 *     `misfire.windowSeconds` and idempotent by run id;
 *  5. availability — a job no live worker could run (capacity aside) raises `job_unavailable` once
 *     per outage (a flag in the alert store, cleared when a capable worker returns);
 *  6. housekeeping, at most every `housekeepingMs` — OUT_OF_SYNC schedules repaired, job locks whose
 *     owner run is final or missing released, jobs' `downstream` lists repaired, and dependents fired
 *     for final runs still flagged `dependentsPending` (their writer died before firing them);
 *  7. alerts recorded but not queued (the queue send failed: ALERT_UNQUEUED) are queued again, so
 *     they are mailed late rather than left PENDING.
 * Every change is a fenced or conditional write, so concurrent sweeps (a looping invocation and the
 * next scheduled one) do each thing once; the loser of a race skips quietly. A step that fails is
 * reported and the others still run.
 */
export class Monitor {
  private readonly graceMs: number;
  private readonly syncGraceMs: number;
  private readonly housekeepingMs: number;
  private readonly maxActive: number;
  private readonly dependentsGraceMs: number;
  private readonly unclaimedResendMs: number;
  private readonly jobChangeLagMs: number;
  private lastHousekeeping = Number.NEGATIVE_INFINITY;
  /** The job list a warm instance keeps: read in full at housekeeping, refreshed by changes between. */
  private known: { readonly jobs: Map<string, Job>; readAt: number } | null = null;
  /**
   * Per job: the version checked and its next fire after the horizon checked. Until the horizon
   * passes that fire, no new fire can be missed, so a warm instance skips the run query.
   */
  private readonly checked = new Map<string, { version: number; nextDue: number }>();

  constructor(private readonly deps: MonitorDeps) {
    this.graceMs = deps.options?.misfireGraceMs ?? 60_000;
    this.syncGraceMs = deps.options?.syncGraceMs ?? 30_000;
    this.housekeepingMs = deps.options?.housekeepingMs ?? 60_000;
    this.maxActive = deps.options?.maxActiveRuns ?? 1000;
    this.dependentsGraceMs = deps.options?.dependentsGraceMs ?? 30_000;
    this.unclaimedResendMs = deps.options?.unclaimedResendMs ?? 60_000;
    this.jobChangeLagMs = deps.options?.jobChangeLagMs ?? 60_000;
  }

  async sweep(now = this.deps.clock.now()): Promise<SweepReport> {
    const report: SweepReport = {
      at: now,
      workersExpired: 0,
      runsRecovered: 0,
      runsLost: 0,
      runsTimedOut: 0,
      runsResent: 0,
      retriesDispatched: 0,
      inFlight: 0,
      catchUpFires: 0,
      misfiresSkipped: 0,
      deadLettersDrained: 0,
      jobsUnavailable: 0,
      jobsWithoutLiveWorker: 0,
      schedulesRepaired: 0,
      locksReleased: 0,
      alertsRequeued: 0,
      dependentsRecovered: 0,
      dependencyLinksRepaired: 0,
      errors: [],
    };
    const step = async (name: string, work: () => Promise<void>) => {
      try {
        await work();
      } catch (error) {
        report.errors.push({ step: name, message: error instanceof Error ? error.message : String(error) });
        this.deps.log.log('error', `monitor step ${name} failed`, { error });
      }
    };
    let jobs: Job[] = [];
    let workers: Worker[] = [];
    const handled = new Set<string>();
    // The open runs, read once (one Query per `byOpen` shard) for the four steps that go through them
    // (a failed read fails each of them). Runs a step acts on are in `handled`, so later steps skip them.
    let open: Promise<OpenRuns> | undefined;
    const openRuns = () => {
      open ??= this.deps.runs.listOpen({
        limits: { DISPATCHED: this.maxActive, RUNNING: this.maxActive, ...RETRY_READ_LIMITS },
        order: 'oldest',
      });
      return open;
    };
    const activeRuns = async () => {
      const { DISPATCHED, RUNNING } = await openRuns();
      return [...DISPATCHED, ...RUNNING];
    };
    await step('leases', async () => {
      const runs = await activeRuns();
      report.inFlight = runs.length;
      workers = await this.leases(runs, now, report, handled);
    });
    await step('deadlines', async () => this.deadlines(await activeRuns(), now, report, handled));
    await step('unclaimed', async () => this.resendUnclaimed(await activeRuns(), now, report, handled));
    await step('retries', async () => {
      // Read before the steps above acted: a run they moved is refused by its fence, or waits a sweep.
      const retries = await this.deps.dispatcher.retryDue(await openRuns());
      report.retriesDispatched = retries.dispatched;
      if (retries.nextDueAt !== undefined) report.nextRetryAt = retries.nextDueAt;
    });
    const housekeeping = now - this.lastHousekeeping >= this.housekeepingMs;
    await step('jobs', async () => {
      jobs = await this.jobList(now, housekeeping);
    });
    await step('misfires', () => this.misfires(jobs, workers, now, report));
    await step('availability', () => this.availability(jobs, workers, now, report));
    if (housekeeping) {
      this.lastHousekeeping = now;
      await step('schedules', () => this.repairSchedules(jobs, now, report));
      await step('locks', () => this.releaseStaleLocks(now, report));
      const dependents = this.deps.dependents;
      if (dependents) {
        await step('dependency links', async () => {
          report.dependencyLinksRepaired = await dependents.reconcile(jobs);
        });
        await step('dependents', async () => {
          report.dependentsRecovered = await dependents.recover(jobs, now, this.dependentsGraceMs);
        });
      }
    }
    await step('alerts', () => this.requeueAlerts(report));
    const changed = Object.entries(report).some(
      ([k, v]) => typeof v === 'number' && !['at', 'inFlight', 'nextRetryAt'].includes(k) && v > 0,
    );
    if (changed || report.errors.length) this.deps.log.log('info', 'monitor sweep', { ...report });
    return report;
  }

  /**
   * Every job: a full read (a Scan) on a cold instance and at housekeeping, which repairs from it, so
   * deletes and any drift leave the list within `housekeepingMs`; between, the kept list plus the jobs
   * updated since the previous read (a Query), which brings creates, edits and pauses to the next
   * sweep. Acting on a job re-reads it first ({@link stored}): a kept copy may be of a deleted job.
   */
  private async jobList(now: number, full: boolean): Promise<Job[]> {
    if (full || !this.known) {
      const listed = await this.deps.jobs.list();
      this.known = { jobs: new Map(listed.map((job) => [job.spec.jobId, job])), readAt: now };
      for (const jobId of this.checked.keys()) if (!this.known.jobs.has(jobId)) this.checked.delete(jobId);
      return listed;
    }
    const known = this.known;
    for (const job of await this.deps.jobs.listUpdatedSince(known.readAt - this.jobChangeLagMs)) {
      const kept = known.jobs.get(job.spec.jobId);
      // The index may lag: never go back to an older copy than one already kept.
      if (!kept || job.updatedAt >= kept.updatedAt) known.jobs.set(job.spec.jobId, job);
    }
    known.readAt = now;
    return [...known.jobs.values()].sort((a, b) => a.spec.jobId.localeCompare(b.spec.jobId));
  }

  /** The job as stored now (null when deleted), also put in the kept list: read before acting on a copy. */
  private async stored(job: Job): Promise<Job | null> {
    const current = await this.deps.jobs.get(job.spec.jobId);
    if (current) this.known?.jobs.set(job.spec.jobId, current);
    else this.known?.jobs.delete(job.spec.jobId);
    return current;
  }

  /**
   * Expires lapsed leases and handles the runs of workers that are gone. Returns the live workers.
   * A run counts as its worker's only while the process that claimed it lives: a worker id whose
   * lease was registered again after the claim (an agent restarted under a fixed `workerId`, e.g. by
   * systemd after a kill -9, within its old lease's TTL) is a new process that never ran it.
   */
  private async leases(
    active: readonly Run[],
    now: number,
    report: SweepReport,
    handled: Set<string>,
  ): Promise<Worker[]> {
    const workers = await this.deps.workers.list();
    const alive = new Map<string, Worker>();
    for (const worker of workers) {
      if (worker.leaseExpiresAt > now) {
        alive.set(worker.workerId, worker);
      } else if (await this.deps.workers.expire(worker.workerId, worker.leaseFence, now)) {
        report.workersExpired += 1;
        this.deps.log.log('warn', 'worker lease expired', { workerId: worker.workerId });
      } else {
        const current = await this.deps.workers.get(worker.workerId);
        if (current && isLive(current, now)) alive.set(worker.workerId, current);
      }
    }
    for (const run of active) {
      if (run.workerId === undefined) continue;
      const holder = alive.get(run.workerId);
      const restarted = holder !== undefined && claimedBeforeRegistration(run, holder);
      if (holder && !restarted) continue;
      handled.add(run.runId);
      await this.workerLost(run, now, report, restarted);
    }
    return workers.filter((w) => alive.has(w.workerId));
  }

  private async workerLost(run: Run, now: number, report: SweepReport, restarted: boolean): Promise<void> {
    const job = await this.deps.jobs.get(run.jobId);
    const note = restarted
      ? `worker ${run.workerId} restarted; the process that ran this attempt is gone`
      : `worker ${run.workerId} lost its lease`;
    let message: string;
    try {
      if (job?.spec.recoverOnWorkerLoss) {
        const next = await this.deps.dispatcher.redispatch(run, { newAttempt: true, note });
        report.runsRecovered += 1;
        message =
          next.status === 'DISPATCHED'
            ? `${note} during attempt ${run.attempt}; re-dispatched as attempt ${next.attempt} to ${next.workerId ?? `pool ${job.spec.target.pool}`}`
            : `${note} during attempt ${run.attempt}; no worker could take it over (${next.reason ?? next.status})`;
      } else {
        const { run: lost } = await this.deps.dispatcher.finish(run, {
          from: [run.status],
          fence: run.fence,
          to: 'LOST',
          at: now,
          note,
          set: { finishedAt: now, reason: 'worker_lost', ...DependentFires.pendingOn(run, 'LOST') },
        });
        await this.fireDependents(lost);
        report.runsLost += 1;
        message = `${note} during attempt ${run.attempt}; the run is LOST (the job does not recover on worker loss)`;
      }
    } catch (error) {
      if (error instanceof RunNotInStateError || error instanceof StaleFenceError) return; // finished or taken over meanwhile
      throw error;
    }
    this.deps.log.log('warn', message, { jobId: run.jobId, runId: run.runId, workerId: run.workerId });
    await this.deps.alerts.raise({ kind: 'lost', jobId: run.jobId, runId: run.runId, message, at: now });
  }

  private async deadlines(
    active: readonly Run[],
    now: number,
    report: SweepReport,
    handled: Set<string>,
  ): Promise<void> {
    for (const run of active) {
      if (handled.has(run.runId) || run.deadlineAt === undefined || run.deadlineAt > now) continue;
      let timedOut: Run;
      try {
        ({ run: timedOut } = await this.deps.dispatcher.finish(run, {
          from: [run.status],
          fence: run.fence,
          to: 'TIMED_OUT',
          at: now,
          note: `deadline ${isoSeconds(run.deadlineAt)} passed`,
          set: {
            finishedAt: now,
            cancelRequested: true,
            reason: 'timeout',
            ...DependentFires.pendingOn(run, 'TIMED_OUT'),
          },
        }));
      } catch (error) {
        if (error instanceof RunNotInStateError || error instanceof StaleFenceError) continue;
        throw error;
      }
      handled.add(run.runId);
      await this.fireDependents(timedOut);
      report.runsTimedOut += 1;
      await this.deps.alerts.raise({
        kind: 'timeout',
        jobId: run.jobId,
        runId: run.runId,
        message: `attempt ${run.attempt} on ${run.workerId ?? 'no worker'} was ${run.status} past its deadline ${isoSeconds(run.deadlineAt)}; timed out and cancelled`,
        at: now,
      });
    }
  }

  /**
   * DISPATCHED runs unclaimed past the bound get their envelope again (see `unclaimedResendMs`). Runs
   * whose worker is gone were handled by the lease step; a run claimed or moved on meanwhile is
   * skipped by the dispatcher (status, fence) or refused at the claim.
   */
  private async resendUnclaimed(
    active: readonly Run[],
    now: number,
    report: SweepReport,
    handled: Set<string>,
  ): Promise<void> {
    const before = now - this.unclaimedResendMs;
    for (const run of active) {
      if (run.status !== 'DISPATCHED' || handled.has(run.runId) || run.resentFence === run.fence) continue;
      if ((run.dispatchedAt ?? run.updatedAt) > before) continue;
      const resent = await this.deps.dispatcher.resend(run).catch((error: unknown) => {
        this.deps.log.log('warn', 'unclaimed run not resent; the next sweep tries again', {
          runId: run.runId,
          error,
        });
        return false;
      });
      if (resent) report.runsResent += 1;
    }
  }

  /** A failure here leaves `dependentsPending` set: a later sweep's `recover` fires them. */
  private async fireDependents(run: Run): Promise<void> {
    await this.deps.dependents?.fire(run).catch((error: unknown) =>
      this.deps.log.log('warn', 'dependents could not be fired; a later sweep will', {
        runId: run.runId,
        error,
      }),
    );
  }

  private async misfires(
    jobs: readonly Job[],
    workers: readonly Worker[],
    now: number,
    report: SweepReport,
  ): Promise<void> {
    const dead = await this.drainDeadLetters(report);
    const byId = new Map(jobs.map((j) => [j.spec.jobId, j]));
    for (const [jobId, entry] of dead) {
      const job = byId.get(jobId);
      if (job?.spec.mode !== 'REMOTE' || job.spec.paused) {
        this.deps.log.log('warn', 'dead-lettered fire of a job that is gone, paused or LOCAL; dropped', {
          jobId,
        });
        await this.ack(entry.receipts);
        dead.delete(jobId);
      }
    }
    // Capacity aside: a busy agent still fires its LOCAL jobs (it records them even when full).
    const live = workers.filter((w) => isLive(w, now)).map((w) => ({ ...w, load: 0 }));
    for (const job of jobs) {
      if (job.spec.paused) continue;
      // LOCAL and precise jobs are fired by their agents (precise ones planned by core/planner.ts, which
      // applies their misfire policy): the monitor steps in only when no agent can.
      if (
        (job.spec.mode === 'LOCAL' || isPrecise(job.spec)) &&
        eligibleWorkers(job.spec, live, now).length > 0
      )
        continue;
      if (!job.spec.schedule && !dead.has(job.spec.jobId)) continue;
      const entry = dead.get(job.spec.jobId);
      const settled = await this.missedFires(job, now, entry?.instants ?? new Set(), report);
      // Not settled: the job changed since the list was read; its dead letters return for the next sweep.
      if (entry && settled) await this.ack(entry.receipts);
    }
  }

  private async drainDeadLetters(
    report: SweepReport,
  ): Promise<Map<string, { instants: Set<number>; receipts: string[] }>> {
    const dead = new Map<string, { instants: Set<number>; receipts: string[] }>();
    const source = this.deps.deadLetters;
    if (!source) return dead;
    for (let page = 0; page < 10; page++) {
      const batch = await source.receive(10);
      if (batch.length === 0) break;
      for (const message of batch) {
        report.deadLettersDrained += 1;
        const parsed = FireRequestSchema.safeParse(message.body);
        if (!parsed.success || !parsed.data.scheduledTime) {
          this.deps.log.log('warn', 'malformed dead-lettered fire; dropped', { body: message.body });
          await source.ack(message.receipt);
          continue;
        }
        const entry = dead.get(parsed.data.jobId) ?? { instants: new Set<number>(), receipts: [] };
        entry.instants.add(Date.parse(parsed.data.scheduledTime));
        entry.receipts.push(message.receipt);
        dead.set(parsed.data.jobId, entry);
      }
    }
    return dead;
  }

  private async ack(receipts: readonly string[]): Promise<void> {
    for (const receipt of receipts) await this.deps.deadLetters?.ack(receipt);
  }

  /**
   * The misfire policy of one job, over the fires due since its latest run (and its dead letters).
   * False when the job was changed since the list was read: the next sweep judges the stored one.
   */
  private async missedFires(
    job: Job,
    now: number,
    dead: ReadonlySet<number>,
    report: SweepReport,
  ): Promise<boolean> {
    const { spec } = job;
    const jobId = spec.jobId;
    const horizon = now - this.graceMs;
    const windowStart = now - spec.misfire.windowSeconds * 1000;
    const schedule = spec.schedule ? parseSchedule(spec.schedule, scheduleModeOf(spec)) : null;
    // A fire counts as missed when it lies after max(latest run, window start, creation) and at or
    // before the horizon, and has no run. Two ways to know there is none without reading the ledger:
    if (dead.size === 0 && schedule) {
      // warm: this version was checked, and its next fire after that horizon is not yet past this one;
      const cached = this.checked.get(jobId);
      if (cached?.version === job.version && horizon < cached.nextDue) return true;
      // cold or not: the schedule has no fire in (max(window start, creation), horizon] at all. Only a
      // rate without a start date is anchored on its latest run, so it needs the ledger for that.
      const earliest = Math.max(windowStart - 1, job.createdAt);
      if (schedule.kind !== 'rate' || schedule.startDate) {
        const due = schedule.previous(new Date(horizon + 1));
        if (!due || due.getTime() <= earliest) {
          this.remember(job, schedule.next(new Date(horizon), 1)[0]);
          return true;
        }
      } else if (earliest >= horizon) return true;
    }
    // Manual and dependent runs are not fires of the schedule.
    const latest = (await this.deps.runs.listByJob(jobId, { limit: 20 })).find(
      (r) => r.trigger !== 'MANUAL' && r.trigger !== 'DEPENDENT',
    );
    const latestAt = latest ? Date.parse(latest.scheduledTime) : Number.NEGATIVE_INFINITY;
    const missed = new Set<number>();
    if (schedule) {
      const after = Math.max(latestAt, windowStart - 1, job.createdAt);
      const anchor = schedule.startDate ?? (latest ? new Date(latestAt) : new Date(job.createdAt));
      for (const t of schedule.next(new Date(after), MAX_MISSED_PER_JOB, anchor)) {
        if (t.getTime() <= horizon) missed.add(t.getTime());
      }
      this.remember(job, schedule.next(new Date(horizon), 1, anchor)[0]);
    }
    const tooLate: number[] = [];
    for (const t of dead) {
      if (t < windowStart) tooLate.push(t);
      else if (t > latestAt || spec.misfire.policy === 'SKIP') missed.add(t);
    }
    if (missed.size === 0 && tooLate.length === 0) return true;
    const stored = await this.stored(job);
    if (!stored) return true; // deleted: nothing to catch up, and its dead letters are dropped
    if (stored.version !== job.version) return false;
    for (const t of tooLate) {
      if (await this.skipFire(job, t, now, 'dead-lettered fire outside the catch-up window'))
        report.misfiresSkipped += 1;
    }
    const instants = [...missed].sort((a, b) => a - b);
    if (instants.length === 0) return true;
    const range = `${isoSeconds(instants[0]!)}${instants.length > 1 ? ` … ${isoSeconds(instants.at(-1)!)}` : ''}`;
    let message: string;
    let runId: string | undefined;
    if (spec.misfire.policy === 'FIRE_ONCE_NOW') {
      const scheduledTime = isoSeconds(instants.at(-1)!);
      const outcome = await this.deps.dispatcher.fire({ jobId, scheduledTime, trigger: 'CATCHUP' });
      if (outcome.kind === 'duplicate') return true;
      report.catchUpFires += 1;
      runId = fireRunId(jobId, scheduledTime);
      message = `${instants.length} fire${instants.length > 1 ? 's' : ''} missed (${range}); fired once now as ${runId} (${outcome.kind})`;
    } else {
      let skipped = 0;
      for (const t of instants)
        if (await this.skipFire(job, t, now, 'missed fire (misfire policy SKIP)')) skipped += 1;
      if (skipped === 0) return true;
      report.misfiresSkipped += skipped;
      message = `${skipped} fire${skipped > 1 ? 's' : ''} missed (${range}); recorded as SKIPPED(misfire)`;
    }
    this.deps.log.log('warn', message, { jobId });
    await this.deps.alerts.raise({ kind: 'misfire', jobId, ...(runId ? { runId } : {}), message, at: now });
    return true;
  }

  /** Up to `next` (the schedule's first fire after the horizon just checked) this version misses nothing. */
  private remember(job: Job, next: Date | undefined): void {
    this.checked.set(job.spec.jobId, {
      version: job.version,
      nextDue: next?.getTime() ?? Number.POSITIVE_INFINITY,
    });
  }

  /** One SKIPPED(misfire) record for a missed instant; false when the fire already has a run. */
  private async skipFire(job: Job, instant: number, now: number, note: string): Promise<boolean> {
    const scheduledTime = isoSeconds(instant);
    const run: Run = {
      runId: fireRunId(job.spec.jobId, scheduledTime),
      jobId: job.spec.jobId,
      scheduledTime,
      trigger: job.spec.mode === 'LOCAL' ? 'LOCAL' : 'SCHEDULE',
      handler: job.spec.handler,
      payload: job.spec.payload,
      status: 'SKIPPED',
      reason: 'misfire',
      attempt: 1,
      fence: 1,
      jobVersion: job.version,
      concurrency: job.spec.concurrency.policy,
      createdAt: now,
      updatedAt: now,
      finishedAt: now,
      history: [{ at: now, status: 'SKIPPED', attempt: 1, note }],
    };
    try {
      await this.deps.runs.create(run);
      return true;
    } catch (error) {
      if (error instanceof AlreadyFiredError) return false;
      throw error;
    }
  }

  /** Queues again the alerts whose queue send failed when they were raised (RecordingAlertHook). */
  private async requeueAlerts(report: SweepReport): Promise<void> {
    const queue = this.deps.alertQueue;
    if (!queue) return;
    for (const alertId of await this.deps.alertStore.flagged(ALERT_UNQUEUED)) {
      await queue.send({ alertId });
      // Unflag after the send: a crash between them sends twice, which the notifier dedupes by record.
      if (await this.deps.alertStore.unflag(ALERT_UNQUEUED, alertId)) report.alertsRequeued += 1;
      this.deps.log.log('info', 'alert queued again after its first send failed', { alertId });
    }
  }

  private async availability(
    jobs: readonly Job[],
    live: readonly Worker[],
    now: number,
    report: SweepReport,
  ): Promise<void> {
    const flagged = await this.deps.alertStore.flagged(JOB_UNAVAILABLE);
    // Capacity aside: a busy worker can still run the job later.
    const capable = live.filter((w) => isLive(w, now)).map((w) => ({ ...w, load: 0 }));
    const watched = new Set<string>();
    for (const job of jobs) {
      if (job.spec.paused) continue;
      const jobId = job.spec.jobId;
      watched.add(jobId);
      const available = eligibleWorkers(job.spec, capable, now).length > 0;
      if (available) {
        if (flagged.has(jobId) && (await this.deps.alertStore.unflag(JOB_UNAVAILABLE, jobId))) {
          this.deps.log.log('info', 'job available again', { jobId });
        }
        continue;
      }
      report.jobsWithoutLiveWorker += 1;
      if (flagged.has(jobId)) continue;
      // A kept copy may be of a job since deleted, paused or changed: the next sweep judges the stored one.
      if ((await this.stored(job))?.version !== job.version) continue;
      if (!(await this.deps.alertStore.flag(JOB_UNAVAILABLE, jobId))) continue;
      report.jobsUnavailable += 1;
      const { excluded } = explainEligibility(job.spec, capable, now);
      const why = excluded.length
        ? excluded.map((e) => `${e.workerId} (${e.reason})`).join(', ')
        : `no live worker in pool ${job.spec.target.pool}`;
      await this.deps.alerts.raise({
        kind: 'job_unavailable',
        jobId,
        message: `no live worker can run handler ${job.spec.handler}: ${why}`,
        at: now,
      });
    }
    for (const jobId of flagged) {
      if (!watched.has(jobId)) await this.deps.alertStore.unflag(JOB_UNAVAILABLE, jobId);
    }
  }

  private async repairSchedules(jobs: readonly Job[], now: number, report: SweepReport): Promise<void> {
    for (const job of jobs) {
      if (job.syncState !== 'OUT_OF_SYNC' || now - job.updatedAt < this.syncGraceMs) continue;
      try {
        await this.deps.jobService.syncSchedule(job);
        report.schedulesRepaired += 1;
        this.deps.log.log('info', 'schedule repaired', { jobId: job.spec.jobId, version: job.version });
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error; // changed meanwhile: its define syncs it
      }
    }
  }

  /** Held locks whose owner run is final or missing (its writer died between the two writes). */
  private async releaseStaleLocks(now: number, report: SweepReport): Promise<void> {
    for (const lock of await this.deps.locks.listHeld(now)) {
      if (lock.owner === undefined) continue;
      const owner = await this.deps.runs.get(lock.owner);
      if (owner && !isFinal(owner)) continue;
      if (await this.deps.locks.release(lock.lockKey, lock.owner)) {
        report.locksReleased += 1;
        this.deps.log.log('warn', 'stale lock released', {
          lockKey: lock.lockKey,
          owner: lock.owner,
          ownerStatus: owner?.status ?? 'missing',
        });
      }
    }
  }
}
