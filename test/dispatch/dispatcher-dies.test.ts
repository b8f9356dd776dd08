/**
 * Lost sends are resent, end to end (the trimmed `dispatcher-dies` chaos scenario, in `npm test`): a
 * dispatcher process is killed -9 between writing a fire's run DISPATCHED and sending its message, so
 * nothing reaches a queue; a monitor sweep finds the run unclaimed and resends its envelope; a real
 * agent runs it once, counted by the handler's own marker file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { fireRunId, isoSeconds } from '../../core/model';
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
