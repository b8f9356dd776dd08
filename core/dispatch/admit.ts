/**
 * Admit: the decision for a new run of a fire — to a chosen worker (DISPATCHED, then delivered), or,
 * with no worker to choose, a NO_WORKER run with an alert and a retry by the job's policy.
 */
import type { Logger } from '../log';
import type { Job, Run, Worker } from '../model';
import { nextRetryDelayMs } from '../retry';
import { eligibleWorkers } from '../routing';
import { type Deliverer, wasDelivered } from './delivery';
import type { Recorder } from './record';
import type { DispatcherDeps, FireOutcome } from './types';
import type { WorkerChoice } from './worker-choice';

export class Admission {
  constructor(
    private readonly deps: DispatcherDeps,
    private readonly choice: WorkerChoice,
    private readonly recorder: Recorder,
    private readonly deliverer: Deliverer,
    private readonly random: () => number,
  ) {}

  /** Dispatches a new run to a chosen worker; null when there is none to choose (admitWithoutWorker). */
  async admit(
    job: Job,
    base: Run,
    live: readonly Worker[],
    now: number,
    log: Logger,
  ): Promise<FireOutcome | null> {
    const candidates = this.choice.candidates(job, live, now);
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
    const written = await this.recorder.write(job, run, now, log);
    if (written.kind !== 'written') return written.outcome;
    const delivered = await this.deliverer.deliver(job, written.run, candidates, log);
    return delivered && wasDelivered(delivered)
      ? { kind: 'dispatched', runs: [delivered] }
      : { kind: 'no_worker', run: delivered ?? run };
  }

  /** No eligible worker: a NO_WORKER run (holding the lock while a retry is scheduled), an alert, a retry by policy. */
  async admitWithoutWorker(
    job: Job,
    base: Run,
    live: readonly Worker[],
    now: number,
    log: Logger,
  ): Promise<FireOutcome> {
    const reason = this.choice.noWorkerReason(job, live, now);
    const delay = nextRetryDelayMs(job.spec.retry, 1, this.random);
    const run: Run = {
      ...base,
      status: 'NO_WORKER',
      reason,
      ...(delay === null ? { finishedAt: now } : { nextAttemptAt: now + delay }),
      history: [...base.history, { at: now, status: 'NO_WORKER', attempt: 1, note: reason }],
    };
    const written =
      delay === null
        ? await this.recorder.createPlain(run, log)
        : await this.recorder.write(job, run, now, log);
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
}
