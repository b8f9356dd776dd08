/**
 * Record: how a fire's new run is written. One conditional write per fire (invariant 1: a duplicate
 * invocation finds the first record and changes nothing), with the job's lock when its concurrency
 * policy needs one (invariant 2: a held lock becomes a skip, a queued run or a replacement).
 *
 * Under a lock the run is two single-item writes, not a transaction (RunLedger.createWithLock; a
 * transaction bills each item twice): first the lock, taken in the run's id, then the run, put on its
 * id not existing. Every way a writer can stop between or after them, and what repairs it:
 *
 * - Lock taken, run not written (the dispatcher or agent died, or the put failed for an outage):
 *   the lock names a run that does not exist. (a) The fire's retry — Lambda's or EventBridge
 *   Scheduler's retry of the failed invocation, the monitor's catch-up of the missed instant
 *   (FIRE_ONCE_NOW; same run id), an agent's LOCAL retry — finds the lock already in its name,
 *   counts it as taken, and writes the run. (b) Under misfire policy SKIP the monitor records the
 *   instant SKIPPED(misfire) with the same id: the lock's owner is then final, and the next fire
 *   takes it over (takeStaleLock) or the monitor's stale-lock step releases it. (c) Otherwise (a
 *   manual or dependent fire nobody retries) the monitor's stale-lock step releases a lock whose
 *   owner run is missing once it is older than ORPHAN_LOCK_MS (model/lock.ts) — never sooner,
 *   since a younger one may be a writer between its two writes, whose run would then hold no lock.
 *   (d) At the latest the lock expires (the job's timeout plus LOCK_GRACE_MS). (e) A precise fire's
 *   decider (an agent, at the instant) that dies between them leaves the lock in the name of a fire
 *   that is still its placeholder: once the lock is ABANDONED_DECISION_MS old the next fire records
 *   that one SKIPPED(misfire) under the placeholder's fence and takes the lock over
 *   (settleAbandonedDecision). Until one of these,
 *   the job's fires are skipped as overlapping, each recorded (invariant 5: nothing silently dropped).
 * - Both written, not delivered: a DISPATCHED run no agent claims, as before — a repeated fire sends
 *   it again (plain-fire.ts `resendDuplicate`), else the monitor's unclaimed step.
 * - Lock taken, put refused because the run exists (a duplicate fire after the first one's lock was
 *   released or expired): the ledger gives the lock back. A writer dying before that leaves a lock
 *   held by a run that exists: its own while it is active, stale once final — the next fire takes it
 *   over (takeStaleLock), the monitor's stale-lock step releases it.
 *
 * The run is checked before the lock question (the ledger reads it when the lock is held by another
 * run): a duplicate invocation is always a duplicate, never an overlap, a queued run or a
 * replacement that would cancel the active run.
 */
import { AlreadyFiredError, LockHeldError, RunNotInStateError, StaleFenceError } from '../errors';
import type { Logger } from '../log';
import {
  ABANDONED_DECISION_MS,
  ACTIVE_STATUSES,
  isFinal,
  isPlaceholder,
  isStaleLock,
  type Job,
  jobLockKey,
  type Run,
  type SkipReason,
} from '../model';
import type { LockStore, RunLedger } from '../ports';
import { lockExpiry } from './runs';
import type { FireOutcome } from './types';

/** A new run written (`written`), or the fire decided without it (`settled`: duplicate, skip, queue). */
export type Written = { kind: 'written'; run: Run } | { kind: 'settled'; outcome: FireOutcome };

type LockClaim = { key: string; owner: string; expiresAt: number; now: number };

