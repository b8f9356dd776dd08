/**
 * LOCAL mode on a real AWS emulator (ARCHITECTURE.md, "LOCAL mode"; invariant 1): three agents'
 * LocalFires, each with its own control-plane wiring (its own Dispatcher, as separate processes
 * have), fire a job every 2 seconds from their own timers for 60 s. Every fire must have exactly
 * one run, executed exactly once, by the one agent whose conditional write won.
 *
 * The agents run in this process: the agent process (worker-agent/agent.ts, cli.ts) does not wire
 * LocalFires yet. The execute path is the agent's: claim with the envelope's fence, run the handler,
 * complete with the fence (RunExecution).
 *
 * Timing is reported (test diagnostics), never asserted; bench/local-jitter.ts measures it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from '../../bench/stats';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { jsonLogger } from '../../core/log';
import { isoSeconds, type Run } from '../../core/model';
import { type LocalFireEvent, LocalFires } from '../../worker-agent/local-fires';
import { useEmulator } from '../harness';

const aws = useEmulator();

const WINDOW_MS = 60_000;
const PERIOD_MS = 2_000;

interface Execution {
  readonly workerId: string;
  readonly runId: string;
  readonly scheduledAt: number;
  readonly startedAt: number;
}

test('three agents, a LOCAL job every 2 seconds for 60 s: every fire runs exactly once', {
  timeout: 180_000,
}, async (t) => {
  await aws.provisioned();
  const admin = controlPlane({ clients: aws.clients, prefix: aws.prefix });
  await admin.jobService.define({
    jobId: 'ticker',
    handler: 'tick',
    mode: 'LOCAL',
    schedule: { expression: '*/2 * * * * ?' },
    timeoutSeconds: 30,
  });

  const executions: Execution[] = [];
  const events: (LocalFireEvent & { workerId: string })[] = [];
  const problems: string[] = [];
  const agents = ['local-1', 'local-2', 'local-3'].map((workerId) => {
    const plane: ControlPlane = controlPlane({ clients: aws.clients, prefix: aws.prefix });
    return new LocalFires({
      workerId,
      pool: 'default',
      jobs: plane.jobs,
      dispatcher: plane.dispatcher,
      hasHandler: (name) => name === 'tick',
      execute: async ({ envelope }) => {
        const run = await plane.execution.claim(envelope, workerId);
        executions.push({
          workerId,
          runId: run.runId,
          scheduledAt: Date.parse(run.scheduledTime),
          startedAt: Date.now(),
        });
        await plane.execution.complete(run, { status: 'SUCCEEDED', result: { by: workerId } });
      },
      onFire: (event) => events.push({ ...event, workerId }),
      refreshIntervalMs: 5_000,
      log: jsonLogger({ level: 'warn', write: (line) => problems.push(line) }),
    });
  });

  // Start just after an even second E, stop just after E + 60 s: the fires are E+2 s ... E+60 s.
  const untilNextEven = PERIOD_MS - (Date.now() % PERIOD_MS);
  await sleep(untilNextEven + 100);
  const evenStart = Date.now() - (Date.now() % PERIOD_MS);
  await Promise.all(agents.map((agent) => agent.start()));
  const startedLate = Date.now() - evenStart;
  assert.ok(startedLate < PERIOD_MS, `agents armed within the first period (${startedLate} ms)`);
  await sleep(evenStart + WINDOW_MS + 500 - Date.now());
  await Promise.all(agents.map((agent) => agent.stop()));
  await Promise.all(agents.map((agent) => agent.idle()));

  const expected = Array.from({ length: WINDOW_MS / PERIOD_MS }, (_, i) =>
    isoSeconds(evenStart + (i + 1) * PERIOD_MS),
  );
  for (const line of problems) t.diagnostic(line);
  const runs: Run[] = await admin.runs.listByJob('ticker', { order: 'oldest', limit: 100 });
  assert.deepEqual(
    runs.map((r) => r.scheduledTime),
    expected,
    '30 runs, one per fire, each a distinct scheduledTime',
  );
  for (const run of runs) {
    assert.equal(run.status, 'SUCCEEDED', `${run.runId} succeeded`);
    assert.equal(run.trigger, 'LOCAL');
    assert.equal(run.attempt, 1);
    assert.ok(run.workerId?.startsWith('local-'));
  }
  assert.equal(executions.length, 30, 'thirty executions');
  assert.deepEqual(
    [...new Set(executions.map((e) => e.runId))].sort(),
    runs.map((r) => r.runId).sort(),
    'each run executed once, by its own worker',
  );
  for (const e of executions) {
    assert.equal(runs.find((r) => r.runId === e.runId)?.workerId, e.workerId);
  }
  const won = events.filter((e) => e.outcome === 'dispatched');
  assert.equal(won.length, 30, 'exactly one agent won each fire');
  assert.equal(events.filter((e) => e.outcome === 'error').length, 0, 'no failed writes');
  assert.equal((await admin.locks.get('job#ticker'))?.owner, undefined, 'the lock is free at the end');

  const byWorker = Object.fromEntries(
    ['local-1', 'local-2', 'local-3'].map((id) => [id, executions.filter((e) => e.workerId === id).length]),
  );
  const start = executions.map((e) => e.startedAt - e.scheduledAt).sort((a, b) => a - b);
  const timer = events.map((e) => e.firedAt - e.scheduledAt).sort((a, b) => a - b);
  t.diagnostic(`runs per agent: ${JSON.stringify(byWorker)}`);
  t.diagnostic(
    `timer lateness ms p50/p99/max: ${percentile(timer, 50)}/${percentile(timer, 99)}/${timer.at(-1)}; ` +
      `handler start − scheduled ms p50/p95/p99/max: ${percentile(start, 50)}/${percentile(start, 95)}/${percentile(start, 99)}/${start.at(-1)}`,
  );
});
