/**
 * The WorkerRegistry fake: registrations, leases renewed and expired under their fences.
 * One fake per port (memory-stores.ts lists them); it passes the port's contract suite.
 */
import { LeaseLostError } from '../errors';
import type { Worker, WorkerRegistration } from '../model';
import type { WorkerRegistry } from '../ports';
import { clone, copiesById, copyOf } from './memory-copies';

export class MemoryWorkerRegistry implements WorkerRegistry {
  readonly workers = new Map<string, Worker>();

  async register(registration: WorkerRegistration, now: number, ttlMs: number): Promise<Worker> {
    const leaseFence = (this.workers.get(registration.workerId)?.leaseFence ?? 0) + 1;
    const worker: Worker = {
      ...clone(registration),
      status: 'ACTIVE',
      leaseFence,
      leaseExpiresAt: now + ttlMs,
      registeredAt: now,
      heartbeatAt: now,
      load: 0,
    };
    this.workers.set(worker.workerId, worker);
    return clone(worker);
  }

  async renew(
    workerId: string,
    leaseFence: number,
    now: number,
    ttlMs: number,
    load: number,
  ): Promise<Worker> {
    const worker = this.live(workerId, leaseFence, now);
    Object.assign(worker, { leaseExpiresAt: now + ttlMs, heartbeatAt: now, load });
    return clone(worker);
  }

  async setStatus(
    workerId: string,
    leaseFence: number,
    status: 'DRAINING' | 'GONE',
    now: number,
  ): Promise<void> {
    if (status === 'GONE') {
      const worker = this.workers.get(workerId);
      if (worker?.leaseFence !== leaseFence) throw new LeaseLostError(workerId);
      worker.status = 'GONE';
      return;
    }
    this.live(workerId, leaseFence, now).status = status;
  }

  async expire(workerId: string, leaseFence: number, now: number): Promise<boolean> {
    const worker = this.workers.get(workerId);
    if (
      !worker ||
      worker.leaseFence !== leaseFence ||
      worker.leaseExpiresAt > now ||
      worker.status === 'GONE'
    ) {
      return false;
    }
    worker.status = 'GONE';
    return true;
  }

  async get(workerId: string): Promise<Worker | null> {
    return copyOf(this.workers, workerId);
  }

  async list(pool?: string): Promise<Worker[]> {
    const listed = [...this.workers.values()].filter(
      (w) => w.status !== 'GONE' && (pool === undefined || w.pool === pool),
    );
    return copiesById(listed, (worker) => worker.workerId);
  }

  private live(workerId: string, leaseFence: number, now: number): Worker {
    const worker = this.workers.get(workerId);
    if (
      !worker ||
      worker.leaseFence !== leaseFence ||
      worker.leaseExpiresAt <= now ||
      (worker.status !== 'ACTIVE' && worker.status !== 'DRAINING')
    ) {
      throw new LeaseLostError(workerId);
    }
    return worker;
  }
}
