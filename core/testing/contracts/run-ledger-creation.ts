import assert from 'node:assert/strict';
import { it } from 'node:test';
import { AlreadyFiredError, LockHeldError } from '../../errors';
import { jobLockKey, type Run } from '../../model';
import type { RunLedger } from '../../ports';
import { sampleRun, T0, uniqueId } from './fixtures';
import { claimFor, type RunLedgerSubjectMaker } from './run-ledger-subject';

/**
 * Creating runs: one run per fire, a duplicate refused with the run it found, a precise fire's decision written
 * over its planned placeholder (ARCHITECTURE.md invariant 1).
 */
export function creationCases(makeSubject: RunLedgerSubjectMaker): void {
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
      assert.ok(r.reason instanceof AlreadyFiredError, `expected AlreadyFiredError, got ${String(r.reason)}`);
    }
    const lock = await locks.get(jobLockKey(run.jobId));
    assert.equal(lock?.owner, run.runId);
    assert.equal(lock?.fence, 1);
  });

  it("writes a precise fire's decision over its planned placeholder once, and only under the placeholder's fence", async () => {
    const { ledger, locks } = await makeSubject();
    const { decided } = await plannedFire(ledger);
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

  it("answers a precise fire replacing its own placeholder while another run holds the job's lock with LockHeld (an overlap), not AlreadyFired, and changes nothing", async () => {
    const { ledger, locks } = await makeSubject();
    const { placeholder, decided } = await plannedFire(ledger);
    const active = sampleRun({ jobId: placeholder.jobId, scheduledTime: '2026-01-30T09:59:00Z' });
    await ledger.createWithLock(active, claimFor(active));
    await assert.rejects(ledger.createWithLock(decided, claimFor(decided, T0 + 1000)), (error: unknown) => {
      assert.ok(error instanceof LockHeldError, `expected LockHeldError, got ${String(error)}`);
      assert.equal(error.owner, active.runId);
      return true;
    });
    assert.deepEqual(await ledger.get(placeholder.runId), placeholder, 'the placeholder as planned');
    assert.equal((await locks.get(jobLockKey(placeholder.jobId)))?.owner, active.runId);
  });

  it('checks the run before the lock: a duplicate fire is AlreadyFired even while the lock is held', async () => {
    const { ledger } = await makeSubject();
    const run = sampleRun();
    await ledger.createWithLock(run, claimFor(run));
    await assert.rejects(ledger.createWithLock(run, claimFor(run, T0 + 1)), AlreadyFiredError);
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
}

/**
 * A precise fire as the planner leaves it: its placeholder (PENDING, planned, held by w-1 under fence
 * 2) stored in `ledger`, and the decision that replaces it (DISPATCHED to w-1 at fence 3), not yet written.
 */
async function plannedFire(ledger: RunLedger): Promise<{ placeholder: Run; decided: Run }> {
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
  return { placeholder, decided };
}
