/**
 * Real `clover-agent` processes against the emulator: drain on SIGTERM (finish within the grace, or
 * hand back at its end), and bad input — a malformed SQS message, an unknown handler, a throwing
 * handler, a bad config file — and a handler that runs past its timeout. Leases have margin for a
 * loaded machine (2 s heartbeats, 30 s TTL): none of these tests is about losing one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { envelopeFor } from '../../core/envelope';
import type { JobSpecInput, Run } from '../../core/model';
import { physicalName } from '../../infra/resources';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';

const aws = useEmulator();
const agents = useAgents();
let plane: ControlPlane | undefined;
let counter = 0;

async function controlPlaneOnEmulator(): Promise<ControlPlane> {
  await aws.provisioned();
  plane ??= controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  return plane;
}

const FAST = 'heartbeatIntervalSeconds: 2\nleaseTtlSeconds: 30';

async function defineJob(spec: Partial<JobSpecInput> & { pool: string }): Promise<string> {
  const p = await controlPlaneOnEmulator();
  counter += 1;
  const jobId = `job-${counter}`;
  const { pool, ...rest } = spec;
  await p.jobService.define({ jobId, handler: 'work', target: { pool }, ...rest });
  return jobId;
}

async function waitForRun(runId: string, done: (run: Run) => boolean, timeoutMs = 60_000): Promise<Run> {
  const p = await controlPlaneOnEmulator();
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await p.runs.get(runId);
    if (run && done(run)) return run;
    if (Date.now() > until) assert.fail(`run ${runId} did not get there: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const isFinished = (run: Run) => !['PENDING', 'DISPATCHED', 'RUNNING'].includes(run.status);

async function fire(jobId: string): Promise<string> {
  const p = await controlPlaneOnEmulator();
  const outcome = await p.dispatcher.fire({ jobId, trigger: 'MANUAL' });
  assert.equal(outcome.kind, 'dispatched', JSON.stringify(outcome));
  return outcome.kind === 'dispatched' ? outcome.runs[0]!.runId : '';
}

test('SIGTERM during a run: the run finishes within the grace, the lease is GONE, the queue is deleted, exit 0', async () => {
  const p = await controlPlaneOnEmulator();
  const agent = await agents.start({
    aws,
    workerId: 'drain-1',
    config: `pool: drain1\ndrainGraceSeconds: 20\n${FAST}\n${testHandlersConfig()}`,
  });
  await agent.waitForLog(/agent started/);
  const queueUrl = (await p.workers.get('drain-1'))?.endpoints.queueUrl;
  assert.ok(queueUrl);
  const jobId = await defineJob({ pool: 'drain1', payload: { sleepMs: 3000 } });
  const runId = await fire(jobId);
  await waitForRun(runId, (run) => run.status === 'RUNNING');
  agent.signal('SIGTERM');
  const exit = await agent.waitForExit();
  assert.deepEqual(exit, { code: 0, signal: null }, agent.text);
  const run = await p.runs.get(runId);
  assert.equal(run?.status, 'SUCCEEDED');
  assert.deepEqual(run?.result, { by: 'drain-1', attempt: 1 });
  assert.deepEqual(run?.log, [`start ${runId}`, `end ${runId}`]);
  assert.equal((await p.workers.get('drain-1'))?.status, 'GONE');
  await assert.rejects(aws.clients.sqs.send(new GetQueueUrlCommand({ QueueName: queueName('drain-1') })));
  assert.ok(agent.lines().some((l) => l.message === 'draining'));
});

test('SIGTERM with a run longer than the grace: handed back at the deadline, aborted, exit 0', async () => {
  const p = await controlPlaneOnEmulator();
  const agent = await agents.start({
    aws,
    workerId: 'drain-2',
    config: `pool: drain2\ndrainGraceSeconds: 1\n${FAST}\n${testHandlersConfig()}`,
  });
  await agent.waitForLog(/agent started/);
  const jobId = await defineJob({ pool: 'drain2', payload: { sleepMs: 60_000 } });
  const runId = await fire(jobId);
  await waitForRun(runId, (run) => run.status === 'RUNNING');
  agent.signal('SIGTERM');
  const exit = await agent.waitForExit(60_000);
  assert.deepEqual(exit, { code: 0, signal: null }, agent.text);
  const run = await p.runs.get(runId);
  assert.equal(run?.status, 'PENDING', 'handed back, to be dispatched again elsewhere');
  assert.equal(run?.reason, 'handed_back');
  assert.equal(run?.workerId, undefined);
  assert.equal((await p.workers.get('drain-2'))?.status, 'GONE');
  assert.ok(agent.lines().some((l) => l.message === 'run handed back'));
});

test('bad input: malformed message dead-lettered on first receipt, unknown handler FAILED(unknown_handler), throwing handler FAILED with message and stack', async () => {
  const p = await controlPlaneOnEmulator();
  const agent = await agents.start({
    aws,
    workerId: 'bad-1',
    config: `pool: bad\n${FAST}\n${testHandlersConfig()}`,
  });
  await agent.waitForLog(/agent started/);
  const worker = await p.workers.get('bad-1');
  const queueUrl = worker?.endpoints.queueUrl;
  assert.ok(worker && queueUrl);

  // 1. Garbage on the agent's own queue: moved to the dead-letter queue on its first receipt, logged.
  await aws.clients.sqs.send(
    new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'not an envelope {' }),
  );
  await agent.waitForLog(
    (l) =>
      l.message === 'malformed message moved to the dead-letter queue' &&
      Number(l.receiveCount) === 1 &&
      String(l.reason).includes('not base64'),
  );
  const dlq = (
    await aws.clients.sqs.send(
      new GetQueueUrlCommand({ QueueName: physicalName(aws.prefix, 'dispatch-default-dlq') }),
    )
  ).QueueUrl;
  let dead: string | undefined;
  for (let i = 0; i < 40 && dead === undefined; i += 1) {
    const out = await aws.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
    );
    dead = out.Messages?.find((m) => m.Body === 'not an envelope {')?.Body;
  }
  assert.equal(dead, 'not an envelope {', 'the malformed message reached the dead-letter queue');
  assert.ok(agent.running, 'the agent keeps running');

  // 2. An envelope naming a handler this worker does not have.
  const now = Date.now();
  const unknown: Run = {
    runId: `ghost@${now}`,
    jobId: 'ghost',
    scheduledTime: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    trigger: 'MANUAL',
    handler: 'no.such.handler',
    payload: null,
    status: 'DISPATCHED',
    attempt: 1,
    fence: 1,
    jobVersion: 1,
    concurrency: 'ALLOW',
    workerId: 'bad-1',
    createdAt: now,
    updatedAt: now,
    deadlineAt: now + 60_000,
    history: [{ at: now, status: 'DISPATCHED', attempt: 1 }],
  };
  await p.runs.create(unknown);
  await p.delivery.deliver({ kind: 'worker', worker }, envelopeFor(unknown, now + 60_000, now));
  const failed = await waitForRun(unknown.runId, isFinished);
  assert.equal(failed.status, 'FAILED');
  assert.equal(failed.error?.code, 'unknown_handler');
  assert.match(failed.error?.message ?? '', /no\.such\.handler/);

  // 3. A handler that throws.
  const jobId = await defineJob({ pool: 'bad', handler: 'fail' });
  const thrown = await waitForRun(await fire(jobId), isFinished);
  assert.equal(thrown.status, 'FAILED');
  assert.equal(thrown.error?.code, 'handler_error');
  assert.equal(thrown.error?.message, 'boom: the disk is full');
  assert.match(thrown.error?.stack ?? '', /fixtures\/handlers\.ts/);

  assert.ok(agent.running, 'the agent is still running after all of it');
  agent.signal('SIGTERM');
  assert.equal((await agent.waitForExit()).code, 0);
});

test('a handler running past its timeout in a real agent: TIMED_OUT, and the handler saw its signal abort', async () => {
  const agent = await agents.start({
    aws,
    workerId: 'slow-1',
    config: `pool: slow\n${FAST}\n${testHandlersConfig()}`,
  });
  await agent.waitForLog(/agent started/);
  // A ten-minute handler under a 2 s timeout; nothing but the agent's own deadline stops it here.
  const jobId = await defineJob({ pool: 'slow', payload: { sleepMs: 600_000 }, timeoutSeconds: 2 });
  const runId = await fire(jobId);
  const run = await waitForRun(runId, isFinished);
  assert.equal(run.status, 'TIMED_OUT', JSON.stringify(run));
  assert.equal(run.reason, 'timeout');
  assert.equal(run.error?.code, 'deadline_exceeded');
  assert.equal(run.workerId, 'slow-1');
  const aborted = await readFile(agent.abortFile, 'utf8');
  assert.match(aborted, new RegExp(`^${runId} .*deadline`, 'm'), 'the handler recorded the abort');
  assert.ok(agent.running, 'the agent keeps running');
  agent.signal('SIGTERM');
  assert.equal((await agent.waitForExit()).code, 0, agent.text);
});

test('a bad config file exits 2 naming the file, the line and the field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clover-agent-bad-'));
  const file = join(dir, 'agent.yaml');
  await writeFile(file, 'pool: ok\ncapacity: lots\nhandlers: {}\n');
  const result = spawnSync(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), resolve('worker-agent/cli.ts'), '--config', file],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 30_000 },
  );
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: capacity: `));
});

function queueName(workerId: string): string {
  return physicalName(aws.prefix, `worker-${workerId}`);
}
