/**
 * Chaos: handlers beyond their timeouts, mixed with failures and retries. Two real agents run a
 * seeded mix of fires of four jobs, each with a retry policy of 3 attempts:
 *
 * | job          | attempt 1        | attempt 2        | attempt 3 | ends as                      |
 * |--------------|------------------|------------------|-----------|------------------------------|
 * | `to-hang`    | past its timeout | —                | —         | TIMED_OUT at attempt 1       |
 * | `to-retry`   | fails            | past its timeout | —         | TIMED_OUT at attempt 2       |
 * | `to-fail`    | fails            | fails            | fails     | FAILED at attempt 3          |
 * | `to-ok`      | works 0.2 s      | —                | —         | SUCCEEDED at attempt 1       |
 *
 * A timed-out attempt is final (the retry policy retries failures, not timeouts: docs/agent.md), its
 * handler is aborted and never started again, and no attempt of any run runs twice or at once with
 * another. The monitor's deadline sweep races the agent's own deadline on every timed-out run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Run } from '../../core/model';
import { useEmulator } from '../harness';
import { useAgents } from '../harness/agent-process';
import { monitorLoop } from '../harness/monitor-loop';
import { chaosAgentConfig, chaosJob, chaosStage, report, settled, startChaosAgents, tally } from './chaos';

const aws = useEmulator();
const agents = useAgents();
const NAME = 'timeouts';
const HANG_MS = 600_000;

const JOBS = {
  'to-hang': { payload: { sleepMs: HANG_MS }, timeoutSeconds: 3, ends: ['TIMED_OUT', 1] },
  'to-retry': {
    payload: { failAttempts: [1], attemptSleepMs: [0, HANG_MS] },
    timeoutSeconds: 3,
    ends: ['TIMED_OUT', 2],
  },
  'to-fail': { payload: { failAttempts: [1, 2, 3] }, timeoutSeconds: 60, ends: ['FAILED', 3] },
  'to-ok': { payload: { sleepMs: 200 }, timeoutSeconds: 300, ends: ['SUCCEEDED', 1] },
} as const;

test('handlers past their timeouts among failing and retried ones: TIMED_OUT once, never run twice, retries by policy', {
  timeout: 900_000,
}, async () => {
  const { chaos, marks, plane } = await chaosStage(aws, NAME, { workerCacheMs: 0 });
  const config = chaosAgentConfig('to', { capacity: 8, leaseTtlSeconds: 30 });
  const fleet = await startChaosAgents(agents, ['t1', 't2'], { aws, config, env: marks.env });
  const loop = monitorLoop(plane, 1000);
  for (const [jobId, spec] of Object.entries(JOBS)) {
    await plane.jobService.define(
      chaosJob(jobId, 'to', {
        payload: spec.payload,
        timeoutSeconds: spec.timeoutSeconds,
        retry: { maxAttempts: 3, backoffSeconds: 1, maxBackoffSeconds: 2 },
      }),
    );
  }

  const order = chaos.shuffle(Object.keys(JOBS).flatMap((jobId) => Array(chaos.int(3, 5)).fill(jobId)));
  const fired: { jobId: keyof typeof JOBS; runId: string }[] = [];
  for (const jobId of order as (keyof typeof JOBS)[]) {
    const outcome = await plane.dispatcher.fire({ jobId, trigger: 'MANUAL' });
    assert.equal(outcome.kind, 'dispatched', JSON.stringify(outcome));
    if (outcome.kind === 'dispatched') fired.push({ jobId, runId: outcome.runs[0]!.runId });
  }

  const records = await settled(
    plane,
    fired.map((f) => f.runId),
  );
  await loop.stop();
  const counts = tally(fired.length, records, await marks.read());
  const mismatched = fired.flatMap(({ jobId, runId }, i) => {
    const run = records[i] as Run;
    const [status, attempt] = JOBS[jobId].ends;
    return typeof run === 'string' || (run.status === status && run.attempt === attempt)
      ? []
      : [`${runId}: ${run.status} at attempt ${run.attempt}, expected ${status} at ${attempt}`];
  });
  console.log(
    `chaos ${NAME}: monitor timed out ${loop.reports.reduce((n, r) => n + r.runsTimedOut, 0)} runs itself, dispatched ${loop.reports.reduce((n, r) => n + r.retriesDispatched, 0)} retries`,
  );
  for (const agent of fleet) agent.signal('SIGTERM');
  for (const agent of fleet) await agent.waitForExit(90_000);
  report(NAME, counts);
  assert.deepEqual(mismatched, [], 'each run ends as its job’s policy says');
});
