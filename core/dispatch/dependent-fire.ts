import type { Logger } from '../log';
import { isoSeconds, type Job, type Run, type UpstreamRef } from '../model';
import type { PlainFire } from './plain-fire';
import type { Recorder } from './record';
import { newRun, traceIdOf } from './runs';
import type { DispatcherDeps, FireOutcome } from './types';

/** The run of a dependent job's fire, as core/dependents.ts derived it from the upstream outcome. */
export interface DependentFireRequest {
  readonly runId: string;
  readonly chainId: string;
  readonly upstream: readonly UpstreamRef[];
  /** The run-away guard stopped this fire (why): it is recorded SKIPPED(runaway) and alerted. */
  readonly runaway?: string;
}

/**
 * A fire of a dependent job, for an upstream run's outcome: which downstream jobs fire is decided in
 * core/dependents.ts; here one of them is fired, as a plain fire with the run id and chain it is given.
 */
export class DependentFire {
  constructor(
    private readonly deps: DispatcherDeps,
    private readonly plain: PlainFire,
    private readonly recorder: Recorder,
  ) {}

  /**
   * Fires `job` for an upstream outcome (core/dependents.ts): a DEPENDENT run with the id the caller
   * derived from the upstream run or chain, so repeated calls collide on it (`duplicate`), carrying
   * its chain and upstream runs. Otherwise exactly a fire: paused, concurrency, routing, retry.
   */
  async fire(job: Job, dependent: DependentFireRequest): Promise<FireOutcome> {
    const now = this.deps.clock.now();
    const log = this.deps.log.child({ jobId: job.spec.jobId, runId: dependent.runId });
    const base: Run = {
      ...newRun(
        job,
        dependent.runId,
        job.spec.jobId,
        isoSeconds(now),
        'DEPENDENT',
        now,
        'PENDING',
        traceIdOf(this.deps, now),
      ),
      chainId: dependent.chainId,
      upstream: [...dependent.upstream],
    };
    if (dependent.runaway !== undefined) return this.stopRunaway(base, dependent.runaway, now, log);
    const outcome = job.spec.paused
      ? await this.recorder.skipPaused(base, log)
      : await this.plain.start(job, base, now, log);
    await this.plain.resendDuplicate(outcome);
    return outcome;
  }

  private async stopRunaway(base: Run, why: string, now: number, log: Logger): Promise<FireOutcome> {
    const outcome = await this.recorder.skip(base, 'runaway', now, log, why);
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
}
