import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClaimRefusedError, NotFoundError, RunNotInStateError, StaleFenceError } from '../../errors';
import type { ClaimExpectation, Run, RunClaim } from '../../model';
import { sampleRun, T0, uniqueId } from './fixtures';
import type { RunLedgerSubjectMaker } from './run-ledger-subject';

/**
 * A worker's claim of a dispatched run, checked against the record the envelope points at.
 */
export function claimCases(makeSubject: RunLedgerSubjectMaker): void {
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
}
