import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { envelopeFor } from './envelope';
import {
  AlreadyFiredError,
  type CloverError,
  LockHeldError,
  NotFoundError,
  RunNotInStateError,
  StaleFenceError,
  ValidationError,
  VersionConflictError,
} from './errors';
import type { Logger } from './log';
import {
  ACTIVE_STATUSES,
  fireRunId,
  healthAfter,
  IdSchema,
  IsoInstantSchema,
  isFinal,
  isoSeconds,
  isPlaceholder,
  isPrecise,
  type Job,
  jobLockKey,
  newTraceId,
  PayloadSchema,
  PLANNED_REASON,
  parseOrThrow,
  type Run,
  type RunStatus,
  type SkipReason,
  scheduleModeOf,
  type TraceId,
  Triggers,
  type UpstreamRef,
  type Worker,
} from './model';
import {
  type AlertHook,
  type Clock,
  type Delivery,
  type JobExpectation,
  type JobStore,
  jobStamp,
  type LockStore,
  type RunFinished,
  type RunLedger,
  type RunTransition,
  sameStamp,
} from './ports';
import { nextRetryDelayMs } from './retry';
import { eligibleWorkers, explainEligibility, orderCandidates } from './routing';
import { parseSchedule, type Schedule } from './schedule';
import type { WorkerDirectory } from './worker-directory';

/** What the dispatcher accepts: EventBridge Scheduler's input, or a manual / catch-up trigger. */
export const FireRequestSchema = z.strictObject({
  jobId: IdSchema,
  /** EventBridge Scheduler fills this from `<aws.scheduler.scheduled-time>`; manual triggers leave it out. */
  scheduledTime: IsoInstantSchema.optional(),
  /** DEPENDENT runs are fired only from an upstream run's record (`fireDependent`), never by a request. */
  trigger: z.enum(Triggers).exclude(['DEPENDENT']).default('SCHEDULE'),
  /** A manual trigger's payload for this run only (the job's payload otherwise). */
  payload: PayloadSchema.optional(),
});
export type FireRequest = z.input<typeof FireRequestSchema>;

/** What `Dispatcher.fireLocal` accepts: a fire an agent's own timer reached, and the agent asking to run it. */
const LocalFireRequestSchema = z.strictObject({
  jobId: IdSchema,
  scheduledTime: IsoInstantSchema,
  workerId: IdSchema,
});

export type FireOutcome =
  | { readonly kind: 'dispatched'; readonly runs: readonly Run[] }
  /** `existing`: the fire's run as the ledger holds it, when the ledger returned it. */
  | { readonly kind: 'duplicate'; readonly runId: string; readonly existing?: Run }
  | { readonly kind: 'skipped'; readonly run: Run; readonly reason: SkipReason }
  | { readonly kind: 'queued'; readonly run: Run }
  /** A precise job's fire planned ahead (Dispatcher.plan): its placeholder, held by `run.workerId`. */
  | { readonly kind: 'planned'; readonly run: Run }
  | { readonly kind: 'no_worker'; readonly run: Run }
  | { readonly kind: 'rejected'; readonly run: Run; readonly error: CloverError };

export interface DispatcherDeps {
  readonly jobs: JobStore;
  readonly runs: RunLedger;
  readonly locks: LockStore;
  readonly workers: WorkerDirectory;
  readonly delivery: Delivery;
  /**
   * Direct delivery (ZmqDelivery) for jobs whose `delivery` is `ZMQ`; without it they go over
   * `delivery` like every other job. When no candidate acknowledges it, the run still goes over
   * `delivery` to the first candidate's queue before giving up (ARCHITECTURE.md, Deliver).
   */
  readonly directDelivery?: Delivery;
  readonly clock: Clock;
  readonly log: Logger;
  readonly alerts: AlertHook;
  readonly random?: () => number;
  /**
   * How many jobs a warm dispatcher keeps after reading them (default 0: none). A fire of a kept job
   * skips the job read: its run is written on condition that the stored job is still the kept one
   * (JobExpectation, in the same write), and a job changed or deleted meanwhile is read again and
   * decided afresh. Only the plain path uses it (dispatched to a worker, its run written with its
   * lock); a job that allows overlap, a paused job, BROADCAST, no worker — every other decision —
   * reads the job's stamp first (JobStore.stamp) and uses the kept job only when the stamp still
   * names it, else reads the job.
   */
  readonly jobCacheSize?: number;
  /**
   * A repeated fire whose run is still DISPATCHED and unclaimed this long after its dispatch sends the
   * run's envelope again (Dispatcher.resend). Younger, it is a duplicate invocation racing the first
   * (EventBridge Scheduler delivers at least once), whose dispatcher is still sending: it only answers
   * `duplicate`. An invocation retried after a dispatcher died comes much later (Lambda retries a
   * failed asynchronous invocation after about a minute). @default 10_000
   */
  readonly resendAfterMs?: number;
  /**
   * The trace the current invocation belongs to (model/trace.ts): in Lambda, its X-Ray trace. A run
   * made when this gives none (or without it: the local runtime, agents) gets a new trace id.
   */
  readonly traceId?: () => TraceId | undefined;
}

/** A run's lock outlives its deadline by this much, so a slow completion still releases its own lock. */
const LOCK_GRACE_MS = 60_000;

/**
 * The REMOTE fire path (ARCHITECTURE.md, "Fire" and "Deliver"): load the job, choose workers from
 * live leases, write the run (with the job's lock, in one transaction) already DISPATCHED to the
 * chosen worker, then deliver. Duplicate invocations of a fire collide on the run id (invariant 1);
 * a held lock turns a fire into SKIPPED(overlap), a queued run or a replacement (invariant 2); every
 * later change is a fenced transition (invariant 3).
 */
export class Dispatcher {
  /** Round-robin cursors per job: a warm instance's memory; a cold start begins a new ring walk. */
  private readonly lastWorker = new Map<string, string>();
  private readonly random: () => number;
  /** Jobs as last read, by id, oldest first (DispatcherDeps.jobCacheSize). */
  private readonly jobCache = new Map<string, Job>();
  /** Precise jobs' compiled schedules by `jobId@version`, for the check at each planned fire. */
  private readonly schedules = new Map<string, Schedule>();

  constructor(private readonly deps: DispatcherDeps) {
    this.random = deps.random ?? Math.random;
  }

