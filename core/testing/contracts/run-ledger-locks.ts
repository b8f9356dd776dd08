import assert from 'node:assert/strict';
import { it } from 'node:test';
import { LockHeldError } from '../../errors';
import { jobLockKey } from '../../model';
import { sampleRun, T0, uniqueId } from './fixtures';
import { claimFor, LEASE, type RunLedgerSubjectMaker } from './run-ledger-subject';

/**
 * The job's lock taken with a run (createWithLock) and given up: no overlap, a fence that only grows
 * (ARCHITECTURE.md invariants 2-3).
 */
export function jobLockCases(makeSubject: RunLedgerSubjectMaker): void {
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
}
