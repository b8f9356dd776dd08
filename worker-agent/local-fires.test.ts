import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Dispatcher } from '../core/dispatch';
import { ValidationError } from '../core/errors';
import { RunExecution } from '../core/execution';
import { silentLogger } from '../core/log';
import { type Job, JobSchema, type JobSpecInput, type Run } from '../core/model';
import {
  MemoryDelivery,
  MemoryJobStore,
  MemoryLockStore,
  MemoryRunLedger,
  MemoryWorkerRegistry,
} from '../core/testing/memory-stores';
import { WorkerDirectory } from '../core/worker-directory';
import { instantText, type LocalFireEvent, type Timers, type WonFire } from './local-decisions';
import { firesHere, LocalFires } from './local-fires';

const T0 = Date.parse('2026-01-30T10:00:00.300Z');

/** A hand-driven clock and timer queue: `advance(ms)` runs due timers in time order, settling promises between instants. */
class FakeTime implements Timers {
  t = T0;
  private seq = 0;
  private readonly queue = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    this.seq += 1;
    this.queue.set(this.seq, { at: this.t + Math.max(0, ms), fn });
    return this.seq;
  }

  clearTimeout(handle: unknown): void {
    this.queue.delete(handle as number);
  }

  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await settle();
      const due = [...this.queue.entries()].filter(([, timer]) => timer.at <= target);
      if (due.length === 0) break;
      const at = Math.min(...due.map(([, timer]) => timer.at));
      this.t = Math.max(this.t, at);
      // Everything due at this instant runs before any promise settles: agents race as they would.
      for (const [id, timer] of due.filter(([, timer]) => timer.at === at)) {
        this.queue.delete(id);
        timer.fn();
      }
    }
    this.t = target;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** One control plane in memory, several agents' LocalFires over it (each with its own Dispatcher, as separate processes). */
function world() {
  const time = new FakeTime();
  const clock = { now: () => time.now() };
  const jobs = new MemoryJobStore();
  const locks = new MemoryLockStore();
  const runs = new MemoryRunLedger(locks);
  const registry = new MemoryWorkerRegistry();
  const deps = {
    jobs,
    runs,
    locks,
    workers: new WorkerDirectory(registry, 0),
    delivery: new MemoryDelivery(),
    clock,
    log: silentLogger,
    alerts: { raise: async () => {} },
  };
  const events: (LocalFireEvent & { workerId: string })[] = [];
  const executed: { workerId: string; runId: string }[] = [];
  const fleet: LocalFires[] = [];

  async function job(spec: Partial<JobSpecInput>): Promise<Job> {
    const current = await jobs.get(spec.jobId ?? 'tick');
    const parsed = JobSchema.parse({
      spec: {
        jobId: 'tick',
        handler: 'tick',
        mode: 'LOCAL',
        schedule: { expression: 'rate(2 seconds)' },
        ...spec,
      },
      version: (current?.version ?? 0) + 1,
      createdAt: T0,
      updatedAt: time.now(),
      syncState: 'IN_SYNC',
    });
    await jobs.put(parsed, current?.version ?? 0);
    return parsed;
  }

  function agent(
    workerId: string,
    options: {
      handlers?: string[];
      pool?: string;
      labels?: Record<string, string>;
      hasCapacity?: () => boolean;
      leadMs?: number;
      /** Default: claim and complete SUCCEEDED at once. */
      execute?: (won: WonFire, execution: RunExecution) => unknown;
    } = {},
  ): LocalFires {
    const dispatcher = new Dispatcher(deps);
    const execution = new RunExecution({ jobs, runs, dispatcher, clock, log: silentLogger });
    const handlers = new Set(options.handlers ?? ['tick']);
    const local = new LocalFires({
      workerId,
      pool: options.pool ?? 'default',
      labels: options.labels ?? {},
      jobs,
      dispatcher,
      hasHandler: (name) => handlers.has(name),
      ...(options.hasCapacity ? { hasCapacity: options.hasCapacity } : {}),
      ...(options.leadMs === undefined ? {} : { leadMs: options.leadMs }),
      execute: async (won) => {
        if (options.execute) return options.execute(won, execution);
        const run = await execution.claim(won.envelope, workerId);
        executed.push({ workerId, runId: run.runId });
        await execution.complete(run, { status: 'SUCCEEDED', result: { by: workerId } });
      },
      onFire: (event) => events.push({ ...event, workerId }),
      refreshIntervalMs: 10_000,
      clock,
      timers: time,
    });
    fleet.push(local);
    return local;
  }

  return {
    time,
    jobs,
    runs,
    locks,
    events,
    executed,
    job,
    agent,
    async start(...agents: LocalFires[]) {
      await Promise.all(agents.map((a) => a.start()));
    },
    async stop() {
      await Promise.all(fleet.map((a) => a.stop()));
      await Promise.all(fleet.map((a) => a.idle()));
    },
    async jobRuns(jobId = 'tick'): Promise<Run[]> {
      return runs.listByJob(jobId, { order: 'oldest', limit: 1000 });
    },
  };
}

