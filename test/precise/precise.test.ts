/**
 * Precise REMOTE jobs with real agent processes (issue 27's must-show; core/planner.ts): a job with
 * `precision: SECOND` and the Quartz cron `*\/2 * * * * ?`, bounded by startDate/endDate to a window
 * of two minutes (60 instants), planned ahead by the planner and decided by the agent holding each
 * plan at its instant.
 *
 * - Exactly once per instant: every instant has exactly one run record, and every run that ran was
 *   executed exactly once (the handler's own markers in each agent's directory) — while the planner
 *   is invoked again and again over the same window (duplicate and overlapping invocations, as
 *   EventBridge Scheduler's at-least-once delivery makes them).
 * - No overlap under FORBID: the handler sleeps 3 s against a 2 s period, so a run is still active at
 *   the next instant; that instant is SKIPPED(overlap), and no two executions overlap in the ledger.
 * - A pause sent 5 s before an instant stops that instant's run (SKIPPED(paused), never executed), and
 *   a resume lets later instants run: the decision is the agent's, at the instant.
 * - Every start's lateness reaches CloudWatch as the agents' `RunStartLatenessMs` metric.
 *
 * The planner is this test's, invoked every 10 s with its nominal time; two agents hold the plans.
 * Timing is reported (test diagnostics), never asserted: `npm run bench -- precise` measures it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { percentile } from '../../bench/stats';
import { cloudWatchClient } from '../../core/adapters/cloudwatch-client';
import { controlPlane } from '../../core/adapters/control-plane';
import { silentLogger } from '../../core/log';
import { isFinal, isoSeconds, type Run } from '../../core/model';
import { Planner } from '../../core/planner';
import { AGENT_METRICS } from '../../infra/resources';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { readMetric } from '../harness/cloudwatch';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();

const WINDOW_MS = 120_000;
const PERIOD_MS = 2_000;
/** Time between the job's definition and its window: the first planner pass and its deliveries. */
const OPEN_AFTER_MS = 20_000;
const WORKERS = ['precise-1', 'precise-2'] as const;

