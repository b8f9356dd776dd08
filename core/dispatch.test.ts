/**
 * The dispatcher: waking the monitor, the jobs a warm dispatcher keeps, a fire whose dispatcher died
 * between the run write and the send, and one run per fire. Policies: core/dispatch-policies.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FireOutcome } from './dispatch';
import { RunNotInStateError, ValidationError } from './errors';
import type { Job, Run } from './model';
import { minute, T0, world } from './testing/dispatch-world';
import { MemoryDelivery } from './testing/memory-stores';

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
