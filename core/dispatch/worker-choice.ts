import type { Job, Worker } from '../model';
import { eligibleWorkers, explainEligibility, orderCandidates } from '../routing';
import type { WorkerDirectory } from '../worker-directory';

/** Route: which live workers a fire may go to, in the order the job's routing strategy tries them. */
export class WorkerChoice {
  /** Round-robin cursors per job: a warm instance's memory; a cold start begins a new ring walk. */
  private readonly lastWorker = new Map<string, string>();

  constructor(
    private readonly workers: WorkerDirectory,
    private readonly random: () => number,
  ) {}

  candidates(job: Job, live: readonly Worker[], now: number): Worker[] {
    const eligible = eligibleWorkers(job.spec, live, now);
    return orderCandidates(job.spec, eligible, {
      lastWorkerId: this.lastWorker.get(job.spec.jobId),
      random: this.random,
    });
  }

  /** A worker accepted a delivery of the job: the ring walks on from it, and its load counts it. */
  delivered(job: Job, workerId: string): void {
    this.lastWorker.set(job.spec.jobId, workerId);
    this.workers.noteDispatched(job.spec.target.pool, workerId);
  }

  noWorkerReason(job: Job, live: readonly Worker[], now: number): string {
    const { excluded } = explainEligibility(job.spec, live, now);
    if (excluded.length === 0) return `no live worker in pool ${job.spec.target.pool}`;
    return `no eligible worker: ${excluded.map((e) => `${e.workerId} (${e.reason})`).join(', ')}`;
  }
}