  /**
   * Reads the job, keeping it for later fires when the cache is on. A kept job is used only when the
   * stored job's stamp (a consistent read of its version, updatedAt and dependents) still names it:
   * as current as reading the job itself, for the price of a smaller read.
   */
  private async readJob(jobId: string): Promise<Job | null> {
    const kept = this.jobCache.get(jobId);
    if (kept) {
      const stamp = await this.deps.jobs.stamp(jobId);
      if (stamp && sameStamp(stamp, jobStamp(kept))) return kept;
    }
    const job = await this.deps.jobs.get(jobId);
    this.jobCache.delete(jobId);
    const size = this.deps.jobCacheSize ?? 0;
    if (job && size > 0) {
      this.jobCache.set(jobId, job);
      for (const oldest of this.jobCache.keys()) {
        if (this.jobCache.size <= size) break;
        this.jobCache.delete(oldest);
      }
    }
    return job;
  }

  /**
   * The fast path from a kept job: `attempt` writes with the expectation, or returns null for a
   * decision that needs the job read first. Null too when the job changed or was deleted since it
   * was kept (nothing was written); then the caller reads it.
   */
  private async fromCache(
    jobId: string,
    attempt: (job: Job, expect: JobExpectation) => Promise<FireOutcome | null>,
  ): Promise<FireOutcome | null> {
    const job = this.jobCache.get(jobId);
    // Only where the run is written in a transaction anyway (with its lock): for a job that allows
    // overlap, the check would turn one write into a transaction, which costs twice a job read.
    if (!job || job.spec.concurrency.policy === 'ALLOW') return null;
    try {
      return await attempt(job, jobStamp(job));
    } catch (error) {
      if (!(error instanceof VersionConflictError && error.details.kind === 'job')) throw error;
      this.jobCache.delete(jobId);
      return null;
    }
  }

  async fire(input: unknown): Promise<FireOutcome> {
    const outcome = await this.fireOnce(input);
    await this.resendDuplicate(outcome);
    await this.refreshWorkers();
    return outcome;
  }

  /**
   * A repeated fire (EventBridge Scheduler retries an invocation that failed — a dispatcher that died
   * between the run write and the send fails its invocation) whose run is still DISPATCHED and
   * unclaimed, `resendAfterMs` after its dispatch, sends that run's envelope again (`resend`), so the
   * fire is not left without a message until its deadline. BROADCAST runs are left to the monitor's
   * resend step.
   */
  private async resendDuplicate(outcome: FireOutcome): Promise<void> {
    const run = outcome.kind === 'duplicate' ? outcome.existing : undefined;
    if (run?.status !== 'DISPATCHED' || run.broadcastOf) return;
    const dispatchedAt = run.dispatchedAt ?? run.updatedAt;
    if (this.deps.clock.now() - dispatchedAt < (this.deps.resendAfterMs ?? 10_000)) return;
    await this.resend(run, this.jobCache.get(run.jobId));
  }

  /**
   * Sends the envelope of a DISPATCHED, unclaimed run again — the same fence, to the same target (its
   * worker, over ZeroMQ when the job and this dispatcher have it, else the worker's queue; the pool
   * queue for a run with no worker) — and records it on the run (RunLedger.markResent). For a run whose
   * first send may never have happened: its dispatcher died between writing it and sending, or the
   * message was lost. Both envelopes may reach workers; the claim is one conditional write on
   * DISPATCHED + fence + the envelope's fields, which turns the run RUNNING, so at most one of them is
   * ever claimed (the other's claim finds RUNNING or a later status: RunNotInStateError, message
   * deleted), and a run since moved on (another candidate, a retry, a recovery) has a higher fence that
   * neither can claim. One resend per fence: the send comes first and its record second, so a resender
   * that dies between them leaves the next one to send again (a spare copy, never a lost run), and
   * resenders racing each other (overlapping sweeps) may each send one. False (nothing sent) when `run`
   * says this dispatch was resent already, the run is no longer DISPATCHED, is a LOCAL fire (its agent runs it without a message),
   * is past its deadline (the monitor times it out), its job is gone, or its worker is not live (the
   * monitor's lease step re-dispatches it or marks it LOST). A failed send throws, recording nothing.
   */
  async resend(run: Run, job?: Job): Promise<boolean> {
    const now = this.deps.clock.now();
    if (run.status !== 'DISPATCHED' || run.trigger === 'LOCAL' || run.resentFence === run.fence) return false;
    if (run.deadlineAt !== undefined && run.deadlineAt <= now) return false;
    const log = this.deps.log.child({ jobId: run.jobId, runId: run.runId });
    const current = job ?? (await this.deps.jobs.get(run.jobId));
    if (!current) return false;
    const envelope = envelopeFor(run, this.envelopeDeadline(current, run, now), now);
    let sentTo: string;
    if (run.workerId === undefined) {
      await this.deps.delivery.deliver({ kind: 'pool', pool: current.spec.target.pool }, envelope);
      sentTo = `pool ${current.spec.target.pool}`;
    } else {
      const workerId = run.workerId;
      const worker = (await this.deps.workers.live(current.spec.target.pool, now)).find(
        (w) => w.workerId === workerId,
      );
      if (!worker) return false;
      const direct = current.spec.delivery === 'ZMQ' ? this.deps.directDelivery : undefined;
      const sent = direct
        ? await direct.deliver({ kind: 'worker', worker }, envelope).then(
            () => true,
            (error: unknown) => {
              log.log('warn', 'resend over ZeroMQ failed; sending over SQS', { error });
              return false;
            },
          )
        : false;
      if (!sent) await this.deps.delivery.deliver({ kind: 'worker', worker }, envelope);
      sentTo = `${workerId}${direct && !sent ? ' over SQS' : ''}`;
    }
    const note = `unclaimed; envelope sent again to ${sentTo}`;
    const recorded = await this.deps.runs.markResent(run.runId, run.fence, now, note);
    log.log('warn', 'unclaimed run: envelope sent again', {
      to: sentTo,
      fence: run.fence,
      attempt: run.attempt,
      recorded,
    });
    return true;
  }

  /** Refreshes worker lists a fire found close to expiry, once that fire is delivered (WorkerDirectory). */
  private async refreshWorkers(): Promise<void> {
    try {
      await this.deps.workers.refreshAhead(this.deps.clock.now());
    } catch (error) {
      this.deps.log.log('warn', 'worker list not refreshed ahead; the next fire reads it', { error });
    }
  }

