import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Dispatcher, type DispatcherDeps, type FireOutcome, RETRY_READ_LIMITS } from './dispatch';
import {
  ClaimRefusedError,
  RunNotInStateError,
  StaleFenceError,
  UnavailableError,
  ValidationError,
} from './errors';
import { RunExecution } from './execution';
import { silentLogger } from './log';
import {
  fireRunId,
  type Job,
  JobSchema,
  type JobSpecInput,
  ORPHAN_LOCK_MS,
  type Run,
  WorkerRegistrationSchema,
} from './model';
import {
  MemoryDelivery,
  MemoryJobStore,
  MemoryLockStore,
  MemoryRunLedger,
  MemoryWorkerRegistry,
} from './testing/memory-stores';
import { WorkerDirectory } from './worker-directory';

const T0 = Date.parse('2026-01-30T10:00:00Z');
const minute = 60_000;

/** A dispatcher over in-memory ports with a hand-driven clock and a seeded random source; it keeps jobs between fires as deployed. */
function world() {
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
      const job = JobSchema.parse({
        spec: { jobId: 'report', handler: 'reports.daily', ...spec },
        version: 1,
        createdAt: T0,
        updatedAt: T0,
        syncState: 'IN_SYNC',
      });
      await jobs.put(job, 0);
      return job;
    },
    async worker(workerId: string, extra: Record<string, unknown> = {}) {
      return registry.register(
        WorkerRegistrationSchema.parse({
          workerId,
          host: `${workerId}.local`,
          handlers: ['reports.daily'],
          endpoints: { queueUrl: `memory://${workerId}` },
          ...extra,
        }),
        clock.now(),
        10 * minute,
      );
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

test('a run put in flight wakes the monitor: a REMOTE fire to a worker or a pool, and a LOCAL fire', async () => {
  const w = world();
  let wakes = 0;
  const dispatcher = w.newDispatcher({
    waker: {
      wake: async () => {
        wakes += 1;
      },
    },
  });
  await w.job();
  await w.job({ jobId: 'pooled', routing: 'ANY' });
  await w.job({ jobId: 'local', mode: 'LOCAL', schedule: { expression: 'rate(1 minute)' } });
  await w.worker('a');
  const at = (i: number) => new Date(T0 + i * minute).toISOString().replace('.000', '');
  assert.equal((await dispatcher.fire({ jobId: 'report', scheduledTime: at(0) })).kind, 'dispatched');
  assert.equal(wakes, 1);
  assert.equal((await dispatcher.fire({ jobId: 'pooled', scheduledTime: at(0) })).kind, 'dispatched');
  assert.equal(wakes, 2);
  assert.equal((await dispatcher.fireLocal('local', at(1), 'a')).kind, 'dispatched');
  assert.equal(wakes, 3);
  assert.equal((await dispatcher.fire({ jobId: 'report', scheduledTime: at(0) })).kind, 'duplicate');
  assert.equal(wakes, 3, 'a duplicate puts nothing in flight');
});

describe('a warm dispatcher keeps the jobs it read', () => {
  test('later fires skip the job read; a changed, paused or deleted job is read again and decided afresh', async () => {
    const w = world();
    const job = await w.job(); // FORBID: its run is written with its lock; a kept job is checked by its stamp
    await w.worker('a');
    let reads = 0;
    const get = w.jobs.get.bind(w.jobs);
    w.jobs.get = (jobId: string) => {
      reads += 1;
      return get(jobId);
    };
    let spec = job.spec;
    const redefine = async (version: number, change: Partial<Job['spec']>) => {
      spec = { ...spec, ...change };
      await w.jobs.put({ ...job, spec, version, updatedAt: T0 + version }, version - 1);
    };
    // Each run finishes before the next fire, so none is an overlap.
    const payloadOf = async (fired: Promise<FireOutcome>) => {
      const outcome = await fired;
      if (outcome.kind !== 'dispatched') return outcome.kind;
      await w.execution.complete(await w.claim(outcome), { status: 'SUCCEEDED' });
      return outcome.runs[0]?.payload;
    };
    assert.equal(await payloadOf(w.fire(0)), null);
    assert.equal(await payloadOf(w.fire(1)), null);
    assert.equal(reads, 1, 'the second fire used the kept job');
    await redefine(2, { payload: { v: 2 } });
    assert.deepEqual(await payloadOf(w.fire(2)), { v: 2 }, 'a changed job: its new payload');
    assert.equal(reads, 2);
    await redefine(3, { paused: true });
    const paused = await w.fire(3);
    assert.equal(paused.kind === 'skipped' && paused.reason, 'paused');
    await redefine(4, { paused: false });
    assert.deepEqual(await payloadOf(w.fire(4)), { v: 2 });
    assert.deepEqual(await payloadOf(w.fire(5)), { v: 2 });
    const before = reads;
    await w.jobs.delete('report');
    const gone = await w.fire(6);
    assert.equal(gone.kind === 'rejected' && gone.run.reason, 'job_not_found');
    assert.equal(reads, before + 1);
    assert.equal((await w.runs.listByJob('report', { limit: 100 })).length, 7, 'one run per fire, none lost');
  });

  test('ALLOW: a kept job is used only while its stamp names it; an edit, pause, new dependent, delete or re-create is obeyed', async () => {
    const w = world();
    const job = await w.job({ concurrency: { policy: 'ALLOW' } });
    await w.worker('a');
    const counted = { reads: 0, stamps: 0 };
    const get = w.jobs.get.bind(w.jobs);
    const stamp = w.jobs.stamp.bind(w.jobs);
    w.jobs.get = (jobId: string) => {
      counted.reads += 1;
      return get(jobId);
    };
    w.jobs.stamp = (jobId: string) => {
      counted.stamps += 1;
      return stamp(jobId);
    };
    // Edits made as another dispatcher or the API would make them: straight to the store.
    const redefine = (version: number, change: Partial<Job['spec']>, updatedAt = T0 + version) =>
      w.jobs.put({ ...job, spec: { ...job.spec, ...change }, version, updatedAt }, version - 1);
    /** The run of a fire that must be dispatched. */
    const dispatched = async (minuteIndex: number): Promise<Run | undefined> => {
      const outcome = await w.fire(minuteIndex);
      assert.equal(outcome.kind, 'dispatched', JSON.stringify(outcome));
      return outcome.kind === 'dispatched' ? outcome.runs[0] : undefined;
    };
    assert.equal((await dispatched(0))?.payload, null);
    assert.deepEqual(counted, { reads: 1, stamps: 0 });
    assert.equal((await dispatched(1))?.payload, null);
    assert.deepEqual(counted, { reads: 1, stamps: 1 }, 'the second fire read only the stamp');

    await redefine(2, { payload: { v: 2 } });
    assert.deepEqual((await dispatched(2))?.payload, { v: 2 }, 'the edit is obeyed');
    assert.deepEqual(counted, { reads: 2, stamps: 2 });

    await redefine(3, { payload: { v: 2 }, paused: true });
    const paused = await w.fire(3);
    assert.equal(paused.kind === 'skipped' && paused.reason, 'paused');

    await redefine(4, { payload: { v: 2 }, paused: false });
    assert.deepEqual((await dispatched(4))?.payload, { v: 2 });
    await w.jobs.linkDownstream('report', 'after-report', true); // no new version: only `downstream` changes
    assert.equal((await dispatched(5))?.hasDependents, true, 'its runs say it has dependents');

    // Deleted and defined again: version 1 again, another updatedAt, other content.
    await w.jobs.delete('report');
    const gone = await w.fire(6);
    assert.equal(gone.kind === 'rejected' && gone.run.reason, 'job_not_found');
    await w.jobs.put({ ...job, spec: { ...job.spec, payload: { v: 'again' } }, updatedAt: T0 + 99 }, 0);
    assert.deepEqual((await dispatched(7))?.payload, { v: 'again' });
  });
});

describe('a fire whose dispatcher died between the run write and the send', () => {
  const at = '2026-01-30T10:00:00Z';
  const runId = `report@${at}`;
  const second = 1000;

  test('a repeated fire resends the envelope with the same fence, once; of the two copies exactly one is claimed', async () => {
    const w = world();
    await w.job({ routing: 'ANY' });
    await w.worker('a');
    await w.worker('b');
    w.delivery.failNext(new Error('connection reset')); // the send fails after the run was written
    await assert.rejects(w.dispatcher.fire({ jobId: 'report', scheduledTime: at }), /connection reset/);
    assert.equal((await w.runs.get(runId))?.status, 'DISPATCHED');
    assert.equal(w.delivery.delivered.length, 0);
    // A duplicate racing the first invocation (its dispatcher may still be sending) only answers duplicate.
    assert.equal((await w.dispatcher.fire({ jobId: 'report', scheduledTime: at })).kind, 'duplicate');
    assert.equal(w.delivery.delivered.length, 0);
    w.clock.t += 11 * second; // EventBridge Scheduler / Lambda retry the failed invocation later
    assert.equal((await w.dispatcher.fire({ jobId: 'report', scheduledTime: at })).kind, 'duplicate');
    assert.deepEqual(w.deliveredTo(), ['pool:default']);
    const resent = w.delivery.delivered[0]!.envelope;
    const record = (await w.runs.get(runId))!;
    assert.equal(resent.fence, record.fence);
    assert.equal(record.resentFence, record.fence);
    assert.match(record.history.at(-1)?.note ?? '', /envelope sent again to pool default/);
    assert.equal((await w.dispatcher.fire({ jobId: 'report', scheduledTime: at })).kind, 'duplicate');
    assert.equal(w.delivery.delivered.length, 1, 'once per dispatch');
    // Had the first send happened after all, both copies would reach the pool: one claim wins.
    const claims = await Promise.allSettled([
      w.execution.claim(resent, 'a'),
      w.execution.claim(structuredClone(resent), 'b'),
    ]);
    assert.equal(claims.filter((c) => c.status === 'fulfilled').length, 1);
    const refused = claims.find((c) => c.status === 'rejected');
    assert.ok(refused?.status === 'rejected' && refused.reason instanceof RunNotInStateError);
    assert.equal((await w.runs.get(runId))?.status, 'RUNNING');
    w.clock.t += 11 * second;
    assert.equal((await w.dispatcher.fire({ jobId: 'report', scheduledTime: at })).kind, 'duplicate');
    assert.equal(w.delivery.delivered.length, 1, 'a claimed run is not resent');
  });

  test("resend goes to the run's own worker (ZeroMQ first, then its queue), never to a worker that is gone, nor for a LOCAL fire", async () => {
    const w = world();
    await w.job({ delivery: 'ZMQ' });
    await w.worker('a');
    const direct = new MemoryDelivery();
    const dispatcher = w.newDispatcher({ directDelivery: direct });
    const fired = await dispatcher.fire({ jobId: 'report', scheduledTime: at });
    assert.equal(fired.kind, 'dispatched');
    const run = (await w.runs.get(runId))!;
    assert.equal(direct.delivered.length, 1);
    w.clock.t += 11 * second;
    direct.failNext(new Error('no ack'));
    assert.equal(await dispatcher.resend(run), true);
    assert.deepEqual(w.deliveredTo(), ['a'], 'over SQS to the same worker after ZeroMQ failed');
    assert.equal(w.delivery.delivered[0]!.envelope.fence, run.fence);
    assert.equal(
      await dispatcher.resend((await w.runs.get(runId))!),
      false,
      'already resent under this fence',
    );

    const gone = world();
    await gone.job();
    await gone.worker('a');
    await gone.dispatcher.fire({ jobId: 'report', scheduledTime: at });
    gone.clock.t += 11 * minute; // a's lease (10 min) lapsed: the monitor's lease step owns the run
    assert.equal(await gone.dispatcher.resend((await gone.runs.get(runId))!), false);
    assert.equal(gone.delivery.delivered.length, 1);

    const local = world();
    await local.job({ mode: 'LOCAL', schedule: { expression: 'rate(1 minute)' } });
    await local.worker('a');
    assert.equal((await local.dispatcher.fireLocal('report', at, 'a')).kind, 'dispatched');
    local.clock.t += 11 * second;
    assert.equal((await local.dispatcher.fireLocal('report', at, 'a')).kind, 'duplicate');
    assert.equal(await local.dispatcher.resend((await local.runs.get(runId))!), false);
    assert.equal(local.delivery.delivered.length, 0);
  });
});

describe('one run per fire', () => {
  test('50 concurrent invocations of one fire, across 5 dispatcher instances: one run, one delivery', async () => {
    const w = world();
    await w.job({ concurrency: { policy: 'ALLOW' } });
    await w.worker('a');
    const instances = Array.from({ length: 5 }, () => w.newDispatcher());
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        instances[i % 5]!.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' }),
      ),
    );
    assert.equal(w.runs.runs.size, 1);
    assert.equal(w.delivery.delivered.length, 1);
    assert.equal(outcomes.filter((o) => o.kind === 'dispatched').length, 1);
    assert.equal(outcomes.filter((o) => o.kind === 'duplicate').length, 49);
  });

  test('a malformed event is rejected naming the field, and nothing is written', async () => {
    const w = world();
    await w.job();
    for (const [event, field] of [
      [{ jobId: 'report', scheduledTime: 'yesterday' }, 'event.scheduledTime'],
      [{ jobId: '../etc/passwd' }, 'event.jobId'],
      [{ jobId: 'report', command: 'rm -rf /' }, 'event.command'],
      ['not an object', 'event'],
    ] as const) {
      await assert.rejects(w.dispatcher.fire(event), (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.ok(
          error.issues.some((i) => i.field === field),
          `${JSON.stringify(error.issues)} names ${field}`,
        );
        return true;
      });
    }
    assert.equal(w.runs.runs.size, 0);
  });

  test('a fire of an unknown job leaves a SKIPPED(job_not_found) record, so nothing vanishes', async () => {
    const w = world();
    const outcome = await w.fire(0, 'ghost');
    assert.equal(outcome.kind, 'rejected');
    const run = [...w.runs.runs.values()][0];
    assert.equal(run?.status, 'SKIPPED');
    assert.equal(run?.reason, 'job_not_found');
    assert.equal(run?.error?.code, 'not_found');
  });

  test('a paused job records SKIPPED(paused); a manual trigger still runs', async () => {
    const w = world();
    await w.job({ paused: true });
    await w.worker('a');
    const outcome = await w.fire(0);
    assert.equal(outcome.kind === 'skipped' && outcome.reason, 'paused');
    const manual = await w.dispatcher.fire({ jobId: 'report', trigger: 'MANUAL' });
    assert.equal(manual.kind, 'dispatched');
    assert.match(manual.kind === 'dispatched' ? manual.runs[0]!.runId : '', /^report@manual-/);
  });
});

