/**
 * Invariant 5 with a real agent process: AWS unreachable for 30 s while 5 runs finish; all 5 outcomes
 * (and their log lines) are present once it answers again.
 *
 * Why a proxy and not a stopped emulator: moto keeps every table and queue in memory only, so
 * stopping and restarting it would lose the very records the test checks. Instead the agent's
 * AWS_ENDPOINT_URL points at an OutageProxy (test/harness/outage-proxy.ts), a loopback TCP proxy in
 * front of moto: `cut()` resets every open connection and every new one — for the agent, AWS is
 * gone — while the test itself keeps talking to moto directly. `restore()` ends the outage.
 *
 * The lease TTL (90 s) outlasts the outage with margin for a loaded machine, so the agent keeps its
 * lease and its runs; with a TTL shorter than an outage the agent would abort its runs at expiry
 * instead (lease-loss.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { OutageProxy } from '../harness/outage-proxy';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();
let proxy: OutageProxy | undefined;
after(() => proxy?.close());

const OUTAGE_MS = 30_000;

test('AWS unreachable for 30 s while 5 runs finish: all 5 outcomes are present after it is back', {
  timeout: 300_000,
}, async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  proxy = await OutageProxy.start(aws.emulator.endpoint);
  const releaseFile = join(await mkdtemp(join(tmpdir(), 'clover-outage-')), 'release');
  const agent = await agents.start({
    aws,
    workerId: 'cut-off',
    endpoint: proxy.endpoint,
    config: `pool: outage\ncapacity: 5\nheartbeatIntervalSeconds: 2\nleaseTtlSeconds: 90\n${testHandlersConfig()}`,
  });
  await agent.waitForLog(/agent started/);
  await plane.jobService.define({
    jobId: 'slow',
    handler: 'work',
    // The runs finish when the test says so (the release file), during the outage: no race with the cut.
    payload: { releaseFile, sleepMs: 0 },
    target: { pool: 'outage' },
    concurrency: { policy: 'ALLOW' },
  });
  const runIds: string[] = [];
  for (let i = 0; i < 5; i += 1) {
    const outcome = await plane.dispatcher.fire({ jobId: 'slow', trigger: 'MANUAL' });
    assert.equal(outcome.kind, 'dispatched');
    if (outcome.kind === 'dispatched') runIds.push(outcome.runs[0]!.runId);
  }
  await waitFor(
    () => Promise.all(runIds.map((id) => plane.runs.get(id))),
    (runs) => runs.every((run) => run?.status === 'RUNNING'),
    'the five runs RUNNING on the agent',
  );

  proxy.cut();
  const cutAt = Date.now();
  // The runs finish now, inside the outage; their outcomes can only go to the journal.
  await writeFile(releaseFile, 'go');
  for (let i = 0; i < 5; i += 1) {
    await agent.waitForLog((l) => l.message === 'journaled outcome' && l.runId === runIds[i]);
  }
  assert.deepEqual(await agent.journaledOutcomes(), [...runIds].sort(), 'the five outcomes are on disk');
  for (const runId of runIds)
    assert.equal((await plane.runs.get(runId))?.status, 'RUNNING', 'not yet written');
  await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - cutAt))));
  assert.ok(agent.running, 'the agent rode out the outage');

  proxy.restore();
  const restoredAt = Date.now();
  const runs = await waitFor(
    () => Promise.all(runIds.map((id) => plane.runs.get(id))),
    (list) => list.every((run) => run?.status === 'SUCCEEDED'),
    'the journaled outcomes to be replayed',
  ).catch(() => Promise.all(runIds.map((id) => plane.runs.get(id))));
  console.log(`outcomes replayed ${Date.now() - restoredAt} ms after the outage ended`);
  for (const run of runs) {
    assert.equal(run?.status, 'SUCCEEDED', JSON.stringify(run));
    assert.deepEqual(run?.result, { by: 'cut-off', attempt: 1 });
    assert.ok(run?.log?.includes(`end ${run.runId}`), `the journaled log line of ${run?.runId} was replayed`);
  }
  assert.equal((await plane.workers.get('cut-off'))?.status, 'ACTIVE', 'the lease survived');

  agent.signal('SIGTERM');
  assert.equal((await agent.waitForExit()).code, 0, agent.text);
  assert.deepEqual(await readdir(join(agent.dir, 'journal')), [], 'the journal is empty after replay');
});
