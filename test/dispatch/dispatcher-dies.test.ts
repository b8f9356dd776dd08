/**
 * A dispatcher process killed -9 in the middle of a fire, end to end on the emulator, each fire's
 * executions counted by the handler's own marker file in a real agent:
 *
 * - between writing a fire's run DISPATCHED and sending its message (the trimmed `dispatcher-dies`
 *   chaos scenario): a monitor sweep finds the run unclaimed and resends its envelope;
 * - between taking the job's lock in the run's id and putting the run (core/dispatch/record.ts's
 *   first crash window): the retried fire finds the lock its own and writes the run; a fire nobody
 *   retries leaves a lock whose run is missing, which the monitor releases once ORPHAN_LOCK_MS old.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { fireRunId, isoSeconds, jobLockKey, ORPHAN_LOCK_MS } from '../../core/model';
import { newSweepReport } from '../../core/monitor/report';
import { releaseStaleLocks } from '../../core/monitor/stale-locks';
import {
  chaosAgentConfig,
  fireAndDie,
  Marks,
  report,
  settled,
  startChaosAgents,
  tally,
} from '../chaos/chaos';
import { useEmulator } from '../harness';
import { useAgents } from '../harness/agent-process';
import { monitorLoop } from '../harness/monitor-loop';

const aws = useEmulator();
const agents = useAgents();
const NAME = 'dispatcher-dies (trimmed)';

test('a dispatcher killed -9 between the run write and the send: a monitor sweep resends, and the fire runs once', async () => {
  const marks = await Marks.create('dispatcher-dies-trimmed');
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix });
  const config = chaosAgentConfig('default', { capacity: 2, leaseTtlSeconds: 30 });
  const [agent] = await startChaosAgents(agents, ['dd1'], { aws, config, env: marks.env });
  await plane.jobService.define({
    jobId: 'dd',
    handler: 'chaos',
    payload: { sleepMs: 100 },
    target: { pool: 'default' },
  });
  const fire = { jobId: 'dd', scheduledTime: isoSeconds(Math.floor(Date.now() / 60_000) * 60_000 - 60_000) };
  const runId = fireRunId(fire.jobId, fire.scheduledTime);

  assert.equal(await fireAndDie(aws, fire), 'SIGKILL', 'the dispatcher died in its send');
  const written = await plane.runs.get(runId);
  assert.equal(written?.status, 'DISPATCHED');
  assert.equal(written?.resentFence, undefined);

  const loop = monitorLoop(plane, 1000, { unclaimedResendMs: 2000 });
  const records = await settled(plane, [runId], 120_000);
  const final = records[0];
  await loop.stop();
  assert.ok(
    final !== undefined && typeof final !== 'string' && final.status === 'SUCCEEDED',
    `run succeeded: ${JSON.stringify(final)}`,
  );
  assert.equal(final.resentFence, written?.fence, 'the monitor resent it under its own fence');
  assert.equal(
    loop.reports.reduce((n, r) => n + r.runsResent, 0),
    1,
    'one resend',
  );
  const started = (await marks.read()).filter((mark) => mark.runId === runId && mark.e === 'start');
  assert.equal(started.length, 1, 'the handler started once');
  report(NAME, tally(1, records, await marks.read()));

  agent!.signal('SIGTERM');
  assert.equal((await agent!.waitForExit(90_000)).code, 0);
  await plane.close();
});

test('a dispatcher killed -9 between taking the job lock and putting the run: the retried fire writes its run once, an unretried one is released after ORPHAN_LOCK_MS, and every fire runs at most once', async () => {
  const marks = await Marks.create('dispatcher-dies-lock');
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix });
  const config = chaosAgentConfig('default', { capacity: 2, leaseTtlSeconds: 30 });
  const [agent] = await startChaosAgents(agents, ['dl1'], { aws, config, env: marks.env });
  // The default policy (no overlap) takes the job's lock for every fire.
  await plane.jobService.define({
    jobId: 'dl',
    handler: 'chaos',
    payload: { sleepMs: 100 },
    target: { pool: 'default' },
  });
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  const [a, b, c, d] = [4, 3, 2, 1].map((ago) => ({
    jobId: 'dl',
    scheduledTime: isoSeconds(minute - ago * 60_000),
  })) as [Fire, Fire, Fire, Fire];
  const id = (fire: Fire) => fireRunId(fire.jobId, fire.scheduledTime);
  const lockOf = () => plane.locks.get(jobLockKey('dl'));

  // A dies between its two writes: the lock names A's run, which does not exist.
  assert.equal(await fireAndDie(aws, a, 'put'), 'SIGKILL', 'the dispatcher died before the run put');
  assert.equal(await plane.runs.get(id(a)), null, 'no run was written');
  assert.equal((await lockOf())?.owner, id(a), "the job's lock is in A's name");
  // B meanwhile is an overlap (the lock may belong to a writer still between its writes), recorded.
  assert.equal((await plane.dispatcher.fire(b)).kind, 'skipped');
  assert.equal((await plane.runs.get(id(b)))?.reason, 'overlap');
  // A's retry (Lambda's or Scheduler's, same input) finds the lock its own and writes the run; once more is a duplicate.
  assert.equal((await plane.dispatcher.fire(a)).kind, 'dispatched');
  assert.equal((await plane.dispatcher.fire(a)).kind, 'duplicate');
  const [ranA] = await settled(plane, [id(a)], 120_000);
  assert.equal(typeof ranA !== 'string' && ranA?.status, 'SUCCEEDED', JSON.stringify(ranA));

  // C dies the same way and nobody fires it again (a manual fire whose caller gave up).
  assert.equal(await fireAndDie(aws, c, 'put'), 'SIGKILL');
  const orphan = await lockOf();
  assert.equal(orphan?.owner, id(c));
  assert.equal(await plane.runs.get(id(c)), null);
  // The monitor's stale-lock step leaves a young orphan alone and releases it once ORPHAN_LOCK_MS old
  // (the step alone at that instant: a whole sweep then would also expire the live agent's lease).
  const takenAt = orphan?.takenAt ?? Number.NaN;
  const young = newSweepReport(takenAt + ORPHAN_LOCK_MS - 1000);
  await releaseStaleLocks(plane, young.at, young);
  assert.equal(young.locksReleased, 0, 'a young orphan may be a writer between its writes');
  assert.equal((await lockOf())?.owner, id(c));
  const old = newSweepReport(takenAt + ORPHAN_LOCK_MS);
  await releaseStaleLocks(plane, old.at, old);
  assert.equal(old.locksReleased, 1);
  // D then takes the lock and runs.
  assert.equal((await plane.dispatcher.fire(d)).kind, 'dispatched');

  const records = await settled(plane, [id(a), id(b), id(d)], 120_000);
  const all = await plane.runs.listByJob('dl', { limit: 10 });
  assert.deepEqual(
    all.map((run) => run.runId).sort(),
    [id(a), id(b), id(d)].sort(),
    'one run per fire, none for C',
  );
  const started = (await marks.read()).filter((mark) => mark.e === 'start');
  assert.deepEqual(started.map((mark) => mark.runId).sort(), [id(a), id(d)].sort(), 'A and D ran once each');
  report('dispatcher-dies between lock and put', tally(6, records, await marks.read()));

  agent!.signal('SIGTERM');
  assert.equal((await agent!.waitForExit(90_000)).code, 0);
  await plane.close();
});

type Fire = { jobId: string; scheduledTime: string };
