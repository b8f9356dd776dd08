import { VersionConflictError } from '../errors';
import type { Job } from '../model';
import type { SweepReport } from './report';
import type { MonitorDeps } from './types';

/** Housekeeping: OUT_OF_SYNC schedules repaired once they stayed so `syncGraceMs` (a define in flight is not a drift). */
export async function repairSchedules(
  deps: MonitorDeps,
  jobs: readonly Job[],
  now: number,
  report: SweepReport,
  syncGraceMs: number,
): Promise<void> {
  for (const job of jobs) {
    if (job.syncState !== 'OUT_OF_SYNC' || now - job.updatedAt < syncGraceMs) continue;
    try {
      await deps.jobService.syncSchedule(job);
      report.schedulesRepaired += 1;
      deps.log.log('info', 'schedule repaired', { jobId: job.spec.jobId, version: job.version });
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error; // changed meanwhile: its define syncs it
    }
  }
}
