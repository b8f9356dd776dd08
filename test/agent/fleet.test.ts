/**
 * Three real agent processes and a REMOTE job on `rate(1 minute)`, fired by the local scheduler clock
 * (core/scheduler-clock.ts) on an injected clock that walks 30 minutes of schedule time in seconds:
 * 30 runs, all SUCCEEDED, each executed by exactly one agent. Who executed what is counted twice: by
 * the handler appending the run id to a per-agent file, and by the run's workerId and result.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { silentLogger } from '../../core/log';
import { SchedulerClock } from '../../core/scheduler-clock';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();

test('three agents, a rate(1 minute) job fired 30 times by the clock: 30 runs, each executed by exactly one agent', {
  timeout: 300_000,
}, async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const fleet = await Promise.all(
    ['a1', 'a2', 'a3'].map((workerId) =>
      agents.start({
        aws,
        workerId,
        // A 30 s lease renewed every 2 s: a loaded machine's slow renewals must not cost a lease here.
        config: `pool: fleet\ncapacity: 4\nheartbeatIntervalSeconds: 2\nleaseTtlSeconds: 30\n${testHandlersConfig()}`,
      }),
    ),
  );
  await Promise.all(fleet.map((agent) => agent.waitForLog(/agent started/, 90_000)));

  await plane.jobService.define({
    jobId: 'every-minute',
    handler: 'work',
    payload: { sleepMs: 300 },
    schedule: { expression: 'rate(1 minute)' },
    target: { pool: 'fleet' },
    // Fires arrive faster than runs finish on the accelerated clock; ALLOW keeps each fire a run.
    concurrency: { policy: 'ALLOW' },
  });
  const clock = new SchedulerClock({
    schedules: plane.schedules,
    fire: (request) => plane.dispatcher.fire(request),
    log: silentLogger,
  });
  const t0 = Date.UTC(2026, 0, 30, 10, 0, 0);
  assert.deepEqual(await clock.tick(t0), [], 'the clock starts counting at its first tick');
  const fired: string[] = [];
  const started = Date.now();
  for (let minute = 1; minute <= 30; minute += 1) {
    const due = await clock.tick(t0 + minute * 60_000);
    fired.push(...due.map((request) => request.scheduledTime ?? ''));
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(fired.length, 30, 'one fire per schedule minute');

  const runs = await waitFor(
    () => plane.runs.listByJob('every-minute', { limit: 100 }),
    (list) => list.length === 30 && list.every((run) => run.status === 'SUCCEEDED'),
    '30 SUCCEEDED runs',
    { timeoutMs: 120_000, intervalMs: 200 },
  ).catch(() => plane.runs.listByJob('every-minute', { limit: 100 }));
  const elapsed = Date.now() - started;
  assert.equal(runs.length, 30);
  assert.deepEqual(
    runs
      .filter((run) => run.status !== 'SUCCEEDED')
      .map((run) => `${run.runId}: ${run.status} ${run.reason ?? ''} ${JSON.stringify(run.error ?? null)}`),
    [],
  );

  const executedBy = new Map<string, string[]>();
  for (const agent of fleet) {
    const text = await readFile(agent.execFile, 'utf8').catch(() => '');
    for (const runId of text.split('\n').filter(Boolean)) {
      executedBy.set(runId, [...(executedBy.get(runId) ?? []), agent.workerId]);
    }
  }
  assert.equal(executedBy.size, 30, 'every run was executed');
  for (const run of runs) {
    assert.deepEqual(executedBy.get(run.runId), [run.workerId], `${run.runId} executed once, by its owner`);
    assert.deepEqual(run.result, { by: run.workerId, attempt: 1 });
  }
  const perAgent = fleet.map((agent) => runs.filter((run) => run.workerId === agent.workerId).length);
  assert.ok(
    perAgent.every((n) => n > 0),
    `round-robin spreads the runs: ${perAgent.join('/')}`,
  );
  console.log(`30 fires over 3 agents in ${elapsed} ms; per agent ${perAgent.join('/')}`);

  for (const agent of fleet) agent.signal('SIGTERM');
  for (const agent of fleet) assert.equal((await agent.waitForExit(60_000)).code, 0, agent.text);
});
