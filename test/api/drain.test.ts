/**
 * Draining a worker through the API reaches the real agent process: its next lease renewal reads the
 * DRAINING status back, it takes nothing new, lets the running run finish, releases its lease and exits 0.
 * What ran is counted by the handler's own exec file, not only by the ledger.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Monitor } from '../../core/monitor';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { useApi } from './helpers';

const api = useApi();
const agents = useAgents();

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('a worker drained through the API finishes its running run, takes nothing new and exits 0', async () => {
  await api.ready();
  const agent = await agents.start({
    aws: api.aws,
    workerId: 'drain-w1',
    // A long lease: on a loaded machine the test must not lose it for reasons of its own.
    config: `capacity: 2\nheartbeatIntervalSeconds: 1\nleaseTtlSeconds: 20\n${testHandlersConfig()}`,
  });
  await agent.waitForLog(/agent started/);
  const admin = api.as('admin');
  const operator = api.as('operator');
  const releaseFile = join(agent.dir, 'release');
  await admin.call('createJob', { body: { jobId: 'drain-long', handler: 'work', payload: { releaseFile } } });
  await admin.call('createJob', { body: { jobId: 'drain-next', handler: 'work' } });

  const { runId } = await operator.call('triggerJob', { params: { jobId: 'drain-long' }, body: {} });
  await until(
    'the first run to start',
    () => operator.call('getRun', { params: { runId } }),
    (run) => run.status === 'RUNNING',
  );

  const drained = await operator.call('drainWorker', { params: { workerId: 'drain-w1' } });
  assert.equal(drained.status, 'DRAINING');
  await agent.waitForLog(/drain requested through the API/);

  // Nothing new: a fire after the drain is not run here. The dispatcher may still pick the worker from
  // the list it cached for a second before the drain, and an envelope taken by a receive already in
  // flight stays invisible past the agent's exit: such a run waits, DISPATCHED to a GONE worker, for
  // the monitor's next sweep, which recovers it like any run of a worker that left.
  const next = await operator.call('triggerJob', { params: { jobId: 'drain-next' }, body: {} });

  // The running run finishes on the draining worker, then the agent leaves cleanly.
  await writeFile(releaseFile, '');
  const finished = await until(
    'the first run to finish',
    () => operator.call('getRun', { params: { runId } }),
    (run) => run.status !== 'RUNNING',
  );
  assert.equal(finished.status, 'SUCCEEDED', JSON.stringify(finished));
  assert.deepEqual(await agent.exited, { code: 0, signal: null });
  const worker = await api.plane.workers.get('drain-w1');
  assert.equal(worker?.status, 'GONE');
  await new Monitor({ ...api.plane, deadLetters: api.plane.fireDeadLetters }).sweep();
  const nextRun = await operator.call('getRun', { params: { runId: next.runId } });
  assert.ok(['PENDING', 'NO_WORKER'].includes(nextRun.status), JSON.stringify(nextRun));
  assert.deepEqual(
    (await readFile(agent.execFile, 'utf8')).split('\n').filter(Boolean),
    [runId],
    'the fire after the drain never ran on the drained worker',
  );
});
