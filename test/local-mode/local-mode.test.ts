/**
 * LOCAL mode with real agent processes (ARCHITECTURE.md, "LOCAL mode"; invariant 1; issue 4's
 * must-show): three `clover-agent` processes start from the same config, which declares a LOCAL job
 * (a Quartz cron every 2 seconds) beside its handler. Each agent syncs the declared job on start (one
 * adds it, the others find it unchanged), arms it in its LocalFires, and fires every instant from its
 * own timer; the one-run-per-fire conditional write decides which agent runs it.
 *
 * The job's schedule is bounded by startDate/endDate to a 60 s window that opens once the agents have
 * had time to start: exactly 30 instants, E+2 s ... E+60 s. Every one must have exactly one run,
 * SUCCEEDED, executed exactly once — counted by the handler appending the run id to a per-agent file,
 * by the agents' "LOCAL fire won" log lines, and by the run records.
 *
 * Timing is reported (test diagnostics), never asserted; bench/local-jitter.ts measures it.
 *
 * The job runs under concurrency ALLOW: on a loaded machine a run (claim, 100 ms, complete, release)
 * can legitimately outlast the 2 s period, and under FORBID the next fire would then be a correct
 * SKIPPED(overlap) — which is not what this test is about. The overlap rule, and that a lock whose run
 * has finished never turns a fire into an overlap, are proven in core/dispatch-policies.test.ts and
 * test/dispatch/dispatch.test.ts. Leases renew every 2 s against 30 s, so a slow renewal under load
 * does not cost an agent its lease; the agents get 45 s to start before the window opens.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { percentile } from '../../bench/stats';
import { controlPlane } from '../../core/adapters/control-plane';
import { isFinal, isoSeconds, type Run } from '../../core/model';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();

const WINDOW_MS = 60_000;
const PERIOD_MS = 2_000;
/** Time the three processes get to start (tsx, handler import, lease, sync) before the window opens. */
const LEAD_MS = 45_000;
const WORKERS = ['local-1', 'local-2', 'local-3'] as const;