describe('concurrency policies', () => {
  test('FORBID: a fire while a run is RUNNING is recorded SKIPPED(overlap)', async () => {
    const w = world();
    await w.job();
    await w.worker('a');
    await w.claim(await w.fire(0));
    const second = await w.fire(1);
    assert.equal(second.kind, 'skipped');
    assert.equal(second.kind === 'skipped' && second.run.reason, 'overlap');
    assert.equal(w.delivery.delivered.length, 1);
  });

  test('FORBID: after the run finishes, the next fire runs', async () => {
    const w = world();
    await w.job();
    await w.worker('a');
    const run = await w.claim(await w.fire(0));
    await w.execution.complete(run, { status: 'SUCCEEDED' });
    assert.equal((await w.fire(1)).kind, 'dispatched');
  });

  test('FORBID: a lock its finished run has not yet released is taken over, not an overlap', async () => {
    const w = world();
    await w.job();
    await w.worker('a');
    const run = await w.claim(await w.fire(0));
    // The worker wrote the final status; its lock release (settle) has not happened yet.
    const finished = await w.runs.transition(run.runId, {
      from: ['RUNNING'],
      fence: run.fence,
      to: 'SUCCEEDED',
      at: w.clock.now(),
    });
    const next = await w.fire(1);
    assert.equal(next.kind, 'dispatched', JSON.stringify(next));
    const nextRunId = next.kind === 'dispatched' ? next.runs[0]?.runId : undefined;
    await w.dispatcher.settle(finished); // the late release finds another owner and changes nothing
    assert.equal((await w.locks.get('job#report'))?.owner, nextRunId);
    assert.equal((await w.fire(2)).kind, 'skipped', 'the new run holds the lock');
  });

  test('a writer that died between the lock and the run: its retry writes the run; an orphan past ORPHAN_LOCK_MS is taken over', async () => {
    const w = world();
    await w.job();
    await w.worker('a');
    // The lock is taken first, then the run is put: fail the put once, as a dispatcher dying between them.
    const create = w.runs.create.bind(w.runs);
    const dieOnce = () => {
      w.runs.create = async () => {
        w.runs.create = create;
        throw new UnavailableError('the dispatcher died here');
      };
    };
    dieOnce();
    await assert.rejects(w.fire(0), UnavailableError);
    const orphan = fireRunId('report', '2026-01-30T10:00:00Z');
    assert.equal((await w.locks.get('job#report'))?.owner, orphan);
    assert.equal(await w.runs.get(orphan), null);
    const during = await w.fire(1);
    assert.equal(
      during.kind === 'skipped' && during.reason,
      'overlap',
      'a young orphan may be a writer mid-way',
    );
    const retried = await w.fire(0);
    assert.equal(retried.kind, 'dispatched', 'the retry finds the lock in its name');
    await w.execution.complete(await w.claim(retried), { status: 'SUCCEEDED' });
    dieOnce();
    await assert.rejects(w.fire(2), UnavailableError);
    w.clock.t += ORPHAN_LOCK_MS - 1;
    assert.equal((await w.fire(3)).kind, 'skipped');
    w.clock.t += 1;
    const next = await w.fire(4);
    assert.equal(next.kind, 'dispatched', 'an orphan lock past ORPHAN_LOCK_MS is stale');
    assert.equal((await w.locks.get('job#report'))?.owner, fireRunId('report', '2026-01-30T10:04:00Z'));
  });

  test('QUEUE: later fires wait, bounded by maxQueued, and start in order as each run finishes', async () => {
    const w = world();
    await w.job({ concurrency: { policy: 'QUEUE', maxQueued: 2 } });
    await w.worker('a');
    let running = await w.claim(await w.fire(0));
    const outcomes = [await w.fire(1), await w.fire(2), await w.fire(3)];
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['queued', 'queued', 'skipped'],
    );
    assert.equal(outcomes[2]?.kind === 'skipped' && outcomes[2].reason, 'queue_full');
    for (const minuteIndex of [1, 2]) {
      w.clock.t += 1000;
      await w.execution.complete(running, { status: 'SUCCEEDED' });
      const next = w.delivery.delivered.at(-1)!.envelope;
      assert.equal(next.scheduledTime, new Date(T0 + minuteIndex * minute).toISOString().replace('.000', ''));
      running = await w.execution.claim(next, 'a');
      assert.equal((await w.locks.get('job#report'))?.owner, running.runId);
    }
    await w.execution.complete(running, { status: 'SUCCEEDED' });
    assert.equal((await w.locks.get('job#report'))?.owner, undefined);
  });

  test('REPLACE: the active run is cancelled, the new one dispatched, and the old worker cannot complete', async () => {
    const w = world();
    await w.job({ concurrency: { policy: 'REPLACE' } });
    await w.worker('a');
    const old = await w.claim(await w.fire(0));
    const second = await w.fire(1);
    assert.equal(second.kind, 'dispatched');
    assert.equal((await w.runs.get(old.runId))?.status, 'CANCELLED');
    await assert.rejects(w.execution.complete(old, { status: 'SUCCEEDED' }), RunNotInStateError);
    assert.equal(
      (await w.locks.get('job#report'))?.owner,
      second.kind === 'dispatched' ? second.runs[0]?.runId : '',
    );
  });

  test('ALLOW: fires overlap freely', async () => {
    const w = world();
    await w.job({ concurrency: { policy: 'ALLOW' } });
    await w.worker('a');
    await w.claim(await w.fire(0));
    assert.equal((await w.fire(1)).kind, 'dispatched');
  });
});

