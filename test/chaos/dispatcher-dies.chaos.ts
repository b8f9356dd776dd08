/**
 * Chaos: a dispatcher that dies, or whose send fails, between writing a fire's run DISPATCHED (with its
 * lock and fence) and sending its message. Nothing would ever claim such a run: without a resend it
 * would wait for its deadline and end TIMED_OUT, its work never done. Three ways, with two real agents
 * and two jobs (pool routing over the pool queue, and a run routed to one worker's own queue):
 *
 * - killed: a dispatcher process (dying-dispatcher.ts) is killed -9 at the moment it hands the envelope
 *   to its delivery; then the fire is invoked again (EventBridge Scheduler / Lambda retry a failed
 *   invocation), which finds the run DISPATCHED and unclaimed and resends its envelope — no monitor runs
 *   meanwhile, so the repeated fire alone must get each of these runs done;
 * - failed: the dispatcher's send to the pool queue throws after the write; the monitor's unclaimed step
 *   resends;
 * - late: the send was accepted but the message reaches the queue only late — after the monitor's
 *   resend — so both copies reach the agents, and the claim must take exactly one of them (the other
 *   one's claim is refused and counted in the agents' logs).
 *
 * Every fire must have exactly one run record, one execution and a terminal outcome.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ControlPlane } from '../../core/adapters/control-plane';
import { Dispatcher, type DispatcherDeps } from '../../core/dispatch';
import type { DispatchEnvelope } from '../../core/envelope';
import { fireRunId, isoSeconds } from '../../core/model';
import type { Delivery, DeliveryTarget } from '../../core/ports';
import { useEmulator } from '../harness';
import { useAgents } from '../harness/agent-process';
import { monitorLoop } from '../harness/monitor-loop';
import { waitFor } from '../harness/wait';
import {
  chaosAgentConfig,
  chaosJob,
  chaosStage,
  fireAndDie,
  report,
  settled,
  startChaosAgents,
  tally,
} from './chaos';

const aws = useEmulator();
const agents = useAgents();
const NAME = 'dispatcher-dies';
const PER_WAY = 4;
const JOBS = ['dd-pool', 'dd-worker'] as const;

/** The plane's dispatcher parts with another delivery (and options): one more dispatcher instance. */
function dispatcherWith(plane: ControlPlane, delivery: Delivery, extra: Partial<DispatcherDeps> = {}) {
  const { jobs, runs, locks, directory: workers, clock, log, alerts } = plane;
  return new Dispatcher({ jobs, runs, locks, workers, delivery, clock, log, alerts, ...extra });
}

