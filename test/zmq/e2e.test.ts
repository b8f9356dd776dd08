/**
 * Direct ZeroMQ delivery end to end (issue 5): real `clover-agent` processes with a `zmq:` section,
 * the real dispatcher (controlPlane with the dispatcher's key pair) and the emulator. Who executed a
 * run is counted by the test handler appending its run id to a per-agent file, and by the agent's
 * log (`zmq intake: run accepted` for ZeroMQ, plain `run started` for SQS).
 *
 * Agents (one pool, FAILOVER order by priority): z3 (5) < z1 (10) < z2 (20).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { compressSync } from 'snappy';
import * as zmq from 'zeromq';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { encodeFrame } from '../../core/adapters/envelope-codec';
import { MAX_FRAME_BYTES } from '../../core/envelope';
import { CloverError } from '../../core/errors';
import { isFinal, type Run, type Worker } from '../../core/model';
import { sampleEnvelope } from '../../core/testing/contracts/fixtures';
import { useEmulator } from '../harness';
import { type AgentProcess, testHandlersConfig, useAgents } from '../harness/agent-process';
import { Closer, eventually, rawDealer, unreadBytes } from './helpers';

const aws = useEmulator();
const agents = useAgents();
const closer = new Closer();
const dispatcherKeys = zmq.curveKeyPair();
const POOL = 'zmq-e2e';

let plane: ControlPlane;
const fleet = new Map<string, AgentProcess>();

function agentConfig(priority: number, secretKey: string | null): string {
  return [
    `pool: ${POOL}`,
    'capacity: 2',
    `priority: ${priority}`,
    // Leases with margin: an agent frozen mid-send on a loaded machine must not lose its lease.
    'heartbeatIntervalSeconds: 2',
    'leaseTtlSeconds: 60',
    'drainGraceSeconds: 2',
    'zmq:',
    '  bind: tcp://127.0.0.1:*',
    ...(secretKey ? [`  secretKey: ${JSON.stringify(secretKey)}`] : []),
    `  allowedDispatcherKeys: [${JSON.stringify(dispatcherKeys.publicKey)}]`,
    testHandlersConfig(),
  ].join('\n');
}

function agent(workerId: string): AgentProcess {
  const found = fleet.get(workerId);
  assert.ok(found, `agent ${workerId} started`);
  return found;
}

async function lease(workerId: string): Promise<Worker> {
  const worker = await plane.workers.get(workerId);
  assert.ok(worker?.endpoints.zmqAddress && worker.endpoints.zmqPublicKey, `${workerId} advertises ZeroMQ`);
  return worker;
}

let jobs = 0;
/** Defines a ZMQ job over the given workers (FAILOVER: the lowest priority number first). */
async function zmqJob(workerIds: string[], payload: unknown = { sleepMs: 50 }): Promise<string> {
  jobs += 1;
  const jobId = `zmq-e2e-${jobs}`;
  await plane.jobService.define({
    jobId,
    handler: 'work',
    payload,
    delivery: 'ZMQ',
    routing: 'FAILOVER',
    target: { pool: POOL, workerIds },
    concurrency: { policy: 'ALLOW' },
  });
  return jobId;
}

async function fire(jobId: string, on: ControlPlane = plane): Promise<Run> {
  const outcome = await on.dispatcher.fire({ jobId, trigger: 'MANUAL' });
  assert.equal(outcome.kind, 'dispatched', JSON.stringify(outcome));
  const run = outcome.kind === 'dispatched' ? outcome.runs[0] : undefined;
  assert.ok(run);
  return run;
}