describe('targeting and no-worker', () => {
  test('a job pinned to B is never delivered to A; with B gone it is NO_WORKER and A still gets nothing', async () => {
    const w = world();
    await w.job({ target: { workerIds: ['b'] }, concurrency: { policy: 'ALLOW' } });
    await w.worker('a');
    const b = await w.worker('b');
    for (let i = 0; i < 20; i += 1) await w.fire(i);
    assert.deepEqual(new Set(w.deliveredTo()), new Set(['b']));
    await w.registry.setStatus('b', b.leaseFence, 'GONE', w.clock.now());
    const outcome = await w.fire(20);
    assert.equal(outcome.kind, 'no_worker');
    assert.match(outcome.kind === 'no_worker' ? (outcome.run.reason ?? '') : '', /a \(not pinned\)/);
    assert.deepEqual(new Set(w.deliveredTo()), new Set(['b']));
    assert.deepEqual(w.alerts, ['no_worker']);
  });

  test('NO_WORKER with a retry policy is retried after its backoff and runs when a worker appears', async () => {
    const w = world();
    await w.job({ retry: { maxAttempts: 3, backoffSeconds: 10 } });
    const outcome = await w.fire(0);
    assert.equal(outcome.kind, 'no_worker');
    const waiting = outcome.kind === 'no_worker' ? outcome.run : undefined;
    assert.ok(waiting?.nextAttemptAt && waiting.nextAttemptAt > T0);
    assert.equal((await w.locks.get('job#report'))?.owner, waiting?.runId, 'the retry keeps the lock');
    await w.worker('a');
    assert.deepEqual(
      await w.retryDue(),
      { dispatched: 0, nextDueAt: waiting?.nextAttemptAt },
      'not before the backoff, which it reports',
    );
    w.clock.t = waiting!.nextAttemptAt!;
    assert.deepEqual(await w.retryDue(), { dispatched: 1 });
    const run = await w.runs.get(waiting!.runId);
    assert.equal(run?.status, 'DISPATCHED');
    assert.equal(run?.attempt, 2);
    assert.equal(run?.fence, 2);
  });

  test('NO_WORKER without retries is final and releases nothing it never held', async () => {
    const w = world();
    await w.job();
    const outcome = await w.fire(0);
    assert.equal(outcome.kind === 'no_worker' && outcome.run.nextAttemptAt, undefined);
    assert.equal(await w.locks.get('job#report'), null);
  });

  test('BROADCAST: one run per eligible worker; a duplicate invocation adds none', async () => {
    const w = world();
    await w.job({ routing: 'BROADCAST' });
    for (const id of ['a', 'b', 'c']) await w.worker(id);
    await w.worker('d', { handlers: ['other'] });
    const outcome = await w.fire(0);
    assert.equal(outcome.kind === 'dispatched' && outcome.runs.length, 3);
    await w.fire(0);
    assert.equal(w.runs.runs.size, 3);
    assert.deepEqual(w.deliveredTo().sort(), ['a', 'b', 'c']);
  });

  test('ANY: the envelope goes to the pool queue', async () => {
    const w = world();
    await w.job({ routing: 'ANY', target: { pool: 'gpu' } });
    await w.worker('a', { pool: 'gpu' });
    assert.equal((await w.fire(0)).kind, 'dispatched');
    assert.deepEqual(w.deliveredTo(), ['pool:gpu']);
  });

  test('a delivery that fails moves to the next candidate with a higher fence', async () => {
    const w = world();
    await w.job({ routing: 'FAILOVER' });
    await w.worker('a', { priority: 1 });
    await w.worker('b', { priority: 2 });
    w.delivery.failNext(new Error('queue deleted'));
    const outcome = await w.fire(0);
    assert.equal(outcome.kind, 'dispatched');
    const run = outcome.kind === 'dispatched' ? outcome.runs[0] : undefined;
    assert.equal(run?.workerId, 'b');
    assert.equal(run?.fence, 2);
    assert.deepEqual(w.deliveredTo(), ['b']);
  });

  test('round-robin over 1,000 fires and 5 workers: spread max-min <= 1', async () => {
    const w = world();
    await w.job({ concurrency: { policy: 'ALLOW' }, routing: 'ROUND_ROBIN' });
    for (const id of ['w1', 'w2', 'w3', 'w4', 'w5']) await w.worker(id, { capacity: 1000 });
    for (let i = 0; i < 1000; i += 1) await w.fire(i);
    const tally = new Map<string, number>();
    for (const id of w.deliveredTo()) tally.set(id, (tally.get(id) ?? 0) + 1);
    const counts = [...tally.values()];
    assert.equal(counts.length, 5);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `counts ${counts}`);
  });
});

