import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RunNotInStateError, StaleFenceError } from './errors';
import { fireRunId, jobLockKey, ORPHAN_LOCK_MS } from './model';
import { alertingWorld, WORLD_T0 } from './testing/alerting-world';

const second = 1000;
const minute = 60 * second;

describe('Monitor: worker loss (invariant 4)', () => {
  test('a recoverable run on a dead worker is re-dispatched as attempt 2 with a higher fence; one lost alert', async () => {
    const w = alertingWorld();
    await w.job();
    await w.worker('a');
    const fired = await w.dispatcher.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    assert.equal(fired.kind, 'dispatched');
    const running = await w.claim(fireRunId('report', '2026-01-30T10:00:00Z'));
    const deadEnvelope = w.delivery.delivered.at(-1)!.envelope;
    w.clock.advance(5 * second);
    await w.worker('b');
    w.clock.advance(6 * second); // a's lease (10 s) has expired; b's has not
    const report = await w.monitor.sweep();
    assert.equal(report.workersExpired, 1);
    assert.equal(report.runsRecovered, 1);
    const run = (await w.runs.get(running.runId))!;
    assert.equal(run.status, 'DISPATCHED');
    assert.equal(run.attempt, 2);
    assert.equal(run.workerId, 'b');
    assert.ok(run.fence > running.fence);
    assert.equal((await w.registry.get('a'))?.status, 'GONE');
    // The dead worker's late completion is refused.
    const superseded = (e: unknown) => e instanceof StaleFenceError || e instanceof RunNotInStateError;
    await assert.rejects(w.execution.complete(running, { status: 'SUCCEEDED' }), superseded);
    await assert.rejects(w.execution.claim(deadEnvelope, 'a'));
    assert.deepEqual(w.alertKinds(), ['lost']);
    // The next sweep changes nothing.
    const again = await w.monitor.sweep();
    assert.equal(again.runsRecovered, 0);
    assert.deepEqual(w.alertKinds(), ['lost']);
  });

  test('without recoverOnWorkerLoss the run is LOST, its lock released, and the owner alerted', async () => {
    const w = alertingWorld();
    await w.job({ recoverOnWorkerLoss: false });
    await w.worker('a');
    await w.dispatcher.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    await w.claim(fireRunId('report', '2026-01-30T10:00:00Z'));
    w.clock.advance(11 * second);
    const report = await w.monitor.sweep();
    assert.equal(report.runsLost, 1);
    const run = (await w.runs.get(fireRunId('report', '2026-01-30T10:00:00Z')))!;
    assert.equal(run.status, 'LOST');
    assert.equal((await w.locks.get(jobLockKey('report')))?.owner, undefined);
    assert.ok(w.alertKinds().includes('lost'));
  });

  test('an agent restarted under the same worker id before its lease lapsed: the runs its earlier process held are recovered', async () => {
    const w = alertingWorld();
    await w.job();
    await w.worker('a');
    await w.worker('b');
    await w.dispatcher.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    const running = await w.claim(fireRunId('report', '2026-01-30T10:00:00Z'));
    assert.equal(running.workerId, 'a');
    w.clock.advance(2 * second);
    assert.equal((await w.monitor.sweep()).runsRecovered, 0, 'a is alive and running it');
    await w.worker('a'); // kill -9, restarted at once: a new lease for the same id
    const report = await w.monitor.sweep();
    assert.equal(report.runsRecovered, 1);
    assert.equal(report.workersExpired, 0);
    const run = (await w.runs.get(running.runId))!;
    assert.equal(run.status, 'DISPATCHED');
    assert.equal(run.attempt, 2);
    assert.ok(run.history.at(-1)?.note?.includes('worker a restarted'), JSON.stringify(run.history));
    assert.deepEqual(w.alertKinds(), ['lost']);
    // Claimed again (by the new process or by b): that attempt is left alone.
    await w.claim(run.runId);
    w.clock.advance(2 * second);
    assert.equal((await w.monitor.sweep()).runsRecovered, 0);
  });

  test("a sweep told to stop while under way (npm start's Ctrl-C, which its agents get too) handles no dead worker's run; the next sweep does", async () => {
    const w = alertingWorld();
    await w.job();
    await w.worker('a');
    await w.dispatcher.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    const running = await w.claim(fireRunId('report', '2026-01-30T10:00:00Z'));
    w.clock.advance(11 * second); // a's lease has expired
    // The stop comes while the sweep reads the workers.
    const stopping = new AbortController();
    const list = w.registry.list.bind(w.registry);
    w.registry.list = async () => {
      const workers = await list();
      stopping.abort();
      return workers;
    };
    const stopped = await w.monitor.sweep(undefined, { signal: stopping.signal });
    assert.equal(stopped.runsRecovered + stopped.runsLost, 0);
    assert.equal((await w.runs.get(running.runId))?.status, 'RUNNING');
    assert.deepEqual(w.alertKinds(), []);
    const next = await w.monitor.sweep();
    assert.equal(next.runsRecovered, 1);
    assert.ok(w.alertKinds().includes('lost'), w.alertKinds().join());
  });
});