test('three agent processes, a declared LOCAL job every 2 seconds for 60 s: every fire runs exactly once', {
  // Window 60 s after a 45 s lead, then up to 150 s for the last outcomes: on a saturated machine an
  // agent's completion can time out and wait in its journal for replay (seen at load ~24).
  timeout: 300_000,
}, async (t) => {
  await aws.provisioned();
  const admin = controlPlane({ clients: aws.clients, prefix: aws.prefix });

  // The window: instants E+2 s ... E+60 s. startDate/endDate sit on odd seconds, clear of any instant.
  const evenStart = Math.ceil((Date.now() + LEAD_MS) / PERIOD_MS) * PERIOD_MS;
  const config = [
    'pool: local',
    'capacity: 2',
    'heartbeatIntervalSeconds: 2',
    'leaseTtlSeconds: 30',
    'jobsOwner: ticker-fleet',
    testHandlersConfig(['work']),
    'jobs:',
    '  - jobId: ticker',
    '    handler: work',
    '    mode: LOCAL',
    '    payload: { sleepMs: 100 }',
    '    timeoutSeconds: 30',
    '    concurrency: { policy: ALLOW }',
    '    target: { pool: local }',
    '    schedule:',
    '      expression: "*/2 * * * * ?"',
    `      startDate: "${isoSeconds(evenStart + 1000)}"`,
    `      endDate: "${isoSeconds(evenStart + WINDOW_MS + 1000)}"`,
  ].join('\n');

  const launchedAt = Date.now();
  const fleet = await Promise.all(WORKERS.map((workerId) => agents.start({ aws, workerId, config })));
  const started = await Promise.all(fleet.map((agent) => agent.waitForLog(/^agent started$/, 60_000)));
  const allStartedAt = Date.now();
  t.diagnostic(
    `three agents started in ${allStartedAt - launchedAt} ms; the window opens ${evenStart - allStartedAt} ms later`,
  );
  assert.ok(
    allStartedAt < evenStart,
    'the agents started before the window opened (a fresh agent fires nothing past)',
  );
  for (const line of started) assert.deepEqual(line.localJobs, ['ticker'], `${line.workerId} armed the job`);

  // The sync: one agent added the job, the others found it as declared; nobody conflicted.
  const syncs = fleet.map((agent) => agent.lines().find((l) => l.message === 'declared jobs synced'));
  for (const sync of syncs) {
    assert.ok(sync, 'every agent synced its declared jobs');
    assert.equal(sync.owner, 'agent:local:ticker-fleet');
    assert.deepEqual(sync.conflicts, []);
  }
  assert.deepEqual(syncs.flatMap((s) => s?.added as string[]).sort(), ['ticker'], 'added once');
  const job = await admin.jobs.get('ticker');
  assert.equal(job?.owner, 'agent:local:ticker-fleet');
  assert.equal(job?.version, 1);
  assert.equal(job?.spec.mode, 'LOCAL');

  // Wait for the window's last run to finish (the endDate bounds the schedule: no fire comes after).
  const expected = Array.from({ length: WINDOW_MS / PERIOD_MS }, (_, i) =>
    isoSeconds(evenStart + (i + 1) * PERIOD_MS),
  );
  const runs: Run[] = await waitFor(
    () => admin.runs.listByJob('ticker', { order: 'oldest', limit: 100 }),
    (list) => list.length >= expected.length && list.every((run) => isFinal(run)),
    'a final run for every fire of the window',
    { timeoutMs: evenStart + WINDOW_MS + 150_000 - Date.now(), intervalMs: 500 },
  ).catch(() => admin.runs.listByJob('ticker', { order: 'oldest', limit: 100 }));

  assert.deepEqual(
    runs.map((r) => r.scheduledTime),
    expected,
    '30 runs, one per fire, each a distinct scheduledTime',
  );
  for (const run of runs) {
    assert.equal(
      run.status,
      'SUCCEEDED',
      `${run.runId}: ${run.status} (${run.reason ?? 'no reason'}) ${JSON.stringify(run.error ?? null)}`,
    );
    assert.equal(run.trigger, 'LOCAL');
    assert.equal(run.attempt, 1);
    assert.ok(
      WORKERS.includes(run.workerId as (typeof WORKERS)[number]),
      `${run.runId} ran on ${run.workerId}`,
    );
    assert.deepEqual(run.result, { by: run.workerId, attempt: 1 }, 'the result came from that worker');
  }

  // Executions, from the handler's own record in each agent's directory.
  const executedBy = new Map<string, string[]>();
  let executions = 0;
  for (const agent of fleet) {
    const text = await readFile(agent.execFile, 'utf8').catch(() => '');
    for (const runId of text.split('\n').filter(Boolean)) {
      executions += 1;
      executedBy.set(runId, [...(executedBy.get(runId) ?? []), agent.workerId]);
    }
  }
  assert.equal(executions, 30, 'thirty executions in all');
  for (const run of runs) {
    assert.deepEqual(executedBy.get(run.runId), [run.workerId], `${run.runId} executed once, by its owner`);
  }

  // Fires, from the agents' logs: each instant won by exactly one agent, and no failed write.
  const won = fleet.flatMap((agent) =>
    agent
      .lines()
      .filter((l) => l.message === 'LOCAL fire won')
      .map((l) => ({ workerId: agent.workerId, runId: String(l.runId), jitterMs: Number(l.jitterMs) })),
  );
  assert.deepEqual(
    won.map((w) => w.runId).sort(),
    runs.map((r) => r.runId).sort(),
    'each fire won by exactly one agent',
  );
  for (const agent of fleet) {
    assert.equal(
      agent.lines().filter((l) => l.message === 'LOCAL fire could not be written').length,
      0,
      `${agent.workerId}: no failed fire writes`,
    );
  }

  const perAgent = fleet.map((agent) => runs.filter((run) => run.workerId === agent.workerId).length);
  const jitter = won.map((w) => w.jitterMs).sort((a, b) => a - b);
  const startLag = runs
    .map((r) => (r.startedAt ?? Number.NaN) - Date.parse(r.scheduledTime))
    .sort((a, b) => a - b);
  t.diagnostic(`runs per agent ${WORKERS.join('/')}: ${perAgent.join('/')}`);
  t.diagnostic(
    `fire decided − scheduled ms p50/p99/max: ${percentile(jitter, 50)}/${percentile(jitter, 99)}/${jitter.at(-1)}; ` +
      `claimed − scheduled ms p50/p99/max: ${percentile(startLag, 50)}/${percentile(startLag, 99)}/${startLag.at(-1)}`,
  );

  for (const agent of fleet) agent.signal('SIGTERM');
  for (const agent of fleet) {
    assert.deepEqual(await agent.waitForExit(60_000), { code: 0, signal: null }, agent.text);
    assert.ok(agent.lines().some((l) => l.message === 'agent stopped'));
  }
});
