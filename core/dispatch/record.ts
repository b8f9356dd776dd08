/**
 * Record: how a fire's new run is written. One conditional write per fire (invariant 1: a duplicate
 * invocation finds the first record and changes nothing), with the job's lock when its concurrency
 * policy needs one (invariant 2: a held lock becomes a skip, a queued run or a replacement).
 */
import { AlreadyFiredError, LockHeldError } from '../errors';
import type { Logger } from '../log';
import { ACTIVE_STATUSES, isFinal, type Job, jobLockKey, type Run, type SkipReason } from '../model';
import type { JobExpectation, RunLedger } from '../ports';
import { lockExpiry } from './runs';
import type { FireOutcome } from './types';

/** A new run written (`written`), or the fire decided without it (`settled`: duplicate, skip, queue). */
export type Written = { kind: 'written'; run: Run } | { kind: 'settled'; outcome: FireOutcome };

type LockClaim = { key: string; owner: string; expiresAt: number; now: number };

export class Recorder {
  constructor(private readonly runs: RunLedger) {}

  /**
   * Writes a new run under the job's concurrency policy; a held lock becomes a skip, a queued run or a
   * replacement — or, with `throwIfHeld`, the LockHeldError itself, with nothing written.
   */
  async write(
    job: Job,
    run: Run,
    now: number,
    log: Logger,
    lockKey = jobLockKey(job.spec.jobId),
    throwIfHeld = false,
    expect?: JobExpectation,
  ): Promise<Written> {
    const policy = job.spec.concurrency.policy;
    if (policy === 'ALLOW') return this.createPlain(run, log, expect);
    const locked: Run = { ...run, lockKey };
    const claim = { key: lockKey, owner: run.runId, expiresAt: lockExpiry(job, now), now };
    try {
      // With `expect`, a held lock means the job was current (the ledger checks it first): what follows may use it.
      await this.runs.createWithLock(locked, claim, expect);
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
    claim: LockClaim,
    holder: string,
    log: Logger,
  ): Promise<Written | undefined> {
    if (run.concurrency === 'QUEUE') return undefined;
    const current = await this.runs.get(holder);
    if (!current || !isFinal(current)) return undefined;
    try {
      await this.runs.createWithLock(run, { ...claim, takeOverFrom: holder });
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
    const queued = (await this.runs.listByJob(job.spec.jobId, { order: 'oldest', limit: 200 })).filter(
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
    claim: LockClaim,
    holder: string,
    now: number,
    log: Logger,
  ): Promise<boolean> {
    const current = await this.runs.get(holder);
    if (current && ACTIVE_STATUSES.includes(current.status)) {
      await this.runs
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
      await this.runs.createWithLock(run, { ...claim, takeOverFrom: holder });
      log.log('info', 'run created, replacing the active run', { replaced: holder, workerId: run.workerId });
      return true;
    } catch (error) {
      if (error instanceof LockHeldError) return false;
      throw error;
    }
  }

  skipPaused(base: Run, log: Logger): Promise<FireOutcome> {
    return this.record({ ...base, status: 'SKIPPED', reason: 'paused' }, log, (run) => ({
      kind: 'skipped',
      run,
      reason: 'paused',
    }));
  }

  async skip(run: Run, reason: SkipReason, now: number, log: Logger, note: string): Promise<FireOutcome> {
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
  async record(run: Run, log: Logger, outcome: (run: Run) => FireOutcome): Promise<FireOutcome> {
    const written = await this.createPlain(run, log);
    return written.kind === 'written' ? outcome(written.run) : written.outcome;
  }

  async createPlain(run: Run, log: Logger, expect?: JobExpectation): Promise<Written> {
    try {
      await this.runs.create(run, expect);
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
}
