/**
 * Routing strategies through the real dispatcher and real worker leases on the emulator: the leases
 * are written as agents write them (register, renew with a load, GONE on leaving), each worker has its
 * own SQS queue, and the dispatcher chooses from what the lease table says. No agent processes: what
 * is tested is the choice, so the fires are many and fast.
 *
 * - CONSISTENT_HASH keeps a job on its worker when another worker leaves; only the leaver's jobs move.
 * - LEAST_LOADED never picks a full worker, and picks the least loaded one.
 * - Every strategy over 1,000 fires and 5 workers (one of them full), choosing from the leases on the
 *   emulator; the runs and deliveries of those 8,000 fires go to contract-tested in-memory stores.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { Dispatcher, type FireOutcome } from '../../core/dispatch';
import { silentLogger } from '../../core/log';
import { JobSchema, type JobSpecInput, type RoutingStrategy, type Worker } from '../../core/model';
import { systemClock } from '../../core/ports';
import {
  MemoryDelivery,
  MemoryJobStore,
  MemoryLockStore,
  MemoryRunLedger,
} from '../../core/testing/memory-stores';
import { WorkerDirectory } from '../../core/worker-directory';
import { useEmulator } from '../harness';
import { joinFleet } from '../harness/fleet';

const aws = useEmulator();
const HANDLER = 'reports.daily';
const T0 = Date.UTC(2026, 1, 1);
const at = (i: number) => new Date(T0 + i * 60_000).toISOString().replace('.000', '');

async function plane(workerCacheMs = 0): Promise<ControlPlane> {
  await aws.provisioned();
  return controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs });
}

/** Five workers in `pool`, registered as agents register: own queue, then a ten-minute lease. */
async function fleet(p: ControlPlane, pool: string, extra: (n: number) => object = () => ({})) {
  const members = await Promise.all(
    [1, 2, 3, 4, 5].map((n) =>
      joinFleet(p, aws.clients, { workerId: `${pool}-${n}`, pool, handlers: [HANDLER], ...extra(n) }),
    ),
  );
  return members.map((m) => m.worker);
}

async function define(
  p: ControlPlane,
  jobId: string,
  pool: string,
  routing: RoutingStrategy,
  spec: Partial<JobSpecInput> = {},
) {
  await p.jobService.define({
    jobId,
    handler: HANDLER,
    target: { pool },
    routing,
    concurrency: { policy: 'ALLOW' },
    ...spec,
  });
}

function dispatchedTo(outcome: FireOutcome): string[] {
  assert.equal(outcome.kind, 'dispatched', JSON.stringify(outcome));
  return outcome.kind === 'dispatched' ? outcome.runs.map((r) => r.workerId ?? 'pool') : [];
}

function countBy(values: readonly string[], workers: readonly Worker[]): number[] {
  return workers.map((w) => values.filter((v) => v === w.workerId).length);
}