test('a precise */2 s job over two minutes: one run per instant, no overlap under FORBID, a pause 5 s ahead stops its instant', {
  timeout: 480_000,
}, async (t) => {
  await aws.provisioned();
  const admin = controlPlane({ clients: aws.clients, prefix: aws.prefix });
  const config = [
    'pool: precise',
    'capacity: 2',
    'heartbeatIntervalSeconds: 2',
    'leaseTtlSeconds: 30',
    testHandlersConfig(['work']),
  ].join('\n');
  const fleet = await Promise.all(WORKERS.map((workerId) => agents.start({ aws, workerId, config })));
  await Promise.all(fleet.map((agent) => agent.waitForLog(/^agent started$/, 90_000)));

  const evenStart = Math.ceil((Date.now() + OPEN_AFTER_MS) / PERIOD_MS) * PERIOD_MS;
  const instants = Array.from({ length: WINDOW_MS / PERIOD_MS }, (_, i) => evenStart + (i + 1) * PERIOD_MS);
  const paused = instants[29] as number;
  await admin.jobService.define({
    jobId: 'precise-tick',
    handler: 'work',
    precision: 'SECOND',
    payload: { sleepMs: 3000 },
    timeoutSeconds: 60,
    target: { pool: 'precise' },
    schedule: {
      expression: '*/2 * * * * ?',
      startDate: isoSeconds(evenStart + 1000),
      endDate: isoSeconds(evenStart + WINDOW_MS + 1000),
    },
  });

  const planner = new Planner({ ...admin, log: silentLogger });
  let passes = 0;
  let planning = true;
  const planLoop = (async () => {
    while (planning) {
      await planner.plan({ scheduledTime: isoSeconds(Math.floor(Date.now() / 1000) * 1000) });
      passes += 1;
      await new Promise((resolve) => setTimeout(resolve, 10_000));
    }
  })();
  t.after(() => {
    planning = false;
  });

  // Pause 5 s before the 30th instant, resume 1 s after it.
  await waitFor(
    () => Date.now(),
    (now) => now >= paused - 5000,
    'five seconds before the paused instant',
    {
      timeoutMs: paused - Date.now() + 10_000,
      intervalMs: 50,
    },
  );
  const pausedAt = Date.now();
  await admin.jobService.setPaused('precise-tick', true);
  const pauseWritten = Date.now();
  await waitFor(
    () => Date.now(),
    (now) => now >= paused + 1000,
    'a second after the paused instant',
    {
      timeoutMs: 30_000,
      intervalMs: 50,
    },
  );
  await admin.jobService.setPaused('precise-tick', false);
  t.diagnostic(
    `pause sent ${paused - pausedAt} ms before its instant, written ${paused - pauseWritten} ms before`,
  );

  const runs: Run[] = await waitFor(
    () => admin.runs.listByJob('precise-tick', { order: 'oldest', limit: 100 }),
    (list) => list.length >= instants.length && list.every((run) => isFinal(run)),
    'a final run for every instant of the window',
    { timeoutMs: evenStart + WINDOW_MS + 150_000 - Date.now(), intervalMs: 1000 },
  ).catch(() => admin.runs.listByJob('precise-tick', { order: 'oldest', limit: 100 }));
  planning = false;
  await planLoop;

  assert.deepEqual(
    runs.map((r) => r.scheduledTime),
    instants.map((at) => isoSeconds(at)),
    'one run per instant, each a distinct scheduledTime',
  );
  const byTime = new Map(runs.map((run) => [run.scheduledTime, run]));
  for (const run of runs) {
    assert.ok(
      run.status === 'SUCCEEDED' || run.status === 'SKIPPED',
      `${run.runId}: ${run.status} (${run.reason ?? 'no reason'}) ${JSON.stringify(run.error ?? null)}`,
    );
    assert.equal(run.trigger, 'SCHEDULE');
    assert.ok(run.replacesPlan !== undefined, `${run.runId} was decided from its plan`);
  }

  // Executions, from the handler's markers: each once, and exactly the runs that SUCCEEDED.
  const executed: string[] = [];
  for (const agent of fleet) {
    const text = await readFile(agent.execFile, 'utf8').catch(() => '');
    executed.push(...text.split('\n').filter(Boolean));
  }
  const succeeded = runs.filter((run) => run.status === 'SUCCEEDED');
  assert.deepEqual(
    [...executed].sort(),
    succeeded.map((run) => run.runId).sort(),
    'each run that ran ran once',
  );

  // FORBID with a handler longer than the period: overlaps skipped, executions never overlap.
  const overlaps = runs.filter((run) => run.reason === 'overlap');
  assert.ok(overlaps.length >= 10, `instants met by a still-running run were skipped (${overlaps.length})`);
  assert.ok(succeeded.length >= 10, `and the others ran (${succeeded.length})`);
  const ordered = [...succeeded].sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0));
  for (const [i, run] of ordered.entries()) {
    const previous = ordered[i - 1];
    if (!previous) continue;
    assert.ok(
      (run.startedAt ?? 0) >= (previous.finishedAt ?? Number.POSITIVE_INFINITY),
      `${run.runId} started after ${previous.runId} finished`,
    );
  }

  // The pause: that instant skipped as paused, never executed; instants after the resume ran.
  const pausedRun = byTime.get(isoSeconds(paused));
  assert.equal(pausedRun?.status, 'SKIPPED');
  assert.equal(pausedRun?.reason, 'paused');
  assert.ok(!executed.includes(pausedRun.runId), 'the paused instant was not executed');
  assert.ok(
    succeeded.some((run) => Date.parse(run.scheduledTime) > paused + 2000),
    'instants after the resume ran',
  );

  const late = succeeded.map((run) => run.startLateMs ?? Number.NaN).sort((a, b) => a - b);
  t.diagnostic(
    `planner passes ${passes}; runs SUCCEEDED ${succeeded.length}, SKIPPED(overlap) ${overlaps.length}; ` +
      `start lateness ms p50/p99/max ${percentile(late, 50)}/${percentile(late, 99)}/${late.at(-1)}; ` +
      `per agent ${WORKERS.map((w) => succeeded.filter((r) => r.workerId === w).length).join('/')}`,
  );
  for (const agent of fleet) agent.signal('SIGTERM');
  for (const agent of fleet)
    assert.deepEqual(await agent.waitForExit(60_000), { code: 0, signal: null }, agent.text);

  // The agents sent every start's lateness to CloudWatch (worker-agent/agent-metrics.ts), the last
  // minute's as they stopped: one sample per run that ran, as precise (SECOND) starts in their pool.
  const cloudwatch = cloudWatchClient(aws.clients);
  const sent = await readMetric(cloudwatch, AGENT_METRICS.runStartLateness.name, [
    { Name: 'Stage', Value: aws.prefix },
    { Name: 'Pool', Value: 'precise' },
    { Name: 'Precision', Value: 'SECOND' },
  ]).finally(() => cloudwatch.destroy());
  assert.equal(sent.samples, succeeded.length, `RunStartLatenessMs samples: ${JSON.stringify(sent)}`);
  assert.equal(sent.max, late.at(-1), 'the metric holds the runs’ own startLateMs');
});
