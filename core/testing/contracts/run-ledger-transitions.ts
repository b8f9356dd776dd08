import assert from 'node:assert/strict';
import { it } from 'node:test';
import { NotFoundError, RunNotInStateError, StaleFenceError, ValidationError } from '../../errors';
import type { Run } from '../../model';
import { sampleRun, T0, uniqueId } from './fixtures';
import type { RunLedgerSubjectMaker } from './run-ledger-subject';

/**
 * Fenced changes to a run: transitions, progress and log patches, a resent dispatch and the dependents fired,
 * each refused with the current record when the fence or status no longer holds (ARCHITECTURE.md invariant 3).
 */
export function transitionCases(makeSubject: RunLedgerSubjectMaker): void {
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
}
