import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AlreadyFiredError,
  ClaimRefusedError,
  LockHeldError,
  NotFoundError,
  RunNotInStateError,
  StaleFenceError,
  ValidationError,
} from '../../errors';
import { type ClaimExpectation, jobLockKey, type Run, type RunClaim } from '../../model';
import type { LockClaim, LockStore, RunLedger } from '../../ports';
import { sampleRun, T0, uniqueId } from './fixtures';

export interface RunLedgerSubject {
  readonly ledger: RunLedger;
  readonly locks: LockStore;
}

const LEASE = 60_000;

function claimFor(run: Run, now = T0, extra: Partial<LockClaim> = {}): LockClaim {
  return { key: jobLockKey(run.jobId), owner: run.runId, expiresAt: now + LEASE, now, ...extra };
}

/**
 * The RunLedger + LockStore contract: one run per fire, no overlap, fenced transitions (ARCHITECTURE.md
 * invariants 1-3), each failure a domain error carrying the current record.
 */
export function runLedgerContract(name: string, makeSubject: () => Promise<RunLedgerSubject>): void {
  describe(`RunLedger contract: ${name}`, () => {
    it("stores a dependent run's chain and clears dependentsPending once, recording the runs fired", async () => {
      const { ledger } = await makeSubject();
      const upstream = { runId: 'up@2026-01-30T10:00:00Z', jobId: 'up', status: 'SUCCEEDED' as const };
      const run = sampleRun({
        status: 'SUCCEEDED',
        chainId: 'root@2026-01-30T10:00:00Z',
        upstream: [
          { ...upstream, result: { rows: [1, 2] } },
          { ...upstream, resultOmitted: true },
        ],
        hasDependents: true,
        dependentsPending: true,
      });
      await ledger.create(run);
      assert.deepEqual(await ledger.get(run.runId), run);
      assert.equal(await ledger.markDependentsFired(run.runId, ['b@after:x', 'c@after:x'], T0 + 5), true);
      const marked = await ledger.get(run.runId);
      assert.equal(marked?.dependentsPending, undefined);
      assert.deepEqual(marked?.downstreamRuns, ['b@after:x', 'c@after:x']);
      assert.equal(marked?.status, 'SUCCEEDED');
      assert.equal(marked?.fence, run.fence);
      assert.equal(await ledger.markDependentsFired(run.runId, ['other'], T0 + 6), false, 'only once');
      assert.deepEqual((await ledger.get(run.runId))?.downstreamRuns, ['b@after:x', 'c@after:x']);
      assert.equal(await ledger.markDependentsFired(uniqueId('missing'), [], T0), false);
    });

    it('records a resent dispatch once per fence, only while the run is DISPATCHED under that fence', async () => {
      const { ledger } = await makeSubject();
      const run = sampleRun({ status: 'DISPATCHED', fence: 2, workerId: 'w1' });
      await ledger.create(run);
      assert.equal(await ledger.markResent(run.runId, 1, T0 + 1, 'resent'), false, 'another fence');
      assert.equal(await ledger.markResent(run.runId, 2, T0 + 2, 'envelope sent again'), true);
      const marked = await ledger.get(run.runId);
      assert.equal(marked?.resentFence, 2);
      assert.equal(marked?.status, 'DISPATCHED');
      assert.equal(marked?.fence, 2);
      assert.equal(marked?.workerId, 'w1');
      assert.deepEqual(marked?.history.at(-1), {
        at: T0 + 2,
        status: 'DISPATCHED',
        attempt: run.attempt,
        note: 'envelope sent again',
      });
      assert.equal(await ledger.markResent(run.runId, 2, T0 + 3, 'again'), false, 'once per fence');
      const moved = await ledger.transition(run.runId, {
        from: ['DISPATCHED'],
        fence: 2,
        to: 'DISPATCHED',
        at: T0 + 4,
        newFence: 3,
      });
      assert.equal(moved.resentFence, 2, 'a new fence is a new dispatch, not yet resent');
      assert.equal(await ledger.markResent(run.runId, 3, T0 + 5, 'resent'), true);
      await ledger.transition(run.runId, { from: ['DISPATCHED'], fence: 3, to: 'RUNNING', at: T0 + 6 });
      const claimed = sampleRun({ status: 'RUNNING', fence: 1 });
      await ledger.create(claimed);
      assert.equal(await ledger.markResent(claimed.runId, 1, T0 + 7, 'resent'), false, 'claimed');
      assert.equal(await ledger.markResent(uniqueId('missing'), 1, T0, 'resent'), false);
    });

    it('patches progress and appends log lines under the fence, without a status change or history entry', async () => {
      const { ledger } = await makeSubject();
      const run = sampleRun({ status: 'RUNNING', fence: 3 });
      await ledger.create(run);
      await ledger.patch(run.runId, { from: ['RUNNING'], fence: 3, at: T0 + 1, appendLog: ['a', 'b'] });
      const patched = await ledger.patch(run.runId, {
        from: ['RUNNING'],
        fence: 3,
        at: T0 + 2,
        progress: { percent: 40, message: 'half' },
        appendLog: ['c'],
      });
      assert.deepEqual(patched.log, ['a', 'b', 'c']);
      assert.deepEqual(patched.progress, { percent: 40, message: 'half' });
      assert.equal(patched.status, 'RUNNING');
      assert.equal(patched.updatedAt, T0 + 2);
      assert.deepEqual(patched.history, run.history);
      assert.deepEqual(await ledger.get(run.runId), patched);
      await assert.rejects(
        ledger.patch(run.runId, { from: ['RUNNING'], fence: 2, at: T0 + 3, appendLog: ['late'] }),
        (error: unknown) => error instanceof StaleFenceError && (error.current as Run).log?.length === 3,
      );
      await assert.rejects(
        ledger.patch(run.runId, { from: ['DISPATCHED'], fence: 3, at: T0 + 3, appendLog: ['x'] }),
        RunNotInStateError,
      );
      await assert.rejects(
        ledger.patch(uniqueId('missing'), { from: ['RUNNING'], fence: 1, at: T0, appendLog: ['x'] }),
        NotFoundError,
      );
    });

    it('creates a run and reads back the same record', async () => {
      const { ledger } = await makeSubject();
      const run = sampleRun({ result: { deep: [{ a: 1 }] }, workerId: 'w-1', deadlineAt: T0 + 5 });
      await ledger.create(run);
      assert.deepEqual(await ledger.get(run.runId), run);
      assert.equal(await ledger.get(uniqueId('missing')), null);
    });

    it('refuses a second create of the same fire with AlreadyFiredError carrying the existing run', async () => {
      const { ledger } = await makeSubject();
      const run = sampleRun();
      await ledger.create(run);
      const again = { ...run, payload: 'different', trigger: 'MANUAL' as const };
      await assert.rejects(ledger.create(again), (error: unknown) => {
        assert.ok(error instanceof AlreadyFiredError);
        assert.equal(error.runId, run.runId);
        assert.deepEqual(error.existing, run);
        return true;
      });
      assert.deepEqual(await ledger.get(run.runId), run);
    });

    it('lets exactly one of 50 concurrent createWithLock calls for one fire win', async () => {
      const { ledger, locks } = await makeSubject();
      const run = sampleRun();
      // Each contender is its own dispatcher invocation and writes the fire at its own instant. Fifty
      // identical items would be indistinguishable from one caller whose answer was lost and whose
      // SDK retried: that retry finding its own item is, by design, a create (under load the SDK
      // does retry here, and the test then counted two winners).
      const contenders = Array.from({ length: 50 }, (_, i) =>
        sampleRun({
          jobId: run.jobId,
          createdAt: T0 + i,
          updatedAt: T0 + i,
          history: [{ at: T0 + i, status: 'PENDING', attempt: 1 }],
        }),
      );
      const results = await Promise.allSettled(
        contenders.map((contender) => ledger.createWithLock(contender, claimFor(contender))),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, `one winner, got ${won.length}`);
      for (const r of lost) {
        assert.ok(
          r.reason instanceof AlreadyFiredError,
          `expected AlreadyFiredError, got ${String(r.reason)}`,
        );
      }
      const lock = await locks.get(jobLockKey(run.jobId));
      assert.equal(lock?.owner, run.runId);
      assert.equal(lock?.fence, 1);
    });

    it('refuses a second fire of the job while the lock is held, naming the owner, and writes nothing', async () => {
      const { ledger, locks } = await makeSubject();
      const first = sampleRun();
      await ledger.createWithLock(first, claimFor(first));
      const second = sampleRun({ jobId: first.jobId, scheduledTime: '2026-01-30T10:01:00Z' });
      await assert.rejects(ledger.createWithLock(second, claimFor(second, T0 + 1000)), (error: unknown) => {
        assert.ok(error instanceof LockHeldError);
        assert.equal(error.lockKey, jobLockKey(first.jobId));
        assert.equal(error.owner, first.runId);
        return true;
      });
      assert.equal(await ledger.get(second.runId), null);
      assert.equal((await locks.get(jobLockKey(first.jobId)))?.owner, first.runId);
    });

    it("writes a precise fire's decision over its planned placeholder once, and only under the placeholder's fence", async () => {
      const { ledger, locks } = await makeSubject();
      const placeholder = sampleRun({
        status: 'PENDING',
        reason: 'planned',
        workerId: 'w-1',
        plannedAt: T0,
        fence: 2,
      });
      await ledger.create(placeholder);
      const decided = sampleRun({
        runId: placeholder.runId,
        jobId: placeholder.jobId,
        status: 'DISPATCHED',
        workerId: 'w-1',
        fence: 3,
        replacesPlan: 2,
      });
      const stale = { ...decided, fence: 2, replacesPlan: 1 };
      await assert.rejects(ledger.createWithLock(stale, claimFor(stale)), AlreadyFiredError, 'a stale plan');
      assert.equal((await locks.get(jobLockKey(stale.jobId)))?.owner, undefined, 'its lock given back');
      const { replacesPlan: _plan, ...unplanned } = decided;
      await assert.rejects(ledger.create(unplanned), AlreadyFiredError, 'no plan named');
      await ledger.createWithLock(decided, claimFor(decided));
      assert.deepEqual(await ledger.get(decided.runId), decided);
      assert.equal((await locks.get(jobLockKey(decided.jobId)))?.owner, decided.runId);
      const skipped = { ...decided, status: 'SKIPPED' as const, reason: 'paused' };
      await assert.rejects(ledger.create(skipped), AlreadyFiredError, 'decided once');
    });

    it('checks the run before the lock: a duplicate fire is AlreadyFired even while the lock is held', async () => {
      const { ledger } = await makeSubject();
      const run = sampleRun();
      await ledger.createWithLock(run, claimFor(run));
      await assert.rejects(ledger.createWithLock(run, claimFor(run, T0 + 1)), AlreadyFiredError);
    });

    it('takes over an expired lock with a higher fence', async () => {
      const { ledger, locks } = await makeSubject();
      const first = sampleRun();
      await ledger.createWithLock(first, claimFor(first));
      const second = sampleRun({ jobId: first.jobId, scheduledTime: '2026-01-30T10:05:00Z' });
      const later = T0 + LEASE; // exactly at expiry counts as free
      await ledger.createWithLock(second, claimFor(second, later));
      const lock = await locks.get(jobLockKey(first.jobId));
      assert.equal(lock?.owner, second.runId);
      assert.equal(lock?.fence, 2);
      assert.equal(lock?.expiresAt, later + LEASE);
    });

    it('takes a held lock from the named owner (REPLACE), and only from that owner', async () => {
      const { ledger, locks } = await makeSubject();
      const first = sampleRun();
      await ledger.createWithLock(first, claimFor(first));
      const second = sampleRun({ jobId: first.jobId, scheduledTime: '2026-01-30T10:02:00Z' });
      await assert.rejects(
        ledger.createWithLock(second, claimFor(second, T0 + 1, { takeOverFrom: 'someone-else' })),
        LockHeldError,
      );
      await ledger.createWithLock(second, claimFor(second, T0 + 1, { takeOverFrom: first.runId }));
      assert.equal((await locks.get(jobLockKey(first.jobId)))?.owner, second.runId);
    });

    it('releases only for the owner and keeps the fence, so the next holder gets a higher one', async () => {
      const { ledger, locks } = await makeSubject();
      const first = sampleRun();
      const key = jobLockKey(first.jobId);
      await ledger.createWithLock(first, claimFor(first));
      assert.equal(await locks.release(key, 'not-the-owner'), false);
      assert.equal((await locks.get(key))?.owner, first.runId);
      assert.equal(await locks.release(key, first.runId), true);
      const released = await locks.get(key);
      assert.equal(released?.owner, undefined);
      assert.equal(released?.fence, 1);
      assert.equal(await locks.release(key, first.runId), false);
      const second = sampleRun({ jobId: first.jobId, scheduledTime: '2026-01-30T10:03:00Z' });
      await ledger.createWithLock(second, claimFor(second, T0 + 1));
      assert.equal((await locks.get(key))?.fence, 2);
      assert.equal(await locks.release(uniqueId('no-such-lock'), 'x'), false);
    });

    it('lists the held locks: an owner and a lease not lapsed by the given instant', async () => {
      const { ledger, locks } = await makeSubject();
      const [held, released] = [sampleRun(), sampleRun()];
      for (const run of [held, released]) await ledger.createWithLock(run, claimFor(run));
      await locks.release(jobLockKey(released.jobId), released.runId);
      const ours = async (now: number) =>
        (await locks.listHeld(now))
          .filter((l) => [held, released].some((r) => l.lockKey === jobLockKey(r.jobId)))
          .map((l) => [l.lockKey, l.owner]);
      assert.deepEqual(await ours(T0), [[jobLockKey(held.jobId), held.runId]]);
      assert.deepEqual(await ours(T0 + LEASE), []);
    });

    it('hands a held lock over from its owner only, raising the fence', async () => {
      const { ledger, locks } = await makeSubject();
      const first = sampleRun();
      const key = jobLockKey(first.jobId);
      await ledger.createWithLock(first, claimFor(first));
      assert.equal(await locks.handOver(key, 'not-the-owner', 'next', T0 + 9), false);
      assert.equal(await locks.handOver(key, first.runId, 'next', T0 + 9), true);
      assert.deepEqual(await locks.get(key), {
        lockKey: key,
        owner: 'next',
        fence: 2,
        expiresAt: T0 + 9,
        takenAt: T0,
      });
    });

    it("counts a lock already in the run's name as taken: the retry of a fire whose writer died between lock and run", async () => {
      const { ledger, locks } = await makeSubject();
      const first = sampleRun();
      const key = jobLockKey(first.jobId);
      await ledger.createWithLock(first, claimFor(first));
      const retried = sampleRun({ jobId: first.jobId, scheduledTime: '2026-01-30T10:04:00Z' });
      // The lock in the name of a run not written: what a writer leaves that died between its writes.
      assert.equal(await locks.handOver(key, first.runId, retried.runId, T0 + LEASE), true);
      const other = sampleRun({ jobId: first.jobId, scheduledTime: '2026-01-30T10:05:00Z' });
      await assert.rejects(ledger.createWithLock(other, claimFor(other, T0 + 1)), (error: unknown) => {
        assert.ok(error instanceof LockHeldError, String(error));
        assert.equal(error.owner, retried.runId);
        return true;
      });
      await ledger.createWithLock(retried, claimFor(retried, T0 + 2));
      assert.deepEqual(await ledger.get(retried.runId), retried);
      const lock = await locks.get(key);
      assert.equal(lock?.owner, retried.runId);
      assert.equal(lock?.fence, 2, 'left as it was, not taken again');
    });

    it('gives back a lock it took when the run exists, and answers a duplicate before a held lock', async () => {
      const { ledger, locks } = await makeSubject();
      const first = sampleRun();
      const key = jobLockKey(first.jobId);
      await ledger.createWithLock(first, claimFor(first));
      await locks.release(key, first.runId);
      // A duplicate invocation after the first run released its lock: it takes the free lock, its put
      // finds the run, and the lock is free again.
      const late = { ...first, createdAt: T0 + 5 };
      await assert.rejects(ledger.createWithLock(late, claimFor(late, T0 + 5)), AlreadyFiredError);
      const afterDuplicate = await locks.get(key);
      assert.equal(afterDuplicate?.owner, undefined);
      const second = sampleRun({ jobId: first.jobId, scheduledTime: '2026-01-30T10:06:00Z' });
      await ledger.createWithLock(second, claimFor(second, T0 + 6));
      // Another run holds the lock now: a duplicate of the first fire is still a duplicate, not an overlap.
      await assert.rejects(ledger.createWithLock(late, claimFor(late, T0 + 7)), (error: unknown) => {
        assert.ok(error instanceof AlreadyFiredError, String(error));
        assert.deepEqual(error.existing, first);
        return true;
      });
      assert.equal((await locks.get(key))?.owner, second.runId);
    });

    it('finishes a run: the final status and the lock release in one write; a stale fence writes neither', async () => {
      const { ledger, locks } = await makeSubject();
      const run = sampleRun({ status: 'RUNNING', workerId: 'w-1', lockKey: uniqueId('ignored') });
      const key = jobLockKey(run.jobId);
      const locked = { ...run, lockKey: key };
      await ledger.createWithLock(locked, claimFor(run));
      const change = {
        from: ['RUNNING' as const],
        fence: 1,
        to: 'SUCCEEDED' as const,
        at: T0 + 5,
        set: { finishedAt: T0 + 5, result: { rows: 3 } },
        release: true,
        health: 'healthy' as const,
      };
      await assert.rejects(ledger.finish(locked, { ...change, fence: 2 }), StaleFenceError);
      assert.equal((await ledger.get(run.runId))?.status, 'RUNNING');
      assert.equal((await locks.get(key))?.owner, run.runId, 'a refused finish releases nothing');
      const finished = await ledger.finish(locked, change);
      assert.deepEqual(finished, { run: await ledger.get(run.runId), released: true, recovered: false });
      assert.equal(finished.run.status, 'SUCCEEDED');
      assert.deepEqual(finished.run.result, { rows: 3 });
      const lock = await locks.get(key);
      assert.equal(lock?.owner, undefined);
      assert.equal(lock?.fence, 1);
      await assert.rejects(ledger.finish(locked, change), RunNotInStateError);
    });

    it('finishes a run whose lock another run took over: the status is written, the lock left alone', async () => {
      const { ledger, locks } = await makeSubject();
      const first = sampleRun({ status: 'RUNNING' });
      const key = jobLockKey(first.jobId);
      await ledger.createWithLock({ ...first, lockKey: key }, claimFor(first));
      const second = sampleRun({ jobId: first.jobId, scheduledTime: '2026-01-30T10:05:00Z' });
      await ledger.createWithLock(second, claimFor(second, T0 + 1, { takeOverFrom: first.runId }));
      const finished = await ledger.finish(
        { ...first, lockKey: key },
        { from: ['RUNNING'], fence: 1, to: 'FAILED', at: T0 + 9, release: true, health: 'failing' },
      );
      assert.equal(finished.released, false);
      assert.equal((await ledger.get(first.runId))?.status, 'FAILED');
      const lock = await locks.get(key);
      assert.equal(lock?.owner, second.runId);
      assert.equal(lock?.fence, 2);
      assert.equal(lock?.failing, true);
    });

    it("keeps a job's health on its lock item while the lock is taken and handed over", async () => {
      const { ledger, locks } = await makeSubject();
      const first = sampleRun({ status: 'RUNNING' });
      const key = jobLockKey(first.jobId);
      await ledger.createWithLock({ ...first, lockKey: key }, claimFor(first));
      const failed = await ledger.finish(
        { ...first, lockKey: key },
        { from: ['RUNNING'], fence: 1, to: 'FAILED', at: T0 + 1, release: true, health: 'failing' },
      );
      assert.equal(failed.released, true);
      const second = sampleRun({
        jobId: first.jobId,
        status: 'RUNNING',
        scheduledTime: '2026-01-30T10:07:00Z',
      });
      await ledger.createWithLock({ ...second, lockKey: key }, claimFor(second, T0 + 2));
      assert.equal(await locks.handOver(key, second.runId, second.runId, T0 + LEASE * 2), true);
      assert.deepEqual(await locks.get(key), {
        lockKey: key,
        owner: second.runId,
        fence: 3,
        expiresAt: T0 + LEASE * 2,
        takenAt: T0 + 2,
        failing: true,
      });
      const succeeded = await ledger.finish(
        { ...second, lockKey: key },
        { from: ['RUNNING'], fence: 1, to: 'SUCCEEDED', at: T0 + 3, release: true, health: 'healthy' },
      );
      assert.deepEqual([succeeded.released, succeeded.recovered], [true, true]);
      assert.deepEqual(await locks.get(key), {
        lockKey: key,
        fence: 3,
        expiresAt: T0 + LEASE * 2,
        takenAt: T0 + 2,
      });
    });

    it('records the job health: the first success after failures is a recovery, once, also for a job without a lock', async () => {
      const { ledger, locks } = await makeSubject();
      const jobId = uniqueId('job');
      /** A RUNNING run of the job (which allows overlap), fired at `minute`. */
      const running = async (minute: number) => {
        const run = sampleRun({
          jobId,
          status: 'RUNNING',
          concurrency: 'ALLOW',
          scheduledTime: `2026-01-30T10:0${minute}:00Z`,
        });
        await ledger.create(run);
        return run;
      };
      const finishOne = async (
        minute: number,
        to: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'LOST' | 'CANCELLED',
      ) => {
        const run = await running(minute);
        const health = to === 'SUCCEEDED' ? 'healthy' : to === 'CANCELLED' ? undefined : 'failing';
        return ledger.finish(run, { from: ['RUNNING'], fence: 1, to, at: T0 + minute, health });
      };
      assert.equal((await finishOne(0, 'SUCCEEDED')).recovered, false, 'healthy to begin with');
      assert.equal(await locks.get(jobLockKey(jobId)), null, 'a healthy job without a lock has no item');
      await finishOne(1, 'FAILED');
      await finishOne(2, 'TIMED_OUT');
      await finishOne(3, 'CANCELLED');
      const lock = await locks.get(jobLockKey(jobId));
      assert.equal(lock?.failing, true);
      assert.equal(lock?.owner, undefined);
      assert.equal((await finishOne(4, 'SUCCEEDED')).recovered, true);
      assert.equal((await locks.get(jobLockKey(jobId)))?.failing, undefined);
      assert.equal((await finishOne(5, 'SUCCEEDED')).recovered, false);
      await finishOne(6, 'LOST');
      const runs = await Promise.all([7, 8, 9].map(running));
      const together = await Promise.all(
        runs.map((run) =>
          ledger.finish(run, {
            from: ['RUNNING'],
            fence: 1,
            to: 'SUCCEEDED',
            at: T0 + 10,
            health: 'healthy',
          }),
        ),
      );
      assert.equal(together.filter((f) => f.recovered).length, 1, 'one recovery of concurrent successes');
    });

    it('applies a fenced transition, growing the history', async () => {
      const { ledger } = await makeSubject();
      const run = sampleRun();
      await ledger.create(run);
      const dispatched = await ledger.transition(run.runId, {
        from: ['PENDING'],
        fence: 1,
        to: 'DISPATCHED',
        at: T0 + 10,
        newFence: 2,
        note: 'to w-1',
        set: { workerId: 'w-1', dispatchedAt: T0 + 10, deadlineAt: T0 + 3_600_000 },
      });
      assert.equal(dispatched.status, 'DISPATCHED');
      assert.equal(dispatched.fence, 2);
      assert.equal(dispatched.attempt, 1);
      assert.equal(dispatched.workerId, 'w-1');
      assert.equal(dispatched.updatedAt, T0 + 10);
      assert.deepEqual(dispatched.history, [
        ...run.history,
        { at: T0 + 10, status: 'DISPATCHED', attempt: 1, workerId: 'w-1', note: 'to w-1' },
      ]);
      const done = await ledger.transition(run.runId, {
        from: ['DISPATCHED', 'RUNNING'],
        fence: 2,
        to: 'PENDING',
        at: T0 + 20,
        attempt: 2,
        set: {
          nextAttemptAt: T0 + 30,
          error: { code: 'boom', message: 'it broke' },
          result: [1, { two: 2 }],
        },
        unset: ['workerId', 'deadlineAt'],
      });
      assert.equal(done.attempt, 2);
      assert.equal(done.workerId, undefined);
      assert.equal(done.deadlineAt, undefined);
      assert.equal(done.dispatchedAt, T0 + 10);
      assert.deepEqual(done.error, { code: 'boom', message: 'it broke' });
      assert.deepEqual(done.result, [1, { two: 2 }]);
      const third = await ledger.transition(run.runId, {
        from: ['PENDING'],
        fence: 2,
        to: 'CANCELLED',
        at: T0 + 40,
      });
      assert.deepEqual(
        third.history.map((h) => [h.status, h.attempt]),
        [
          ['PENDING', 1],
          ['DISPATCHED', 1],
          ['PENDING', 2],
          ['CANCELLED', 2],
        ],
      );
      assert.deepEqual(await ledger.get(run.runId), third);
    });

    it('refuses a transition with a stale fence, carrying the current run', async () => {
      const { ledger } = await makeSubject();
      const run = sampleRun();
      await ledger.create(run);
      const current = await ledger.transition(run.runId, {
        from: ['PENDING'],
        fence: 1,
        to: 'DISPATCHED',
        at: T0 + 1,
        newFence: 5,
      });
      await assert.rejects(
        ledger.transition(run.runId, {
          from: ['DISPATCHED'],
          fence: 4,
          to: 'RUNNING',
          at: T0 + 2,
          set: { workerId: 'old' },
        }),
        (error: unknown) => {
          assert.ok(error instanceof StaleFenceError);
          assert.equal(error.fence, 4);
          assert.deepEqual(error.current, current);
          return true;
        },
      );
      assert.deepEqual(await ledger.get(run.runId), current);
    });

    it('refuses a transition from another status with RunNotInStateError carrying the current run', async () => {
      const { ledger } = await makeSubject();
      const run = sampleRun();
      await ledger.create(run);
      await assert.rejects(
        ledger.transition(run.runId, { from: ['RUNNING'], fence: 1, to: 'SUCCEEDED', at: T0 + 1 }),
        (error: unknown) => {
          assert.ok(error instanceof RunNotInStateError);
          assert.deepEqual(error.expected, ['RUNNING']);
          assert.deepEqual(error.current, run);
          return true;
        },
      );
      await assert.rejects(
        ledger.transition(run.runId, { from: [], fence: 1, to: 'SUCCEEDED', at: T0 + 1 }),
        RunNotInStateError,
      );
    });

    it('reports a transition of a missing run as NotFoundError, and a bad `set` as ValidationError', async () => {
      const { ledger } = await makeSubject();
      await assert.rejects(
        ledger.transition(uniqueId('missing'), { from: ['PENDING'], fence: 1, to: 'DISPATCHED', at: T0 }),
        NotFoundError,
      );
      const run = sampleRun();
      await ledger.create(run);
      await assert.rejects(
        ledger.transition(run.runId, {
          from: ['PENDING'],
          fence: 1,
          to: 'DISPATCHED',
          at: T0,
          set: { startedAt: -5 },
        }),
        ValidationError,
      );
      assert.deepEqual(await ledger.get(run.runId), run);
    });

    it('lists a job runs newest first by default, oldest first on request, with a limit', async () => {
      const { ledger } = await makeSubject();
      const jobId = uniqueId('job');
      const times = [
        '2026-01-30T10:00:00Z',
        '2026-01-30T10:02:00Z',
        '2026-01-30T10:01:00Z',
        '2026-01-30T10:03:00Z',
      ];
      for (const scheduledTime of times) await ledger.create(sampleRun({ jobId, scheduledTime }));
      const newest = await ledger.listByJob(jobId);
      assert.deepEqual(
        newest.map((r) => r.scheduledTime),
        [...times].sort().reverse(),
      );
      const oldest = await ledger.listByJob(jobId, { order: 'oldest', limit: 2 });
      assert.deepEqual(
        oldest.map((r) => r.scheduledTime),
        ['2026-01-30T10:00:00Z', '2026-01-30T10:01:00Z'],
      );
      assert.deepEqual(await ledger.listByJob(uniqueId('none')), []);
    });

    describe('claim: the envelope is a pointer, the record is the truth', () => {
      const dispatched = (overrides: Partial<Run> = {}) =>
        sampleRun({
          status: 'DISPATCHED',
          fence: 2,
          attempt: 2,
          workerId: 'w-owner',
          deadlineAt: T0 + 60_000,
          dispatchedAt: T0,
          ...overrides,
        });
      const claimOf = (
        run: Run,
        overrides: Partial<RunClaim> = {},
        expect: Partial<ClaimExpectation> = {},
      ) => ({
        workerId: run.workerId ?? 'w-pool',
        fence: run.fence,
        at: T0 + 10,
        ...overrides,
        expect: {
          jobId: run.jobId,
          scheduledTime: run.scheduledTime,
          handler: run.handler,
          payload: run.payload,
          attempt: run.attempt,
          deadlineAt: run.deadlineAt ?? 0,
          ...expect,
        },
      });

      it('claims a run dispatched to this worker and returns the record as written', async () => {
        const { ledger } = await makeSubject();
        const run = dispatched();
        await ledger.create(run);
        const claimed = await ledger.claim(run.runId, claimOf(run));
        assert.equal(claimed.status, 'RUNNING');
        assert.equal(claimed.workerId, 'w-owner');
        assert.equal(claimed.startedAt, T0 + 10);
        assert.equal(claimed.updatedAt, T0 + 10);
        assert.equal(claimed.fence, 2);
        assert.equal(claimed.attempt, 2);
        assert.equal(claimed.deadlineAt, T0 + 60_000);
        assert.deepEqual(claimed.payload, run.payload);
        assert.deepEqual(claimed.history.at(-1), {
          at: T0 + 10,
          status: 'RUNNING',
          attempt: 2,
          workerId: 'w-owner',
        });
        assert.deepEqual(await ledger.get(run.runId), claimed);
      });

      it('assigns a pool-queue run (no worker yet) to the claiming worker in the same write', async () => {
        const { ledger } = await makeSubject();
        const run = dispatched({ workerId: undefined });
        await ledger.create(run);
        const claimed = await ledger.claim(run.runId, claimOf(run, { workerId: 'w-taker' }));
        assert.equal(claimed.workerId, 'w-taker');
        await assert.rejects(
          ledger.claim(run.runId, claimOf(run, { workerId: 'w-second' })),
          RunNotInStateError,
        );
      });

      it('refuses a run dispatched to another worker, naming the field, and writes nothing', async () => {
        const { ledger } = await makeSubject();
        const run = dispatched();
        await ledger.create(run);
        await assert.rejects(
          ledger.claim(run.runId, claimOf(run, { workerId: 'w-intruder' })),
          (error: unknown) => {
            assert.ok(error instanceof ClaimRefusedError);
            assert.deepEqual(error.differences, [
              { field: 'workerId', record: 'w-owner', envelope: 'w-intruder' },
            ]);
            assert.deepEqual(error.current, run);
            return true;
          },
        );
        assert.deepEqual(await ledger.get(run.runId), run);
      });

      it('refuses an envelope whose handler, payload, attempt, deadline, job or fire differ from the record', async () => {
        const { ledger } = await makeSubject();
        const run = dispatched();
        await ledger.create(run);
        const forgeries: [Partial<ClaimExpectation>, string[]][] = [
          [{ handler: 'other.handler' }, ['handler']],
          [{ payload: { n: 2 } }, ['payload']],
          [{ payload: undefined }, ['payload']],
          [{ attempt: 1 }, ['attempt']],
          [{ deadlineAt: Date.UTC(2200, 0, 1) }, ['deadlineAt']],
          [{ jobId: 'other-job', scheduledTime: '2026-01-30T11:00:00Z' }, ['jobId', 'scheduledTime']],
          [{ handler: 'x', attempt: 9 }, ['handler', 'attempt']],
        ];
        for (const [forged, fields] of forgeries) {
          await assert.rejects(ledger.claim(run.runId, claimOf(run, {}, forged)), (error: unknown) => {
            assert.ok(error instanceof ClaimRefusedError, String(error));
            assert.deepEqual(
              error.differences.map((d) => d.field),
              fields,
            );
            return true;
          });
        }
        assert.deepEqual(await ledger.get(run.runId), run);
      });

      it('refuses a replay of a run that is no longer DISPATCHED, a stale fence, and a missing run', async () => {
        const { ledger } = await makeSubject();
        const done = dispatched({ status: 'SUCCEEDED', finishedAt: T0 + 5 });
        await ledger.create(done);
        await assert.rejects(
          ledger.claim(done.runId, claimOf(done)),
          (error: unknown) =>
            error instanceof RunNotInStateError && (error.current as Run).status === 'SUCCEEDED',
        );
        assert.deepEqual(await ledger.get(done.runId), done);
        const moved = dispatched({ fence: 3 });
        await ledger.create(moved);
        await assert.rejects(
          ledger.claim(moved.runId, claimOf(moved, { fence: 2 })),
          (error: unknown) => error instanceof StaleFenceError && (error.current as Run).fence === 3,
        );
        assert.deepEqual(await ledger.get(moved.runId), moved);
        await assert.rejects(ledger.claim(uniqueId('missing'), claimOf(moved)), NotFoundError);
      });
    });

    it('lists runs by status', async () => {
      const { ledger } = await makeSubject();
      // Far-future fire times put these first among NO_WORKER runs, whatever else the table holds.
      const a = sampleRun({ status: 'NO_WORKER', scheduledTime: '2099-01-01T00:00:01Z' });
      const b = sampleRun({ status: 'NO_WORKER', scheduledTime: '2099-01-01T00:00:02Z' });
      await ledger.create(a);
      await ledger.create(b);
      const lost = await ledger.listByStatus('NO_WORKER', { limit: 2 });
      assert.deepEqual(
        lost.map((r) => r.runId),
        [b.runId, a.runId],
      );
      assert.deepEqual(lost[0], b);
    });

    it('lists open runs of several statuses at once, each up to its limit, many of one never crowding out another', async () => {
      const { ledger } = await makeSubject();
      // Far-future fire times put these first (newest first) among the table's open runs.
      const running = sampleRun({ status: 'RUNNING', scheduledTime: '2199-01-01T00:00:01Z' });
      const pending = [2, 3, 4].map((s) =>
        sampleRun({ status: 'PENDING', scheduledTime: `2199-01-01T00:00:0${s}Z` }),
      );
      for (const run of [running, ...pending]) await ledger.create(run);
      const open = await ledger.listOpen({ limits: { PENDING: 2, RUNNING: 1 } });
      assert.deepEqual(
        open.PENDING.map((r) => r.runId),
        [pending[2]!.runId, pending[1]!.runId],
      );
      assert.deepEqual(open.RUNNING, [running]);
      assert.deepEqual([open.DISPATCHED, open.NO_WORKER], [[], []], 'statuses not asked for are empty');
      assert.deepEqual(await ledger.listByStatus('RUNNING', { limit: 1 }), [running]);
    });
  });
}
