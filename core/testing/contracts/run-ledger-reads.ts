import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sampleRun, uniqueId } from './fixtures';
import type { RunLedgerSubjectMaker } from './run-ledger-subject';

/**
 * Reading runs back: by job, by status, and the open runs of several statuses at once.
 */
export function readCases(makeSubject: RunLedgerSubjectMaker): void {
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
}
