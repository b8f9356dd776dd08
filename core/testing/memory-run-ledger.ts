/**
 * The RunLedger fake: one run per id, fenced transitions, the job's lock taken and settled with its run.
 * One fake per port (memory-stores.ts lists them); it passes the port's contract suite.
 */
import {
  AlreadyFiredError,
  LockHeldError,
  NotFoundError,
  RunNotInStateError,
  StaleFenceError,
} from '../errors';
import {
  applyTransition,
  checkTransitionFields,
  claimDifferences,
  claimRefusal,
  jobLockKey,
  type OpenRunStatus,
  OpenRunStatuses,
  type Run,
  type RunClaim,
  replacesPlaceholder,
} from '../model';
import type {
  LockClaim,
  OpenRunQuery,
  OpenRuns,
  RunFinish,
  RunFinished,
  RunLedger,
  RunPatch,
  RunQuery,
  RunTransition,
} from '../ports';
import { clone, copyOf } from './memory-copies';
import { MemoryLockStore } from './memory-lock-store';

export class MemoryRunLedger implements RunLedger {
  readonly runs = new Map<string, Run>();

  constructor(readonly locks: MemoryLockStore = new MemoryLockStore()) {}

  async get(runId: string): Promise<Run | null> {
    return copyOf(this.runs, runId);
  }

  async create(run: Run): Promise<void> {
    this.checkNew(run);
    this.runs.set(run.runId, clone(run));
  }

  /** As DynamoRunLedger: the lock, then the run; a put refused because the run exists gives back a lock it took. */
  async createWithLock(run: Run, lock: LockClaim): Promise<void> {
    const took = this.locks.take(lock);
    if (typeof took === 'object') {
      const existing = this.runs.get(run.runId);
      // A precise fire's own placeholder is no duplicate: with the lock held, the fire is an overlap.
      if (existing && !replacesPlaceholder(run, existing))
        throw new AlreadyFiredError(run.runId, clone(existing));
      throw new LockHeldError(lock.key, took.heldBy);
    }
    try {
      await this.create(run);
    } catch (error) {
      if (took && error instanceof AlreadyFiredError) await this.locks.release(lock.key, lock.owner);
      throw error;
    }
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

  /** No run with the id yet, or (a planned fire decided: `replacesPlan`) its placeholder under that fence. */
  private checkNew(run: Run): void {
    const existing = this.runs.get(run.runId);
    if (!existing) return;
    if (replacesPlaceholder(run, existing)) return;
    throw new AlreadyFiredError(run.runId, clone(existing));
  }
}