describe('Monitor: deadlines', () => {
  test('a RUNNING run past its deadline is TIMED_OUT with cancelRequested, lock released, one timeout alert', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000 });
    await w.job({ timeoutSeconds: 30 });
    await w.worker('a');
    await w.dispatcher.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    await w.claim(fireRunId('report', '2026-01-30T10:00:00Z'));
    w.clock.advance(29 * second);
    assert.equal((await w.monitor.sweep()).runsTimedOut, 0);
    w.clock.advance(2 * second);
    assert.equal((await w.monitor.sweep()).runsTimedOut, 1);
    const run = (await w.runs.get(fireRunId('report', '2026-01-30T10:00:00Z')))!;
    assert.equal(run.status, 'TIMED_OUT');
    assert.equal(run.cancelRequested, true);
    assert.equal((await w.locks.get(jobLockKey('report')))?.owner, undefined);
    assert.equal((await w.monitor.sweep()).runsTimedOut, 0);
    assert.deepEqual(w.alertKinds(), ['timeout']);
  });
});

describe('Monitor: unclaimed runs', () => {
  test('a DISPATCHED run unclaimed past the bound gets its envelope again, once, same fence and worker; one of the copies is claimed', async () => {
    const w = alertingWorld({ leaseMs: 10 * minute });
    await w.job();
    await w.worker('a');
    const runId = fireRunId('report', '2026-01-30T10:00:00Z');
    await w.dispatcher.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    const original = w.delivery.delivered[0]!; // sent, but say it reaches the worker only late
    w.clock.advance(59 * second);
    assert.equal((await w.monitor.sweep()).runsResent, 0, 'within normal queueing');
    w.clock.advance(2 * second);
    assert.equal((await w.monitor.sweep()).runsResent, 1);
    const resent = w.delivery.delivered[1]!;
    assert.equal(w.delivery.delivered.length, 2);
    assert.deepEqual(resent.target, original.target);
    assert.equal(resent.envelope.fence, original.envelope.fence);
    assert.equal((await w.runs.get(runId))?.resentFence, original.envelope.fence);
    w.clock.advance(2 * minute);
    assert.equal((await w.monitor.sweep()).runsResent, 0, 'once per dispatch');
    await w.execution.claim(resent.envelope, 'a');
    await assert.rejects(w.execution.claim(original.envelope, 'a'), RunNotInStateError);
    assert.equal((await w.runs.get(runId))?.status, 'RUNNING');
    assert.equal(w.delivery.delivered.length, 2);
  });

  test('a recovery whose monitor died before sending (ZMQ job, a monitor without ZeroMQ keys): the next sweep sends it over SQS', async () => {
    const w = alertingWorld({ leaseMs: 10 * minute });
    await w.job({ delivery: 'ZMQ' });
    await w.worker('a');
    await w.worker('b');
    const runId = fireRunId('report', '2026-01-30T10:00:00Z');
    await w.dispatcher.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    const first = await w.claim(runId);
    // What the lease step writes when it recovers the run, and nothing after it: the process died.
    const recovered = await w.runs.transition(runId, {
      from: ['RUNNING'],
      fence: first.fence,
      to: 'DISPATCHED',
      at: w.clock.now(),
      attempt: 2,
      newFence: first.fence + 1,
      set: { workerId: 'b', dispatchedAt: w.clock.now() },
    });
    const sent = w.delivery.delivered.length;
    w.clock.advance(61 * second);
    assert.equal((await w.monitor.sweep()).runsResent, 1);
    const resent = w.delivery.delivered.at(-1)!;
    assert.equal(w.delivery.delivered.length, sent + 1);
    assert.equal(resent.target.kind === 'worker' && resent.target.worker.workerId, 'b');
    assert.equal(resent.envelope.fence, recovered.fence);
    assert.equal(resent.envelope.attempt, 2);
    assert.equal((await w.execution.claim(resent.envelope, 'b')).status, 'RUNNING');
  });

  test('a run whose worker is gone is left to the lease step, which re-dispatches it under a new fence', async () => {
    const w = alertingWorld();
    await w.job();
    await w.worker('a');
    await w.dispatcher.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    const original = w.delivery.delivered[0]!.envelope;
    w.clock.advance(61 * second);
    await w.worker('b');
    const report = await w.monitor.sweep();
    assert.equal(report.runsRecovered, 1);
    assert.equal(report.runsResent, 0);
    const run = (await w.runs.get(original.runId))!;
    assert.equal(run.workerId, 'b');
    assert.ok(run.fence > original.fence);
    assert.equal(w.delivery.delivered.length, 2);
  });
});