describe('retries and fences', () => {
  test('a failed attempt is retried with a higher fence; the first worker cannot write any more', async () => {
    const w = world();
    await w.job({ retry: { maxAttempts: 2, backoffSeconds: 5 } });
    await w.worker('a');
    const first = await w.claim(await w.fire(0));
    const waiting = await w.execution.complete(first, {
      status: 'FAILED',
      error: { code: 'boom', message: 'disk full' },
    });
    assert.equal(waiting.status, 'PENDING');
    assert.equal(waiting.error?.message, 'disk full');
    w.clock.t = waiting.nextAttemptAt!;
    await w.retryDue();
    const envelope = w.delivery.delivered.at(-1)!.envelope;
    assert.deepEqual([envelope.attempt, envelope.fence], [2, 2]);
    await assert.rejects(w.execution.claim({ ...envelope, fence: 1 }, 'a'), StaleFenceError);
    const second = await w.execution.claim(envelope, 'a');
    const final = await w.execution.complete(second, {
      status: 'FAILED',
      error: { code: 'boom', message: 'again' },
    });
    assert.equal(final.status, 'FAILED');
    assert.equal((await w.locks.get('job#report'))?.owner, undefined);
    assert.deepEqual(
      final.history.map((h) => `${h.status}/${h.attempt}`),
      ['PENDING/1', 'DISPATCHED/1', 'RUNNING/1', 'PENDING/1', 'DISPATCHED/2', 'RUNNING/2', 'FAILED/2'],
    );
  });

  test('a duplicate envelope cannot start the run twice', async () => {
    const w = world();
    await w.job();
    await w.worker('a');
    await w.fire(0);
    const envelope = w.delivery.delivered[0]!.envelope;
    const claims = await Promise.allSettled([
      w.execution.claim(envelope, 'a'),
      w.execution.claim(envelope, 'a'),
    ]);
    assert.deepEqual(claims.map((c) => c.status).sort(), ['fulfilled', 'rejected']);
  });
});