export class Recorder {
  constructor(
    private readonly runs: RunLedger,
    private readonly locks: LockStore,
  ) {}

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
  ): Promise<Written> {
    const policy = job.spec.concurrency.policy;
    if (policy === 'ALLOW') return this.createPlain(run, log);
    const locked: Run = { ...run, lockKey };
    const claim = { key: lockKey, owner: run.runId, expiresAt: lockExpiry(job, now), now };
    try {
      await this.runs.createWithLock(locked, claim);
      logCreated(log, locked);
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
   * A stale lock (model/lock.ts `isStaleLock`) is taken over from its holder by the same conditional
   * write. Its holder run is final: a final status written without the lock's release (a BROADCAST
   * run's, an API cancel's: the status, then settle), and a fire that lands between them — or after
   * the writer died between them — must not be skipped as an overlap with a run that has finished.
   * Or its holder run is missing past ORPHAN_LOCK_MS: a writer died between the lock and the run.
   * Not under QUEUE: there the finishing run hands its lock to the oldest queued run (settle).
   */
  private async takeStaleLock(
    run: Run,
    claim: LockClaim,
    holder: string,
    log: Logger,
  ): Promise<Written | undefined> {
    if (run.concurrency === 'QUEUE') return undefined;
    let current = await this.runs.get(holder);
    if (current && isPlaceholder(current)) current = await this.settleAbandonedDecision(current, claim, log);
    if (current && !isFinal(current)) return undefined;
    if (!current) {
      const lock = await this.locks.get(claim.key);
      if (lock?.owner !== holder || !isStaleLock(lock, null, claim.now)) return undefined;
    }
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
      previousStatus: current?.status ?? 'missing',
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

  /**
   * A lock held in the name of a precise fire that is still its placeholder: nothing but that fire's
   * decision takes a lock in its name, and the decision writes the run right after — so a lock that
   * old belongs to a decider that died between the two writes. The fire is recorded SKIPPED(misfire)
   * under the placeholder's fence (a decider only slow then finds its put refused: the fire never runs
   * without the lock) and the lock is stale. Without this the job's fires were skipped as overlapping
   * until the planner found the placeholder missed, half a minute after its instant and a pass later.
   * Returns the holder run as it now is.
   */
  private async settleAbandonedDecision(
    placeholder: Run,
    claim: LockClaim,
    log: Logger,
  ): Promise<Run | null> {
    const lock = await this.locks.get(claim.key);
    const age = lock?.takenAt === undefined ? 0 : claim.now - lock.takenAt;
    if (lock?.owner !== placeholder.runId || age < ABANDONED_DECISION_MS) return placeholder;
    try {
      const settled = await this.runs.transition(placeholder.runId, {
        from: ['PENDING'],
        fence: placeholder.fence,
        to: 'SKIPPED',
        at: claim.now,
        note: `its decider took the job's lock ${age} ms ago and never wrote the run (worker ${placeholder.workerId ?? '?'})`,
        set: { reason: 'misfire', finishedAt: claim.now },
      });
      log.log('warn', 'planned fire abandoned in its decision: SKIPPED(misfire), its lock taken over', {
        previous: placeholder.runId,
        previousWorkerId: placeholder.workerId,
        lockAgeMs: age,
      });
      return settled;
    } catch (error) {
      // Decided, moved or settled meanwhile: judge the lock by what the holder is now.
      if (error instanceof RunNotInStateError || error instanceof StaleFenceError)
        return this.runs.get(placeholder.runId);
      throw error;
    }
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

  async createPlain(run: Run, log: Logger): Promise<Written> {
    try {
      await this.runs.create(run);
      logCreated(log, run);
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

/**
 * A new run's line. A DISPATCHED run's is at debug, as its delivery's (delivery.ts): a REMOTE fire's
 * one line is the dispatcher's metric line naming its job, run and worker, a LOCAL one's the agent's
 * "LOCAL fire won", and a fire's log bytes are billed a million times over (docs/capacity.md).
 * Skipped, queued and NO_WORKER runs log here at info.
 */
function logCreated(log: Logger, run: Run): void {
  log.log(run.status === 'DISPATCHED' ? 'debug' : 'info', 'run created', {
    status: run.status,
    ...(run.reason === undefined ? {} : { reason: run.reason }),
    workerId: run.workerId,
  });
}
