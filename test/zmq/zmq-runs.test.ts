/**
 * Direct ZeroMQ delivery (issue 5) over real sockets on loopback: malformed input dropped with a log
 * line, deadlines, the dispatcher over ZeroMQ with its fallback, descriptor hygiene, and the Delivery
 * contract. Envelopes, acknowledgements and CURVE: zmq.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { compressSync } from 'snappy';
import { encodeFrame } from '../../core/adapters/envelope-codec';
import { ZmqDelivery } from '../../core/adapters/zmq-delivery';
import { cancelOf, decodeReply, encodeSmall } from '../../core/adapters/zmq-protocol';
import { Dispatcher } from '../../core/dispatch';
import { MAX_FRAME_BYTES } from '../../core/envelope';
import { CloverError, StaleFenceError } from '../../core/errors';
import { RunExecution } from '../../core/execution';
import { silentLogger } from '../../core/log';
import { JobSchema, WorkerRegistrationSchema } from '../../core/model';
import { systemClock } from '../../core/ports';
import { deliveryContract } from '../../core/testing/contracts/delivery';
import { sampleEnvelope } from '../../core/testing/contracts/fixtures';
import {
  MemoryDelivery,
  MemoryJobStore,
  MemoryLockStore,
  MemoryRunLedger,
  MemoryWorkerRegistry,
} from '../../core/testing/memory-stores';
import { WorkerDirectory } from '../../core/worker-directory';
import { closer, delivery, dispatcherKeys, isUnavailable } from './dispatcher-side';
import {
  Closer,
  eventually,
  liveWorker,
  openFds,
  rawDealer,
  recordingLogger,
  startReceiver,
} from './helpers';

describe('bad frames are dropped with a log line; the receiver keeps serving', () => {
  const envelope = sampleEnvelope();
  const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');
  const cases: readonly [string, (Buffer | string)[], RegExp][] = [
    ['truncated frame', ['dispatch', encodeFrame(envelope).subarray(0, 20)], /Snappy|JSON/],
    ['garbage bytes', ['dispatch', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02])], /length header/],
    ['garbage that claims a small length', ['dispatch', Buffer.from('\x05hello world')], /Snappy|JSON/],
    ['wrong envelope version', ['dispatch', compressSync(json({ ...envelope, v: 2 }))], /version 2 is not 1/],
    [
      'oversized frame',
      ['dispatch', Buffer.alloc(MAX_FRAME_BYTES + 1, 7)],
      new RegExp(`frame of ${MAX_FRAME_BYTES + 1} bytes is over ${MAX_FRAME_BYTES}`),
    ],
    [
      'a frame that would decompress past the limit',
      ['dispatch', Buffer.from([0x80, 0x80, 0x80, 0x80, 0x0f, 0x00])],
      /would decompress to \d+ bytes/,
    ],
    ['not an envelope', ['dispatch', compressSync(json({ v: 1, type: 'dispatch', runId: 'x' }))], /jobId/],
    ['empty body', ['dispatch', Buffer.alloc(0)], /empty frame/],
    ['unknown kind', ['exec', compressSync(json({ command: 'rm -rf /' }))], /unknown message kind "exec"/],
    ['one frame only', [encodeFrame(envelope)], /expected 2 frames/],
    ['three frames', ['dispatch', encodeFrame(envelope), 'extra'], /expected 2 frames/],
    ['malformed control message', ['control', compressSync(json({ v: 1, type: 'reboot' }))], /control/],
  ];

  for (const [name, frames, reason] of cases) {
    test(name, async () => {
      const agent = await startReceiver(closer, {
        allowedClientKeys: [dispatcherKeys.publicKey],
        onControl: async () => assert.fail('no control message should get through'),
      });
      const dealer = rawDealer(closer, agent.worker, dispatcherKeys);
      await dealer.send(frames);
      await eventually(
        () => agent.log.lines.some((l) => l.message === 'zmq message dropped'),
        'the drop line',
      );
      const line = agent.log.lines.find((l) => l.message === 'zmq message dropped');
      assert.equal(line?.level, 'warn');
      assert.match(String(line?.fields.reason), reason);
      assert.equal(agent.received.length, 0, 'nothing reached onEnvelope');
      // Still serving: the same connection, then a fresh one.
      await dealer.send(['dispatch', encodeFrame(envelope)]);
      const [kind, body] = await dealer.receive();
      assert.equal(kind?.toString(), 'dispatch');
      assert.deepEqual(decodeReply(body!), { v: 1, type: 'ack', runId: envelope.runId });
      await delivery().deliver({ kind: 'worker', worker: agent.worker }, sampleEnvelope({ runId: 'next' }));
      assert.deepEqual(
        agent.received.map((e) => e.runId),
        [envelope.runId, 'next'],
      );
    });
  }

  test('a frame far over the limit costs the sender its connection, not the receiver', async () => {
    const agent = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
    const dealer = rawDealer(closer, agent.worker, dispatcherKeys);
    await dealer.send(['dispatch', Buffer.alloc(4 * 1024 * 1024, 1)]);
    await delivery().deliver({ kind: 'worker', worker: agent.worker }, sampleEnvelope({ runId: 'after' }));
    assert.deepEqual(
      agent.received.map((e) => e.runId),
      ['after'],
    );
  });

  test('control messages without an onControl handler are nacked', async () => {
    const agent = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
    const dealer = rawDealer(closer, agent.worker, dispatcherKeys);
    await dealer.send(['control', encodeSmall(cancelOf('r-9'))]);
    const [, body] = await dealer.receive();
    const reply = decodeReply(body!);
    assert.equal(reply.type, 'nack');
    assert.equal(reply.runId, 'r-9');
  });
});

describe('deadlines', () => {
  test('the receiver closed in the middle of a send: no ack, `unavailable` at the deadline', async () => {
    let agent: Awaited<ReturnType<typeof startReceiver>> | undefined;
    agent = await startReceiver(closer, {
      allowedClientKeys: [dispatcherKeys.publicKey],
      onEnvelope: async () => {
        await agent?.receiver.close(); // the agent dies after reading the frame, before answering
      },
    });
    const transport = delivery({ deadlineMs: 200 });
    const started = Date.now();
    await assert.rejects(
      transport.deliver({ kind: 'worker', worker: agent.worker }, sampleEnvelope()),
      isUnavailable('deadline'),
    );
    assert.ok(Date.now() - started >= 190, 'waited for the deadline');
    assert.equal(transport.openConnections, 0, 'the connection was evicted and closed');
    assert.ok(agent.log.lines.some((l) => l.message === 'zmq reply not sent: receiver closed'));
  });

  test('no agent listening at all: `unavailable` at the deadline, nothing queued for later', async () => {
    const agent = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
    const worker = agent.worker;
    await agent.receiver.close();
    const transport = delivery({ deadlineMs: 150 });
    await assert.rejects(
      transport.deliver({ kind: 'worker', worker }, sampleEnvelope()),
      isUnavailable('deadline'),
    );
    assert.equal(transport.openConnections, 0);
  });

  test('after close(), deliveries fail `unavailable` and in-flight ones are released', async () => {
    const agent = await startReceiver(closer, {
      allowedClientKeys: [dispatcherKeys.publicKey],
      onEnvelope: () => new Promise((resolve) => setTimeout(resolve, 300)),
    });
    const transport = delivery({ deadlineMs: 2000 });
    const inFlight = transport.deliver({ kind: 'worker', worker: agent.worker }, sampleEnvelope());
    await eventually(() => agent.receiver.inFlight === 1, 'the agent to be working');
    await transport.close();
    await assert.rejects(inFlight, isUnavailable('closed'));
    await assert.rejects(
      transport.deliver({ kind: 'worker', worker: agent.worker }, sampleEnvelope()),
      (error: unknown) => error instanceof CloverError && error.code === 'unavailable',
    );
  });
});

describe('with the dispatcher', () => {
  test('the first agent dies mid-send: the run goes to the next candidate with a raised fence; only that one can claim', async () => {
    const jobs = new MemoryJobStore();
    const locks = new MemoryLockStore();
    const runs = new MemoryRunLedger(locks);
    const registry = new MemoryWorkerRegistry();
    // Long enough for the first agent to read the envelope on a loaded machine; it never acks.
    const transport = delivery({ deadlineMs: 3000, fallback: new MemoryDelivery() });
    const dispatcher = new Dispatcher({
      jobs,
      runs,
      locks,
      workers: new WorkerDirectory(registry, 0),
      delivery: transport,
      clock: systemClock,
      log: silentLogger,
      alerts: { raise: async () => {} },
    });
    const execution = new RunExecution({ jobs, runs, dispatcher, clock: systemClock, log: silentLogger });
    let first: Awaited<ReturnType<typeof startReceiver>> | undefined;
    first = await startReceiver(closer, {
      allowedClientKeys: [dispatcherKeys.publicKey],
      onEnvelope: async (envelope) => {
        first?.received.push(envelope);
        await first?.receiver.close();
      },
    });
    const second = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
    for (const [agent, workerId, priority] of [
      [first, 'a', 1],
      [second, 'b', 2],
    ] as const) {
      await registry.register(
        WorkerRegistrationSchema.parse({
          workerId,
          host: `${workerId}.local`,
          handlers: ['reports.daily'],
          priority,
          endpoints: agent.worker.endpoints,
        }),
        Date.now(),
        600_000,
      );
    }
    await jobs.put(
      JobSchema.parse({
        spec: { jobId: 'report', handler: 'reports.daily', routing: 'FIRST' },
        version: 1,
        createdAt: Date.now(),
        updatedAt: Date.now(),
        syncState: 'IN_SYNC',
      }),
      0,
    );
    const outcome = await dispatcher.fire({ jobId: 'report', scheduledTime: '2026-01-30T10:00:00Z' });
    assert.equal(outcome.kind, 'dispatched');
    const run = outcome.kind === 'dispatched' ? outcome.runs[0] : undefined;
    assert.equal(run?.workerId, 'b');
    const [stale] = first.received;
    const [current] = second.received;
    assert.ok(stale && current, 'both agents read an envelope');
    assert.ok(current.fence > stale.fence, 'the move raised the fence');
    await assert.rejects(execution.claim(stale, 'a'), StaleFenceError);
    const claimed = await execution.claim(current, 'b');
    assert.equal(claimed.status, 'RUNNING');
    assert.equal(claimed.workerId, 'b');
  });
});

describe('descriptors', () => {
  test('10,000 deliveries over one reused connection leak no descriptors', async () => {
    const agent = await startReceiver(closer, {
      allowedClientKeys: [dispatcherKeys.publicKey],
      onEnvelope: async () => {},
    });
    const transport = delivery({ deadlineMs: 5000 });
    const target = { kind: 'worker', worker: agent.worker } as const;
    const envelope = sampleEnvelope();
    await transport.deliver(target, envelope); // warm: connection and handshake
    const before = openFds();
    const window = 16;
    for (let sent = 0; sent < 10_000; sent += window) {
      await Promise.all(
        Array.from({ length: window }, (_, i) =>
          transport.deliver(target, { ...envelope, runId: `run-${sent + i}` }),
        ),
      );
    }
    const after = openFds();
    assert.equal(transport.openConnections, 1);
    if (before >= 0) assert.ok(after - before <= 4, `descriptors before ${before}, after ${after}`);
  });

  test('receivers started and closed 50 times leave no descriptors behind', async () => {
    const cycle = async (): Promise<void> => {
      const local = new Closer();
      const agent = await startReceiver(local, { allowedClientKeys: [dispatcherKeys.publicKey] });
      await local
        .add(new ZmqDelivery({ keys: dispatcherKeys, log: silentLogger }))
        .deliver({ kind: 'worker', worker: agent.worker }, sampleEnvelope());
      await local.closeAll();
    };
    await cycle();
    const before = openFds();
    for (let i = 0; i < 50; i++) await cycle();
    await eventually(
      () => openFds() - before <= 4,
      `descriptors back near ${before}, now ${openFds()}`,
      3000,
    );
  });

  test('connections opened and evicted (agents that time out) are closed, not leaked', async () => {
    const transport = delivery({ deadlineMs: 20 });
    const agent = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
    const dead = liveWorker({
      zmqAddress: 'tcp://127.0.0.1:1',
      zmqPublicKey: agent.worker.endpoints.zmqPublicKey,
    });
    await assert.rejects(transport.deliver({ kind: 'worker', worker: dead }, sampleEnvelope()));
    const before = openFds();
    for (let i = 0; i < 100; i++) {
      await assert.rejects(transport.deliver({ kind: 'worker', worker: dead }, sampleEnvelope()));
    }
    await eventually(() => openFds() - before <= 4, 'descriptors to be released', 3000);
    assert.equal(transport.openConnections, 0);
  });
});

// The Delivery contract, as every transport passes it: worker targets over ZeroMQ, pools through the fallback.
const contractCloser = new Closer();
after(() => contractCloser.closeAll());
deliveryContract('ZmqDelivery (ZeroMQ to workers, MemoryDelivery for pools)', async () => {
  const fallback = new MemoryDelivery();
  const agent = await startReceiver(contractCloser, { allowedClientKeys: [dispatcherKeys.publicKey] });
  const transport = contractCloser.add(
    new ZmqDelivery({ keys: dispatcherKeys, fallback, log: recordingLogger() }),
  );
  const worker = { kind: 'worker', worker: agent.worker } as const;
  return {
    delivery: transport,
    pool: { kind: 'pool', pool: 'default' },
    worker,
    async received(target) {
      if (target.kind === 'worker') return agent.received.splice(0);
      return fallback.delivered.splice(0).map((d) => d.envelope);
    },
  };
});
