import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../errors';
import type { Logger } from '../log';
import { fireRunId, isoSeconds, type Job, parseOrThrow, type Run } from '../model';
import type { Admission } from './admit';
import type { BroadcastFire } from './broadcast-fire';
import type { Deliverer } from './delivery';
import type { JobCache } from './job-cache';
import type { Recorder } from './record';
import { newRun, traceIdOf } from './runs';
import { type DispatcherDeps, type FireOutcome, FireRequestSchema } from './types';

/**
 * A fire of a REMOTE job (EventBridge Scheduler's, a manual trigger, a catch-up): read the job (or use
 * the kept one), admit it to a worker or skip it, and send a duplicate's unclaimed run again.
 */
export class PlainFire {
  constructor(
    private readonly deps: DispatcherDeps,
    private readonly jobs: JobCache,
    private readonly admission: Admission,
    private readonly broadcast: BroadcastFire,
    private readonly recorder: Recorder,
    private readonly deliverer: Deliverer,
  ) {}

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
  async resendDuplicate(outcome: FireOutcome): Promise<void> {
    const run = outcome.kind === 'duplicate' ? outcome.existing : undefined;
    if (run?.status !== 'DISPATCHED' || run.broadcastOf) return;
    const dispatchedAt = run.dispatchedAt ?? run.updatedAt;
    if (this.deps.clock.now() - dispatchedAt < (this.deps.resendAfterMs ?? 10_000)) return;
    await this.deliverer.resend(run, this.jobs.kept(run.jobId));
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
    const traceId = request.traceId ?? traceIdOf(this.deps, now);
    const log = this.deps.log.child({ jobId: request.jobId, runId, traceId });
    const baseOf = (job: Job): Run => ({
      ...newRun(job, runId, request.jobId, scheduledTime, request.trigger, now, 'PENDING', traceId),
      ...(request.payload === undefined ? {} : { payload: request.payload }),
    });

    const job = await this.jobs.read(request.jobId);
    if (!job) {
      const error = new NotFoundError('job', request.jobId);
      const run = newRun(null, runId, request.jobId, scheduledTime, request.trigger, now, 'SKIPPED', traceId);
      return this.recorder.record(
        { ...run, reason: 'job_not_found', error: error.toJSON() },
        log,
        (written) => ({
          kind: 'rejected',
          run: written,
          error,
        }),
      );
    }
    const base = baseOf(job);
    if (job.spec.paused && request.trigger !== 'MANUAL') return this.recorder.skipPaused(base, log);
    return this.start(job, base, now, log);
  }

  /** Chooses workers for a new run and writes and delivers it (BROADCAST: one run per worker). */
  async start(job: Job, base: Run, now: number, log: Logger): Promise<FireOutcome> {
    const live = await this.deps.workers.live(job.spec.target.pool, now);
    if (job.spec.routing === 'BROADCAST') return this.broadcast.fire(job, base, live, now, log);
    return (
      (await this.admission.admit(job, base, live, now, log)) ??
      this.admission.admitWithoutWorker(job, base, live, now, log)
    );
  }
}
