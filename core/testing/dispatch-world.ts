/**
 * The dispatcher's unit-test world: a Dispatcher and RunExecution over the in-memory fakes, a
 * hand-driven clock and a seeded random source, with helpers to make jobs and workers, fire and claim.
 * core/dispatch.test.ts and core/dispatch-policies.test.ts share it.
 */
import assert from 'node:assert/strict';
import { Dispatcher, type DispatcherDeps, type FireOutcome, RETRY_READ_LIMITS } from '../dispatch';
import { RunExecution } from '../execution';
import { silentLogger } from '../log';
import type { Job, JobSpecInput, Run } from '../model';
import { WorkerDirectory } from '../worker-directory';
import {
  MemoryDelivery,
  MemoryJobStore,
  MemoryLockStore,
  MemoryRunLedger,
  MemoryWorkerRegistry,
} from './memory-stores';
import { storedJob, workerRegistration } from './world-parts';

export const T0 = Date.parse('2026-01-30T10:00:00Z');
export const minute = 60_000;

/** A dispatcher over in-memory ports with a hand-driven clock and a seeded random source; it keeps jobs between fires as deployed. */
export function world() {
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const jobs = new MemoryJobStore();
  const locks = new MemoryLockStore();
  const runs = new MemoryRunLedger(locks);
  const registry = new MemoryWorkerRegistry();
  const delivery = new MemoryDelivery();
  const alerts: string[] = [];
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const deps = {
    jobs,
    runs,
    locks,
    workers: new WorkerDirectory(registry, 0),
    delivery,
    clock,
    log: silentLogger,
    alerts: { raise: async (a: { kind: string }) => void alerts.push(a.kind) },
    random,
    jobCacheSize: 10,
  };
  const dispatcher = new Dispatcher(deps);
  const execution = new RunExecution({ jobs, runs, dispatcher, clock, log: silentLogger, random });
  return {
    clock,
    jobs,
    runs,
    locks,
    registry,
    delivery,
    alerts,
    dispatcher,
    execution,
    newDispatcher: (extra: Partial<DispatcherDeps> = {}) => new Dispatcher({ ...deps, ...extra }),
    /** What a monitor sweep does for retries: the waiting runs read, then `retryDue`. */
    async retryDue() {
      return dispatcher.retryDue(await runs.listOpen({ limits: RETRY_READ_LIMITS, order: 'oldest' }));
    },
    async job(spec: Partial<JobSpecInput> = {}): Promise<Job> {
      const job = storedJob(spec, T0);
      await jobs.put(job, 0);
      return job;
    },
    async worker(workerId: string, extra: Record<string, unknown> = {}) {
      return registry.register(workerRegistration(workerId, extra), clock.now(), 10 * minute);
    },
    fire(minuteIndex: number, jobId = 'report'): Promise<FireOutcome> {
      return dispatcher.fire({
        jobId,
        scheduledTime: new Date(T0 + minuteIndex * minute).toISOString().replace('.000', ''),
      });
    },
    deliveredTo(): string[] {
      return delivery.delivered.map((d) =>
        d.target.kind === 'worker' ? d.target.worker.workerId : `pool:${d.target.pool}`,
      );
    },
    async claim(outcome: FireOutcome, workerId?: string): Promise<Run> {
      assert.equal(outcome.kind, 'dispatched');
      const run = outcome.kind === 'dispatched' ? outcome.runs[0] : undefined;
      const sent = delivery.delivered.findLast((d) => d.envelope.runId === run?.runId);
      assert.ok(sent, 'the run was delivered');
      return execution.claim(sent.envelope, workerId ?? run?.workerId ?? 'w');
    },
  };
}