  private async fireOnce(input: unknown): Promise<FireOutcome> {
    const request = parseOrThrow(FireRequestSchema, input, 'event');
    const now = this.deps.clock.now();
    const scheduledTime = request.scheduledTime ?? isoSeconds(now);
    const runId =
      request.trigger === 'MANUAL'
        ? `${request.jobId}@manual-${isoSeconds(now)}-${randomUUID().slice(0, 8)}`
        : fireRunId(request.jobId, scheduledTime);
    const traceId = this.traceId(now);
    const log = this.deps.log.child({ jobId: request.jobId, runId, traceId });
    const baseOf = (job: Job): Run => ({
      ...this.newRun(job, runId, request.jobId, scheduledTime, request.trigger, now, 'PENDING', traceId),
      ...(request.payload === undefined ? {} : { payload: request.payload }),
    });

    const fast = await this.fromCache(request.jobId, async (job, expect) => {
      if ((job.spec.paused && request.trigger !== 'MANUAL') || job.spec.routing === 'BROADCAST') return null;
      const live = await this.deps.workers.live(job.spec.target.pool, now);
      return this.admit(job, baseOf(job), live, now, log, expect);
    });
    if (fast) return fast;
    const job = await this.readJob(request.jobId);
    if (!job) {
      const error = new NotFoundError('job', request.jobId);
      const run = this.newRun(
        null,
        runId,
        request.jobId,
        scheduledTime,
        request.trigger,
        now,
        'SKIPPED',
        traceId,
      );
      return this.record({ ...run, reason: 'job_not_found', error: error.toJSON() }, log, (written) => ({
        kind: 'rejected',
        run: written,
        error,
      }));
    }
    const base = baseOf(job);
    if (job.spec.paused && request.trigger !== 'MANUAL') return this.skipPaused(base, log);
    return this.start(job, base, now, log);
  }

  /**
   * Fires `job` for an upstream outcome (core/dependents.ts): a DEPENDENT run with the id the caller
   * derived from the upstream run or chain, so repeated calls collide on it (`duplicate`), carrying
   * its chain and upstream runs. Otherwise exactly a fire: paused, concurrency, routing, retry.
   */
  async fireDependent(
    job: Job,
    dependent: {
      readonly runId: string;
      readonly chainId: string;
      readonly upstream: readonly UpstreamRef[];
      /** The run-away guard stopped this fire (why): it is recorded SKIPPED(runaway) and alerted. */
      readonly runaway?: string;
    },
  ): Promise<FireOutcome> {
    const now = this.deps.clock.now();
    const log = this.deps.log.child({ jobId: job.spec.jobId, runId: dependent.runId });
    const base: Run = {
      ...this.newRun(job, dependent.runId, job.spec.jobId, isoSeconds(now), 'DEPENDENT', now, 'PENDING'),
      chainId: dependent.chainId,
      upstream: [...dependent.upstream],
    };
    if (dependent.runaway !== undefined) return this.stopRunaway(base, dependent.runaway, now, log);
    const outcome = job.spec.paused
      ? await this.skipPaused(base, log)
      : await this.start(job, base, now, log);
    await this.resendDuplicate(outcome);
    return outcome;
  }

  private async stopRunaway(base: Run, why: string, now: number, log: Logger): Promise<FireOutcome> {
    const outcome = await this.skip(base, 'runaway', now, log, why);
    if (outcome.kind !== 'skipped') return outcome;
    log.log('warn', 'run-away chain stopped', { chainId: base.chainId, reason: why });
    await this.deps.alerts.raise({
      kind: 'runaway',
      jobId: base.jobId,
      runId: base.runId,
      message: why,
      at: now,
    });
    return outcome;
  }

  private skipPaused(base: Run, log: Logger): Promise<FireOutcome> {
    return this.record({ ...base, status: 'SKIPPED', reason: 'paused' }, log, (run) => ({
      kind: 'skipped',
      run,
      reason: 'paused',
    }));
  }

  /** Chooses workers for a new run and writes and delivers it (BROADCAST: one run per worker). */
  private async start(job: Job, base: Run, now: number, log: Logger): Promise<FireOutcome> {
    const live = await this.deps.workers.live(job.spec.target.pool, now);
    if (job.spec.routing === 'BROADCAST') return this.fireBroadcast(job, base, live, now, log);
    return (
      (await this.admit(job, base, live, now, log)) ?? this.admitWithoutWorker(job, base, live, now, log)
    );
  }

