import type { Job } from '../model';
import { type JobStore, jobStamp, sameStamp } from '../ports';

/**
 * Jobs a warm dispatcher keeps between fires, each checked by a consistent read of its stamp before
 * use (DispatcherDeps.jobCacheSize). The check is a read, not a condition in the fire's write: in a
 * write it made that write a transaction, which bills every item twice (docs/capacity.md).
 */
export class JobCache {
  /** Jobs as last read, by id, oldest first. */
  private readonly jobs = new Map<string, Job>();

  constructor(
    private readonly store: JobStore,
    private readonly size: number,
  ) {}

  /** The kept job, unchecked: only for what a stale job cannot harm (the resend of a duplicate fire). */
  kept(jobId: string): Job | undefined {
    return this.jobs.get(jobId);
  }

  /**
   * Reads the job, keeping it for later fires when the cache is on. A kept job is used only when the
   * stored job's stamp (a consistent read of its version, updatedAt and dependents) still names it:
   * as current as reading the job itself, for the price of a smaller read.
   */
  async read(jobId: string): Promise<Job | null> {
    const kept = this.jobs.get(jobId);
    if (kept) {
      const stamp = await this.store.stamp(jobId);
      if (stamp && sameStamp(stamp, jobStamp(kept))) return kept;
    }
    const job = await this.store.get(jobId);
    this.jobs.delete(jobId);
    if (job && this.size > 0) {
      this.jobs.set(jobId, job);
      for (const oldest of this.jobs.keys()) {
        if (this.jobs.size <= this.size) break;
        this.jobs.delete(oldest);
      }
    }
    return job;
  }
}