describe('Monitor: missed fires', () => {
  const everyMinute = { expression: 'cron(* * * * ? *)', timezone: 'UTC' };

  test('FIRE_ONCE_NOW: five missed fires make exactly one CATCHUP run at the latest missed instant', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000 });
    await w.job({ schedule: everyMinute, misfire: { policy: 'FIRE_ONCE_NOW', windowSeconds: 3600 } });
    await w.worker('a');
    w.clock.advance(5 * minute + 61 * second); // fires at 10:01..10:05 are due and older than the grace
    const report = await w.monitor.sweep();
    assert.equal(report.catchUpFires, 1);
    const runs = await w.runs.listByJob('report');
    assert.deepEqual(
      runs.map((r) => [r.trigger, r.scheduledTime, r.status]),
      [['CATCHUP', '2026-01-30T10:05:00Z', 'DISPATCHED']],
    );
    assert.equal((await w.monitor.sweep()).catchUpFires, 0);
    assert.equal((await w.runs.listByJob('report')).length, 1);
    assert.deepEqual(w.alertKinds(), ['misfire']);
  });

  test('SKIP: five missed fires make five SKIPPED(misfire) records and no run, idempotently', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000 });
    await w.job({ schedule: everyMinute, misfire: { policy: 'SKIP', windowSeconds: 3600 } });
    await w.worker('a');
    w.clock.advance(5 * minute + 61 * second);
    assert.equal((await w.monitor.sweep()).misfiresSkipped, 5);
    const runs = await w.runs.listByJob('report', { order: 'oldest' });
    assert.deepEqual(
      runs.map((r) => [r.scheduledTime, r.status, r.reason]),
      [1, 2, 3, 4, 5].map((m) => [`2026-01-30T10:0${m}:00Z`, 'SKIPPED', 'misfire']),
    );
    assert.equal(w.delivery.delivered.length, 0);
    assert.equal((await w.monitor.sweep()).misfiresSkipped, 0);
    assert.deepEqual(w.alertKinds(), ['misfire']);
  });

  test('fires older than the catch-up window are not caught up', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000 });
    await w.job({ schedule: everyMinute, misfire: { policy: 'SKIP', windowSeconds: 120 } });
    await w.worker('a');
    w.clock.advance(10 * minute);
    // Window 10:08..10:10, grace 60 s: only 10:08 and 10:09 count.
    assert.equal((await w.monitor.sweep()).misfiresSkipped, 2);
  });

  test("dead-lettered fires are drained and follow the job's policy; malformed ones are dropped", async () => {
    const w = alertingWorld({ leaseMs: 3_600_000 });
    await w.job({ misfire: { policy: 'FIRE_ONCE_NOW', windowSeconds: 3600 } }); // manual-only: no schedule
    await w.worker('a');
    w.clock.advance(2 * minute);
    w.deadLetters.put({ jobId: 'report', scheduledTime: '2026-01-30T10:01:00Z' });
    w.deadLetters.put({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    w.deadLetters.put('garbage');
    const report = await w.monitor.sweep();
    assert.equal(report.deadLettersDrained, 3);
    assert.equal(report.catchUpFires, 1);
    assert.equal(w.deadLetters.size, 0);
    const runs = await w.runs.listByJob('report');
    assert.deepEqual(
      runs.map((r) => [r.trigger, r.scheduledTime]),
      [['CATCHUP', '2026-01-30T10:01:00Z']],
    );
  });
});