describe('LocalFires', () => {
  test('three agents, rate(2 seconds) for 60 s: 30 fires, each one run, run once, won by exactly one agent', async () => {
    const w = world();
    await w.job({});
    const agents = ['a1', 'a2', 'a3'].map((id) => w.agent(id));
    await w.start(...agents);
    await w.time.advance(60_000);
    await w.stop();

    const runs = await w.jobRuns();
    assert.equal(runs.length, 30);
    assert.equal(new Set(runs.map((r) => r.scheduledTime)).size, 30);
    for (const run of runs) {
      assert.equal(run.status, 'SUCCEEDED');
      assert.equal(run.trigger, 'LOCAL');
      assert.equal(Date.parse(run.scheduledTime) % 2000, 0, 'on even seconds (rate anchored at the epoch)');
      assert.match(run.scheduledTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    assert.equal(w.executed.length, 30, 'each run executed once');
    assert.equal(new Set(w.executed.map((e) => e.runId)).size, 30);
    assert.equal(w.events.length, 90, 'every agent fired every instant');
    const won = w.events.filter((e) => e.outcome === 'dispatched');
    assert.equal(won.length, 30);
    assert.equal(w.events.filter((e) => e.outcome === 'duplicate').length, 60);
    for (const run of runs) {
      assert.equal(won.filter((e) => e.scheduledTime === run.scheduledTime).length, 1);
      assert.equal(won.find((e) => e.scheduledTime === run.scheduledTime)?.workerId, run.workerId);
    }
    for (const e of w.events) assert.equal(e.firedAt, e.scheduledAt, 'fake timers: no lateness, no drift');
    assert.equal((await w.locks.get('job#tick'))?.owner, undefined, 'lock released');
  });

  test('decided ahead: written and claimed leadMs before the instant, started at it; a lock still held then waits for the instant', async () => {
    const w = world();
    await w.job({ concurrency: { policy: 'FORBID' } });
    const won: WonFire[] = [];
    const a = w.agent('a1', {
      leadMs: 300,
      execute: async (fire, execution) => {
        won.push(fire);
        const run = await execution.claim(fire.envelope, 'a1');
        // The first run ends at 3.85 s: after the 4 s instant's early decision (3.7 s), before the instant.
        if (won.length === 1) await new Promise<void>((resolve) => w.time.setTimeout(resolve, 2150));
        await execution.complete(run, { status: 'SUCCEEDED' });
      },
    });
    await w.start(a);
    await w.time.advance(4500);
    await w.stop();

    const [first, second] = won;
    const i1 = Date.parse('2026-01-30T10:00:02Z');
    const i2 = Date.parse('2026-01-30T10:00:04Z');
    assert.equal(first?.startAt, i1);
    assert.equal(first?.fire.firedAt, i1 - 300, 'the timer ran 300 ms early');
    assert.equal(first?.fire.decidedAt, i1 - 300, 'and the run was written then');
    assert.equal(second?.startAt, i2);
    assert.equal(second?.fire.firedAt, i2 - 300);
    assert.equal(second?.fire.decidedAt, i2, 'the lock was held 300 ms early: decided at the instant');
    const runs = await w.jobRuns();
    assert.deepEqual(
      runs.map((r) => [r.scheduledTime, r.status]),
      [
        ['2026-01-30T10:00:02Z', 'SUCCEEDED'],
        ['2026-01-30T10:00:04Z', 'SUCCEEDED'],
      ],
      'no overlap skip for a run that ended before the instant',
    );
  });

  test('Quartz cron with seconds fires on its seconds', async () => {
    const w = world();
    await w.job({ schedule: { expression: '0/5 * * * * ?' } });
    const a = w.agent('a1');
    await w.start(a);
    await w.time.advance(20_000);
    await w.stop();
    assert.deepEqual(
      (await w.jobRuns()).map((r) => r.scheduledTime),
      ['05', '10', '15', '20'].map((s) => `2026-01-30T10:00:${s}Z`),
    );
  });

  test('only LOCAL jobs with a registered handler and a matching target are fired here', async () => {
    const w = world();
    await w.job({ jobId: 'remote', mode: 'REMOTE', schedule: { expression: 'rate(1 minute)' } });
    await w.job({ jobId: 'other-handler', handler: 'nope' });
    await w.job({ jobId: 'other-pool', target: { pool: 'batch' } });
    await w.job({ jobId: 'labelled', target: { labels: { zone: 'a' } } });
    await w.job({ jobId: 'pinned-elsewhere', target: { workerIds: ['someone'] } });
    await w.job({ jobId: 'manual', schedule: null });
    await w.job({ jobId: 'mine', target: { workerIds: ['a1'], labels: { zone: 'b' } } });
    const a = w.agent('a1', { labels: { zone: 'b' } });
    await w.start(a);
    assert.deepEqual([...a.schedule().keys()], ['mine']);

    const me = { workerId: 'a1', pool: 'default', labels: { zone: 'a' } };
    const spec = (input: Partial<JobSpecInput>) =>
      JobSchema.shape.spec.parse({
        jobId: 'x',
        handler: 'tick',
        mode: 'LOCAL',
        schedule: { expression: 'rate(2 seconds)' },
        ...input,
      });
    assert.equal(
      firesHere(spec({ target: { labels: { zone: 'a' } } }), me, () => true),
      true,
    );
    assert.equal(
      firesHere(spec({}), me, () => false),
      false,
    );
    await w.stop();
  });

  test('refresh picks up new, changed and deleted jobs; a changed schedule re-arms without repeating instants', async () => {
    const w = world();
    const a = w.agent('a1');
    await w.start(a);
    assert.equal(a.schedule().size, 0);
    await w.job({});
    await w.time.advance(10_000); // refresh at +10 s
    assert.equal(a.schedule().get('tick'), Date.parse('2026-01-30T10:00:12Z'));
    await w.time.advance(4_000); // fires 12 and 14
    await w.job({ schedule: { expression: 'rate(5 seconds)' } });
    await w.time.advance(10_000); // refresh at +20 s (10:00:20.3); fires 16, 18, 20, then 25
    assert.equal(a.schedule().get('tick'), Date.parse('2026-01-30T10:00:25Z'));
    await w.time.advance(6_000); // 25, 30
    await w.jobs.delete('tick');
    await w.time.advance(10_000); // refresh at +40.3 s drops it; 35 and 40 still fire from the stale list (recorded as job_not_found)
    assert.equal(a.schedule().size, 0);
    await w.stop();
    const times = (await w.jobRuns()).map((r) => r.scheduledTime.slice(17, 19));
    assert.deepEqual(times, ['12', '14', '16', '18', '20', '25', '30', '35', '40']);
    const last = (await w.jobRuns()).at(-1);
    assert.equal(last?.status, 'SKIPPED');
    assert.equal(last?.reason, 'job_not_found');
  });

  test('FORBID: a fire while the previous run is still running is recorded once as SKIPPED(overlap)', async () => {
    const w = world();
    await w.job({ concurrency: { policy: 'FORBID' } });
    let first: Run | undefined;
    const hold = async (won: WonFire, execution: RunExecution) => {
      const run = await execution.claim(won.envelope, won.run.workerId ?? '');
      first ??= run; // the first run never finishes during the test
      if (run !== first) await execution.complete(run, { status: 'SUCCEEDED' });
    };
    const agents = ['a1', 'a2', 'a3'].map((id) => w.agent(id, { execute: hold }));
    await w.start(...agents);
    await w.time.advance(4_000);
    await w.stop();
    const runs = await w.jobRuns();
    assert.deepEqual(
      runs.map((r) => [r.status, r.reason]),
      [
        ['RUNNING', undefined],
        ['SKIPPED', 'overlap'],
      ],
    );
    assert.equal(w.events.filter((e) => e.outcome === 'skipped').length, 1);
    assert.equal(w.events.filter((e) => e.outcome === 'duplicate').length, 4);
  });

  test('a paused job records its fires as SKIPPED(paused) and runs nothing', async () => {
    const w = world();
    await w.job({ paused: true });
    await w.start(w.agent('a1'), w.agent('a2'));
    await w.time.advance(4_000);
    await w.stop();
    const runs = await w.jobRuns();
    assert.deepEqual(
      runs.map((r) => r.reason),
      ['paused', 'paused'],
    );
    assert.equal(w.executed.length, 0);
  });

  test('after a stall only the latest missed instant is fired; SKIP drops one older than its misfire window', async () => {
    const w = world();
    await w.job({});
    await w.job({ jobId: 'strict', misfire: { policy: 'SKIP', windowSeconds: 1 } });
    const a = w.agent('a1');
    await w.start(a);
    // Simulate a process stalled for 9 s: the clock moves, no timer runs, then they all come due at once.
    w.time.t += 9_000;
    await w.time.advance(0);
    await w.stop();
    assert.deepEqual(
      (await w.jobRuns('tick')).map((r) => r.scheduledTime),
      ['2026-01-30T10:00:08Z'],
    );
    assert.deepEqual(
      await w.jobRuns('strict'),
      [],
      'the latest instant (08) is 1.3 s late: past the 1 s window',
    );
  });

  test('a full agent lets the others win, but still fires when every agent is full', async () => {
    const w = world();
    await w.job({});
    const full = w.agent('full', { hasCapacity: () => false });
    const free = w.agent('free');
    await w.start(full, free);
    await w.time.advance(4_000);
    assert.deepEqual(
      w.executed.map((e) => e.workerId),
      ['free', 'free'],
    );
    await free.stop();
    await w.time.advance(2_000);
    await w.stop();
    assert.equal(w.executed.at(-1)?.workerId, 'full');
  });

  test('a failed write is reported as outcome error; the next instants still fire', async () => {
    const w = world();
    await w.job({});
    let calls = 0;
    const events: LocalFireEvent[] = [];
    const local = new LocalFires({
      workerId: 'a1',
      pool: 'default',
      jobs: w.jobs,
      dispatcher: {
        fireLocal: async () => {
          calls += 1;
          if (calls === 1) throw new Error('emulator down');
          return { kind: 'duplicate', runId: 'x' };
        },
      },
      hasHandler: () => true,
      execute: () => assert.fail('nothing was won'),
      onFire: (e) => events.push(e),
      clock: { now: () => w.time.now() },
      timers: w.time,
    });
    await local.start();
    await w.time.advance(4_000);
    await local.stop();
    assert.deepEqual(
      events.map((e) => e.outcome),
      ['error', 'duplicate'],
    );
  });

  test('instantText renders whole seconds like REMOTE fires, and keeps milliseconds otherwise', () => {
    assert.equal(instantText(Date.parse('2026-01-30T10:00:02Z')), '2026-01-30T10:00:02Z');
    assert.equal(instantText(Date.parse('2026-01-30T10:00:02.250Z')), '2026-01-30T10:00:02.250Z');
  });
});

describe('Dispatcher.fireLocal', () => {
  test('builds a DISPATCHED LOCAL run for the asking worker; a second ask is a duplicate', async () => {
    const w = world();
    const job = await w.job({ payload: { n: 1 }, timeoutSeconds: 60 });
    const dispatcher = new Dispatcher({
      jobs: w.jobs,
      runs: w.runs,
      locks: w.locks,
      workers: new WorkerDirectory(new MemoryWorkerRegistry(), 0),
      delivery: new MemoryDelivery(),
      clock: { now: () => T0 },
      log: silentLogger,
      alerts: { raise: async () => {} },
    });
    const outcome = await dispatcher.fireLocal('tick', '2026-01-30T10:00:02Z', 'a1');
    assert.equal(outcome.kind, 'dispatched');
    const run = outcome.kind === 'dispatched' ? outcome.runs[0] : undefined;
    assert.equal(run?.runId, 'tick@2026-01-30T10:00:02Z');
    assert.equal(run?.status, 'DISPATCHED');
    assert.equal(run?.trigger, 'LOCAL');
    assert.equal(run?.workerId, 'a1');
    assert.equal(run?.fence, 1);
    assert.equal(run?.jobVersion, job.version);
    assert.deepEqual(run?.payload, { n: 1 });
    assert.equal(run?.deadlineAt, T0 + 60_000);
    assert.equal(run?.lockKey, 'job#tick');
    assert.deepEqual(await w.runs.get('tick@2026-01-30T10:00:02Z'), run);
    const again = await dispatcher.fireLocal('tick', '2026-01-30T10:00:02Z', 'a2');
    assert.equal(again.kind, 'duplicate');
    assert.equal(again.kind === 'duplicate' && again.runId, 'tick@2026-01-30T10:00:02Z');
    assert.deepEqual(again.kind === 'duplicate' && again.existing, run, 'the run as the first ask wrote it');

    await w.job({ jobId: 'remote', mode: 'REMOTE', schedule: { expression: 'rate(1 minute)' } });
    await assert.rejects(dispatcher.fireLocal('remote', '2026-01-30T10:01:00Z', 'a1'), ValidationError);
    assert.equal(await w.runs.get('remote@2026-01-30T10:01:00Z'), null, 'a REMOTE fire id is not taken');
    await assert.rejects(dispatcher.fireLocal('tick', 'soon', 'a1'), /fire\.scheduledTime/);

    await w.job({ jobId: 'fan', routing: 'BROADCAST' });
    const fan = await Promise.all(
      ['a1', 'a2'].map((id) => dispatcher.fireLocal('fan', '2026-01-30T10:00:04Z', id)),
    );
    assert.deepEqual(
      fan.map((o) => (o.kind === 'dispatched' ? o.runs[0]?.runId : o.kind)),
      ['fan@2026-01-30T10:00:04Z#a1', 'fan@2026-01-30T10:00:04Z#a2'],
    );
  });
});
