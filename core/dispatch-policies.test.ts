/**
 * The dispatcher's policies: concurrency, targeting and no-worker, retries and fences, deadlines and
 * claims. The dispatcher itself: core/dispatch.test.ts; both over core/testing/dispatch-world.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClaimRefusedError, RunNotInStateError, StaleFenceError, UnavailableError } from './errors';
import { fireRunId, ORPHAN_LOCK_MS } from './model';
import { minute, T0, world } from './testing/dispatch-world';

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