describe('deadlines and claims', () => {
  test('the envelope carries the record’s deadline, the job’s timeout from the dispatch; a retry gets a fresh one', async () => {
    const w = world();
    await w.job({ timeoutSeconds: 120, retry: { maxAttempts: 2, backoffSeconds: 1, maxBackoffSeconds: 1 } });
    await w.worker('a');
    const outcome = await w.fire(0);
    assert.equal(outcome.kind, 'dispatched');
    const run = outcome.kind === 'dispatched' ? outcome.runs[0]! : assert.fail();
    const [sent] = w.delivery.delivered;
    assert.equal(run.deadlineAt, T0 + 120_000);
    assert.equal(sent?.envelope.deadlineAt, run.deadlineAt, 'the envelope says what the record says');
    const claimed = await w.claim(outcome);
    assert.equal(claimed.deadlineAt, T0 + 120_000, 'the claim keeps the dispatcher’s deadline');
    w.clock.t += 30_000;
    await w.execution.complete(claimed, { status: 'FAILED', error: { code: 'x', message: 'boom' } });
    w.clock.t += 5_000;
    await w.retryDue();
    const retried = await w.runs.get(run.runId);
    assert.equal(retried?.status, 'DISPATCHED');
    assert.equal(retried?.deadlineAt, w.clock.t + 120_000);
    assert.equal(w.delivery.delivered.at(-1)?.envelope.deadlineAt, retried?.deadlineAt);
  });

  test('a claim by a worker the run was not dispatched to, or with another deadline, is refused and writes nothing', async () => {
    const w = world();
    await w.job();
    await w.worker('a');
    await w.worker('b');
    const outcome = await w.fire(0);
    const run = outcome.kind === 'dispatched' ? outcome.runs[0]! : assert.fail();
    const envelope = w.delivery.delivered[0]!.envelope;
    const other = run.workerId === 'a' ? 'b' : 'a';
    await assert.rejects(w.execution.claim(envelope, other), ClaimRefusedError);
    await assert.rejects(
      w.execution.claim({ ...envelope, deadlineAt: Date.UTC(2200, 0, 1) }, run.workerId ?? ''),
      ClaimRefusedError,
    );
    assert.deepEqual(await w.runs.get(run.runId), run);
  });
});