  /**
   * The LOCAL fire path (ARCHITECTURE.md, "LOCAL mode"): an agent whose own timer reached a fire of a
   * LOCAL job asks to run it itself. The run is built already DISPATCHED to `workerId` (trigger
   * LOCAL) and written through the same conditional write as a REMOTE fire — run id from the fire,
   * the job's lock, its concurrency policy, paused — so of any number of agents firing the same
   * instant exactly one gets `dispatched` (and then claims and runs it); the others get `duplicate`
   * (or the policy's `skipped` / `queued`). Nothing is delivered: the winner is the caller.
   *
   * Under BROADCAST routing every agent gets its own run of the fire (`<runId>#<workerId>`, its own
   * lock). Other routing strategies do not apply: the first agent to write wins.
   *
   * Throws ValidationError (writing nothing) when the job is no longer LOCAL: an agent with a stale
   * job list must not take the run id of a fire EventBridge Scheduler now owns.
   *
   * `ahead`: the agent decides the fire shortly before its instant (local-fires.ts, `leadMs`). Then a
   * job lock held by a run still active is not decided yet: LockHeldError is thrown, nothing is
   * written, and the agent asks again at the instant, when the policy (skip, queue, replace) applies
   * as usual — so deciding ahead never turns a run that ends just before the instant into an overlap.
   *
   * @example
   * const outcome = await dispatcher.fireLocal('ticker', '2026-01-30T10:00:02Z', 'agent-1');
   * if (outcome.kind === 'dispatched') await agent.execute(outcome.runs[0]);
   */
  async fireLocal(
    jobId: string,
    scheduledTime: string,
    workerId: string,
    options: {
      readonly ahead?: boolean;
      /**
       * A precise job's planned fire, decided by the worker holding it (core/planner.ts): the fence of
       * its placeholder run, which the written run replaces (`replacesPlan`). The job must then be
       * precise REMOTE and still have this instant; if it no longer does, the fire is SKIPPED(unscheduled).
       */
      readonly plan?: number;
    } = {},
  ): Promise<FireOutcome> {
    const request = parseOrThrow(LocalFireRequestSchema, { jobId, scheduledTime, workerId }, 'fire');
    const now = this.deps.clock.now();
    const primaryId = fireRunId(request.jobId, request.scheduledTime);
    const log = this.deps.log.child({ jobId: request.jobId, runId: primaryId, workerId: request.workerId });
    const { plan } = options;
    const firedHere = (job: Job) =>
      plan === undefined
        ? job.spec.mode === 'LOCAL'
        : isPrecise(job.spec) && this.hasInstant(job, request.scheduledTime);
    const fast = await this.fromCache(request.jobId, async (job, expect) =>
      firedHere(job) && !job.spec.paused && job.spec.routing !== 'BROADCAST'
        ? this.writeLocal(job, request, primaryId, now, log, options.ahead === true, expect, plan)
        : null,
    );
    if (fast) return fast;
    const job = await this.readJob(request.jobId);
    const trigger = plan === undefined ? 'LOCAL' : 'SCHEDULE';
    if (!job) {
      const error = new NotFoundError('job', request.jobId);
      const run = this.newRun(null, primaryId, request.jobId, request.scheduledTime, trigger, now, 'SKIPPED');
      return this.record(
        withPlan({ ...run, reason: 'job_not_found', error: error.toJSON() }, plan),
        log,
        (written) => ({ kind: 'rejected', run: written, error }),
      );
    }
    if (plan !== undefined && !firedHere(job)) {
      const base = this.newRun(job, primaryId, request.jobId, request.scheduledTime, trigger, now, 'PENDING');
      const why = isPrecise(job.spec)
        ? 'the job no longer has this instant'
        : `the job is no longer precise (mode ${job.spec.mode}, precision ${job.spec.precision})`;
      return this.skip(withPlan(base, plan), 'unscheduled', now, log, `planned fire not started: ${why}`);
    }
    if (plan === undefined && job.spec.mode !== 'LOCAL') {
      throw ValidationError.field(
        'mode',
        `job ${request.jobId} is ${job.spec.mode}; agents fire only LOCAL jobs`,
      );
    }
    if (job.spec.paused) {
      const runId = job.spec.routing === 'BROADCAST' ? `${primaryId}#${request.workerId}` : primaryId;
      const base = this.newRun(job, runId, request.jobId, request.scheduledTime, trigger, now, 'PENDING');
      return this.skipPaused(withPlan(base, plan), log);
    }
    return this.writeLocal(job, request, primaryId, now, log, options.ahead === true, undefined, plan);
  }

  /** Whether `scheduledTime` is a fire of the job's current schedule (schedules kept per job version). */
  private hasInstant(job: Job, scheduledTime: string): boolean {
    if (!job.spec.schedule) return false;
    const key = `${job.spec.jobId}@${job.version}`;
    let schedule = this.schedules.get(key);
    if (!schedule) {
      schedule = parseSchedule(job.spec.schedule, scheduleModeOf(job.spec));
      this.schedules.set(key, schedule);
      if (this.schedules.size > 1000) this.schedules.delete(this.schedules.keys().next().value as string);
    }
    const at = Date.parse(scheduledTime);
    return schedule.next(new Date(at - 1), 1)[0]?.getTime() === at;
  }

  /** fireLocal's run, DISPATCHED to the agent that asked, through the job's lock and policy. */
  private async writeLocal(
    job: Job,
    request: { readonly jobId: string; readonly scheduledTime: string; readonly workerId: string },
    primaryId: string,
    now: number,
    log: Logger,
    ahead: boolean,
    expect?: JobExpectation,
    plan?: number,
  ): Promise<FireOutcome> {
    const broadcast = job.spec.routing === 'BROADCAST';
    const runId = broadcast ? `${primaryId}#${request.workerId}` : primaryId;
    const trigger = plan === undefined ? 'LOCAL' : 'SCHEDULE';
    const base = withPlan(
      this.newRun(job, runId, request.jobId, request.scheduledTime, trigger, now, 'PENDING'),
      plan,
    );
    const run: Run = {
      ...base,
      status: 'DISPATCHED',
      workerId: request.workerId,
      dispatchedAt: now,
      ...(broadcast ? { broadcastOf: primaryId } : {}),
      history: [
        ...base.history,
        {
          at: now,
          status: 'DISPATCHED',
          attempt: 1,
          workerId: request.workerId,
          note: plan === undefined ? 'local fire' : 'planned fire decided at its instant',
        },
      ],
    };
    const lockKey = broadcast
      ? `${jobLockKey(job.spec.jobId)}#${request.workerId}`
      : jobLockKey(job.spec.jobId);
    const written = await this.write(job, run, now, log, lockKey, ahead, expect);
    if (written.kind !== 'written') return written.outcome;
    return { kind: 'dispatched', runs: [written.run] };
  }

  /**
   * Plans one fire of a precise job ahead of its instant (core/planner.ts): writes its placeholder run —
   * PENDING, reason `planned`, held by the chosen worker — by the one-run-per-fire conditional write,
   * and delivers a plan envelope (`startAt`) to that worker, who decides the fire at the instant
   * (fireLocal with `plan`). A repeated plan of the same fire (duplicate or overlapping planner
   * invocations) finds the placeholder and changes nothing while its worker is live; when that worker
   * is gone it is moved to another (a new fence, so the old plan can no longer be decided) and sent
   * again (so is one found with `again`). No live precise worker: the fire is recorded NO_WORKER now, with an alert (and a retry by
   * the job's policy, which starts it late).
   */
  async plan(
    job: Job,
    scheduledTime: string,
    options: {
      /** Move and send a found placeholder even when its worker is live (a missed fire planned again). */
      readonly again?: boolean;
    } = {},
  ): Promise<FireOutcome> {
    const now = this.deps.clock.now();
    const runId = fireRunId(job.spec.jobId, scheduledTime);
    const log = this.deps.log.child({ jobId: job.spec.jobId, runId });
    // A worker busy now may be free at the instant (its slots are counted when the plan is decided).
    const live = (await this.deps.workers.live(job.spec.target.pool, now)).map((w) => ({ ...w, load: 0 }));
    const candidates = this.candidates(job, live, now);
    const base = this.newRun(job, runId, job.spec.jobId, scheduledTime, 'SCHEDULE', now, 'PENDING');
    const first = candidates[0];
    if (!first) return this.admitWithoutWorker(job, base, live, now, log);
    const placeholder: Run = {
      ...base,
      reason: PLANNED_REASON,
      workerId: first.workerId,
      plannedAt: now,
      history: [{ at: now, status: 'PENDING', attempt: 1, workerId: first.workerId, note: 'planned' }],
    };
    const written = await this.createPlain(placeholder, log);
    let run = placeholder;
    if (written.kind === 'settled') {
      const existing = written.outcome.kind === 'duplicate' ? written.outcome.existing : undefined;
      const holder = existing?.workerId;
      const held = candidates.some((w) => w.workerId === holder);
      if (!existing || !isPlaceholder(existing) || (held && !options.again)) return written.outcome;
      const why = held ? 'missed: planned again' : `worker ${holder} gone`;
      run = await this.movePlan(existing, first, now, `${why}; planned for ${first.workerId}`);
    }
    return this.sendPlan(job, run, candidates, log);
  }

