/**
 * The JobStore fake: jobs by id with their versions, stamps and the changed-since read.
 * One fake per port (memory-stores.ts lists them); it passes the port's contract suite.
 */
import { GraphChangedError, NotFoundError, VersionConflictError } from '../errors';
import { isPrecise, type Job, type SyncState } from '../model';
import { type GraphRead, type JobExpectation, type JobStore, jobStamp, type PreciseMark } from '../ports';
import { clone, copiesById, copyOf } from './memory-copies';

export class MemoryJobStore implements JobStore {
  readonly jobs = new Map<string, Job>();
  private mark: PreciseMark = { generation: 0 };

  async get(jobId: string): Promise<Job | null> {
    return copyOf(this.jobs, jobId);
  }

  async put(job: Job, expectedVersion: number, unchanged: readonly GraphRead[] = []): Promise<void> {
    this.check(job.spec.jobId, expectedVersion);
    for (const read of unchanged) {
      const stored = this.jobs.get(read.jobId);
      const same =
        'absent' in read ? !stored : stored?.version === read.version && stored.updatedAt === read.updatedAt;
      if (!same) throw new GraphChangedError(job.spec.jobId, read.jobId);
    }
    this.jobs.set(job.spec.jobId, clone(job));
    if (isPrecise(job.spec)) this.mark = { generation: this.mark.generation + 1 };
  }

  async preciseMark(): Promise<PreciseMark> {
    return { ...this.mark };
  }

  async quietPrecise(seen: PreciseMark, quietUntil: number): Promise<boolean> {
    if (seen.generation !== this.mark.generation) return false;
    this.mark = { generation: seen.generation, quietUntil };
    return true;
  }

  async setSyncState(jobId: string, version: number, state: SyncState): Promise<void> {
    const job = this.check(jobId, version);
    if (job) job.syncState = state;
  }

  async delete(jobId: string, expectedVersion?: number): Promise<void> {
    if (expectedVersion !== undefined) this.check(jobId, expectedVersion);
    this.jobs.delete(jobId);
  }

  async list(): Promise<Job[]> {
    return copiesById(this.jobs.values(), (job) => job.spec.jobId);
  }

  async stamp(jobId: string): Promise<JobExpectation | null> {
    const job = this.jobs.get(jobId);
    return job ? jobStamp(job) : null;
  }

  async listUpdatedSince(since: number): Promise<Job[]> {
    return copiesById(
      [...this.jobs.values()].filter((job) => job.updatedAt >= since),
      (job) => job.spec.jobId,
    );
  }

  async linkDownstream(jobId: string, downstreamId: string, linked: boolean): Promise<boolean> {
    const job = this.jobs.get(jobId);
    if (!job) return false;
    const downstream = new Set(job.downstream ?? []);
    if (linked) downstream.add(downstreamId);
    else downstream.delete(downstreamId);
    if (downstream.size) job.downstream = [...downstream].sort();
    else delete job.downstream;
    return true;
  }

  async listLocal(pool: string): Promise<Job[]> {
    return copiesById(
      [...this.jobs.values()].filter((job) => job.spec.mode === 'LOCAL' && job.spec.target.pool === pool),
      (job) => job.spec.jobId,
    );
  }

  private check(jobId: string, expectedVersion: number): Job | undefined {
    const current = this.jobs.get(jobId);
    if (!current && expectedVersion !== 0) throw new NotFoundError('job', jobId);
    if (expectedVersion === 0 ? current : current?.version !== expectedVersion) {
      throw new VersionConflictError('job', jobId, expectedVersion, current?.version);
    }
    return current;
  }
}
