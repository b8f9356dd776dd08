import { isStaleLock } from '../model';
import type { SweepReport } from './report';
import type { MonitorDeps } from './types';

/**
 * Held locks whose owner run is final, or missing past ORPHAN_LOCK_MS: a fire's writer takes the lock,
 * then writes the run, and died between the two (core/dispatch/record.ts). A younger lock with no run
 * may be a writer still between them, and is left for a later sweep.
 */
export async function releaseStaleLocks(deps: MonitorDeps, now: number, report: SweepReport): Promise<void> {
  for (const lock of await deps.locks.listHeld(now)) {
    if (lock.owner === undefined) continue;
    const owner = await deps.runs.get(lock.owner);
    if (!isStaleLock(lock, owner, now)) continue;
    if (await deps.locks.release(lock.lockKey, lock.owner)) {
      report.locksReleased += 1;
      deps.log.log('warn', 'stale lock released', {
        lockKey: lock.lockKey,
        owner: lock.owner,
        ownerStatus: owner?.status ?? 'missing',
      });
    }
  }
}
