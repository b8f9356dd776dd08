import { isFinal } from '../model';
import type { SweepReport } from './report';
import type { MonitorDeps } from './types';

/** Held locks whose owner run is final or missing (its writer died between the two writes). */
export async function releaseStaleLocks(deps: MonitorDeps, now: number, report: SweepReport): Promise<void> {
  for (const lock of await deps.locks.listHeld(now)) {
    if (lock.owner === undefined) continue;
    const owner = await deps.runs.get(lock.owner);
    if (owner && !isFinal(owner)) continue;
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