test('a dispatcher killed or failing between the run write and the send: the repeated fire or the monitor resends, and each fire runs once', {
  timeout: 600_000,
}, async () => {
  const { chaos, marks, plane } = await chaosStage(aws, NAME);
  const config = chaosAgentConfig('default', { capacity: 4, leaseTtlSeconds: 30 });
  const fleet = await startChaosAgents(agents, ['dd1', 'dd2'], { aws, config, env: marks.env });
  for (const jobId of JOBS) {
    await plane.jobService.define(
      chaosJob(jobId, 'default', {
        payload: { sleepMs: chaos.int(100, 400) },
        ...(jobId === 'dd-pool' ? { routing: 'ANY' as const } : {}),
      }),
    );
  }
  // Distinct instants a minute apart in the last hour; the jobs have no schedule, so only these fire.
  const base = Math.floor(Date.now() / 60_000) * 60_000 - 3 * PER_WAY * 60_000;
  const fires = Array.from({ length: 3 * PER_WAY }, (_, k) => ({
    // A send that throws fails the fire only for the pool queue (a worker's failed send moves on to
    // the next candidate, or back to PENDING for a retry): the failed fires are pool fires.
    jobId: k >= PER_WAY && k < 2 * PER_WAY ? 'dd-pool' : chaos.pick(JOBS),
    scheduledTime: isoSeconds(base + k * 60_000),
  }));
  const [killed, failed, late] = [0, 1, 2].map((way) => fires.slice(way * PER_WAY, (way + 1) * PER_WAY)) as [
    typeof fires,
    typeof fires,
    typeof fires,
  ];
  const idsOf = (list: typeof fires) => list.map((f) => fireRunId(f.jobId, f.scheduledTime));
  const records = async (ids: readonly string[]) => Promise.all(ids.map((id) => plane.runs.get(id)));
  let invocations = 0;

  // 1. killed: kill -9 between write and send, then the repeated fire resends (no monitor yet).
  const signals = await Promise.all(killed.map((fire) => fireAndDie(aws, fire)));
  invocations += killed.length;
  assert.deepEqual(
    signals,
    killed.map(() => 'SIGKILL'),
    'each dispatcher died in its send',
  );
  for (const run of await records(idsOf(killed))) assert.equal(run?.status, 'DISPATCHED');
  const retrying = dispatcherWith(plane, plane.delivery, { resendAfterMs: 0 });
  for (const fire of killed) {
    const outcome = await retrying.fire({ ...fire, trigger: 'SCHEDULE' });
    invocations += 1;
    assert.equal(outcome.kind, 'duplicate');
  }
  const afterRepeat = await settled(plane, idsOf(killed));
  for (const run of afterRepeat) {
    assert.ok(
      typeof run !== 'string' && run.status === 'SUCCEEDED',
      `done by the resend alone: ${JSON.stringify(run)}`,
    );
  }

  // 2. failed: the send throws after the write. 3. late: the send is held back, to arrive after the resend.
  const failing = dispatcherWith(plane, {
    deliver: () => Promise.reject(new Error('send failed: connection reset')),
  });
  for (const fire of failed) {
    await assert.rejects(failing.fire({ ...fire, trigger: 'SCHEDULE' }), /connection reset/);
    invocations += 1;
  }
  const held: { target: DeliveryTarget; envelope: DispatchEnvelope }[] = [];
  const holding = dispatcherWith(plane, {
    deliver: async (target, envelope) => void held.push({ target, envelope }),
  });
  for (const fire of late) {
    assert.equal((await holding.fire({ ...fire, trigger: 'SCHEDULE' })).kind, 'dispatched');
    invocations += 1;
  }
  assert.equal(held.length, late.length);
  const loop = monitorLoop(plane, 1000, { unclaimedResendMs: 2000 });
  await waitFor(
    () => records(idsOf(late)),
    (runs) =>
      runs.every((run) => run !== null && (run.resentFence !== undefined || run.status !== 'DISPATCHED')),
    'the monitor to resend every late run',
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  for (const { target, envelope } of held) await plane.delivery.deliver(target, envelope);

  const ids = idsOf(fires);
  const final = await settled(plane, ids);
  const lateIds = new Set(idsOf(late));
  const refusedCopies = () =>
    fleet
      .flatMap((agent) => agent.lines())
      .filter((line) => /claim refused/.test(line.message ?? '') && lateIds.has(String(line.runId)));
  // Each late fire had two messages: one was claimed, the other's claim refused and the message deleted.
  await waitFor(
    refusedCopies,
    (lines) => lines.length >= late.length,
    'the spare copy of each late run refused',
    {
      timeoutMs: 60_000,
    },
  );
  await loop.stop();
  const resentBySweeps = loop.reports.reduce((n, r) => n + r.runsResent, 0);
  assert.equal(refusedCopies().length, late.length, 'exactly one spare copy per late fire');
  assert.equal(
    resentBySweeps,
    failed.length + late.length,
    'the monitor resent each failed and late run once',
  );
  const recorded = (
    await Promise.all(JOBS.map((jobId) => plane.runs.listByJob(jobId, { limit: 1000 })))
  ).flat();
  const counts = tally(invocations, final, await marks.read(), Math.max(0, recorded.length - ids.length));
  console.log(
    `chaos ${NAME}: ${killed.length} dispatchers killed -9 and fired again, ${failed.length} sends failed, ${late.length} messages late; the monitor resent ${resentBySweeps}; ${refusedCopies().length} spare copies refused at the claim`,
  );
  for (const agent of fleet) agent.signal('SIGTERM');
  for (const agent of fleet) await agent.waitForExit(90_000);
  await plane.close();
  report(NAME, counts);
});
