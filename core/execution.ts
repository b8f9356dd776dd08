import { DependentFires } from './dependents';
import type { Dispatcher } from './dispatch';
import { claimFromEnvelope, type DispatchEnvelope } from './envelope';
import { RunNotInStateError, StaleFenceError } from './errors';
import type { Logger } from './log';
import { isFinal, type Run, type RunError } from './model';
import type { AlertHook, Clock, JobStore, RunFinished, RunLedger } from './ports';
import { nextRetryDelayMs } from './retry';

export type RunOutcome =
  | { readonly status: 'SUCCEEDED'; readonly result?: unknown }
  | { readonly status: 'FAILED'; readonly error: RunError }
  /** The handler ran past the run's deadline and was aborted (the monitor's deadline sweep says the same). */
  | { readonly status: 'TIMED_OUT'; readonly error: RunError }
  | { readonly status: 'CANCELLED'; readonly error?: RunError };

export interface RunExecutionDeps {
  readonly jobs: JobStore;
  readonly runs: RunLedger;
  readonly dispatcher: Dispatcher;
  readonly clock: Clock;
  readonly log: Logger;
  readonly random?: () => number;
  /** When given: a `failure` alert for a run that failed for good, a `recovery` alert for the first success after failures. */
  readonly alerts?: AlertHook;
  /** Fires the jobs that run after a completed run (only runs with `hasDependents`); without it the monitor does. */
  readonly dependents?: DependentFires;
}

/**
 * The worker side of a run's life, as the agent calls it: claim what was delivered, then complete it
 * (or hand it back). Every call is a fenced transition, so a worker whose envelope was superseded
 * (re-dispatched elsewhere, cancelled, replaced) is refused instead of overwriting the run.
 */
export class RunExecution {
  constructor(private readonly deps: RunExecutionDeps) {}

  /**
   * DISPATCHED → RUNNING for `workerId`, only if the run is dispatched to it (or to the pool) with the
   * envelope's fence and the record agrees with everything else the envelope says (RunLedger.claim).
   * Returns the record as written: run its handler, payload, attempt and deadline, not the envelope's.
   * RunNotInStateError / StaleFenceError when superseded, ClaimRefusedError when the envelope disagrees.
   */
  claim(envelope: DispatchEnvelope, workerId: string): Promise<Run> {
    return this.deps.runs.claim(envelope.runId, claimFromEnvelope(envelope, workerId, this.deps.clock.now()));
  }

  /**
   * RUNNING → final, or → PENDING when the attempt failed and the job's retry policy allows another
   * (the lock stays held through the backoff). A final run releases its lock (in the same write) or
   * hands it to the next queued run (Dispatcher.finish).
   */
  async complete(run: Run, outcome: RunOutcome): Promise<Run> {
    const now = this.deps.clock.now();
    if (outcome.status === 'FAILED') {
      const job = await this.deps.jobs.get(run.jobId);
      const delay = job ? nextRetryDelayMs(job.spec.retry, run.attempt, this.deps.random) : null;
      if (delay !== null) {
        const retrying = await this.deps.runs.transition(run.runId, {
          from: ['RUNNING'],
          fence: run.fence,
          to: 'PENDING',
          at: now,
          note: `attempt ${run.attempt} failed: ${outcome.error.message}`,
          set: { error: outcome.error, reason: 'retry', nextAttemptAt: now + delay },
        });
        this.deps.log.log('info', 'attempt failed; retry scheduled', { runId: run.runId, retryInMs: delay });
        return retrying;
      }
    }
    let finished: RunFinished;
    try {
      finished = await this.deps.dispatcher.finish(run, {
        from: ['RUNNING'],
        fence: run.fence,
        to: outcome.status,
        at: now,
        set: {
          finishedAt: now,
          ...(run.startLateMs === undefined ? {} : { startLateMs: run.startLateMs }),
          ...(outcome.status === 'TIMED_OUT' ? { reason: 'timeout' } : {}),
          ...('error' in outcome && outcome.error ? { error: outcome.error } : {}),
          ...('result' in outcome && outcome.result !== undefined ? { result: outcome.result } : {}),
          ...DependentFires.pendingOn(run, outcome.status),
        },
      });
    } catch (error) {
      // Written before (this completion repeated) or by another attempt: the record says what
      // happened, and its dependents may still be unfired when the first writer died.
      const current =
        error instanceof RunNotInStateError || error instanceof StaleFenceError ? error.current : undefined;
      if (current && isFinal(current as Run)) await this.fireDependents(current as Run);
      throw error;
    }
    const { run: final, recovered } = finished;
    await this.fireDependents(final);
    await this.raiseOutcomeAlert(final, now, recovered).catch((error: unknown) =>
      this.deps.log.log('error', 'outcome alert could not be raised', { runId: run.runId, error }),
    );
    return final;
  }

  private async fireDependents(run: Run): Promise<void> {
    if (!run.dependentsPending || !this.deps.dependents) return;
    await this.deps.dependents.fire(run).catch((error: unknown) =>
      this.deps.log.log('error', 'dependents could not be fired; the monitor will', {
        runId: run.runId,
        error,
      }),
    );
  }

  private async raiseOutcomeAlert(run: Run, now: number, recovered: boolean): Promise<void> {
    const alerts = this.deps.alerts;
    if (!alerts) return;
    if (run.status === 'FAILED') {
      const error = run.error ? `${run.error.code}: ${run.error.message}` : 'no error given';
      await alerts.raise({
        kind: 'failure',
        jobId: run.jobId,
        runId: run.runId,
        message: `attempt ${run.attempt} on ${run.workerId ?? 'a worker'} failed: ${error}`,
        at: now,
      });
    } else if (run.status === 'TIMED_OUT') {
      await alerts.raise({
        kind: 'timeout',
        jobId: run.jobId,
        runId: run.runId,
        message: `attempt ${run.attempt} on ${run.workerId ?? 'a worker'} ran past its deadline and was aborted`,
        at: now,
      });
    } else if (run.status === 'SUCCEEDED' && recovered) {
      await alerts.raise({
        kind: 'recovery',
        jobId: run.jobId,
        runId: run.runId,
        message: `succeeded on ${run.workerId ?? 'a worker'} after failing`,
        at: now,
      });
    }
  }

  /** A draining worker gives an unstarted or interrupted run back: it is dispatched again at once, to someone else. */
  async handBack(run: Run, note: string): Promise<Run> {
    const now = this.deps.clock.now();
    return this.deps.runs.transition(run.runId, {
      from: ['DISPATCHED', 'RUNNING'],
      fence: run.fence,
      to: 'PENDING',
      at: now,
      note,
      set: { reason: 'handed_back', nextAttemptAt: now },
      unset: ['workerId'],
    });
  }
}