  /** Sends a plan envelope to each candidate in turn until one accepts; moving on raises the fence. */
  private async sendPlan(
    job: Job,
    planned: Run,
    candidates: readonly Worker[],
    log: Logger,
  ): Promise<FireOutcome> {
    const startAt = Date.parse(planned.scheduledTime);
    const direct = job.spec.delivery === 'ZMQ' ? this.deps.directDelivery : undefined;
    let run = planned;
    for (const [index, worker] of candidates.entries()) {
      const now = this.deps.clock.now();
      if (index > 0) run = await this.movePlan(run, worker, now, `plan moved to ${worker.workerId}`);
      const envelope = envelopeFor(run, startAt + job.spec.timeoutSeconds * 1000, now, startAt);
      try {
        await (direct ?? this.deps.delivery).deliver({ kind: 'worker', worker }, envelope);
      } catch (error) {
        if (!direct) {
          log.log('warn', 'plan delivery failed; trying the next candidate', {
            workerId: worker.workerId,
            error,
          });
          continue;
        }
        // ZeroMQ refused or timed out: the same worker's SQS queue, as for a plain ZMQ fire.
        log.log('warn', 'plan over ZeroMQ failed; sending over SQS', { workerId: worker.workerId, error });
        try {
          await this.deps.delivery.deliver({ kind: 'worker', worker }, envelope);
        } catch (sqsError) {
          log.log('warn', 'plan delivery failed; trying the next candidate', {
            workerId: worker.workerId,
            error: sqsError,
          });
          continue;
        }
      }
      this.lastWorker.set(job.spec.jobId, worker.workerId);
      this.deps.workers.noteDispatched(job.spec.target.pool, worker.workerId);
      log.log('info', 'fire planned', {
        workerId: worker.workerId,
        fence: run.fence,
        startAt: run.scheduledTime,
      });
      return { kind: 'planned', run };
    }
    // No candidate took it: the placeholder stays with its last worker; the next planner pass moves it.
    return { kind: 'no_worker', run };
  }

  /** A placeholder moved to `worker` with a new fence: a plan of the old fence can no longer be decided. */
  private movePlan(run: Run, worker: Worker, now: number, note: string): Promise<Run> {
    return this.deps.runs.transition(run.runId, {
      from: ['PENDING'],
      fence: run.fence,
      to: 'PENDING',
      at: now,
      newFence: run.fence + 1,
      note,
      set: { workerId: worker.workerId, plannedAt: now },
    });
  }

  /**
   * Re-dispatches runs whose retry backoff has passed (PENDING with `nextAttemptAt`, NO_WORKER with a
   * scheduled retry). The monitor and the local control plane call it on every sweep.
   */
  async retryDue(): Promise<number> {
    const now = this.deps.clock.now();
    let count = 0;
    for (const status of ['PENDING', 'NO_WORKER'] as const) {
      const due = (await this.deps.runs.listByStatus(status, { order: 'oldest', limit: 100 })).filter(
        (run) => run.nextAttemptAt !== undefined && run.nextAttemptAt <= now && run.reason !== 'queued',
      );
      for (const run of due) {
        await this.redispatch(run, { newAttempt: true }).catch((error: unknown) =>
          this.deps.log.log('warn', 'retry could not be dispatched', { runId: run.runId, error }),
        );
        count += 1;
      }
    }
    return count;
  }

  /**
   * Dispatches an existing run again, to a freshly chosen worker, with a higher fence: a retry after
   * its backoff, the next queued run, or recovery of a run whose worker died (from RUNNING).
   */
  async redispatch(run: Run, options: { newAttempt: boolean; note?: string }): Promise<Run> {
    const now = this.deps.clock.now();
    const log = this.deps.log.child({ jobId: run.jobId, runId: run.runId });
    const job = await this.deps.jobs.get(run.jobId);
    const attempt = options.newAttempt ? run.attempt + 1 : run.attempt;
    const live = job ? await this.deps.workers.live(job.spec.target.pool, now) : [];
    const candidates = job ? this.candidates(job, live, now) : [];
    if (!job || (candidates.length === 0 && job.spec.routing !== 'ANY')) {
      const reason = job ? this.noWorkerReason(job, live, now) : 'job_not_found';
      const delay = job ? nextRetryDelayMs(job.spec.retry, attempt, this.random) : null;
      const written = await this.deps.runs.transition(run.runId, {
        from: [run.status],
        fence: run.fence,
        to: 'NO_WORKER',
        at: now,
        attempt,
        newFence: run.fence + 1,
        note: reason,
        set: { reason, ...(delay === null ? {} : { nextAttemptAt: now + delay }) },
        unset: delay === null ? ['nextAttemptAt', 'workerId'] : ['workerId'],
      });
      log.log('warn', 'no worker for run', { reason, retryInMs: delay });
      return this.noWorkerFor(written, reason, delay, now);
    }
    const first = candidates[0];
    const written = await this.deps.runs.transition(run.runId, {
      from: [run.status],
      fence: run.fence,
      to: 'DISPATCHED',
      at: now,
      attempt,
      newFence: run.fence + 1,
      note: options.note,
      set: {
        dispatchedAt: now,
        deadlineAt: this.deadlineFrom(job, now),
        ...(first ? { workerId: first.workerId } : {}),
      },
      unset: first ? ['nextAttemptAt', 'reason'] : ['nextAttemptAt', 'reason', 'workerId'],
    });
    return (await this.deliver(job, written, candidates, log)) ?? written;
  }

  /**
   * Writes a run's final status (a fenced transition) with what goes with it: the job's lock is
   * released right after it when the run holds it (else `settle` hands it on: QUEUE, BROADCAST),
   * and the job's health is recorded there too, so `recovered` says whether this run is the job's
   * first success after failures. The worker's completion and the monitor's LOST and TIMED_OUT use it.
   */
  async finish(run: Run, change: RunTransition): Promise<RunFinished> {
    const release = run.lockKey === jobLockKey(run.jobId) && run.concurrency !== 'QUEUE';
    const finished = await this.deps.runs.finish(run, { ...change, release, health: healthAfter(change.to) });
    if (!release) await this.settle(finished.run);
    return finished;
  }

