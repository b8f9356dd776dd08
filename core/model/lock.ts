import { z } from 'zod';
import { EpochMsSchema } from './common';

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
  /** The job's latest finished run FAILED, TIMED_OUT or was LOST, and none has SUCCEEDED since. */
  failing: z.boolean().optional(),
});
export type Lock = z.output<typeof LockSchema>;

export function jobLockKey(jobId: string): string {
  return `job#${jobId}`;
}

export function isHeld(lock: Lock | null, now: number): boolean {
  return lock?.owner !== undefined && lock.expiresAt > now;
}
