/**
 * What the routing tests share (core/routing-eligibility.test.ts, core/routing-strategies.test.ts): a
 * worker and a job as routing sees them, a seeded shuffle of the input order, and the ids of a list.
 */
import type { RoutingStrategy, Worker } from '../model';
import type { RoutingJob } from '../routing';

export const NOW = 1_750_000_000_000;

/** An active worker `workerId` in pool `default` offering `report.daily`, 4 slots, idle, with `overrides`. */
export function worker(workerId: string, overrides: Partial<Worker> = {}): Worker {
  return {
    workerId,
    host: `${workerId}.example`,
    pool: 'default',
    handlers: ['report.daily'],
    labels: {},
    capacity: 4,
    priority: 100,
    endpoints: {},
    status: 'ACTIVE',
    leaseFence: 1,
    leaseExpiresAt: NOW + 10_000,
    registeredAt: NOW - 60_000,
    heartbeatAt: NOW - 1_000,
    load: 0,
    ...overrides,
  };
}

/** Job `nightly-report` running `report.daily` by `routing` in pool `default`, with `target` over it. */
export function job(
  routing: RoutingStrategy = 'ROUND_ROBIN',
  target: Partial<RoutingJob['target']> = {},
): RoutingJob {
  return {
    jobId: 'nightly-report',
    handler: 'report.daily',
    target: { pool: 'default', labels: {}, workerIds: [], ...target },
    routing,
  };
}

/** A Fisher-Yates shuffle by `random`: the same seed, the same order. */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export const ids = (workers: readonly Worker[]) => workers.map((w) => w.workerId);
