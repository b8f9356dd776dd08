import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RUNAWAY_FIRES_PER_MINUTE } from './dependents';
import { GraphChangedError, ValidationError } from './errors';
import { RunExecution } from './execution';
import { silentLogger } from './log';
import {
  completeJoin,
  type Dependency,
  dependencyIssues,
  dependentRunId,
  findCycle,
  type Job,
  JobSpecSchema,
  joinRunId,
  outcomeMatches,
  type Run,
  type UpstreamRef,
  upstreamRefOf,
  upstreamsFirst,
} from './model';
import { alertingWorld } from './testing/alerting-world';

const after = (...ids: string[]): Dependency[] => ids.map((jobId) => ({ jobId, on: 'SUCCEEDED' }));

describe('dependencies, the pure part', () => {
  test('findCycle names a cycle through the job in firing order, and only one through it', () => {
    const graph: Record<string, string[]> = { A: ['C'], B: ['A'], C: ['B'], X: ['Y'], Y: ['X'] };
    assert.deepEqual(
      findCycle('A', (id) => graph[id]),
      ['A', 'B', 'C', 'A'],
    );
    assert.deepEqual(
      findCycle('A', (id) => ({ A: ['B'], B: ['A'] })[id]),
      ['A', 'B', 'A'],
    );
    assert.equal(
      findCycle('Z', (id) => ({ Z: ['X'], ...graph })[id]),
      null,
      'a cycle elsewhere is not this job',
    );
    assert.equal(
      findCycle('D', (id) => ({ D: ['B', 'C'], B: ['A'], C: ['A'] })[id]),
      null,
      'a diamond is no cycle',
    );
  });

  test('dependencyIssues: unknown upstreams by index, a cycle on `after`, with a batch prefix', () => {
    const stored: Record<string, Dependency[]> = { A: after('B'), B: [] };
    const afterOf = (id: string) => stored[id];
    assert.deepEqual(dependencyIssues({ jobId: 'B', after: after('A') }, afterOf), [
      { field: 'after', reason: 'cycle B → A → B' },
    ]);
    assert.deepEqual(dependencyIssues({ jobId: 'C', after: after('A', 'nope') }, afterOf, 'jobs.2'), [
      { field: 'jobs.2.after.1.jobId', reason: 'no job "nope" exists' },
    ]);
    assert.deepEqual(dependencyIssues({ jobId: 'C', after: after('A') }, afterOf), []);
  });

  test('the schema refuses self-dependencies, duplicates and an `on` outside the enum, naming the field', () => {
    const issues = (input: unknown) => {
      const parsed = JobSpecSchema.safeParse({ jobId: 'A', handler: 'h', ...(input as object) });
      return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    assert.deepEqual(issues({ after: after('A') }), ['after.0.jobId: a job cannot run after itself']);
    assert.deepEqual(issues({ after: after('B', 'B') }), ['after.1.jobId: is listed twice']);
    assert.deepEqual(issues({ after: [{ jobId: 'B', on: 'DONE' }] }), [
      'after.0.on: must be one of SUCCEEDED, FAILED, COMPLETED',
    ]);
    assert.deepEqual(issues({ waitFor: 'SOME' }), ['waitFor: must be one of ANY, ALL']);
    assert.deepEqual(JobSpecSchema.parse({ jobId: 'A', handler: 'h' }).after, []);
    assert.equal(JobSpecSchema.parse({ jobId: 'A', handler: 'h' }).waitFor, 'ANY');
  });

  test('outcomes, joins, derived run ids and batch order', () => {
    assert.ok(outcomeMatches('FAILED', 'TIMED_OUT') && outcomeMatches('FAILED', 'LOST'));
    assert.ok(outcomeMatches('COMPLETED', 'SUCCEEDED') && !outcomeMatches('COMPLETED', 'CANCELLED'));
    assert.ok(!outcomeMatches('SUCCEEDED', 'FAILED'));
    const b: UpstreamRef = { runId: 'b1', jobId: 'B', status: 'SUCCEEDED' };
    const c: UpstreamRef = { runId: 'c1', jobId: 'C', status: 'SUCCEEDED' };
    assert.equal(completeJoin(after('B', 'C'), new Map([['B', b]])), null);
    assert.deepEqual(
      completeJoin(
        after('B', 'C'),
        new Map([
          ['C', c],
          ['B', b],
        ]),
      ),
      [b, c],
    );
    assert.equal(dependentRunId('B', 'A@2026-01-30T10:00:00Z'), 'B@after:A@2026-01-30T10:00:00Z');
    assert.equal(joinRunId('D', 'A@2026-01-30T10:00:00Z'), 'D@chain:A@2026-01-30T10:00:00Z');
    const long = dependentRunId('x'.repeat(64), `${'y'.repeat(64)}@after:${'z'.repeat(150)}`);
    assert.ok(long.length <= 256 && long.startsWith(`${'x'.repeat(64)}@after:#`));
    assert.equal(long, dependentRunId('x'.repeat(64), `${'y'.repeat(64)}@after:${'z'.repeat(150)}`));
    const big = upstreamRefOf({ runId: 'r', jobId: 'A', status: 'SUCCEEDED', result: 'x'.repeat(5000) });
    assert.deepEqual(big, { runId: 'r', jobId: 'A', status: 'SUCCEEDED', resultOmitted: true });
    const order = upstreamsFirst([
      { jobId: 'D', after: after('B', 'C') },
      { jobId: 'C', after: after('A') },
      { jobId: 'B', after: after('A') },
      { jobId: 'A', after: [] },
    ]).map((s) => s.jobId);
    assert.deepEqual(order, ['A', 'B', 'C', 'D']);
  });
});

/** A → (B, C) → D (D waits for ALL), and E after A FAILED, over in-memory fakes. */
async function chainWorld() {
  const w = alertingWorld();
  await w.worker('w1');
  const define = (jobId: string, extra: Record<string, unknown> = {}) =>
    w.jobService.define({ jobId, handler: 'reports.daily', ...extra });
  await define('A');
  await define('B', { after: after('A') });
  await define('C', { after: after('A') });
  await define('D', { after: after('B', 'C'), waitFor: 'ALL' });
  await define('E', { after: [{ jobId: 'A', on: 'FAILED' }] });
  /** Claims and completes a delivered run. */
  const finish = async (runId: string, status: 'SUCCEEDED' | 'FAILED' = 'SUCCEEDED', result?: unknown) => {
    const run = await w.claim(runId);
    return status === 'SUCCEEDED'
      ? w.execution.complete(run, { status, result })
      : w.execution.complete(run, { status, error: { code: 'x', message: 'broke' } });
  };
  const runsOf = async (jobId: string) => w.runs.listByJob(jobId);
  return { w, define, finish, runsOf };
}

describe('dependent fires over in-memory fakes', () => {
  test('define keeps reverse links; a fire of A carries hasDependents and fans out, then in, once', async () => {
    const { w, finish, runsOf } = await chainWorld();
    assert.deepEqual((await w.jobs.get('A'))?.downstream, ['B', 'C', 'E']);
    assert.deepEqual((await w.jobs.get('B'))?.downstream, ['D']);
    const fired = await w.dispatcher.fire({ jobId: 'A', scheduledTime: '2026-01-30T10:00:00Z' });
    assert.equal(fired.kind, 'dispatched');
    const a = 'A@2026-01-30T10:00:00Z';
    assert.equal((await w.runs.get(a))?.hasDependents, true);
    const doneA = await finish(a, 'SUCCEEDED', { rows: 2 });
    assert.equal(doneA.dependentsPending, true, 'the completion write flags it');
    const storedA = await w.runs.get(a);
    assert.equal(storedA?.dependentsPending, undefined, 'cleared once fired');
    assert.deepEqual(storedA?.downstreamRuns, [`B@after:${a}`, `C@after:${a}`]);
    assert.equal((await runsOf('E')).length, 0, 'the FAILED branch does not fire on success');
    const [b] = await runsOf('B');
    assert.equal(b?.trigger, 'DEPENDENT');
    assert.equal(b?.chainId, a);
    assert.deepEqual(b?.upstream, [{ runId: a, jobId: 'A', status: 'SUCCEEDED', result: { rows: 2 } }]);
    await finish(`B@after:${a}`);
    assert.equal((await runsOf('D')).length, 0, 'D waits for C');
    await finish(`C@after:${a}`);
    const d = await runsOf('D');
    assert.deepEqual(
      d.map((r) => r.runId),
      [`D@chain:${a}`],
    );
    assert.deepEqual(
      d[0]?.upstream?.map((u) => u.runId),
      [`B@after:${a}`, `C@after:${a}`],
    );
    // A repeated completion of A is refused; firing again from the record changes nothing.
    await assert.rejects(
      w.execution.complete({ ...(storedA as Run), status: 'RUNNING' }, { status: 'SUCCEEDED' }),
    );
    await w.dependents.fire({ ...(storedA as Run), dependentsPending: true });
    for (const job of ['B', 'C', 'D']) assert.equal((await runsOf(job)).length, 1, job);
  });

  test('a failure of A fires only the FAILED branch', async () => {
    const { w, finish, runsOf } = await chainWorld();
    await w.dispatcher.fire({ jobId: 'A', scheduledTime: '2026-01-30T10:00:00Z' });
    await finish('A@2026-01-30T10:00:00Z', 'FAILED');
    assert.deepEqual(
      (await runsOf('E')).map((r) => r.upstream?.[0]?.status),
      ['FAILED'],
    );
    for (const job of ['B', 'C', 'D']) assert.equal((await runsOf(job)).length, 0, job);
  });

  test('dependents left unfired by a dying writer are fired by the monitor after the grace', async () => {
    const { w, runsOf } = await chainWorld();
    await w.dispatcher.fire({ jobId: 'A', scheduledTime: '2026-01-30T10:00:00Z' });
    const run = await w.claim('A@2026-01-30T10:00:00Z');
    // A writer without the dependents hook: it sets the flag and stops there, as if it died.
    const { dependents: _none, ...withoutHook } = w;
    const dying = new RunExecution({ ...withoutHook, log: silentLogger });
    await dying.complete(run, { status: 'SUCCEEDED' });
    assert.equal((await runsOf('B')).length, 0);
    assert.equal((await w.monitor.sweep()).dependentsRecovered, 0, 'not within the grace');
    w.clock.advance(120_000);
    assert.equal((await w.monitor.sweep()).dependentsRecovered, 1);
    assert.equal((await runsOf('B')).length, 1);
    assert.equal((await runsOf('C')).length, 1);
    w.clock.advance(120_000);
    assert.equal((await w.monitor.sweep()).dependentsRecovered, 0, 'once');
  });

  test('define: a cycle, an unknown upstream; nothing written. Delete unlinks; the monitor repairs links', async () => {
    const { w, define } = await chainWorld();
    const before = await w.jobs.get('A');
    await assert.rejects(define('A', { after: after('D') }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.message, 'after: cycle A → B → D → A');
      return true;
    });
    await assert.rejects(define('F', { after: after('ghost') }), /after\.0\.jobId: no job "ghost" exists/);
    assert.deepEqual(await w.jobs.get('A'), before, 'nothing written');
    assert.equal(await w.jobs.get('F'), null);
    await w.jobService.delete('E');
    assert.deepEqual((await w.jobs.get('A'))?.downstream, ['B', 'C']);
    await w.jobs.linkDownstream('A', 'E-gone', true);
    await w.jobs.linkDownstream('B', 'D', false);
    w.clock.advance(120_000);
    assert.equal((await w.monitor.sweep()).dependencyLinksRepaired, 2);
    assert.deepEqual((await w.jobs.get('A'))?.downstream, ['B', 'C']);
    assert.deepEqual((await w.jobs.get('B'))?.downstream, ['D']);
  });

  test('concurrent defines that together close a cycle: one lands, the other conflicts; pause works on a cyclic graph', async () => {
    const { w, define } = await chainWorld();
    // X after D (so after B and A) and A after X: each alone is fine, together a cycle.
    await define('X');
    const outcomes = await Promise.allSettled([
      define('X', { after: after('D') }),
      define('A', { after: after('X') }),
    ]);
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    assert.equal(outcomes.length - rejected.length, 1, 'exactly one lands');
    const reason = rejected[0]?.reason;
    // Interleaved, the loser's write finds the graph changed; had it read after the winner, the cycle.
    assert.ok(reason instanceof GraphChangedError || /after: cycle/.test(String(reason)), String(reason));
    assert.equal(
      findCycle('A', (id) => w.jobs.jobs.get(id)?.spec.after.map((d) => d.jobId)),
      null,
    );

    // A cycle stored by an older version (written past define): pause and resume still work.
    const a = await w.jobs.get('A');
    await w.jobs.put(
      { ...(a as Job), version: (a?.version ?? 0) + 1, spec: { ...(a as Job).spec, after: after('D') } },
      a?.version ?? 0,
    );
    assert.equal((await w.jobService.setPaused('A', true)).spec.paused, true);
    assert.equal((await w.jobService.setPaused('A', false)).spec.paused, false);
    await assert.rejects(define('A', { after: after('D'), description: 'edit' }), /after: cycle/);
  });

  test('the run-away guard: a stored cycle stops after the documented fires per minute, SKIPPED(runaway) and alerted', async () => {
    const w = alertingWorld();
    await w.worker('w1');
    await w.jobService.define({ jobId: 'P', handler: 'reports.daily' });
    await w.jobService.define({ jobId: 'Q', handler: 'reports.daily', after: after('P') });
    // Close the cycle past define, as an older version could: P after Q.
    const p = (await w.jobs.get('P')) as Job;
    await w.jobs.put({ ...p, version: p.version + 1, spec: { ...p.spec, after: after('Q') } }, p.version);
    await w.jobs.linkDownstream('Q', 'P', true);

    await w.dispatcher.fire({ jobId: 'P', scheduledTime: '2026-01-30T10:00:00Z' });
    let next: string | undefined = 'P@2026-01-30T10:00:00Z';
    const fired: string[] = [];
    while (next && fired.length < 100) {
      fired.push(next);
      const done = await w.execution.complete(await w.claim(next), { status: 'SUCCEEDED' });
      next = (await w.runs.get(done.runId))?.downstreamRuns?.[0];
      const run = next ? await w.runs.get(next) : null;
      if (run?.status === 'SKIPPED') break;
    }
    const stopped = next ? await w.runs.get(next) : null;
    assert.equal(stopped?.status, 'SKIPPED');
    assert.equal(stopped?.reason, 'runaway');
    assert.equal(stopped?.jobId, 'P', 'P is fired by dependent runs; its first fire started the chain');
    assert.match(stopped?.history.at(-1)?.note ?? '', /fired job P 11 times this minute \(limit 10\)/);
    // P ran once as the chain's start and RUNAWAY_FIRES_PER_MINUTE times as a dependent; Q once after each.
    assert.equal(fired.filter((id) => id.startsWith('P@')).length, 1 + RUNAWAY_FIRES_PER_MINUTE);
    const alerts = [...w.alertStore.records.values()].filter((r) => r.kind === 'runaway');
    assert.deepEqual(
      alerts.map((r) => [r.jobId, r.runId]),
      [['P', stopped?.runId]],
    );
  });
});