describe('Monitor: availability', () => {
  test('a job whose only capable worker leaves raises job_unavailable once per outage', async () => {
    const w = alertingWorld();
    await w.job();
    await w.worker('a');
    await w.worker('other', { handlers: ['something.else'] });
    await w.monitor.sweep();
    assert.deepEqual(w.alertKinds(), []);
    const a = (await w.registry.get('a'))!;
    await w.registry.setStatus('a', a.leaseFence, 'GONE', w.clock.now());
    assert.equal((await w.monitor.sweep()).jobsUnavailable, 1);
    const still = await w.monitor.sweep();
    assert.equal(still.jobsUnavailable, 0);
    // The gauge behind the "no live worker" alarm stays up for as long as the outage lasts.
    assert.equal(still.jobsWithoutLiveWorker, 1);
    assert.deepEqual(w.alertKinds(), ['job_unavailable']);
    await w.worker('a');
    assert.equal((await w.monitor.sweep()).jobsWithoutLiveWorker, 0);
    assert.deepEqual([...(await w.alertStore.flagged('job_unavailable'))], []);
    const again = (await w.registry.get('a'))!;
    await w.registry.setStatus('a', again.leaseFence, 'GONE', w.clock.now());
    assert.equal((await w.monitor.sweep()).jobsUnavailable, 1);
  });

  test('a full worker still counts as able to run the job; a paused job is not watched', async () => {
    const w = alertingWorld();
    await w.job();
    await w.job({ jobId: 'paused', paused: true, handler: 'nobody.has.this' });
    const a = await w.worker('a', { capacity: 1 });
    await w.registry.renew('a', a.leaseFence, w.clock.now(), 10_000, 1);
    const report = await w.monitor.sweep();
    assert.equal(report.jobsUnavailable, 0);
    assert.equal(report.jobsWithoutLiveWorker, 0);
  });
});

