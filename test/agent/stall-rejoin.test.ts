/**
 * Issue 25: agents ride out a control-plane stall. moto_server is frozen (SIGSTOP) past the agents'
 * lease TTL: both agents lose their leases (each logs `lease lost`), try to register new ones while the
 * emulator is still frozen (and fail: `cannot register a new lease yet`), and — with no restart from
 * outside — register new leases after SIGCONT (`rejoined with a new lease`, a higher lease fence).
 * Then a fire pinned to each agent runs on it, counted by the handler's own markers (exec files).
 *
 * A run in flight when the lease is lost is handed back (lease-loss.test.ts); `exitOnLeaseLoss: true`
 * still exits 3 (frozen-emulator.test.ts). Leases of 6 s against a freeze that lasts until both
 * agents have failed an attempt to rejoin; every wait is on a condition, with minutes of margin.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();
let frozenPid: number | undefined;
const thaw = () => {
  if (frozenPid !== undefined) process.kill(frozenPid, 'SIGCONT');
  frozenPid = undefined;
};
after(thaw);

const config = `pool: stall\nheartbeatIntervalSeconds: 2\nleaseTtlSeconds: 6\n${testHandlersConfig()}`;

test('moto frozen past the lease: agents lose their leases, register new ones on their own after SIGCONT, and the next fires run on them', {
  timeout: 600_000,
}, async () => {
  await aws.provisioned();
  const motoPid = aws.emulator.pid;
  assert.ok(motoPid !== undefined, 'this test freezes a moto_server it started');
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const fleet = await Promise.all(
    ['stall-a', 'stall-b'].map((workerId) => agents.start({ aws, workerId, config })),
  );
  await Promise.all(fleet.map((agent) => agent.waitForLog(/agent started/, 120_000)));
  const fencesBefore = await Promise.all(
    fleet.map(async (agent) => (await plane.workers.get(agent.workerId))?.leaseFence ?? 0),
  );
  for (const agent of fleet) {
    await plane.jobService.define({
      jobId: `on-${agent.workerId}`,
      handler: 'work',
      payload: { sleepMs: 50 },
      target: { pool: 'stall', workerIds: [agent.workerId] },
    });
  }

  process.kill(motoPid, 'SIGSTOP');
  frozenPid = motoPid;
  const frozenAt = Date.now();
  try {
    for (const agent of fleet) await agent.waitForLog(/^lease lost/, 180_000);
    const lostAfter = Date.now() - frozenAt;
    for (const agent of fleet) await agent.waitForLog(/^cannot register a new lease yet/, 240_000);
    console.log(
      `stall: leases lost ${lostAfter} ms into the freeze; rejoin attempts failing after ${Date.now() - frozenAt} ms`,
    );
  } finally {
    thaw();
  }
  const thawedAt = Date.now();
  for (const agent of fleet) {
    await agent.waitForLog(/^rejoined with a new lease/, 240_000);
    assert.ok(agent.running, `${agent.workerId} is still running; output:\n${agent.text}`);
  }
  console.log(`stall: both agents rejoined ${Date.now() - thawedAt} ms after SIGCONT`);
  for (const [i, agent] of fleet.entries()) {
    const lease = await plane.workers.get(agent.workerId);
    assert.equal(lease?.status, 'ACTIVE');
    assert.ok((lease?.leaseFence ?? 0) > fencesBefore[i]!, 'a new lease, with a higher fence');
    // One line per state change: a loss, the first failed attempt, the rejoin — not one per attempt.
    // (A loaded machine may cost an agent its lease before the freeze too: each loss is its own episode.)
    const count = (re: RegExp) => agent.lines().filter((l) => re.test(String(l.message))).length;
    const losses = count(/^lease lost; registering a new lease/);
    assert.ok(losses >= 1, agent.text);
    assert.equal(count(/^rejoined with a new lease/), losses, agent.text);
    const failing = count(/^cannot register a new lease yet/);
    assert.ok(
      failing >= 1 && failing <= losses,
      `one "cannot register" line per loss; output:\n${agent.text}`,
    );
  }

  // The next fires run on the rejoined agents: each run id in its agent's own handler markers.
  for (const agent of fleet) {
    const fired = await plane.dispatcher.fire({ jobId: `on-${agent.workerId}`, trigger: 'MANUAL' });
    assert.equal(fired.kind, 'dispatched', JSON.stringify(fired));
    const runId = fired.kind === 'dispatched' ? fired.runs[0]!.runId : '';
    const run = await waitFor(
      () => plane.runs.get(runId),
      (r) => r?.status === 'SUCCEEDED',
      `${runId} to succeed on ${agent.workerId}`,
      { timeoutMs: 120_000 },
    );
    assert.equal(run?.workerId, agent.workerId);
    const markers = (await readFile(agent.execFile, 'utf8')).split('\n').filter(Boolean);
    assert.deepEqual(markers, [runId], `${agent.workerId} ran exactly its fire after the stall`);
  }

  for (const agent of fleet) agent.signal('SIGTERM');
  for (const agent of fleet) assert.equal((await agent.waitForExit(90_000)).code, 0, agent.text);
});
