import { NotFoundError } from '../../errors';
import { isLive, type Worker } from '../../model';
import type { Page, WorkerView } from '../schemas';
import { type Principal, UseCases } from './shared';

/** The workers holding a lease, and draining one. */
export class WorkerUseCases extends UseCases {
  async list(pool?: string): Promise<Page<WorkerView>> {
    const now = this.deps.clock.now();
    const workers = await this.deps.workers.list(pool);
    return {
      items: workers.sort((a, b) => a.workerId.localeCompare(b.workerId)).map((w) => workerView(w, now)),
    };
  }

  async drain(principal: Principal, workerId: string): Promise<WorkerView> {
    const before = await this.deps.workers.get(workerId);
    const now = this.deps.clock.now();
    if (!before || !isLive(before, now)) throw new NotFoundError('live worker', workerId);
    if (before.status !== 'DRAINING') {
      await this.deps.workers.setStatus(workerId, before.leaseFence, 'DRAINING', now);
    }
    const after = (await this.deps.workers.get(workerId)) ?? before;
    await this.record(
      principal,
      'worker.drain',
      `worker:${workerId}`,
      workerView(before, now),
      workerView(after, now),
    );
    return workerView(after, now);
  }
}

function workerView(worker: Worker, now: number): WorkerView {
  return {
    ...worker,
    running: worker.load,
    leaseAgeMs: Math.max(0, now - worker.heartbeatAt),
    live: isLive(worker, now),
  };
}