describe('Monitor: retries, schedule drift and stale locks', () => {
  test('dispatches due retries; a sweep reads the open runs once', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000 });
    const reads = countCalls(w.runs, ['listOpen', 'listByStatus']);
    await w.job({ retry: { maxAttempts: 3, backoffSeconds: 10, maxBackoffSeconds: 60 } });
    const fired = await w.dispatcher.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    assert.equal(fired.kind, 'no_worker');
    await w.worker('a');
    await w.job({ jobId: 'other' });
    assert.equal(
      (await w.dispatcher.fire({ jobId: 'other', scheduledTime: '2026-01-30T10:00:00Z' })).kind,
      'dispatched',
    );
    w.clock.advance(11 * second);
    const report = await w.monitor.sweep();
    assert.equal(report.retriesDispatched, 1);
    assert.equal(report.inFlight, 1, "other's run, in flight when the sweep read the open runs");
    const holder = await w.registry.get('a');
    assert.equal(
      report.nextLeaseExpiryAt,
      holder?.leaseExpiresAt,
      'when the holder of a run would be found dead',
    );
    assert.equal((await w.runs.get(fireRunId('report', '2026-01-30T10:00:00Z')))?.status, 'DISPATCHED');
    assert.deepEqual(reads, { listOpen: 1, listByStatus: 0 });
  });

  test('repairs an OUT_OF_SYNC job after the grace, and releases a lock whose owner run is final', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000 });
    const job = await w.job({ schedule: { expression: 'cron(0 10 * * ? *)', timezone: 'UTC' } });
    await w.jobs.setSyncState('report', job.version, 'OUT_OF_SYNC');
    await w.worker('a');
    await w.dispatcher.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    const runId = fireRunId('report', '2026-01-30T10:00:00Z');
    const run = (await w.runs.get(runId))!;
    // The run ends without settling (a crash between the two writes): the lock stays held.
    await w.runs.transition(runId, {
      from: ['DISPATCHED'],
      fence: run.fence,
      to: 'CANCELLED',
      at: w.clock.now(),
    });
    w.clock.advance(31 * second);
    const report = await w.monitor.sweep();
    assert.equal(report.schedulesRepaired, 1);
    assert.equal(report.locksReleased, 1);
    assert.equal((await w.jobs.get('report'))?.syncState, 'IN_SYNC');
    assert.equal((await w.schedules.get('report'))?.expression, 'cron(0 10 * * ? *)');
    assert.equal((await w.locks.get(jobLockKey('report')))?.owner, undefined);
  });

  test('releases a lock whose owner run was never written only once it is older than ORPHAN_LOCK_MS', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000, monitor: { housekeepingMs: minute } });
    await w.job();
    // What a writer leaves that died between the lock and the run (core/dispatch/record.ts).
    const owner = 'report@manual-2026-01-30T10:00:00Z-dead';
    const now = w.clock.now();
    w.locks.take({ key: jobLockKey('report'), owner, expiresAt: now + 3_600_000, now });
    assert.equal((await w.monitor.sweep()).locksReleased, 0, 'a young one may be a writer mid-way');
    w.clock.advance(ORPHAN_LOCK_MS - 1);
    assert.equal((await w.monitor.sweep()).locksReleased, 0);
    assert.equal((await w.locks.get(jobLockKey('report')))?.owner, owner);
    w.clock.advance(minute);
    assert.equal((await w.monitor.sweep()).locksReleased, 1);
    assert.equal((await w.locks.get(jobLockKey('report')))?.owner, undefined);
  });

  test('a failing step is reported and the others still run', async () => {
    const w = alertingWorld();
    await w.job();
    w.runs.listOpen = async () => {
      throw new Error('ledger down');
    };
    const report = await w.monitor.sweep();
    assert.deepEqual(
      report.errors.map((e) => e.step),
      ['leases', 'deadlines', 'unclaimed', 'retries'],
    );
    assert.equal(report.jobsUnavailable, 1);
    assert.equal(report.at, WORLD_T0);
  });
});

/** Counts calls of the named methods (the monitor's reads), passing them through. */
function countCalls<T extends object>(
  target: T,
  names: readonly (keyof T & string)[],
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) {
    const original = (target[name] as (...args: unknown[]) => unknown).bind(target);
    counts[name] = 0;
    (target as Record<string, unknown>)[name] = (...args: unknown[]) => {
      counts[name]! += 1;
      return original(...args);
    };
  }
  return counts;
}