  /**
   * Called when a run reaches a final state: releases its lock, or under QUEUE hands it to the oldest
   * queued run of the job and dispatches that one.
   */
  async settle(run: Run): Promise<void> {
    if (!run.lockKey) return;
    if (run.concurrency === 'QUEUE') {
      const next = (await this.deps.runs.listByJob(run.jobId, { order: 'oldest', limit: 200 })).find(
        (r) => r.status === 'PENDING' && r.reason === 'queued',
      );
      if (next) {
        const job = await this.deps.jobs.get(run.jobId);
        const expiresAt = this.deps.clock.now() + (job?.spec.timeoutSeconds ?? 3600) * 1000 + LOCK_GRACE_MS;
        if (await this.deps.locks.handOver(run.lockKey, run.runId, next.runId, expiresAt)) {
          await this.redispatch(next, { newAttempt: false, note: `dequeued after ${run.runId}` });
          return;
        }
      }
    }
    await this.deps.locks.release(run.lockKey, run.runId);
  }

  /** Dispatches a new run to a chosen worker; null when there is none to choose (admitWithoutWorker). */
  private async admit(
    job: Job,
    base: Run,
    live: readonly Worker[],
    now: number,
    log: Logger,
    expect?: JobExpectation,
  ): Promise<FireOutcome | null> {
    const candidates = this.candidates(job, live, now);
    if (
      candidates.length === 0 &&
      (job.spec.routing !== 'ANY' || eligibleWorkers(job.spec, live, now).length === 0)
    ) {
      return null;
    }
    const first = candidates[0];
    const run: Run = {
      ...base,
      status: 'DISPATCHED',
      dispatchedAt: now,
      ...(first ? { workerId: first.workerId } : {}),
      history: [...base.history, { at: now, status: 'DISPATCHED', attempt: 1, workerId: first?.workerId }],
    };
    const written = await this.write(job, run, now, log, jobLockKey(job.spec.jobId), false, expect);
    if (written.kind !== 'written') return written.outcome;
    const delivered = await this.deliver(job, written.run, candidates, log);
    return delivered && wasDelivered(delivered)
      ? { kind: 'dispatched', runs: [delivered] }
      : { kind: 'no_worker', run: delivered ?? run };
  }

  /** No eligible worker: a NO_WORKER run (holding the lock while a retry is scheduled), an alert, a retry by policy. */
  private async admitWithoutWorker(
    job: Job,
    base: Run,
    live: readonly Worker[],
    now: number,
    log: Logger,
  ): Promise<FireOutcome> {
    const reason = this.noWorkerReason(job, live, now);
    const delay = nextRetryDelayMs(job.spec.retry, 1, this.random);
    const run: Run = {
      ...base,
      status: 'NO_WORKER',
      reason,
      ...(delay === null ? { finishedAt: now } : { nextAttemptAt: now + delay }),
      history: [...base.history, { at: now, status: 'NO_WORKER', attempt: 1, note: reason }],
    };
    const written = delay === null ? await this.createPlain(run, log) : await this.write(job, run, now, log);
    if (written.kind !== 'written') return written.outcome;
    log.log('warn', 'no worker for fire', { reason, retryInMs: delay });
    await this.deps.alerts.raise({
      kind: 'no_worker',
      jobId: job.spec.jobId,
      runId: run.runId,
      message: reason,
      at: now,
    });
    return { kind: 'no_worker', run: written.run };
  }

  /** BROADCAST: one run per eligible worker, each with its own id and its own lock, so each is one-per-fire. */
  private async fireBroadcast(
    job: Job,
    base: Run,
    live: readonly Worker[],
    now: number,
    log: Logger,
  ): Promise<FireOutcome> {
    const targets = this.candidates(job, live, now);
    if (targets.length === 0) return this.admitWithoutWorker(job, base, live, now, log);
    const outcomes = await Promise.all(
      targets.map((worker) => {
        const run: Run = {
          ...base,
          runId: `${base.runId}#${worker.workerId}`,
          broadcastOf: base.runId,
          status: 'DISPATCHED',
          workerId: worker.workerId,
          dispatchedAt: now,
          history: [
            ...base.history,
            { at: now, status: 'DISPATCHED', attempt: 1, workerId: worker.workerId },
          ],
        };
        return this.write(job, run, now, log, `${jobLockKey(job.spec.jobId)}#${worker.workerId}`).then(
          async (written) =>
            written.kind === 'written'
              ? ((await this.deliver(job, written.run, [worker], log)) ?? written.run)
              : written.outcome,
        );
      }),
    );
    const runs = outcomes.filter((o): o is Run => 'status' in o && wasDelivered(o));
    if (runs.length > 0) return { kind: 'dispatched', runs };
    return outcomes.find((o): o is FireOutcome => 'kind' in o) ?? { kind: 'duplicate', runId: base.runId };
  }

  /**
   * Writes a new run under the job's concurrency policy; a held lock becomes a skip, a queued run or a
   * replacement — or, with `throwIfHeld`, the LockHeldError itself, with nothing written.
   */
  private async write(
    job: Job,
    run: Run,
    now: number,
    log: Logger,
    lockKey = jobLockKey(job.spec.jobId),
    throwIfHeld = false,
    expect?: JobExpectation,
  ): Promise<{ kind: 'written'; run: Run } | { kind: 'settled'; outcome: FireOutcome }> {
    const policy = job.spec.concurrency.policy;
    if (policy === 'ALLOW') return this.createPlain(run, log, expect);
    const locked: Run = { ...run, lockKey };
    const claim = { key: lockKey, owner: run.runId, expiresAt: this.lockExpiry(job, now), now };
    try {
      // With `expect`, a held lock means the job was current (the ledger checks it first): what follows may use it.
      await this.deps.runs.createWithLock(locked, claim, expect);
      log.log('info', 'run created', { status: locked.status, workerId: locked.workerId });
      return { kind: 'written', run: locked };
    } catch (error) {
      if (error instanceof AlreadyFiredError)
        return { kind: 'settled', outcome: this.duplicate(run, log, error) };
      if (!(error instanceof LockHeldError) || error.owner === undefined) throw error;
      const holder = error.owner;
      const stale = await this.takeStaleLock(locked, claim, holder, log);
      if (stale) return stale;
      if (throwIfHeld) throw error;
      if (policy === 'QUEUE')
        return { kind: 'settled', outcome: await this.enqueue(job, locked, holder, now, log) };
      if (policy === 'REPLACE') {
        const replaced = await this.replace(locked, claim, holder, now, log);
        if (replaced) return { kind: 'written', run: locked };
      }
      return { kind: 'settled', outcome: await this.skip(run, 'overlap', now, log, `active run ${holder}`) };
    }
  }

