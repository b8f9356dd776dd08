import { healthAfter, jobLockKey, type Run, type RunChange } from '../model';
import type { OpenRuns, RunFinished, RunTransition } from '../ports';
import { nextRetryDelayMs } from '../retry';
import type { Deliverer } from './delivery';
import { deadlineFrom, LOCK_GRACE_MS } from './runs';
import type { DispatcherDeps } from './types';
import type { WorkerChoice } from './worker-choice';

/** How many PENDING and NO_WORKER runs (oldest first) a sweep looks through for due retries. */
export const RETRY_READ_LIMITS = { PENDING: 100, NO_WORKER: 100 } as const;

/**
 * A run after its first write: dispatched again (a retry after its backoff, the next queued run, a
 * recovery from a dead worker), and finished, its lock released or handed to the next queued run.
 */
export class Redispatcher {
  constructor(
    private readonly deps: DispatcherDeps,
    private readonly choice: WorkerChoice,
    private readonly deliverer: Deliverer,
    private readonly random: () => number,
  ) {}

  /**
   * Re-dispatches runs whose retry backoff has passed (PENDING with `nextAttemptAt`, NO_WORKER with a
   * scheduled retry) among `open`, the open runs the monitor reads each sweep (RETRY_READ_LIMITS of
   * each, oldest first). Also says when the next waiting retry is due, so an idle monitor knows to
   * sweep often before then (core/monitor/watch.ts).
   */
  async retryDue(
    open: Pick<OpenRuns, 'PENDING' | 'NO_WORKER'>,
  ): Promise<{ readonly dispatched: number; readonly nextDueAt?: number }> {
    const now = this.deps.clock.now();
    let dispatched = 0;
    let nextDueAt: number | undefined;
    for (const status of ['PENDING', 'NO_WORKER'] as const) {
      const waiting = open[status].filter(
        (run) => run.nextAttemptAt !== undefined && run.reason !== 'queued',
      );
      for (const run of waiting) {
        const dueAt = run.nextAttemptAt ?? now;
        if (dueAt > now) {
          nextDueAt = Math.min(nextDueAt ?? dueAt, dueAt);
          continue;
        }
        await this.redispatch(run, { newAttempt: true }).catch((error: unknown) =>
          this.deps.log.log('warn', 'retry could not be dispatched', { runId: run.runId, error }),
        );
        dispatched += 1;
      }
    }
    return nextDueAt === undefined ? { dispatched } : { dispatched, nextDueAt };
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
    const candidates = job ? this.choice.candidates(job, live, now) : [];
    if (!job || (candidates.length === 0 && job.spec.routing !== 'ANY')) {
      const reason = job ? this.choice.noWorkerReason(job, live, now) : 'job_not_found';
      const delay = job ? nextRetryDelayMs(job.spec.retry, attempt, this.random) : null;
      const written = await this.moveOn(run, {
        to: 'NO_WORKER',
        at: now,
        attempt,
        note: reason,
        set: { reason, ...(delay === null ? {} : { nextAttemptAt: now + delay }) },
        unset: delay === null ? ['nextAttemptAt', 'workerId'] : ['workerId'],
      });
      log.log('warn', 'no worker for run', { reason, retryInMs: delay });
      return this.noWorkerFor(written, reason, delay, now);
    }
    const first = candidates[0];
    const written = await this.moveOn(run, {
      to: 'DISPATCHED',
      at: now,
      attempt,
      note: options.note,
      set: {
        dispatchedAt: now,
        deadlineAt: deadlineFrom(job, now),
        ...(first ? { workerId: first.workerId } : {}),
      },
      unset: first ? ['nextAttemptAt', 'reason'] : ['nextAttemptAt', 'reason', 'workerId'],
    });
    return (await this.deliverer.deliver(job, written, candidates, log)) ?? written;
  }

  /**
   * The write of every re-dispatch, whichever way it goes: from where the run is, under its fence, to
   * a fence one higher, so the envelope and the claim of its previous dispatch go stale.
   */
  private moveOn(run: Run, change: Omit<RunChange, 'newFence'>): Promise<Run> {
    return this.deps.runs.transition(run.runId, {
      from: [run.status],
      fence: run.fence,
      newFence: run.fence + 1,
      ...change,
    });
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

  /** An existing run found no worker: tell the job's contacts, and free its lock unless a retry is scheduled. */
  async noWorkerFor(run: Run, message: string, retryDelay: number | null, now: number): Promise<Run> {
    await this.deps.alerts.raise({ kind: 'no_worker', jobId: run.jobId, runId: run.runId, message, at: now });
    if (retryDelay === null) await this.settle(run);
    return run;
  }
}
