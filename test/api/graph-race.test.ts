/**
 * The dependency graph stays acyclic under concurrent edits (docs/dependent-jobs.md, "Cycles and
 * concurrent edits"; docs/security.md, "The job graph"): two updates that each alone are fine but
 * together close a cycle are sent at once, 50 times, through real HTTP to the API on the emulator.
 * One of each pair lands, the other is refused (409 VERSION_CONFLICT when it lost the race, 400
 * VALIDATION_FAILED when it read the winner's write), no cycle is ever stored, and pause answers 200
 * for every job — also on a cycle stored past define, as an older version could have left one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloverApiError } from '../../core/api/client';
import { findCycle } from '../../core/model';
import { useApi } from './helpers';

const api = useApi();

const PAIRS = 50;
const WAVE = 10;

const spec = (jobId: string, after: string[] = []) => ({
  jobId,
  handler: 'reports.daily',
  schedule: null,
  after: after.map((id) => ({ jobId: id, on: 'SUCCEEDED' as const })),
});

test(`${PAIRS} pairs of mirror updates sent together: one 200 and one 409/400 each, no cycle stored, pause always works`, async (t) => {
  await api.ready();
  const admin = api.as('admin');
  const operator = api.as('operator');
  const statuses = new Map<string, number>();
  const race = async (i: number) => {
    const [x, y] = [`race-${i}-x`, `race-${i}-y`];
    const created = await Promise.all([x, y].map((id) => admin.call('createJob', { body: spec(id) })));
    const update = (jobId: string, upstream: string, version: number) =>
      admin.call('updateJob', { params: { jobId }, body: { version, spec: spec(jobId, [upstream]) } }).then(
        () => 200,
        (error: unknown) => {
          if (!(error instanceof CloverApiError)) throw error;
          statuses.set(error.code, (statuses.get(error.code) ?? 0) + 1);
          return error.status;
        },
      );
    const answers = await Promise.all([
      update(x, y, created[0]?.version ?? 0),
      update(y, x, created[1]?.version ?? 0),
    ]);
    assert.deepEqual(
      answers.filter((s) => s === 200),
      [200],
      `pair ${i}: exactly one lands (${answers})`,
    );
    assert.ok(
      answers.some((s) => s === 409 || s === 400),
      `pair ${i}: the other is a 409 or 400 (${answers})`,
    );
    const stored = new Map(
      (await Promise.all([x, y].map((id) => api.plane.jobs.get(id)))).map((j) => [j?.spec.jobId, j]),
    );
    const upstreamsOf = (id: string) => stored.get(id)?.spec.after.map((d) => d.jobId);
    assert.equal(findCycle(x, upstreamsOf), null, `pair ${i}: no cycle stored`);
    // Pause one job of each pair, upstream and downstream in turn.
    const paused = await operator.call('pauseJob', { params: { jobId: i % 2 ? x : y } });
    assert.equal(paused.spec.paused, true, `pair ${i}: paused`);
  };
  // Pairs race side by side in waves (each pair's own two updates are sent together), which keeps the
  // test short on a loaded machine: the emulator serializes DynamoDB requests anyway.
  for (let wave = 0; wave < PAIRS; wave += WAVE) {
    await Promise.all(Array.from({ length: Math.min(WAVE, PAIRS - wave) }, (_, k) => race(wave + k)));
  }
  // Both ways of losing happen under concurrency; which one is up to timing, so only the sum is fixed.
  assert.equal(
    [...statuses.values()].reduce((a, b) => a + b, 0),
    PAIRS,
  );
  t.diagnostic(`losers by code: ${JSON.stringify(Object.fromEntries(statuses))}`);
});

test('a cycle stored past define (an older version): pause, resume and delete still answer 2xx; an edit names the cycle', async () => {
  await api.ready();
  const admin = api.as('admin');
  const operator = api.as('operator');
  await admin.call('createJob', { body: spec('old-p') });
  await admin.call('createJob', { body: spec('old-q', ['old-p']) });
  const p = await api.plane.jobs.get('old-p');
  assert.ok(p);
  await api.plane.jobs.put(
    { ...p, version: p.version + 1, spec: { ...p.spec, after: spec('', ['old-q']).after } },
    p.version,
  );
  assert.deepEqual(
    await operator.call('pauseJob', { params: { jobId: 'old-p' } }).then((j) => j.spec.paused),
    true,
  );
  assert.deepEqual(
    await operator.call('resumeJob', { params: { jobId: 'old-p' } }).then((j) => j.spec.paused),
    false,
  );
  const current = await admin.call('getJob', { params: { jobId: 'old-q' } });
  const edit = await admin
    .call('updateJob', {
      params: { jobId: 'old-q' },
      body: { version: current.version, spec: { ...spec('old-q', ['old-p']), description: 'edit' } },
    })
    .catch((error: unknown) => error);
  assert.ok(edit instanceof CloverApiError && edit.status === 400, String(edit));
  assert.match(edit.message, /cycle old-q → old-p → old-q/);
  await admin.call('deleteJob', { params: { jobId: 'old-p' }, query: {} });
  assert.equal(await api.plane.jobs.get('old-p'), null);
});
