/**
 * Issue 9, "handlers die with their agent", with real agent processes: kill -9 of an agent's process
 * group, and separately of the agent process alone, while its shell handler runs a 20-second command.
 * The command (and its child) is gone within 2 s — pids checked — the monitor recovers the run on the
 * other agent as attempt 2, and the work is done exactly once, counted by the command's own marker
 * file (not by the ledger). Both cases run side by side, each in its own pool with two agents.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import type { Run } from '../../core/model';
import { useEmulator } from '../harness';
import { type AgentProcess, useAgents } from '../harness/agent-process';
import { monitorLoop } from '../harness/monitor-loop';
import { waitForProcessesGone } from '../harness/processes';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();

/** Records its pids per attempt, works 20 s, then leaves one marker line: the work, done. */
function longCommand(marks: string): string {
  return [
    `echo $$ >> ${marks}/pids.$CLOVER_ATTEMPT`,
    'sleep 20 &',
    `echo $! >> ${marks}/pids.$CLOVER_ATTEMPT`,
    'wait $!',
    `echo "$CLOVER_RUN_ID $CLOVER_ATTEMPT" >> ${marks}/done`,
  ].join('\n');
}

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((line) => line.trim() !== '');
}

/** The first defined value `probe` yields, polled by the harness's waitFor. */
const until = async <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> =>
  (await waitFor(probe, (value) => value !== undefined, what, { timeoutMs })) as T;

async function scenario(plane: ControlPlane, how: 'group' | 'agent alone') {
  const tag = how === 'group' ? 'grp' : 'solo';
  const marks = await mkdtemp(join(tmpdir(), `clover-marks-${tag}-`));
  const config = [
    `pool: death-${tag}`,
    'heartbeatIntervalSeconds: 1',
    'leaseTtlSeconds: 6', // a loaded machine's heartbeats can lag: leave the living agents margin
    'handlers:',
    '  long:',
    `    command: ${JSON.stringify(['/bin/sh', '-c', longCommand(marks)])}`,
  ].join('\n');
  const pair = await Promise.all(
    [1, 2].map((n) => agents.start({ aws, workerId: `${tag}-${n}`, config, detached: true })),
  );
  await Promise.all(pair.map((agent) => agent.waitForLog(/agent started/, 30_000)));
  await plane.jobService.define({
    jobId: `long-${tag}`,
    handler: 'long',
    target: { pool: `death-${tag}` },
    recoverOnWorkerLoss: true,
  });
  const fired = await plane.dispatcher.fire({ jobId: `long-${tag}`, trigger: 'MANUAL' });
  assert.equal(fired.kind, 'dispatched');
  const runId = fired.kind === 'dispatched' ? fired.runs[0]!.runId : '';
  const get = async () => (await plane.runs.get(runId)) as Run;

  const pids = await until('attempt 1 started its command', 90_000, async () => {
    const found = (await lines(join(marks, 'pids.1'))).map(Number);
    return found.length === 2 ? found : undefined;
  });
  const owner = (await get()).workerId;
  const victim = pair.find((agent) => agent.workerId === owner) as AgentProcess;
  const survivor = pair.find((agent) => agent !== victim) as AgentProcess;
  assert.ok(victim, `attempt 1 runs on one of the pair, not ${owner}`);

  if (how === 'group') victim.signalGroup('SIGKILL');
  else process.kill(victim.pid ?? 0, 'SIGKILL');
  assert.equal((await victim.exited).signal, 'SIGKILL');
  const goneMs = await waitForProcessesGone(pids, 2_000);

  const done = await until('the run to finish on the other agent', 90_000, async () => {
    const run = await get();
    return ['SUCCEEDED', 'FAILED', 'LOST'].includes(run.status) ? run : undefined;
  });
  assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done.history));
  assert.equal(done.attempt, 2);
  assert.equal(done.workerId, survivor.workerId);
  assert.deepEqual(await lines(join(marks, 'done')), [`${runId} 2`], 'the work was done once, by attempt 2');
  console.log(`kill -9 (${how}): command gone after ${goneMs} ms; recovered and done once`);
  survivor.signal('SIGTERM');
  assert.equal((await survivor.waitForExit()).code, 0, survivor.text);
}

test('kill -9 of an agent (its group; the agent alone) during a 20 s command: the command dies within 2 s, attempt 2 does the work once', async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const loop = monitorLoop(plane, 1000);
  await Promise.all([scenario(plane, 'group'), scenario(plane, 'agent alone')]);
  await loop.stop();
  assert.equal(
    loop.reports.reduce((n, r) => n + r.runsRecovered, 0),
    2,
    'one recovery per killed run',
  );
});
