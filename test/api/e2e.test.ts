/**
 * End to end through the management API: the local runtime (`startLocalRuntime`, as `npm start`
 * runs it) serves the API; a REMOTE job created through it is fired by the runtime's scheduler clock
 * at its time, run by a real agent process, and its run, progress and log are read back through the
 * API. What ran is counted by the handler's own marker file, not only by the ledger.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CloverApiClient } from '../../core/api/client';
import { silentLogger } from '../../core/log';
import { startLocalRuntime } from '../../functions/local/runtime';
import { emulatorEnv } from '../../infra/local/emulator';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';

const aws = useEmulator();
const agents = useAgents();

/** EventBridge `at()` in UTC, to the second. */
const at = (epochMs: number) => `at(${new Date(epochMs).toISOString().slice(0, 19)})`;

test('a REMOTE job created through the API is fired by the local clock, run by a real agent, and read back through the API', async () => {
  await aws.provisioned();
  const stateDir = await mkdtemp(join(tmpdir(), 'clover-e2e-'));
  const runtime = await startLocalRuntime({
    log: silentLogger,
    prefix: aws.prefix,
    env: {
      ...emulatorEnv(aws.emulator),
    },
    envFile: join(stateDir, 'local.env'),
    apiPort: 0,
    tickMs: 500,
  });
  try {
    const agent = await agents.start({
      aws,
      workerId: 'e2e-agent',
      config: `capacity: 2\nheartbeatIntervalSeconds: 1\nleaseTtlSeconds: 6\n${testHandlersConfig()}`,
    });
    await agent.waitForLog(/agent started/);

    // What the CLI does against the local stack: endpoint and admin token from .clover/api.json.
    const { endpoint, token } = JSON.parse(await readFile(join(stateDir, 'api.json'), 'utf8')) as {
      endpoint: string;
      token: string;
    };
    assert.equal(endpoint, runtime.api?.url);
    const client = new CloverApiClient({ baseUrl: endpoint, token });

    const fireAt = Math.ceil((Date.now() + 6000) / 1000) * 1000;
    const job = await client.call('createJob', {
      body: {
        jobId: 'e2e-report',
        handler: 'work',
        payload: { sleepMs: 300 },
        schedule: { expression: at(fireAt), timezone: 'UTC' },
      },
    });
    assert.equal(job.spec.mode, 'REMOTE');
    assert.equal((await runtime.plane.schedules.get('e2e-report'))?.expression, at(fireAt));

    // Wait (on the condition, with a generous bound) for the run to finish.
    let runs = await client.call('listRuns', { query: { jobId: 'e2e-report' } });
    for (let i = 0; i < 240 && runs.items[0]?.status !== 'SUCCEEDED'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      runs = await client.call('listRuns', { query: { jobId: 'e2e-report' } });
    }
    assert.equal(runs.items.length, 1, 'one fire, one run');
    const summary = runs.items[0]!;
    assert.equal(summary.status, 'SUCCEEDED', JSON.stringify(summary));
    assert.equal(summary.trigger, 'SCHEDULE');
    assert.equal(summary.scheduledTime, new Date(fireAt).toISOString().replace('.000Z', 'Z'));
    assert.equal(summary.workerId, 'e2e-agent');

    const run = await client.call('getRun', { params: { runId: summary.runId } });
    assert.deepEqual(run.progress, { percent: 100, message: 'done' });
    assert.equal(run.history.at(-1)?.status, 'SUCCEEDED');
    assert.ok(run.history.some((h) => h.status === 'RUNNING'));
    const log = await client.call('getRunLog', { params: { runId: run.runId } });
    assert.ok(
      log.lines.some((l) => l.message.includes(`start ${run.runId}`)),
      JSON.stringify(log.lines),
    );
    assert.ok(log.lines.some((l) => l.message.includes(`end ${run.runId}`)));
    assert.equal(log.complete, true);

    // The handler's own marker: it ran exactly once, on that agent.
    const executed = (await readFile(agent.execFile, 'utf8')).trim().split('\n');
    assert.deepEqual(executed, [run.runId]);
  } finally {
    await runtime.stop();
  }
});
