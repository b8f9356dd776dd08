/**
 * Invariant 3 with real agent processes: a late write after lease loss is refused, and the run keeps
 * the outcome of the worker that owns it.
 *
 * Agent A claims a run whose first attempt would take ten minutes and is frozen (SIGSTOP) while the
 * ledger shows it RUNNING there. Its lease (6 s TTL) expires — awaited on the lease record, not on a
 * timer; the run is re-dispatched as the monitor would (Dispatcher.redispatch, new attempt, higher
 * fence) to agent B, whose attempt takes 100 ms. A is thawed (SIGCONT): it notices the lost lease,
 * aborts the handler (which records the abort) and tries to hand the run back — a fenced write,
 * refused — and then, on its own, registers a new lease (a higher lease fence) and carries on.
 *
 * Timings have margin for a loaded machine: A renews every second against a 6 s TTL; B, which must
 * not lose its lease, renews every 2 s against 30 s. Every wait is on a condition.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import type { Run } from '../../core/model';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();

const configA = `pool: lossy\nheartbeatIntervalSeconds: 1\nleaseTtlSeconds: 6\n${testHandlersConfig()}`;
const configB = `pool: lossy\nheartbeatIntervalSeconds: 2\nleaseTtlSeconds: 30\n${testHandlersConfig()}`;

test('a late write after lease loss is refused; the run keeps the outcome of the worker that owns it', {
  timeout: 240_000,
}, async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const a = await agents.start({ aws, workerId: 'agent-a', config: configA });
  await a.waitForLog(/agent started/, 90_000);
  await plane.jobService.define({
    jobId: 'contested',
    handler: 'work',
    payload: { attemptSleepMs: [600_000, 100] },
    timeoutSeconds: 1200,
    target: { pool: 'lossy' },
  });
  const fired = await plane.dispatcher.fire({ jobId: 'contested', trigger: 'MANUAL' });
  assert.equal(fired.kind, 'dispatched');
  const runId = fired.kind === 'dispatched' ? fired.runs[0]!.runId : '';
  const get = async () => (await plane.runs.get(runId)) as Run;
  await waitFor(get, (run) => run.status === 'RUNNING', 'agent-a to claim the run');

  const b = await agents.start({ aws, workerId: 'agent-b', config: configB });
  await b.waitForLog(/agent started/, 90_000);
  const frozenFence = (await plane.workers.get('agent-a'))?.leaseFence ?? 0;
  a.signal('SIGSTOP');
  // A is frozen mid-run: the run is still its first attempt, RUNNING on A (which would take 10 minutes).
  const frozen = await get();
  assert.equal(frozen.status, 'RUNNING', 'the run is still running on A when A is frozen');
  assert.equal(frozen.workerId, 'agent-a');
  assert.equal(frozen.attempt, 1);
  await waitFor(
    () => plane.workers.get('agent-a'),
    (lease) => (lease?.leaseExpiresAt ?? 0) < Date.now(),
    "agent-a's lease to expire",
  );

  // What the monitor does for a run whose worker's lease expired (recoverOnWorkerLoss).
  const recovered = await plane.dispatcher.redispatch(await get(), {
    newAttempt: true,
    note: 'worker agent-a lost',
  });
  assert.equal(recovered.workerId, 'agent-b');
  assert.equal(recovered.attempt, 2);
  await waitFor(get, (run) => run.status === 'SUCCEEDED', 'agent-b to complete the run');

  a.signal('SIGCONT');
  await a.waitForLog(/refused by the fence/, 60_000);
  await a.waitForLog(/^rejoined with a new lease/, 120_000);
  const rejoined = await plane.workers.get('agent-a');
  assert.equal(rejoined?.status, 'ACTIVE', 'agent-a serves again under a new lease');
  assert.ok((rejoined?.leaseFence ?? 0) > frozenFence, 'the new lease has a higher fence');
  const aborted = await readFile(a.abortFile, 'utf8').catch(() => '');
  assert.match(aborted, new RegExp(`^${runId} `, 'm'), "A's handler observed its signal abort");

  const final = await get();
  assert.equal(final.status, 'SUCCEEDED');
  assert.equal(final.workerId, 'agent-b');
  assert.deepEqual(final.result, { by: 'agent-b', attempt: 2 });
  assert.equal(final.fence, recovered.fence);
  assert.deepEqual(
    final.history.map((h) => h.status),
    ['PENDING', 'DISPATCHED', 'RUNNING', 'DISPATCHED', 'RUNNING', 'SUCCEEDED'],
    'nothing after B’s completion',
  );
  assert.ok(b.running);
  for (const agent of [a, b]) agent.signal('SIGTERM');
  assert.equal((await a.waitForExit(60_000)).code, 0, a.text);
  assert.equal((await b.waitForExit(60_000)).code, 0, b.text);
});
