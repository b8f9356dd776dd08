/**
 * Chaos: kill -9 of the agent holding precise jobs' planned fires (docs/precise-jobs.md, "When a
 * worker dies"). Two real agents hold the plans of two `*\/2 * * * * ?` precise jobs (one minute of
 * instants each, planned by this test's planner every 5 s, as the deployed `_clover-planner` does each
 * minute); a seeded victim among the holders is killed with SIGKILL between two instants while it
 * holds plans still ahead, and stays down. Its plans must start on the other agent (moved by the
 * planner once its lease expired) or follow the misfire policy (FIRE_ONCE_NOW: the latest missed fire
 * of a job starts at once, the others are SKIPPED(misfire)); a run it was executing is recovered by the
 * monitor. Every instant has one run record, none runs twice (the handler's markers), none is left
 * undecided.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../core/log';
import { fireRunId, isoSeconds } from '../../core/model';
import { Planner } from '../../core/planner';
import { useEmulator } from '../harness';
import { useAgents } from '../harness/agent-process';
import { monitorLoop } from '../harness/monitor-loop';
import { waitFor } from '../harness/wait';
import { chaosAgentConfig, chaosStage, report, settled, tally, useSupervisor } from './chaos';

const aws = useEmulator();
const supervisor = useSupervisor();
const agents = useAgents();
const NAME = 'precise-kill';
const PERIOD_MS = 2_000;
const WINDOW_MS = 60_000;
/** From the definition to the window: the first planner passes and their deliveries. */
const OPEN_AFTER_MS = 20_000;
const JOBS = ['precise-a', 'precise-b'] as const;

test('kill -9 of the agent holding planned fires: its fires start on the other agent or by the misfire policy, each once', {
  timeout: 900_000,
}, async () => {
  const { chaos, marks, plane } = await chaosStage(aws, NAME, { workerCacheMs: 0 });
  // A short lease, so the planner sees the victim dead (and moves its plans) within a few instants.
  const config = chaosAgentConfig('precise', { capacity: 4, leaseTtlSeconds: 10 });
  const fleet = await Promise.all(
    ['p1', 'p2'].map((workerId) => supervisor.start(agents, { aws, workerId, config, env: marks.env })),
  );
  await Promise.all(fleet.map((agent) => agent.current.waitForLog(/agent started/)));

  const evenStart = Math.ceil((Date.now() + OPEN_AFTER_MS) / PERIOD_MS) * PERIOD_MS;
  const instants = Array.from({ length: WINDOW_MS / PERIOD_MS }, (_, i) => evenStart + (i + 1) * PERIOD_MS);
  for (const jobId of JOBS) {
    await plane.jobService.define({
      jobId,
      handler: 'chaos',
      precision: 'SECOND',
      payload: { sleepMs: 200 },
      target: { pool: 'precise' },
      routing: 'ROUND_ROBIN',
      recoverOnWorkerLoss: true,
      timeoutSeconds: 120,
      schedule: {
        expression: '*/2 * * * * ?',
        startDate: isoSeconds(evenStart + 1000),
        endDate: isoSeconds(evenStart + WINDOW_MS + 1000),
      },
    });
  }
  const fires = JOBS.flatMap((jobId) => instants.map((at) => fireRunId(jobId, isoSeconds(at))));

  const planner = new Planner({ ...plane, log: silentLogger });
  let planning = true;
  let passes = 0;
  const planLoop = (async () => {
    while (planning) {
      await planner
        .plan({ scheduledTime: isoSeconds(Math.floor(Date.now() / 1000) * 1000) })
        .catch((error: unknown) => console.log(`chaos ${NAME}: planner pass failed: ${String(error)}`));
      passes += 1;
      await new Promise((resolve) => setTimeout(resolve, 5_000));
    }
  })();
  const loop = monitorLoop(plane, 1000);
  // On any failure below, both loops stop too: a planning loop left running kept the process alive.
  const stopLoops = async () => {
    planning = false;
    await planLoop;
    await loop.stop();
  };
  let records: Awaited<ReturnType<typeof settled>>;
  let victim: (typeof fleet)[number] | undefined;
  let held: string[] = [];
  try {
    // A third into the window, an odd second (between two instants): the victim is a holder of plans ahead.
    const killAt = evenStart + WINDOW_MS / 3 + 1000;
    await waitFor(
      () => Date.now(),
      (now) => now >= killAt,
      'a third into the window',
      {
        timeoutMs: killAt - Date.now() + 30_000,
        intervalMs: 50,
      },
    );
    // Two Queries, not a read per fire: a loaded emulator refuses bursts of connections.
    const ahead = (
      await Promise.all(JOBS.map((jobId) => plane.runs.listByJob(jobId, { limit: 200 })))
    ).flatMap((runs) =>
      runs.filter((run) => run.reason === 'planned' && Date.parse(run.scheduledTime) > Date.now()),
    );
    const holders = [...new Set(ahead.map((run) => run.workerId))].filter((id) => id !== undefined).sort();
    const chosen = chaos.pick(holders); // once: a pick inside find() drew again for every agent
    victim = fleet.find((agent) => agent.workerId === chosen);
    assert.ok(victim, `a holder of planned fires among ${holders.join(', ')}`);
    const { workerId } = victim;
    held = ahead.filter((run) => run.workerId === workerId).map((run) => run.runId);
    console.log(`chaos ${NAME}: kill -9 ${workerId} holding ${held.length} planned fires ahead`);
    await victim.kill9({ restart: false });

    // Every instant decided: its run final (ran, skipped or recovered), the last ones included.
    records = await settled(plane, fires, evenStart + WINDOW_MS + 180_000 - Date.now());
  } finally {
    await stopLoops();
  }
  const survivor = fleet.find((agent) => agent !== victim)!;
  await survivor.stop();

  const byJob = await Promise.all(JOBS.map((jobId) => plane.runs.listByJob(jobId, { limit: 200 })));
  const extra = byJob.reduce((n, runs) => n + runs.length, 0) - fires.length;
  const counts = tally(fires.length, records, await marks.read(), Math.max(0, extra));
  const final = new Map(records.flatMap((r) => (typeof r === 'string' ? [] : [[r.runId, r] as const])));
  const moved = held.filter((id) => final.get(id)?.status === 'SUCCEEDED');
  const skipped = held.filter((id) => final.get(id)?.reason === 'misfire');
  console.log(
    `chaos ${NAME}: planner passes ${passes}; of the victim's ${held.length} planned fires ${moved.length} ran on ${survivor.workerId}, ${skipped.length} SKIPPED(misfire), ${held.length - moved.length - skipped.length} otherwise (${held
      .filter((id) => !moved.includes(id) && !skipped.includes(id))
      .map((id) => `${id}: ${final.get(id)?.status}/${final.get(id)?.reason}`)
      .join(', ')})`,
  );
  for (const id of moved) {
    assert.equal(final.get(id)?.workerId, survivor.workerId, `${id} ran on the live agent`);
  }
  assert.ok(moved.length > 0, 'plans held by the dead agent were moved to the live one and ran');
  report(NAME, counts);
});
