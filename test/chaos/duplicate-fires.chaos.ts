/**
 * Chaos: duplicate and out-of-order fires. EventBridge Scheduler delivers at least once and Lambda
 * retries, so one scheduled instant may reach several dispatcher instances at once, or late, and an
 * older instant may arrive after a newer one. Here three dispatchers (three control planes, each with
 * its own warm worker cache, like three Lambda containers) fire a seeded shuffle of instants of two
 * jobs — one ALLOW, one FORBID (overlapping fires are recorded SKIPPED(overlap)) — each instant 2-5
 * times concurrently, then a late wave fires every instant again, newest first, after its run ended.
 * Two real agents run them. Every instant must have exactly one run record, at most one execution,
 * and a terminal outcome; every repeat answers `duplicate`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ControlPlane } from '../../core/adapters/control-plane';
import type { FireOutcome } from '../../core/dispatch';
import { fireRunId, isoSeconds } from '../../core/model';
import { useEmulator } from '../harness';
import { useAgents } from '../harness/agent-process';
import { monitorLoop } from '../harness/monitor-loop';
import { chaosAgentConfig, chaosJob, chaosStage, report, settled, startChaosAgents, tally } from './chaos';

const aws = useEmulator();
const agents = useAgents();
const NAME = 'duplicate-fires';
const INSTANTS = 14;

test('duplicate, concurrent, late and out-of-order fires of the same instants: one run each, executed at most once', {
  timeout: 900_000,
}, async () => {
  const { chaos, marks, plane, newPlane } = await chaosStage(aws, NAME);
  const planes: ControlPlane[] = [plane, newPlane(), newPlane()];
  const config = chaosAgentConfig('dup', { capacity: 4, leaseTtlSeconds: 30 });
  const fleet = await startChaosAgents(agents, ['d1', 'd2'], { aws, config, env: marks.env });
  const loop = monitorLoop(plane, 1000);

  const jobs = ['dup-allow', 'dup-forbid'] as const;
  for (const jobId of jobs) {
    await plane.jobService.define(
      chaosJob(jobId, 'dup', {
        payload: { sleepMs: chaos.int(100, 600) },
        concurrency: { policy: jobId === 'dup-allow' ? 'ALLOW' : 'FORBID' },
      }),
    );
  }
  // Instants a minute apart in the last hour (inside the default misfire window); no schedule on the
  // jobs, so only these fires exist and the monitor adds no catch-up of its own.
  const base = Math.floor(Date.now() / 60_000) * 60_000 - INSTANTS * 60_000;
  const fires = jobs.flatMap((jobId) =>
    Array.from({ length: INSTANTS }, (_, k) => ({ jobId, scheduledTime: isoSeconds(base + k * 60_000) })),
  );
  const outcomes: FireOutcome[] = [];
  const fire = async (request: { jobId: string; scheduledTime: string }) => {
    const outcome = await chaos.pick(planes).dispatcher.fire({ ...request, trigger: 'SCHEDULE' });
    outcomes.push(outcome);
    return outcome;
  };

  // Wave 1: a seeded shuffle (older instants after newer ones), four instants at a time, each 2-5
  // copies at once through random dispatchers.
  const order = chaos.shuffle(fires);
  for (let i = 0; i < order.length; i += 4) {
    await Promise.all(
      order
        .slice(i, i + 4)
        .flatMap((request) => Array.from({ length: chaos.int(2, 5) }, () => fire(request))),
    );
  }
  const runIds = fires.map((f) => fireRunId(f.jobId, f.scheduledTime));
  await settled(plane, runIds);
  // Wave 2: late duplicates of every instant, newest first, once the first copies have ended.
  const late = [...fires].sort((a, b) => b.scheduledTime.localeCompare(a.scheduledTime));
  for (const request of late) {
    const copies = await Promise.all(Array.from({ length: chaos.int(1, 2) }, () => fire(request)));
    for (const outcome of copies) assert.equal(outcome.kind, 'duplicate', JSON.stringify(outcome));
  }

  const records = await settled(plane, runIds);
  await loop.stop();
  const recorded = (
    await Promise.all(jobs.map((jobId) => plane.runs.listByJob(jobId, { limit: 1000 })))
  ).flat();
  const counts = tally(
    outcomes.length,
    records,
    await marks.read(),
    Math.max(0, recorded.length - runIds.length),
  );
  const kinds = new Map<string, number>();
  for (const outcome of outcomes) kinds.set(outcome.kind, (kinds.get(outcome.kind) ?? 0) + 1);
  console.log(
    `chaos ${NAME}: ${runIds.length} distinct instants, ${recorded.length} run records; outcomes ${JSON.stringify(Object.fromEntries(kinds))}`,
  );
  for (const agent of fleet) agent.signal('SIGTERM');
  for (const agent of fleet) await agent.waitForExit(90_000);
  await Promise.all(planes.map((p) => p.close()));
  report(NAME, counts);
});
