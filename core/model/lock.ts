import { z } from 'zod';
import { EpochMsSchema } from './common';
import { isFinal, type Run } from './run';

/**
 * A lease-based mutual-exclusion record. The item outlives its holders: releasing clears the owner
 * but keeps `fence`, so every acquisition gets a strictly higher token than any before it. A job's
 * lock item (`jobLockKey`) also holds the job's health, `failing`, written by the same write as a
 * run's final status (RunLedger.finish) — also for jobs that allow overlap and never take the lock.
 */
export const LockSchema = z.object({
  lockKey: z.string().min(1),
  owner: z.string().optional(),
  fence: z.number().int().min(0),
  expiresAt: EpochMsSchema,
  /**
   * When the owner took it (a run's fire, RunLedger.createWithLock): the lock is taken before the run
   * is written, so a lock whose owner run does not exist yet is in flight this soon after, and
   * orphaned only later (ORPHAN_LOCK_MS). Absent on locks handed over or taken before it was kept.
   */
  takenAt: EpochMsSchema.optional(),
  /** The job's latest finished run FAILED, TIMED_OUT or was LOST, and none has SUCCEEDED since. */
  failing: z.boolean().optional(),
});
export type Lock = z.output<typeof LockSchema>;

/**
 * A lock whose owner run does not exist counts as orphaned (its writer died between taking it and
 * writing the run: core/dispatch/record.ts) only this long after it was taken. A writer between its two
 * writes sends the second right after the first answers: a dispatcher Lambda dies at its timeout (30 s
 * by default), and an agent would have to stall this long between two requests; a lock released
 * while its writer is still between them would leave that writer's run holding no lock.
 */
export const ORPHAN_LOCK_MS = 5 * 60_000;

/**
 * A lock held this long in the name of a precise fire that is still its placeholder was taken by a
 * decider that died before writing the run (core/dispatch/record.ts, `settleAbandonedDecision`): the
 * decider writes the run right after the lock answers. Shorter than ORPHAN_LOCK_MS because here the
 * placeholder's fence protects a decider that is only slow: once the fire is settled, its put is refused.
 */
export const ABANDONED_DECISION_MS = 5_000;

/** Whether a held lock is stale: its owner run is final, or missing and the lock past ORPHAN_LOCK_MS. */
export function isStaleLock(lock: Lock, owner: Run | null, now: number): boolean {
  if (owner) return isFinal(owner);
  return lock.takenAt === undefined || now - lock.takenAt >= ORPHAN_LOCK_MS;
}

export function jobLockKey(jobId: string): string {
  return `job#${jobId}`;
}

export function isHeld(lock: Lock | null, now: number): boolean {
  return lock?.owner !== undefined && lock.expiresAt > now;
}
