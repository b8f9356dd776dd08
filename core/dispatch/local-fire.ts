import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors';
import type { Logger } from '../log';
import {
  fireRunId,
  IdSchema,
  IsoInstantSchema,
  isPrecise,
  type Job,
  jobLockKey,
  parseOrThrow,
  type Run,
  type RunStatus,
  scheduleModeOf,
} from '../model';
import { parseSchedule, type Schedule } from '../schedule';
import type { JobCache } from './job-cache';
import type { Recorder } from './record';
import { newRun, traceIdOf } from './runs';
import type { DispatcherDeps, FireOutcome } from './types';

/** What `Dispatcher.fireLocal` accepts: a fire an agent's own timer reached, and the agent asking to run it. */
const LocalFireRequestSchema = z.strictObject({
  jobId: IdSchema,
  scheduledTime: IsoInstantSchema,
  workerId: IdSchema,
});

type LocalFireRequest = z.infer<typeof LocalFireRequestSchema>;

export interface LocalFireOptions {
  /** Decided shortly before the instant: a job lock held by an active run throws LockHeldError (LocalFire.fire). */
  readonly ahead?: boolean;
  /**
   * A precise job's planned fire, decided by the worker holding it (core/planner.ts): the fence of
   * its placeholder run, which the written run replaces (`replacesPlan`). The job must then be
   * precise REMOTE and still have this instant; if it no longer does, the fire is SKIPPED(unscheduled).
   */
  readonly plan?: number;
}

/**
 * A fire an agent decides itself, with the LOCAL write (one conditional write per fire, the job's lock
 * and policy, nothing delivered): a LOCAL job's fire its own timer reached, and a precise job's planned
 * fire decided at its instant by the worker holding the plan (precise-plans.ts).
 */
export class LocalFire {
  /** Precise jobs' compiled schedules by `jobId@version`, for the check at each planned fire. */
  private readonly schedules = new Map<string, Schedule>();

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly jobs: JobCache,
    private readonly recorder: Recorder,
  ) {}

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
   */
  async fire(
    jobId: string,
    scheduledTime: string,
    workerId: string,
    options: LocalFireOptions = {},
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
    const job = await this.jobs.read(request.jobId);
    const trigger = plan === undefined ? 'LOCAL' : 'SCHEDULE';
    if (!job) {
      const error = new NotFoundError('job', request.jobId);
      const run = this.newRun(null, primaryId, request, trigger, now, 'SKIPPED');
      return this.recorder.record(
        withPlan({ ...run, reason: 'job_not_found', error: error.toJSON() }, plan),
        log,
        (written) => ({ kind: 'rejected', run: written, error }),
      );
    }
    if (plan !== undefined && !firedHere(job)) {
      const base = this.newRun(job, primaryId, request, trigger, now, 'PENDING');
      const why = isPrecise(job.spec)
        ? 'the job no longer has this instant'
        : `the job is no longer precise (mode ${job.spec.mode}, precision ${job.spec.precision})`;
      return this.recorder.skip(
        withPlan(base, plan),
        'unscheduled',
        now,
        log,
        `planned fire not started: ${why}`,
      );
    }
    if (plan === undefined && job.spec.mode !== 'LOCAL') {
      throw ValidationError.field(
        'mode',
        `job ${request.jobId} is ${job.spec.mode}; agents fire only LOCAL jobs`,
      );
    }
    if (job.spec.paused) {
      const runId = job.spec.routing === 'BROADCAST' ? `${primaryId}#${request.workerId}` : primaryId;
      const base = this.newRun(job, runId, request, trigger, now, 'PENDING');
      return this.recorder.skipPaused(withPlan(base, plan), log);
    }
    return this.write(job, request, primaryId, now, log, options.ahead === true, plan);
  }

  /** The run of the fire the agent asked about, as first built (runs.ts). */
  private newRun(
    job: Job | null,
    runId: string,
    request: LocalFireRequest,
    trigger: Run['trigger'],
    now: number,
    status: RunStatus,
  ): Run {
    const { jobId, scheduledTime } = request;
    return newRun(job, runId, jobId, scheduledTime, trigger, now, status, traceIdOf(this.deps, now));
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

  /** The fire's run, DISPATCHED to the agent that asked, through the job's lock and policy. */
  private async write(
    job: Job,
    request: LocalFireRequest,
    primaryId: string,
    now: number,
    log: Logger,
    ahead: boolean,
    plan?: number,
  ): Promise<FireOutcome> {
    const broadcast = job.spec.routing === 'BROADCAST';
    const runId = broadcast ? `${primaryId}#${request.workerId}` : primaryId;
    const trigger = plan === undefined ? 'LOCAL' : 'SCHEDULE';
    const base = withPlan(this.newRun(job, runId, request, trigger, now, 'PENDING'), plan);
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
    const written = await this.recorder.write(job, run, now, log, lockKey, ahead);
    if (written.kind !== 'written') return written.outcome;
    await this.deps.waker?.wake();
    return { kind: 'dispatched', runs: [written.run] };
  }
}

/**
 * A run written for a precise job's planned fire: it replaces the placeholder under fence `plan`, with
 * the next fence (an envelope of the placeholder can never claim it).
 */
function withPlan(run: Run, plan: number | undefined): Run {
  return plan === undefined ? run : { ...run, fence: plan + 1, replacesPlan: plan };
}
