import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RunNotInStateError, StaleFenceError } from '../../errors';
import { jobLockKey } from '../../model';
import { sampleRun, T0, uniqueId } from './fixtures';
import { claimFor, LEASE, type RunLedgerSubjectMaker } from './run-ledger-subject';

/**
 * Finishing runs: the final status and the lock's release in one write, and the job's health kept on its lock item.
 */
export function outcomeCases(makeSubject: RunLedgerSubjectMaker): void {
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
}
