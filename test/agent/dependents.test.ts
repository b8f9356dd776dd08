/**
 * Issue 17's dependent jobs on the emulator with a real agent process: A → (B, C) → D with D
 * `waitFor: ALL`, and E after A FAILED. Executions are counted by the handlers' own marker lines,
 * not only by the ledger: one fire of A runs B, C and D exactly once each, in order, D seeing both
 * upstream run ids; a failing A runs only E. Then A's completion written twice — by two processes
 * with the same fence, and by a stale worker whose fence was superseded — still runs each
 * downstream job once. Then define-time refusals (cycle, unknown upstream, self, bad `on`), which
 * write nothing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { RunNotInStateError, StaleFenceError, ValidationError } from '../../core/errors';
import { isoSeconds, type Run } from '../../core/model';
import { useEmulator } from '../harness';
import { useAgents } from '../harness/agent-process';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((line) => line.trim() !== '');
}

test('A → (B, C) → D (ALL) and A FAILED → E: each downstream runs once per upstream outcome, in order, even when A completes twice', async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  // A second process writing the same completion: its own dispatcher and ledger clients.
  const other = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const marks = join(await mkdtemp(join(tmpdir(), 'clover-deps-')), 'ran');
  // Each execution appends `job|run|upstream run ids|upstream result`; a payload with "fail" fails it.
  const script = [
    `echo "$CLOVER_JOB_ID|$CLOVER_RUN_ID|$CLOVER_UPSTREAM_RUN_ID|$CLOVER_UPSTREAM_RESULT" >> ${marks}`,
    'case "$CLOVER_PAYLOAD" in *fail*) exit 3;; esac',
  ].join('\n');
  const agent = await agents.start({
    aws,
    workerId: 'dep-1',
    config: [
      'pool: deps',
      'capacity: 4',
      'heartbeatIntervalSeconds: 2',
      'leaseTtlSeconds: 20',
      'handlers:',
      `  step:\n    command: ${JSON.stringify(['/bin/sh', '-c', script])}`,
    ].join('\n'),
  });
  await agent.waitForLog(/agent started/, 60_000);

  const define = (jobId: string, extra: Record<string, unknown> = {}) =>
    plane.jobService.define({ jobId, handler: 'step', target: { pool: 'deps' }, ...extra });
  await define('A');
  await define('B', { after: [{ jobId: 'A', on: 'SUCCEEDED' }] });
  await define('C', { after: [{ jobId: 'A', on: 'SUCCEEDED' }] });
  await define('D', {
    after: [
      { jobId: 'B', on: 'SUCCEEDED' },
      { jobId: 'C', on: 'COMPLETED' },
    ],
    waitFor: 'ALL',
  });
  await define('E', { after: [{ jobId: 'A', on: 'FAILED' }] });
  const runOf = (runId: string) => plane.runs.get(runId);
  const finalRun = (runId: string, what: string) =>
    waitFor(
      () => runOf(runId),
      (run) => run !== null && !['PENDING', 'DISPATCHED', 'RUNNING'].includes(run.status),
      what,
      { timeoutMs: 90_000 },
    ) as Promise<Run>;

  // ── One fire of A: B and C after it, D once after both. ──
  const fired = await plane.dispatcher.fire({ jobId: 'A', trigger: 'MANUAL' });
  assert.equal(fired.kind, 'dispatched');
  const a = fired.kind === 'dispatched' ? (fired.runs[0]?.runId ?? '') : '';
  const d = await finalRun(`D@chain:${a}`, 'D to run after B and C');
  assert.equal(d.status, 'SUCCEEDED', JSON.stringify(d.history));
  assert.equal(d.trigger, 'DEPENDENT');
  assert.equal(d.chainId, a);
  const b = `B@after:${a}`;
  const c = `C@after:${a}`;
  assert.deepEqual(
    d.upstream?.map((u) => [u.runId, u.status, u.result]),
    [
      [b, 'SUCCEEDED', { exitCode: 0 }],
      [c, 'SUCCEEDED', { exitCode: 0 }],
    ],
  );
  const first = await lines(marks);
  const ran = first.map((line) => line.split('|')[1]);
  assert.equal(first.length, 4, first.join('\n'));
  assert.equal(ran[0], a, 'A ran first');
  assert.deepEqual(ran.slice(1, 3).sort(), [b, c], 'then B and C');
  assert.equal(ran[3], `D@chain:${a}`, 'then D');
  assert.deepEqual(first[3]?.split('|').slice(2), [`${b},${c}`, '{"B":{"exitCode":0},"C":{"exitCode":0}}']);
  assert.deepEqual(
    first
      .find((line) => line.startsWith('B|'))
      ?.split('|')
      .slice(2),
    [a, '{"exitCode":0}'],
  );
  // The chain in the API's run record: A names what it fired; B names A.
  assert.deepEqual((await runOf(a))?.downstreamRuns, [b, c]);
  assert.equal((await runOf(a))?.dependentsPending, undefined);
  assert.deepEqual((await runOf(b))?.downstreamRuns, [`D@chain:${a}`]);
  assert.equal((await plane.runs.listByJob('E')).length, 0, 'the FAILED branch stayed quiet');

  // ── A failing fires only the FAILED branch. ──
  const failing = await plane.dispatcher.fire({ jobId: 'A', trigger: 'MANUAL', payload: { fail: true } });
  const failedA = failing.kind === 'dispatched' ? (failing.runs[0]?.runId ?? '') : '';
  const e = await finalRun(`E@after:${failedA}`, 'E to run after A failed');
  assert.equal(e.status, 'SUCCEEDED');
  assert.equal((await runOf(failedA))?.status, 'FAILED');
  assert.deepEqual(
    e.upstream?.map((u) => [u.runId, u.status]),
    [[failedA, 'FAILED']],
  );

  // ── A's completion written twice: the same fence by two processes, and a stale fence. ──
  const now = Date.now();
  const running = (runId: string, fence: number): Run => ({
    runId,
    jobId: 'A',
    scheduledTime: isoSeconds(now),
    trigger: 'MANUAL',
    handler: 'step',
    payload: null,
    status: 'RUNNING',
    attempt: fence,
    fence,
    jobVersion: 1,
    concurrency: 'ALLOW',
    workerId: 'elsewhere',
    hasDependents: true,
    createdAt: now,
    updatedAt: now,
    startedAt: now,
    history: [{ at: now, status: 'RUNNING', attempt: fence, workerId: 'elsewhere' }],
  });
  const twice = running(`A@manual-twice-${now}`, 1);
  await plane.runs.create(twice);
  const outcomes = await Promise.allSettled([
    plane.execution.complete(twice, { status: 'SUCCEEDED', result: { by: 'one' } }),
    other.execution.complete(twice, { status: 'SUCCEEDED', result: { by: 'two' } }),
  ]);
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, 'one write wins');
  const refused = outcomes.find((o) => o.status === 'rejected');
  assert.ok(refused?.status === 'rejected' && refused.reason instanceof RunNotInStateError);
  // One chain at a time: B, C and D forbid overlap, so on a loaded machine the next chain's runs could
  // meet this one's still running and be skipped as overlaps (CI saw D@chain:… skipped once).
  await finalRun(`D@chain:${twice.runId}`, `D after ${twice.runId}`);
  // A worker whose attempt was superseded (fence 1; the record holds attempt 2's fence 2) completes late.
  const recovered = running(`A@manual-stale-${now}`, 2);
  await plane.runs.create(recovered);
  await assert.rejects(
    other.execution.complete(
      { ...recovered, fence: 1, attempt: 1 },
      { status: 'FAILED', error: { code: 'x', message: 'late' } },
    ),
    StaleFenceError,
  );
  await plane.execution.complete(recovered, { status: 'SUCCEEDED' });
  // ... and once more after the real outcome: refused by the status, firing nothing new.
  await assert.rejects(
    other.execution.complete({ ...recovered, fence: 1, attempt: 1 }, { status: 'SUCCEEDED' }),
    RunNotInStateError,
  );
  for (const upstream of [twice.runId, recovered.runId]) {
    await finalRun(`D@chain:${upstream}`, `D after ${upstream}`);
  }
  const all = await lines(marks);
  const count = (runId: string) => all.filter((line) => line.split('|')[1] === runId).length;
  for (const upstream of [twice.runId, recovered.runId]) {
    for (const runId of [`B@after:${upstream}`, `C@after:${upstream}`, `D@chain:${upstream}`]) {
      assert.equal(count(runId), 1, `${runId} executed once (${(await runOf(runId))?.status})`);
    }
    assert.equal((await runOf(upstream))?.dependentsPending, undefined);
  }
  assert.equal(all.filter((line) => line.startsWith('E|')).length, 1, 'the late FAILED outcome fired no E');
  assert.equal(all.length, 6 + 6, 'nothing else ran');

  // ── Define-time refusals: specific, naming the field, nothing written. ──
  const before = await plane.jobs.list();
  const refusal = async (spec: Record<string, unknown>, message: string) => {
    await assert.rejects(define(spec.jobId as string, spec), (error: unknown) => {
      assert.ok(error instanceof ValidationError, String(error));
      assert.equal(error.message, message);
      return true;
    });
  };
  await refusal({ jobId: 'A', after: [{ jobId: 'B', on: 'FAILED' }] }, 'after: cycle A → B → A');
  await refusal({ jobId: 'A', after: [{ jobId: 'D', on: 'SUCCEEDED' }] }, 'after: cycle A → B → D → A');
  await refusal(
    { jobId: 'F', after: [{ jobId: 'ghost', on: 'SUCCEEDED' }] },
    'after.0.jobId: no job "ghost" exists',
  );
  await refusal(
    { jobId: 'F', after: [{ jobId: 'F', on: 'SUCCEEDED' }] },
    'after.0.jobId: a job cannot run after itself',
  );
  await refusal(
    { jobId: 'F', after: [{ jobId: 'A', on: 'DONE' }] },
    'after.0.on: must be one of SUCCEEDED, FAILED, COMPLETED',
  );
  assert.deepEqual(await plane.jobs.list(), before, 'nothing written');
  await plane.close();
  await other.close();
});