  /**
   * A lock whose holder run is already final is stale: a final status written without the lock's
   * release (a BROADCAST run's, an API cancel's: the status, then settle), and a fire that lands
   * between them — or after the writer died between them — must not be skipped as an overlap with a run
   * that has finished. Such a lock is taken over from its holder by the same conditional write.
   * Not under QUEUE: there the finishing run hands its lock to the oldest queued run (settle).
   */
  private async takeStaleLock(
    run: Run,
    claim: { key: string; owner: string; expiresAt: number; now: number },
    holder: string,
    log: Logger,
  ): Promise<{ kind: 'written'; run: Run } | { kind: 'settled'; outcome: FireOutcome } | undefined> {
    if (run.concurrency === 'QUEUE') return undefined;
    const current = await this.deps.runs.get(holder);
    if (!current || !isFinal(current)) return undefined;
    try {
      await this.deps.runs.createWithLock(run, { ...claim, takeOverFrom: holder });
    } catch (error) {
      if (error instanceof AlreadyFiredError)
        return { kind: 'settled', outcome: this.duplicate(run, log, error) };
      if (error instanceof LockHeldError) return undefined; // another fire took it first
      throw error;
    }
    log.log('info', 'run created; the lock of the finished run was not yet released', {
      status: run.status,
      workerId: run.workerId,
      previous: holder,
      previousStatus: current.status,
    });
    return { kind: 'written', run };
  }

  private async enqueue(job: Job, run: Run, holder: string, now: number, log: Logger): Promise<FireOutcome> {
    const queued = (await this.deps.runs.listByJob(job.spec.jobId, { order: 'oldest', limit: 200 })).filter(
      (r) => r.status === 'PENDING' && r.reason === 'queued',
    );
    if (queued.length >= job.spec.concurrency.maxQueued) {
      return this.skip(run, 'queue_full', now, log, `${queued.length} runs already queued`);
    }
    const pending: Run = {
      ...run,
      status: 'PENDING',
      reason: 'queued',
      queuedBehind: holder,
      history: [
        ...run.history.slice(0, 1),
        { at: now, status: 'PENDING', attempt: 1, note: `queued behind ${holder}` },
      ],
    };
    delete pending.workerId;
    delete pending.dispatchedAt;
    const written = await this.createPlain(pending, log);
    return written.kind === 'written' ? { kind: 'queued', run: written.run } : written.outcome;
  }

  /** REPLACE: cancel the active run (its worker sees CANCELLED and aborts; its fence no longer matches), then take its lock. */
  private async replace(
    run: Run,
    claim: { key: string; owner: string; expiresAt: number; now: number },
    holder: string,
    now: number,
    log: Logger,
  ): Promise<boolean> {
    const current = await this.deps.runs.get(holder);
    if (current && ACTIVE_STATUSES.includes(current.status)) {
      await this.deps.runs
        .transition(holder, {
          from: ACTIVE_STATUSES,
          fence: current.fence,
          to: 'CANCELLED',
          at: now,
          note: `replaced by ${run.runId}`,
          set: { cancelRequested: true, finishedAt: now, reason: 'replaced' },
        })
        .catch((error: unknown) => log.log('warn', 'could not cancel the replaced run', { holder, error }));
    }
    try {
      await this.deps.runs.createWithLock(run, { ...claim, takeOverFrom: holder });
      log.log('info', 'run created, replacing the active run', { replaced: holder, workerId: run.workerId });
      return true;
    } catch (error) {
      if (error instanceof LockHeldError) return false;
      throw error;
    }
  }

  /**
   * Sends the envelope to the candidates in order until one accepts. Moving to another candidate raises
   * the fence, so an envelope that did reach an earlier worker can no longer be claimed. When none
   * accepts, the run goes back to PENDING for a retry by policy (or NO_WORKER when none is left).
   */
  private async deliver(
    job: Job,
    run: Run,
    candidates: readonly Worker[],
    log: Logger,
  ): Promise<Run | undefined> {
    const now = this.deps.clock.now();
    const deadlineAt = this.envelopeDeadline(job, run, now);
    if (job.spec.routing === 'ANY' || candidates.length === 0) {
      await this.deps.delivery.deliver(
        { kind: 'pool', pool: job.spec.target.pool },
        envelopeFor(run, deadlineAt, now),
      );
      log.log('info', 'run dispatched to the pool queue', {
        pool: job.spec.target.pool,
        attempt: run.attempt,
      });
      return run;
    }
    const direct = job.spec.delivery === 'ZMQ' ? this.deps.directDelivery : undefined;
    // Direct delivery to each candidate in turn, then (ZMQ jobs) the first candidate's SQS queue.
    const attempts = [
      ...candidates.map((worker) => ({ worker, via: direct ?? this.deps.delivery })),
      ...(direct && candidates[0] ? [{ worker: candidates[0], via: this.deps.delivery }] : []),
    ];
    let current = run;
    for (const [index, { worker, via }] of attempts.entries()) {
      if (index > 0) {
        try {
          current = await this.deps.runs.transition(run.runId, {
            from: ['DISPATCHED'],
            fence: current.fence,
            to: 'DISPATCHED',
            at: now,
            newFence: current.fence + 1,
            note: `delivery moved to ${worker.workerId}${direct && via !== direct ? ' over SQS' : ''}`,
            set: { workerId: worker.workerId },
          });
        } catch (error) {
          // A worker that did not acknowledge in time claimed the run meanwhile: it is that worker's.
          if (!(error instanceof RunNotInStateError || error instanceof StaleFenceError)) throw error;
          log.log('info', 'run claimed before its delivery moved on', { error });
          return (error.current as Run | undefined) ?? current;
        }
      }
      try {
        await via.deliver({ kind: 'worker', worker }, envelopeFor(current, deadlineAt, now));
        this.lastWorker.set(job.spec.jobId, worker.workerId);
        this.deps.workers.noteDispatched(job.spec.target.pool, worker.workerId);
        log.log('info', 'run dispatched', {
          workerId: worker.workerId,
          attempt: current.attempt,
          fence: current.fence,
          ...(direct ? { transport: via === direct ? 'zmq' : 'sqs' } : {}),
        });
        return current;
      } catch (error) {
        log.log('warn', 'delivery failed; trying the next candidate', { workerId: worker.workerId, error });
      }
    }
    const delay = nextRetryDelayMs(job.spec.retry, current.attempt, this.random) ?? null;
    const failed = await this.deps.runs.transition(run.runId, {
      from: ['DISPATCHED'],
      fence: current.fence,
      to: delay === null ? 'NO_WORKER' : 'PENDING',
      at: now,
      note: 'no candidate accepted the delivery',
      set: {
        reason: 'delivery_failed',
        ...(delay === null ? { finishedAt: now } : { nextAttemptAt: now + delay }),
      },
      unset: ['workerId'],
    });
    return this.noWorkerFor(failed, 'no candidate worker accepted the delivery', delay, now);
  }

