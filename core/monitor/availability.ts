import { isLive, type Job, type Worker } from '../model';
import { eligibleWorkers, explainEligibility } from '../routing';
import type { JobList } from './job-list';
import type { SweepReport } from './report';
import type { MonitorDeps } from './types';

/** The standing condition under which unavailable jobs are flagged in the alert store. */
export const JOB_UNAVAILABLE = 'job_unavailable';

/**
 * A job no live worker could run (capacity aside) raises `job_unavailable` once per outage: a flag in
 * the alert store, cleared when a capable worker returns or the job goes.
 */
export async function checkAvailability(
  deps: MonitorDeps,
  jobList: JobList,
  jobs: readonly Job[],
  live: readonly Worker[],
  now: number,
  report: SweepReport,
): Promise<void> {
  const flagged = await deps.alertStore.flagged(JOB_UNAVAILABLE);
  // Capacity aside: a busy worker can still run the job later.
  const capable = live.filter((w) => isLive(w, now)).map((w) => ({ ...w, load: 0 }));
  const watched = new Set<string>();
  for (const job of jobs) {
    if (job.spec.paused) continue;
    const jobId = job.spec.jobId;
    watched.add(jobId);
    const available = eligibleWorkers(job.spec, capable, now).length > 0;
    if (available) {
      if (flagged.has(jobId) && (await deps.alertStore.unflag(JOB_UNAVAILABLE, jobId))) {
        deps.log.log('info', 'job available again', { jobId });
      }
      continue;
    }
    report.jobsWithoutLiveWorker += 1;
    if (flagged.has(jobId)) continue;
    // A kept copy may be of a job since deleted, paused or changed: the next sweep judges the stored one.
    if ((await jobList.stored(job))?.version !== job.version) continue;
    if (!(await deps.alertStore.flag(JOB_UNAVAILABLE, jobId))) continue;
    report.jobsUnavailable += 1;
    const { excluded } = explainEligibility(job.spec, capable, now);
    const why = excluded.length
      ? excluded.map((e) => `${e.workerId} (${e.reason})`).join(', ')
      : `no live worker in pool ${job.spec.target.pool}`;
    await deps.alerts.raise({
      kind: 'job_unavailable',
      jobId,
      message: `no live worker can run handler ${job.spec.handler}: ${why}`,
      at: now,
    });
  }
  for (const jobId of flagged) {
    if (!watched.has(jobId)) await deps.alertStore.unflag(JOB_UNAVAILABLE, jobId);
  }
}