describe('Monitor: the job list a warm instance keeps', () => {
  test('jobs created, edited, paused or deleted between sweeps are judged as stored at the next sweep; a full read only at housekeeping', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000 });
    const reads = countCalls(w.jobs, ['list', 'listUpdatedSince']);
    await w.job();
    await w.worker('a');
    await w.monitor.sweep(); // cold: the one full read
    const sweep = () => {
      w.clock.advance(5 * second);
      return w.monitor.sweep();
    };
    const unavailable = { jobId: 'nightly', handler: 'nobody.has.this' };

    // Created: no live worker has its handler, so the next sweep alerts once.
    await w.jobService.define(unavailable);
    assert.equal((await sweep()).jobsUnavailable, 1);
    // Edited to a handler worker a has: available again, the flag cleared.
    await w.jobService.define({ ...unavailable, handler: 'reports.daily' });
    assert.equal((await sweep()).jobsWithoutLiveWorker, 0);
    assert.deepEqual([...(await w.alertStore.flagged('job_unavailable'))], []);
    // Paused with a handler nobody has: not watched.
    await w.jobService.define({ ...unavailable, paused: true });
    const paused = await sweep();
    assert.equal(paused.jobsWithoutLiveWorker, 0);
    assert.equal(paused.jobsUnavailable, 0);
    // Deleted while its only worker left: the kept copy is read again before alerting, so only
    // `report` (still stored) raises job_unavailable, and the next sweep no longer counts `nightly`.
    await w.jobService.define({ ...unavailable, handler: 'reports.daily' });
    await sweep();
    await w.jobService.delete('nightly');
    const a = (await w.registry.get('a'))!;
    await w.registry.setStatus('a', a.leaseFence, 'GONE', w.clock.now());
    const gone = await sweep();
    assert.equal(gone.jobsUnavailable, 1);
    assert.deepEqual([...(await w.alertStore.flagged('job_unavailable'))], ['report']);
    assert.equal((await sweep()).jobsWithoutLiveWorker, 1);
    assert.deepEqual(reads, { list: 1, listUpdatedSince: 6 });
    // Housekeeping (every 60 s) reads every job again: what catches deletes and drift.
    w.clock.advance(minute);
    await w.monitor.sweep();
    assert.equal(reads.list, 2);
  });

  test('a schedule added between sweeps has its missed fires caught by a warm sweep; jobs with no fire due in the window are not looked up', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000, monitor: { housekeepingMs: 3_600_000 } });
    const ledger = countCalls(w.runs, ['listByJob']);
    await w.worker('a');
    // Daily at 03:00: its latest fire lies outside the hour's catch-up window, so not even a cold
    // sweep asks the ledger about it.
    await w.job({ jobId: 'daily', schedule: { expression: 'cron(0 3 * * ? *)', timezone: 'UTC' } });
    assert.equal((await w.monitor.sweep()).catchUpFires, 0);
    assert.equal(ledger.listByJob, 0);
    await w.job({
      schedule: { expression: 'cron(* * * * ? *)', timezone: 'UTC' },
      misfire: { policy: 'FIRE_ONCE_NOW', windowSeconds: 3600 },
    });
    w.clock.advance(5 * minute + 61 * second); // fires at 10:01..10:05 are due and older than the grace
    assert.equal((await w.monitor.sweep()).catchUpFires, 1);
    assert.deepEqual(
      (await w.runs.listByJob('report')).map((r) => [r.trigger, r.scheduledTime]),
      [['CATCHUP', '2026-01-30T10:05:00Z']],
    );
    // The next sweep asks the ledger nothing until the next fire (10:06) is past the grace.
    const asked = ledger.listByJob;
    w.clock.advance(5 * second);
    await w.monitor.sweep();
    assert.equal(ledger.listByJob, asked);
    // A dispatcher that died before writing 10:06: missed, caught up by the same warm instance.
    w.clock.advance(minute);
    assert.equal((await w.monitor.sweep()).catchUpFires, 1);
    assert.deepEqual(w.alertKinds(), ['misfire', 'misfire']);
  });
});