  /** An existing run found no worker: tell the job's contacts, and free its lock unless a retry is scheduled. */
  private async noWorkerFor(run: Run, message: string, retryDelay: number | null, now: number): Promise<Run> {
    await this.deps.alerts.raise({ kind: 'no_worker', jobId: run.jobId, runId: run.runId, message, at: now });
    if (retryDelay === null) await this.settle(run);
    return run;
  }

  private candidates(job: Job, live: readonly Worker[], now: number): Worker[] {
    const eligible = eligibleWorkers(job.spec, live, now);
    return orderCandidates(job.spec, eligible, {
      lastWorkerId: this.lastWorker.get(job.spec.jobId),
      random: this.random,
    });
  }

  private noWorkerReason(job: Job, live: readonly Worker[], now: number): string {
    const { excluded } = explainEligibility(job.spec, live, now);
    if (excluded.length === 0) return `no live worker in pool ${job.spec.target.pool}`;
    return `no eligible worker: ${excluded.map((e) => `${e.workerId} (${e.reason})`).join(', ')}`;
  }

  private async skip(
    run: Run,
    reason: SkipReason,
    now: number,
    log: Logger,
    note: string,
  ): Promise<FireOutcome> {
    const skipped: Run = {
      ...run,
      status: 'SKIPPED',
      reason,
      finishedAt: now,
      history: [...run.history.slice(0, 1), { at: now, status: 'SKIPPED', attempt: 1, note }],
    };
    delete skipped.workerId;
    delete skipped.dispatchedAt;
    delete skipped.lockKey;
    return this.record(skipped, log, (written) => ({ kind: 'skipped', run: written, reason }));
  }

  /** Writes a run that needs no lock; a duplicate fire finds the first record and changes nothing. */
  private async record(run: Run, log: Logger, outcome: (run: Run) => FireOutcome): Promise<FireOutcome> {
    const written = await this.createPlain(run, log);
    return written.kind === 'written' ? outcome(written.run) : written.outcome;
  }

  private async createPlain(
    run: Run,
    log: Logger,
    expect?: JobExpectation,
  ): Promise<{ kind: 'written'; run: Run } | { kind: 'settled'; outcome: FireOutcome }> {
    try {
      await this.deps.runs.create(run, expect);
      log.log('info', 'run created', { status: run.status, reason: run.reason, workerId: run.workerId });
      return { kind: 'written', run };
    } catch (error) {
      if (error instanceof AlreadyFiredError)
        return { kind: 'settled', outcome: this.duplicate(run, log, error) };
      throw error;
    }
  }

  private duplicate(run: Run, log: Logger, error: AlreadyFiredError): FireOutcome {
    log.log('info', 'duplicate invocation of a fire; nothing written');
    const existing = error.existing as Run | undefined;
    return { kind: 'duplicate', runId: run.runId, ...(existing ? { existing } : {}) };
  }

  private lockExpiry(job: Job, now: number): number {
    return this.deadlineFrom(job, now) + LOCK_GRACE_MS;
  }

  /**
   * The deadline an envelope sent at `now` carries: the record's, which the claim checks, and never one
   * past the job's timeout from now — a deadline comes from the job's definition, not from whoever
   * wrote the record.
   */
  private envelopeDeadline(job: Job, run: Run, now: number): number {
    return Math.min(run.deadlineAt ?? Number.POSITIVE_INFINITY, this.deadlineFrom(job, now));
  }

  /** The latest an attempt dispatched at `now` may finish: the job's timeout caps every deadline. */
  private deadlineFrom(job: Job, now: number): number {
    return now + job.spec.timeoutSeconds * 1000;
  }

  private newRun(
    job: Job | null,
    runId: string,
    jobId: string,
    scheduledTime: string,
    trigger: Run['trigger'],
    now: number,
    status: RunStatus,
    traceId: TraceId = this.traceId(now),
  ): Run {
    return {
      runId,
      jobId,
      scheduledTime,
      trigger,
      handler: job?.spec.handler ?? '',
      payload: job?.spec.payload ?? null,
      ...(job?.spec.env ? { env: job.spec.env } : {}),
      status,
      attempt: 1,
      fence: 1,
      jobVersion: job?.version ?? 1,
      concurrency: job?.spec.concurrency.policy ?? 'ALLOW',
      createdAt: now,
      updatedAt: now,
      ...(job ? { deadlineAt: this.deadlineFrom(job, now) } : {}),
      // Only runs of jobs with dependents look at their outcome (core/dependents.ts).
      ...(job?.downstream?.length ? { hasDependents: true } : {}),
      history: [{ at: now, status: 'PENDING', attempt: 1, note: `fired by ${trigger.toLowerCase()}` }],
      traceId,
    };
  }

  /** The current invocation's trace, else a new one (DispatcherDeps.traceId). */
  private traceId(now: number): TraceId {
    return this.deps.traceId?.() ?? newTraceId(now);
  }
}

/**
 * A run written for a precise job's planned fire: it replaces the placeholder under fence `plan`, with
 * the next fence (an envelope of the placeholder can never claim it).
 */
function withPlan(run: Run, plan: number | undefined): Run {
  return plan === undefined ? run : { ...run, fence: plan + 1, replacesPlan: plan };
}

/** A run deliver() handed to a worker: DISPATCHED, or already claimed (and maybe finished) by it. */
function wasDelivered(run: Run): boolean {
  return run.status !== 'PENDING' && run.status !== 'NO_WORKER';
}
