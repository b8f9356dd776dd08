/**
 * `npm start`'s monitor loop (functions/local/monitor-loop.ts) handles a dead worker's run at the
 * worker's lease expiry, as the deployed monitor does (`nextSweepIn`, core/monitor/watch.ts): the
 * real loop around the real Monitor on moto, a real `clover-agent` process killed with SIGKILL.
 *
 * The loop's watch interval is ten minutes, far beyond any wait here, so a loop that slept a full
 * interval after the sweep that saw the run held could not handle it in this test: the order of the
 * sweeps shows it aimed at the lease's expiry instead. Asserted by order, never by elapsed time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { silentLogger } from '../../core/log';
import type { Run } from '../../core/model';
import { Monitor, type SweepReport } from '../../core/monitor';
import { uniqueId } from '../../core/testing/contracts/fixtures';
import { startLocalMonitorLoop } from '../../functions/local/monitor-loop';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();
/** Longer than every wait below: a sweep a loop after another never comes within this test. */
const LOOP_MS = 600_000;

test('npm start: a dead worker’s run is handled by the sweep at its lease expiry, not a loop later', async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const monitor = new Monitor({ ...plane, deadLetters: plane.fireDeadLetters });
  const pool = uniqueId('expiry');
  // A lease renewed every second with 9 s of margin: a loaded machine does not lose it before the kill.
  const victim = await agents.start({
    aws,
    workerId: uniqueId('agent'),
    config: `pool: ${pool}\nheartbeatIntervalSeconds: 1\nleaseTtlSeconds: 10\n${testHandlersConfig()}`,
  });
  await victim.waitForLog(/agent started/);
  const jobId = uniqueId('job');
  // Not recovered: the run of a lost worker becomes LOST (the sweep's runsLost).
  await plane.jobService.define({
    jobId,
    handler: 'work',
    payload: { attemptSleepMs: [600_000] },
    timeoutSeconds: 1200,
    target: { pool },
    recoverOnWorkerLoss: false,
  });

  const sweeps: SweepReport[] = [];
  const loop = startLocalMonitorLoop({
    sweep: async () => {
      const report = await monitor.sweep();
      sweeps.push(report);
      return report;
    },
    log: silentLogger,
    watchMs: LOOP_MS,
    idleMs: LOOP_MS,
    watchForMs: LOOP_MS,
  });
  try {
    // The loop's first sweep finds nothing and idles: the wake below ends that idle wait.
    await waitFor(
      () => sweeps.length,
      (n) => n > 0,
      'the first sweep',
    );
    const fired = await plane.dispatcher.fire({ jobId, trigger: 'MANUAL' });
    assert.equal(fired.kind, 'dispatched');
    const runId = fired.kind === 'dispatched' ? (fired.runs[0]?.runId ?? '') : '';
    const get = async () => (await plane.runs.get(runId)) as Run;
    await waitFor(get, (run) => run.status === 'RUNNING', 'the run RUNNING on the agent');
    // What the local dispatcher and run watcher do when a run starts: the loop watches from now.
    loop.wake();
    await waitFor(
      () => sweeps.some((s) => s.inFlight > 0 && s.nextLeaseExpiryAt !== undefined),
      Boolean,
      'a sweep that saw the run held by the live agent',
    );
    assert.equal((await get()).status, 'RUNNING', 'still running on the agent when it is killed');
    const killedAt = Date.now();
    await victim.kill();
    assert.equal((await victim.exited).signal, 'SIGKILL');

    const lost = await waitFor(get, (run) => run.status !== 'RUNNING', 'the run handled', {
      timeoutMs: 120_000,
    });
    assert.equal(lost.status, 'LOST', JSON.stringify(lost.history));
    await waitFor(
      () => sweeps.findIndex((s) => s.runsLost > 0),
      (i) => i > 0,
      'the sweep that marked it LOST to report',
    );
    const handling = sweeps.findIndex((s) => s.runsLost > 0);
    const handler = sweeps[handling] as SweepReport;
    const before = sweeps[handling - 1] as SweepReport;
    const expiry = before.nextLeaseExpiryAt;
    const order = JSON.stringify({
      killedAt,
      sweeps: sweeps.map((s) => [s.at, s.inFlight, s.nextLeaseExpiryAt]),
    });
    assert.ok(expiry !== undefined, `the sweep before knew the holder's lease expiry: ${order}`);
    assert.ok(killedAt < expiry, `the agent died with its lease still running: ${order}`);
    assert.ok(handler.at >= expiry, `the handling sweep came once the lease had run out: ${order}`);
    assert.ok(handler.at < before.at + LOOP_MS, `and not a loop after the sweep before it: ${order}`);
    assert.equal(handler.runsLost, 1);
    assert.equal(lost.history.at(-1)?.at, handler.at, 'the LOST transition is that sweep’s');
  } finally {
    await loop.stop();
  }
});