describe('routing on the emulator', () => {
  test('CONSISTENT_HASH: when a worker leaves, every other job stays on its worker; only the leaver’s move', async () => {
    const p = await plane();
    const workers = await fleet(p, 'ch');
    const jobs = Array.from({ length: 25 }, (_, i) => `ch-job-${i}`);
    for (const jobId of jobs) await define(p, jobId, 'ch', 'CONSISTENT_HASH');

    const before = new Map<string, string>();
    for (const jobId of jobs)
      before.set(jobId, dispatchedTo(await p.dispatcher.fire({ jobId, scheduledTime: at(0) }))[0]!);
    const perWorker = countBy([...before.values()], workers);
    assert.ok(
      perWorker.every((n) => n > 0),
      `25 jobs hash onto all five workers: ${perWorker}`,
    );

    // The worker with the most jobs leaves, as a draining agent does: its lease becomes GONE.
    const leaver = workers[perWorker.indexOf(Math.max(...perWorker))]!;
    await p.workers.setStatus(leaver.workerId, leaver.leaseFence, 'GONE', Date.now());

    for (const jobId of jobs) {
      const [now] = dispatchedTo(await p.dispatcher.fire({ jobId, scheduledTime: at(1) }));
      const was = before.get(jobId);
      if (was === leaver.workerId) {
        assert.notEqual(now, leaver.workerId, `${jobId} moved off the worker that left`);
      } else {
        assert.equal(now, was, `${jobId} stayed on ${was}`);
      }
    }
  });

  test('LEAST_LOADED: never a full worker, always the least loaded; all full is NO_WORKER naming why', async () => {
    const p = await plane();
    const workers = await fleet(p, 'll', () => ({ capacity: 3 }));
    await define(p, 'll-job', 'll', 'LEAST_LOADED');
    for (let i = 0; i < 30; i += 1) {
      // Loads as heartbeats report them; worker (i mod 5) is always full, the rest vary.
      const loads = workers.map((_, k) => (k === i % 5 ? 3 : (i * 7 + k * 5) % 4 === 3 ? 3 : (i + k) % 3));
      await Promise.all(
        workers.map((w, k) => p.workers.renew(w.workerId, w.leaseFence, Date.now(), 600_000, loads[k]!)),
      );
      const [chosen] = dispatchedTo(await p.dispatcher.fire({ jobId: 'll-job', scheduledTime: at(i) }));
      const k = workers.findIndex((w) => w.workerId === chosen);
      assert.ok(loads[k]! < 3, `fire ${i}: ${chosen} is full (loads ${loads})`);
      const least = Math.min(...loads.filter((l) => l < 3));
      assert.equal(loads[k], least, `fire ${i}: ${chosen} has load ${loads[k]}, the least is ${least}`);
    }
    await Promise.all(workers.map((w) => p.workers.renew(w.workerId, w.leaseFence, Date.now(), 600_000, 3)));
    const none = await p.dispatcher.fire({ jobId: 'll-job', scheduledTime: at(100) });
    assert.equal(none.kind, 'no_worker');
    assert.match(none.kind === 'no_worker' ? (none.run.reason ?? '') : '', /ll-1 \(full\)/);
  });

  test('every strategy over 1,000 fires and 5 workers, choosing from the leases on the emulator', async () => {
    const p = await plane();
    const workers = await fleet(p, 'all', (n) => ({ capacity: 1000, priority: n === 3 ? 1 : 100 + n }));
    const ids = workers.map((w) => w.workerId);
    // all-5 reports itself full: no strategy may choose it (LEAST_LOADED would, by load, if it could).
    await p.workers.renew(ids[4]!, workers[4]!.leaseFence, Date.now(), 600_000, 1000);
    const spread = (counts: number[]) => Math.max(...counts) - Math.min(...counts);
    // Each strategy gets a fresh warm dispatcher: loads as the leases say, counted up by its own fires.
    let d = fastDispatcher(p);
    const fires = async (jobId: string, routing: RoutingStrategy, count = 1000, fresh = true) => {
      if (fresh) d = fastDispatcher(p);
      await d.define(jobId, 'all', routing);
      const outcomes: FireOutcome[] = [];
      for (let i = 0; i < count; i += 1)
        outcomes.push(await d.dispatcher.fire({ jobId, scheduledTime: at(i) }));
      return outcomes.flatMap(dispatchedTo);
    };

    const rr = countBy(await fires('rr', 'ROUND_ROBIN'), workers);
    assert.equal(rr[4], 0, `ROUND_ROBIN skips the full worker: ${rr}`);
    assert.ok(spread(rr.slice(0, 4)) <= 1, `ROUND_ROBIN within one: ${rr}`);

    const random = countBy(await fires('random', 'RANDOM'), workers);
    // 250 expected each; ±70 is beyond 5 standard deviations of a fair draw.
    assert.equal(random[4], 0, `RANDOM skips the full worker: ${random}`);
    assert.ok(
      random.slice(0, 4).every((n) => n >= 180 && n <= 320),
      `RANDOM about even: ${random}`,
    );

    // A warm dispatcher counts its own dispatches onto the cached loads, so LEAST_LOADED evens out.
    const least = countBy(await fires('least', 'LEAST_LOADED'), workers);
    assert.equal(least[4], 0, `LEAST_LOADED never chose the full worker: ${least}`);
    assert.ok(spread(least.slice(0, 4)) <= 1, `LEAST_LOADED evens out the others: ${least}`);

    const hashJobs = Array.from({ length: 50 }, (_, i) => `hash-${i}`);
    const hashed: Set<string>[] = [];
    d = fastDispatcher(p);
    for (const jobId of hashJobs) hashed.push(new Set(await fires(jobId, 'CONSISTENT_HASH', 20, false)));
    for (const [i, set] of hashed.entries())
      assert.equal(set.size, 1, `${hashJobs[i]}: 20 fires, one worker`);
    const hashCounts = countBy(
      hashed.flatMap((set) => [...set]),
      workers,
    );
    assert.equal(hashCounts[4], 0, `CONSISTENT_HASH skips the full worker: ${hashCounts}`);
    assert.ok(
      hashCounts.slice(0, 4).every((n) => n > 0),
      `CONSISTENT_HASH spreads 50 jobs: ${hashCounts}`,
    );

    for (const routing of ['FIRST', 'FAILOVER'] as const) {
      const counts = countBy(await fires(routing.toLowerCase(), routing), workers);
      assert.deepEqual(counts, [0, 0, 1000, 0, 0], `${routing}: the priority-1 worker takes every fire`);
    }

    assert.deepEqual(new Set(await fires('any', 'ANY')), new Set(['pool']), 'ANY: to the pool queue');
    assert.equal(d.delivery.delivered.filter((x) => x.target.kind === 'pool').length, 1000);

    const broadcast = countBy(await fires('broadcast', 'BROADCAST'), workers);
    assert.deepEqual(broadcast, [1000, 1000, 1000, 1000, 0], 'BROADCAST: a run per eligible worker per fire');
  });
});

/**
 * The real Dispatcher choosing from the real leases on the emulator (a warm instance: the worker list
 * read once and cached), writing runs and deliveries to in-memory stores: those pass the same contract
 * suites as their DynamoDB and SQS adapters (core/testing/contracts), and the writes are not what is
 * under test here — 8,000 fires on the emulator would take minutes on a loaded machine.
 */
function fastDispatcher(p: ControlPlane) {
  const jobs = new MemoryJobStore();
  const locks = new MemoryLockStore();
  const delivery = new MemoryDelivery();
  const dispatcher = new Dispatcher({
    jobs,
    runs: new MemoryRunLedger(locks),
    locks,
    workers: new WorkerDirectory(p.workers, 600_000),
    delivery,
    clock: systemClock,
    log: silentLogger,
    alerts: { raise: async () => {} },
  });
  return {
    dispatcher,
    delivery,
    async define(jobId: string, pool: string, routing: RoutingStrategy) {
      const spec = { jobId, handler: HANDLER, target: { pool }, routing, concurrency: { policy: 'ALLOW' } };
      await jobs.put(
        JobSchema.parse({ spec, version: 1, createdAt: T0, updatedAt: T0, syncState: 'IN_SYNC' }),
        0,
      );
    },
  };
}
