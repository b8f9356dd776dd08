/**
 * Issue 9, signals: one SIGINT or SIGTERM to `npm run agent`'s process group — what Ctrl-C in a
 * terminal and `kill -TERM -<pgid>` do — drains the agent: the running run completes, nothing logs
 * "forced stop". Every process of the group gets the signal and npm relays its copy too, so the agent
 * sees it more than once; it must count that as one request (core/stop-signals.ts).
 *
 * 20 SIGINTs and 20 SIGTERMs, one per agent start (a drain ends the agent), in four lanes side by side
 * to keep the file's time down; each lane has its own pool, so a lane's run goes to its own agent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import type { Run } from '../../core/model';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();
const PER_SIGNAL = 20;
const LANES = 4;

/** The first defined value `probe` yields, polled by the harness's waitFor. */
const until = async <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> =>
  (await waitFor(probe, (value) => value !== undefined, what, { timeoutMs })) as T;

/** One agent under npm, one run in progress, one signal to the group: it must drain. */
async function oneSignal(plane: ControlPlane, lane: number, round: number, signal: NodeJS.Signals) {
  const pool = `sig-${lane}`;
  const agent = await agents.start({
    aws,
    workerId: `sig-${lane}-${round}`,
    via: 'npm',
    detached: true,
    config: `pool: ${pool}\ndrainGraceSeconds: 30\nheartbeatIntervalSeconds: 2\nleaseTtlSeconds: 20\n${testHandlersConfig()}`,
  });
  await agent.waitForLog(/agent started/, 60_000);
  const fired = await plane.dispatcher.fire({ jobId: `job-${lane}`, trigger: 'MANUAL' });
  assert.equal(fired.kind, 'dispatched', JSON.stringify(fired));
  const runId = fired.kind === 'dispatched' ? fired.runs[0]!.runId : '';
  await until(`${runId} RUNNING`, 30_000, async () =>
    (await plane.runs.get(runId))?.status === 'RUNNING' ? true : undefined,
  );
  agent.signalGroup(signal);
  const exit = await agent.waitForExit(60_000);
  const run = (await plane.runs.get(runId)) as Run;
  const where = `${signal} #${round} in lane ${lane}; output:\n${agent.text}`;
  assert.equal(run.status, 'SUCCEEDED', where);
  assert.equal(run.workerId, agent.workerId, where);
  assert.ok(!/forced stop/.test(agent.text), `no forced stop: ${where}`);
  assert.ok(
    agent.lines().some((line) => line.message === `${signal}: draining`),
    where,
  );
  // npm re-raises the signal on itself once its child is done: the agent's own code is in its log.
  assert.ok(exit.code === 0 || exit.signal === signal, where);
  assert.equal(agent.lines().find((line) => line.message === 'agent exiting')?.code, 0, where);
}

test(`${PER_SIGNAL} SIGINTs and ${PER_SIGNAL} SIGTERMs to npm run agent's process group: every one drains`, async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const signals: NodeJS.Signals[] = [];
  for (let i = 0; i < PER_SIGNAL; i += 1) signals.push('SIGINT', 'SIGTERM');
  for (let lane = 0; lane < LANES; lane += 1) {
    await plane.jobService.define({
      jobId: `job-${lane}`,
      handler: 'work',
      payload: { sleepMs: 1500 },
      target: { pool: `sig-${lane}` },
    });
  }
  const started = Date.now();
  await Promise.all(
    Array.from({ length: LANES }, async (_, lane) => {
      for (let round = lane; round < signals.length; round += LANES) {
        await oneSignal(plane, lane, round, signals[round] as NodeJS.Signals);
      }
    }),
  );
  console.log(`${signals.length} signals, each drained, in ${Date.now() - started} ms`);
});
