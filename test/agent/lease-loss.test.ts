/**
 * Invariant 3 with real agent processes: a late write after lease loss is refused, and the run keeps
 * the outcome of the worker that owns it.
 *
 * Agent A claims a run and is frozen (SIGSTOP) mid-run. Its lease (3 s TTL) expires; the run is
 * re-dispatched as the monitor would (Dispatcher.redispatch, new attempt, higher fence) to agent B,
 * which completes it. A is thawed (SIGCONT): it notices the lost lease, aborts the handler and tries
 * to hand the run back — a fenced write, refused — and exits 3 for its supervisor to restart it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import type { Run } from '../../core/model';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';

const aws = useEmulator();
const agents = useAgents();

const config = `pool: lossy\nheartbeatIntervalSeconds: 1\nleaseTtlSeconds: 3\n${testHandlersConfig()}`;

test('a late write after lease loss is refused; the run keeps the outcome of the worker that owns it', async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const a = await agents.start({ aws, workerId: 'agent-a', config });
  await a.waitForLog(/agent started/);
  await plane.jobService.define({
    jobId: 'contested',
    handler: 'work',
    payload: { sleepMs: 5000 },
    target: { pool: 'lossy' },
  });
  const fired = await plane.dispatcher.fire({ jobId: 'contested', trigger: 'MANUAL' });
  assert.equal(fired.kind, 'dispatched');
  const runId = fired.kind === 'dispatched' ? fired.runs[0]!.runId : '';
  const get = async () => (await plane.runs.get(runId)) as Run;
  for (let i = 0; i < 100 && (await get()).status !== 'RUNNING'; i += 1)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal((await get()).workerId, 'agent-a');

  const b = await agents.start({ aws, workerId: 'agent-b', config });
  await b.waitForLog(/agent started/);
  a.signal('SIGSTOP');
  const lease = await plane.workers.get('agent-a');
  await new Promise((r) => setTimeout(r, Math.max(0, (lease?.leaseExpiresAt ?? 0) - Date.now()) + 200));

  // What the monitor does for a run whose worker's lease expired (recoverOnWorkerLoss).
  const recovered = await plane.dispatcher.redispatch(await get(), {
    newAttempt: true,
    note: 'worker agent-a lost',
  });
  assert.equal(recovered.workerId, 'agent-b');
  assert.equal(recovered.attempt, 2);
  let run = await get();
  for (let i = 0; i < 150 && run.status !== 'SUCCEEDED'; i += 1) {
    await new Promise((r) => setTimeout(r, 100));
    run = await get();
  }
  assert.equal(run.status, 'SUCCEEDED');

  a.signal('SIGCONT');
  await a.waitForLog(/refused by the fence/);
  const exit = await a.waitForExit();
  assert.equal(exit.code, 3, `a lost lease exits 3; output:\n${a.text}`);

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
  b.signal('SIGTERM');
  assert.equal((await b.waitForExit()).code, 0, b.text);
});
