import { VersionConflictError } from '../errors';
import type { Job } from '../model';
import { type JobExpectation, type JobStore, jobStamp, sameStamp } from '../ports';
import type { FireOutcome } from './types';

/** Jobs a warm dispatcher keeps between fires, each checked by the fire's write (DispatcherDeps.jobCacheSize). */
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

  /**
   * The fast path from a kept job: `attempt` writes with the expectation, or returns null for a
   * decision that needs the job read first. Null too when the job changed or was deleted since it
   * was kept (nothing was written); then the caller reads it.
   */
  async attempt(
    jobId: string,
    attempt: (job: Job, expect: JobExpectation) => Promise<FireOutcome | null>,
  ): Promise<FireOutcome | null> {
    const job = this.jobs.get(jobId);
    // Only where the run is written in a transaction anyway (with its lock): for a job that allows
    // overlap, the check would turn one write into a transaction, which costs twice a job read.
    if (!job || job.spec.concurrency.policy === 'ALLOW') return null;
    try {
      return await attempt(job, jobStamp(job));
    } catch (error) {
      if (!(error instanceof VersionConflictError && error.details.kind === 'job')) throw error;
      this.jobs.delete(jobId);
      return null;
    }
  }
}
