/**
 * Issue 9 (and issue 10's outage must-show) with the emulator itself frozen: `SIGSTOP` to moto_server,
 * an endpoint that accepts connections and never answers — unlike outage.test.ts, where connections
 * are refused. For 30 s (and until the second agent below has exited):
 *
 * - agent `frozen-a` (lease TTL 90 s, longer than the freeze with margin for a loaded machine) has 5
 *   runs that finish in the middle of it (released by a file the test writes once moto is frozen):
 *   its calls fail at their deadlines (they do not hang), the 5 outcomes go to the journal, and
 *   after `SIGCONT` they are replayed — all 5 SUCCEEDED, each executed once (the handler's own file)
 *   and completed once (one SUCCEEDED in each run's history), nothing lost, nothing applied twice.
 *   Each failing call kind is logged once, not once per retry.
 * - agent `frozen-b` (lease TTL 3 s, `exitOnLeaseLoss: true`) cannot renew: it gives its lease up and
 *   exits with code 3 while the emulator is still frozen — a bounded time, not forever. (Without the
 *   setting an agent registers a new lease instead: stall-rejoin.test.ts.)
 *
 * The test process talks to moto only before the freeze and after the thaw.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';

const aws = useEmulator();
const agents = useAgents();
const FREEZE_MS = 30_000;
let frozenPid: number | undefined;
const thaw = () => {
  if (frozenPid !== undefined) process.kill(frozenPid, 'SIGCONT');
  frozenPid = undefined;
};
after(thaw);

test('moto frozen (SIGSTOP) for 30 s while 5 runs finish: calls time out, outcomes are journaled and replayed once; a short-lease agent told to exits 3', async () => {
  await aws.provisioned();
  const motoPid = aws.emulator.pid;
  assert.ok(motoPid !== undefined, 'this test freezes a moto_server it started');
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const releaseFile = join(await mkdtemp(join(tmpdir(), 'clover-frozen-')), 'release');
  const [a, b] = await Promise.all([
    agents.start({
      aws,
      workerId: 'frozen-a',
      config: `pool: frozen\ncapacity: 5\nheartbeatIntervalSeconds: 2\nleaseTtlSeconds: 90\n${testHandlersConfig()}`,
    }),
    agents.start({
      aws,
      workerId: 'frozen-b',
      config: `pool: frozen-b\nheartbeatIntervalSeconds: 1\nleaseTtlSeconds: 3\nexitOnLeaseLoss: true\n${testHandlersConfig()}`,
    }),
  ]);
  await Promise.all([a.waitForLog(/agent started/), b.waitForLog(/agent started/)]);
  await plane.jobService.define({
    jobId: 'slow',
    handler: 'work',
    payload: { releaseFile, sleepMs: 0 },
    target: { pool: 'frozen' },
    concurrency: { policy: 'ALLOW' },
  });
  const runIds: string[] = [];
  for (let i = 0; i < 5; i += 1) {
    const outcome = await plane.dispatcher.fire({ jobId: 'slow', trigger: 'MANUAL' });
    assert.equal(outcome.kind, 'dispatched');
    if (outcome.kind === 'dispatched') runIds.push(outcome.runs[0]!.runId);
  }
  for (const runId of runIds) await a.waitForLog((l) => l.message === 'run started' && l.runId === runId);

  process.kill(motoPid, 'SIGSTOP');
  frozenPid = motoPid;
  const frozenAt = Date.now();
  try {
    // The runs end now, inside the freeze; their writes time out and the outcomes go to disk.
    await writeFile(releaseFile, 'go');
    for (const runId of runIds) {
      await a.waitForLog((l) => l.message === 'journaled outcome' && l.runId === runId);
    }
    const bExit = await b.waitForExit(90_000);
    assert.equal(bExit.code, 3, `a lost lease exits 3 while the endpoint hangs; output:\n${b.text}`);
    assert.ok(b.lines().some((l) => String(l.message).startsWith('lease lost')));
    console.log(`frozen-b exited 3 after ${Date.now() - frozenAt} ms of the freeze`);
    assert.deepEqual(await a.journaledOutcomes(), [...runIds].sort(), 'the five outcomes are on disk');
    await new Promise((r) => setTimeout(r, Math.max(0, FREEZE_MS - (Date.now() - frozenAt))));
    assert.ok(a.running, 'the long-lease agent rode out the freeze');
  } finally {
    thaw();
  }

  let runs = await Promise.all(runIds.map((id) => plane.runs.get(id)));
  for (let i = 0; i < 300 && runs.some((run) => run?.status !== 'SUCCEEDED'); i += 1) {
    await new Promise((r) => setTimeout(r, 200));
    runs = await Promise.all(runIds.map((id) => plane.runs.get(id)));
  }
  for (const run of runs) {
    assert.equal(run?.status, 'SUCCEEDED', JSON.stringify(run));
    assert.deepEqual(run?.result, { by: 'frozen-a', attempt: 1 });
    assert.equal(run?.history.filter((h) => h.status === 'SUCCEEDED').length, 1, 'completed once');
  }
  const executed = (await readFile(a.execFile, 'utf8')).split('\n').filter(Boolean).sort();
  assert.deepEqual(executed, [...runIds].sort(), 'each run executed exactly once');

  // One warning per failing call kind, not one per retry.
  const warnings = (message: string) =>
    a.lines().filter((l) => l.level === 'warn' && l.message === message).length;
  assert.equal(warnings('lease renewal failed; retrying at the next interval'), 1, a.text);
  assert.ok(warnings('receive failed; retrying') <= 2, 'own queue and pool queue at most');
  assert.ok(warnings('journal replay stopped; the rest is kept for the next replay') <= 1, a.text);

  a.signal('SIGTERM');
  assert.equal((await a.waitForExit()).code, 0, a.text);
  assert.deepEqual(await readdir(join(a.dir, 'journal')), [], 'the journal is empty after replay');
});

test('bad input: an agent given an endpoint that never answers fails its start with one line saying so, exit 1', async () => {
  await aws.provisioned();
  // Accepts every connection, reads, never answers: a hung endpoint, not a refused one.
  const held = new Set<Socket>();
  const silent = createServer((socket) => {
    held.add(socket);
    socket.unref();
    socket.on('error', () => {});
    socket.resume();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silent.unref();
  after(() => {
    for (const socket of held) socket.destroy();
    silent.close();
  });
  const address = silent.address();
  assert.ok(address !== null && typeof address === 'object');
  const agent = await agents.start({
    aws,
    workerId: 'hung-endpoint',
    endpoint: `http://127.0.0.1:${address.port}`,
    config: `pool: hung\n${testHandlersConfig()}`,
  });
  const exit = await agent.waitForExit(120_000);
  assert.equal(exit.code, 1, agent.text);
  const problems = agent.lines().filter((l) => l.level === 'warn' || l.level === 'error');
  assert.deepEqual(
    problems.map((l) => l.message),
    ['agent could not start'],
    'one line, not one per retry',
  );
  assert.match(JSON.stringify(problems[0]), /requestTimeout|timed out|TimeoutError/);
});