async function until(runId: string, done: (run: Run) => boolean, timeoutMs = 90_000): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await plane.runs.get(runId);
    if (run && done(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run?.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Which agents' handlers executed the run, one entry per execution. */
async function executions(runId: string): Promise<string[]> {
  const by: string[] = [];
  for (const process of fleet.values()) {
    const text = await readFile(process.execFile, 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line === runId) by.push(process.workerId);
  }
  return by;
}

function logsAbout(process: AgentProcess, runId: string, message: RegExp) {
  return process.lines().filter((line) => line.runId === runId && message.test(String(line.message)));
}

describe('direct ZeroMQ delivery with real agents', () => {
  before(async () => {
    await aws.provisioned();
    // A generous deadline: a claim on a loaded emulator must not look like a dead agent. The kill
    // tests wait for it on purpose.
    plane = controlPlane({
      clients: aws.clients,
      prefix: aws.prefix,
      workerCacheMs: 0,
      zmq: { keys: dispatcherKeys, deadlineMs: 5000 },
    });
    const specs = [
      ['z1', 10, 'file'],
      ['z2', 20, 'env'],
      ['z3', 5, 'env'],
    ] as const;
    const started = await Promise.all(
      specs.map(async ([workerId, priority, keyFrom]) => {
        const keys = zmq.curveKeyPair();
        return agents.start({
          aws,
          workerId,
          config: agentConfig(priority, keyFrom === 'file' ? keys.secretKey : null),
          ...(keyFrom === 'env' ? { env: { CLOVER_AGENT_ZMQ_SECRET_KEY: keys.secretKey } } : {}),
        });
      }),
    );
    await Promise.all(started.map((agent) => agent.waitForLog(/agent started/)));
    for (const agent of started) fleet.set(agent.workerId, agent);
  });

  after(async () => {
    await closer.closeAll();
    await plane?.close();
    for (const agent of fleet.values()) agent.signal('SIGTERM');
    for (const agent of fleet.values()) {
      const exit = await agent.waitForExit(20_000);
      assert.equal(exit.code, 0, agent.text);
      assert.ok(
        agent.lines().some((line) => line.message === 'zmq receiver closed'),
        'the intake was closed',
      );
    }
  });

  test('a ZMQ job is delivered over ZeroMQ (the agent logs its intake) and SUCCEEDED', async () => {
    const z1 = await lease('z1');
    assert.match(z1.endpoints.zmqAddress ?? '', /^tcp:\/\/127\.0\.0\.1:\d+$/);
    const jobId = await zmqJob(['z1']);
    const run = await fire(jobId);
    assert.equal(run.workerId, 'z1');
    assert.equal(run.fence, 1, 'acknowledged by the first candidate: the fence never moved');
    const done = await until(run.runId, isFinal);
    assert.equal(done.status, 'SUCCEEDED');
    assert.deepEqual(done.result, { by: 'z1', attempt: 1 });
    assert.equal(logsAbout(agent('z1'), run.runId, /^zmq intake: run accepted$/).length, 1);
    assert.deepEqual(await executions(run.runId), ['z1']);
  });

  test('a dispatcher whose key is not allowed delivers nothing over ZeroMQ; the run falls back to SQS, once', async () => {
    const intruder = controlPlane({
      clients: aws.clients,
      prefix: aws.prefix,
      workerCacheMs: 0,
      zmq: { keys: zmq.curveKeyPair(), deadlineMs: 500 },
    });
    try {
      // Straight through the transport: a forged envelope never reaches the agent.
      const forged = sampleEnvelope({
        runId: 'forged@2026-01-30T10:00:00Z',
        jobId: 'forged',
        handler: 'work',
      });
      await assert.rejects(
        intruder.zmqDelivery!.deliver({ kind: 'worker', worker: await lease('z1') }, forged),
        (error: unknown) => error instanceof CloverError && error.code === 'unavailable',
      );
      // Through the dispatcher: ZeroMQ times out, then SQS to the same worker's queue, fence raised.
      const jobId = await zmqJob(['z1']);
      const run = await fire(jobId, intruder);
      assert.equal(run.workerId, 'z1');
      assert.equal(run.fence, 2, 'the SQS fallback raised the fence');
      assert.ok(run.history.some((h) => h.note === 'delivery moved to z1 over SQS'));
      const done = await until(run.runId, isFinal);
      assert.equal(done.status, 'SUCCEEDED');
      assert.deepEqual(await executions(run.runId), ['z1']);
      const z1 = agent('z1');
      assert.equal(logsAbout(z1, run.runId, /^zmq intake/).length, 0, 'nothing arrived over ZeroMQ');
      assert.equal(z1.lines().filter((line) => line.runId === forged.runId).length, 0);
      assert.ok(
        z1.lines().some((line) => line.message === 'zmq connection refused'),
        'the refused key is logged',
      );
    } finally {
      await intruder.close();
    }
  });

  test('NULL, PLAIN, an unknown CURVE key and a bad secret key are refused and logged with the reason; the agent keeps serving', async () => {
    const z2 = agent('z2');
    const worker = await lease('z2');
    const stranger = zmq.curveKeyPair();
    const serverKey = worker.endpoints.zmqPublicKey ?? null;
    const attempts = [
      {},
      { plainUsername: 'dispatcher', plainPassword: 'guess' },
      { curveServerKey: serverKey, curvePublicKey: stranger.publicKey, curveSecretKey: stranger.secretKey },
      {
        curveServerKey: serverKey,
        curvePublicKey: dispatcherKeys.publicKey,
        curveSecretKey: zmq.curveKeyPair().secretKey,
      },
    ].map((options) => {
      const client = closer.add(
        new zmq.Dealer({ linger: 0, immediate: true, sendTimeout: 1000, ...options }),
      );
      client.connect(worker.endpoints.zmqAddress ?? '');
      return client;
    });
    const forged = sampleEnvelope({ runId: 'sneaky@2026-01-30T10:00:00Z', jobId: 'sneaky', handler: 'work' });
    for (const client of attempts) await assert.rejects(client.send(['dispatch', encodeFrame(forged)]));
    const reasons = () =>
      z2
        .lines()
        .filter((line) => line.message === 'zmq connection refused')
        .map((line) => ({ reason: String(line.reason), clientKey: line.clientKey }));
    for (const expected of [
      /^client (mechanism is not CURVE|hung up during the handshake)/,
      /^CURVE client key is not allowed$/,
      /^CURVE handshake did not verify/,
    ]) {
      await z2.waitForLog(
        (line) => line.message === 'zmq connection refused' && expected.test(String(line.reason)),
      );
    }
    assert.ok(
      reasons().some((r) => r.clientKey === stranger.publicKey),
      'the unknown key is named',
    );
    for (const client of attempts) client.close();
    assert.equal(
      z2.lines().filter((line) => line.runId === forged.runId).length,
      0,
      'nothing reached the intake',
    );
    // Still serving: a real ZMQ run goes through.
    const run = await fire(await zmqJob(['z2']));
    assert.equal(run.workerId, 'z2');
    assert.equal((await until(run.runId, isFinal)).status, 'SUCCEEDED');
    assert.equal(logsAbout(z2, run.runId, /^zmq intake: run accepted$/).length, 1, 'delivered over ZeroMQ');
    assert.ok(z2.running);
  });

  test('malformed, wrong-version and oversized frames are dropped with a log line; the agent keeps serving', async () => {
    const z1 = await lease('z1');
    const dealer = rawDealer(closer, z1, dispatcherKeys);
    const good = encodeFrame(sampleEnvelope({ handler: 'work' }));
    const frames: [string, Buffer][] = [
      ['dispatch', Buffer.from('not snappy at all')],
      ['dispatch', good.subarray(0, good.length - 7)],
      ['dispatch', compressSync(Buffer.from(JSON.stringify({ ...sampleEnvelope(), v: 99 })))],
      ['dispatch', Buffer.alloc(MAX_FRAME_BYTES + 1, 1)],
      ['launch', Buffer.from('x')],
    ];
    const before = agent('z1')
      .lines()
      .filter((line) => line.message === 'zmq message dropped').length;
    for (const frame of frames) await dealer.send(frame);
    const process = agent('z1');
    await process.waitForLog(
      () => process.lines().filter((line) => line.message === 'zmq message dropped').length >= before + 5,
      10_000,
    );
    assert.ok(process.running, 'still running');
    const run = await fire(await zmqJob(['z1']));
    assert.equal(run.fence, 1);
    assert.equal((await until(run.runId, isFinal)).status, 'SUCCEEDED');
    assert.equal(logsAbout(process, run.runId, /^zmq intake: run accepted$/).length, 1);
  });

  test('cancel travels over ZeroMQ and aborts the running run', async () => {
    const run = await fire(await zmqJob(['z1'], { sleepMs: 60_000 }));
    await until(run.runId, (r) => r.status === 'RUNNING');
    const started = Date.now();
    await plane.zmqDelivery!.cancel(await lease('z1'), run.runId);
    const done = await until(run.runId, isFinal);
    assert.equal(done.status, 'CANCELLED');
    assert.equal(done.cancelRequested, undefined, 'the record never asked: ZeroMQ did');
    assert.ok(logsAbout(agent('z1'), run.runId, /^zmq intake: cancel$/).length === 1);
    console.log(`cancelled over ZeroMQ in ${Date.now() - started} ms`);
  });

  test('a target frozen mid-send and thawed after the run moved on: its late claim is refused by the fence', async () => {
    const jobId = await zmqJob(['z1', 'z2']);
    const warm = await fire(jobId); // a live connection to z1, so the next send is in flight, not queued
    assert.equal(warm.workerId, 'z1');
    await until(warm.runId, isFinal);
    const z1 = agent('z1');
    z1.signal('SIGSTOP');
    let run: Run;
    try {
      run = await fire(jobId);
    } finally {
      z1.signal('SIGCONT');
    }
    assert.equal(run.workerId, 'z2', 'no ack from z1 within the deadline: the next candidate');
    assert.equal(run.fence, 2);
    await z1.waitForLog((line) => line.runId === run.runId && line.message === 'zmq intake: claim refused');
    const done = await until(run.runId, isFinal);
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(done.workerId, 'z2');
    assert.deepEqual(await executions(run.runId), ['z2'], 'executed once, by z2');
    assert.equal(logsAbout(z1, run.runId, /^run started$/).length, 0);
  });

  test('the target agent killed (SIGKILL) in the middle of a send: delivered once by the next path, never twice', async () => {
    const jobId = await zmqJob(['z2', 'z3']);
    const warm = await fire(jobId);
    assert.equal(warm.workerId, 'z3');
    await until(warm.runId, isFinal);
    const z3 = agent('z3');
    const port = Number(new URL((await lease('z3')).endpoints.zmqAddress ?? '').port);
    z3.signal('SIGSTOP'); // the frame reaches z3's socket buffer; z3 never answers
    const unread = unreadBytes(port);
    const firing = plane.dispatcher.fire({ jobId, trigger: 'MANUAL' });
    // In the middle of the send: the frame is in the stopped z3's socket, its acknowledgement awaited.
    await eventually(() => unreadBytes(port) > unread, 'the frame in z3’s socket buffer', 60_000);
    z3.signal('SIGKILL');
    assert.equal((await z3.exited).signal, 'SIGKILL');
    const outcome = await firing;
    assert.equal(outcome.kind, 'dispatched');
    const run = outcome.kind === 'dispatched' ? outcome.runs[0]! : assert.fail('not dispatched');
    assert.equal(run.workerId, 'z2');
    assert.equal(run.fence, 2);
    const done = await until(run.runId, isFinal);
    assert.equal(done.status, 'SUCCEEDED');
    assert.deepEqual(await executions(run.runId), ['z2'], 'executed once, by z2');
    assert.ok(
      done.history.some((h) => h.note === 'delivery moved to z2'),
      `moved from z3 to z2 over ZeroMQ: ${JSON.stringify(done.history)}`,
    );
    fleet.delete('z3');
  });
});
