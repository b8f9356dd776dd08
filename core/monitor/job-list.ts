import type { Job } from '../model';
import type { JobStore } from '../ports';

/**
 * The job list a warm monitor keeps between sweeps: read in full at housekeeping, refreshed by the
 * jobs changed since in between.
 */
export class JobList {
  private known: { readonly jobs: Map<string, Job>; readAt: number } | null = null;

  /** `changeLagMs`: MonitorOptions.jobChangeLagMs. */
  constructor(
    private readonly jobs: JobStore,
    private readonly changeLagMs: number,
  ) {}

  /**
   * Every job: a full read (a Scan) on a cold instance and at housekeeping, which repairs from it, so
   * deletes and any drift leave the list within `housekeepingMs`; between, the kept list plus the jobs
   * updated since the previous read (a Query), which brings creates, edits and pauses to the next
   * sweep. Acting on a job re-reads it first ({@link stored}): a kept copy may be of a deleted job.
   * `full` says which read it was: after a full one, the list is every job there is.
   */
  async read(now: number, full: boolean): Promise<{ jobs: Job[]; full: boolean }> {
    if (full || !this.known) {
      const listed = await this.jobs.list();
      this.known = { jobs: new Map(listed.map((job) => [job.spec.jobId, job])), readAt: now };
      return { jobs: listed, full: true };
    }
    const known = this.known;
    for (const job of await this.jobs.listUpdatedSince(known.readAt - this.changeLagMs)) {
      const kept = known.jobs.get(job.spec.jobId);
      // The index may lag: never go back to an older copy than one already kept.
      if (!kept || job.updatedAt >= kept.updatedAt) known.jobs.set(job.spec.jobId, job);
    }
    known.readAt = now;
    return {
      jobs: [...known.jobs.values()].sort((a, b) => a.spec.jobId.localeCompare(b.spec.jobId)),
      full: false,
    };
  }

  /** The job as stored now (null when deleted), also put in the kept list: read before acting on a copy. */
  async stored(job: Job): Promise<Job | null> {
    const current = await this.jobs.get(job.spec.jobId);
    if (current) this.known?.jobs.set(job.spec.jobId, current);
    else this.known?.jobs.delete(job.spec.jobId);
    return current;
  }
}
