/**
 * Direct ZeroMQ delivery (issue 5) over real sockets on loopback: CURVE with a ZAP allow-list,
 * acknowledgements, malformed input, deadlines, fallback, and descriptor hygiene.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { compressSync } from 'snappy';
import * as zmq from 'zeromq';
import { encodeFrame } from '../../core/adapters/envelope-codec';
import { ZmqDelivery } from '../../core/adapters/zmq-delivery';
import {
  type ControlMessage,
  cancelOf,
  decodeReply,
  encodeSmall,
  z85Encode,
} from '../../core/adapters/zmq-protocol';
import { ZmqReceiver } from '../../core/adapters/zmq-receiver';
import { Dispatcher } from '../../core/dispatch';
import { type DispatchEnvelope, MAX_FRAME_BYTES } from '../../core/envelope';
import { CloverError, PayloadTooLargeError, StaleFenceError, ValidationError } from '../../core/errors';
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
import {
  Closer,
  eventually,
  liveWorker,
  openFds,
  rawDealer,
  recordingLogger,
  startReceiver,
} from './helpers';

const dispatcherKeys = zmq.curveKeyPair();
const closer = new Closer();
afterEach(() => closer.closeAll());

/**
 * A dispatcher-side transport. The acknowledgement deadline defaults to 30 s: a failure bound for a
 * loaded machine where a send should succeed; tests of deadlines pass their own short one.
 */
function delivery(options: Partial<ConstructorParameters<typeof ZmqDelivery>[0]> = {}): ZmqDelivery {
  return closer.add(
    new ZmqDelivery({ keys: dispatcherKeys, log: silentLogger, deadlineMs: 30_000, ...options }),
  );
}

function isUnavailable(reason: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof CloverError, `a CloverError, got ${String(error)}`);
    assert.equal(error.code, 'unavailable');
    assert.equal(error.retryable, true);
    assert.equal(error.details.reason, reason, error.message);
    return true;
  };
}

describe('ZmqDelivery → ZmqReceiver', () => {
  test('a delivery is acknowledged only after the agent took it, and arrives unchanged', async () => {
    let accepted = false;
    const received: DispatchEnvelope[] = [];
    const agent = await startReceiver(closer, {
      allowedClientKeys: [dispatcherKeys.publicKey],
      onEnvelope: async (envelope) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        received.push(envelope);
        accepted = true;
      },
    });
    const envelope = sampleEnvelope({ payload: { text: 'héllo', nested: { list: [1, null, true] } } });
    await delivery().deliver({ kind: 'worker', worker: agent.worker }, envelope);
    assert.equal(accepted, true, 'acknowledged after onEnvelope resolved');
    assert.deepEqual(received, [envelope]);
  });

  test('the agent refusing a run (onEnvelope throws) is a retryable nack naming the reason', async () => {
    const agent = await startReceiver(closer, {
      allowedClientKeys: [dispatcherKeys.publicKey],
      onEnvelope: async () => {
        throw new Error('draining: taking nothing new');
      },
    });
    const transport = delivery();
    await assert.rejects(
      transport.deliver({ kind: 'worker', worker: agent.worker }, sampleEnvelope()),
      (error: unknown) => isUnavailable('nack')(error) && /draining/.test((error as Error).message),
    );
    assert.equal(transport.openConnections, 1, 'a nack keeps the connection: the agent answered');
  });

  test('many sends in flight on one connection are answered by runId, whatever order the agent finishes in', async () => {
    const agent = await startReceiver(closer, {
      allowedClientKeys: [dispatcherKeys.publicKey],
      onEnvelope: async (envelope) => {
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 20)));
        if (envelope.payload === 'refuse') throw new Error('no');
      },
    });
    const transport = delivery();
    const target = { kind: 'worker', worker: agent.worker } as const;
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        transport.deliver(target, sampleEnvelope({ payload: i === 17 ? 'refuse' : i })),
      ),
    );
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
    assert.deepEqual(failed, [17]);
    assert.equal(transport.openConnections, 1);
  });

  test('cancel travels over the same connection and is acknowledged after onControl', async () => {
    const controls: ControlMessage[] = [];
    const agent = await startReceiver(closer, {
      allowedClientKeys: [dispatcherKeys.publicKey],
      onControl: async (message) => {
        controls.push(message);
      },
    });
    const transport = delivery();
    await transport.deliver({ kind: 'worker', worker: agent.worker }, sampleEnvelope({ runId: 'r-1' }));
    await transport.cancel(agent.worker, 'r-1');
    assert.deepEqual(controls, [cancelOf('r-1')]);
    assert.equal(transport.openConnections, 1);
  });

  test('a worker without a ZeroMQ endpoint, and any pool, go to the fallback', async () => {
    const fallback = new MemoryDelivery();
    const transport = delivery({ fallback });
    const sqsOnly = liveWorker({ queueUrl: 'memory://w' });
    const halfConfigured = liveWorker({ zmqAddress: 'tcp://127.0.0.1:1' }); // no public key
    await transport.deliver({ kind: 'worker', worker: sqsOnly }, sampleEnvelope({ runId: 'a' }));
    await transport.deliver({ kind: 'worker', worker: halfConfigured }, sampleEnvelope({ runId: 'b' }));
    await transport.deliver({ kind: 'pool', pool: 'default' }, sampleEnvelope({ runId: 'c' }));
    assert.deepEqual(
      fallback.delivered.map((d) => d.envelope.runId),
      ['a', 'b', 'c'],
    );
    assert.equal(transport.openConnections, 0);
    await assert.rejects(
      delivery().deliver({ kind: 'pool', pool: 'default' }, sampleEnvelope()),
      (error: unknown) => error instanceof CloverError && error.code === 'no_worker',
    );
  });

  test('an oversized envelope is refused before anything is sent', async () => {
    const agent = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
    const transport = delivery();
    const big = sampleEnvelope({ payload: { blob: 'x'.repeat(300 * 1024) } });
    await assert.rejects(
      transport.deliver({ kind: 'worker', worker: agent.worker }, big),
      PayloadTooLargeError,
    );
    assert.equal(transport.openConnections, 0);
    assert.deepEqual(agent.received, []);
  });

  test('a wildcard bind is advertised with the host dispatchers can reach', async () => {
    const agent = await startReceiver(closer, {
      address: 'tcp://0.0.0.0:*',
      allowedClientKeys: [dispatcherKeys.publicKey],
    });
    const port = agent.receiver.endpoint.split(':').pop();
    assert.match(agent.receiver.endpoint, /^tcp:\/\/0\.0\.0\.0:\d+$/);
    assert.equal(agent.receiver.advertise('10.1.2.3'), `tcp://10.1.2.3:${port}`);
    const worker = liveWorker({
      zmqAddress: agent.receiver.advertise('127.0.0.1'),
      zmqPublicKey: agent.receiver.publicKey,
    });
    await delivery().deliver({ kind: 'worker', worker }, sampleEnvelope());
    assert.equal(agent.received.length, 1);
  });

  test('keys that are not Z85 CURVE keys are refused at construction, naming the field', () => {
    assert.throws(
      () => new ZmqDelivery({ keys: { publicKey: 'short', secretKey: dispatcherKeys.secretKey } }),
      (error: unknown) => error instanceof ValidationError && error.issues[0]?.field === 'keys.publicKey',
    );
    assert.throws(
      () =>
        new ZmqReceiver({
          address: 'tcp://127.0.0.1:*',
          keys: zmq.curveKeyPair(),
          allowedClientKeys: ['not a key'],
          onEnvelope: async () => {},
        }),
      (error: unknown) =>
        error instanceof ValidationError && error.issues[0]?.field === 'allowedClientKeys.0',
    );
  });
});

describe('CURVE authentication', () => {
  test('a dispatcher whose key is not allowed delivers nothing: refused, logged, and the send times out', async () => {
    const agent = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
    const stranger = zmq.curveKeyPair();
    const transport = delivery({ keys: stranger, deadlineMs: 300 });
    await assert.rejects(
      transport.deliver({ kind: 'worker', worker: agent.worker }, sampleEnvelope()),
      isUnavailable('deadline'),
    );
    assert.deepEqual(agent.received, []);
    const refusal = agent.log.lines.find((l) => l.message === 'zmq connection refused');
    assert.ok(refusal, 'the refusal is logged');
    assert.equal(refusal.fields.clientKey, stranger.publicKey);
    assert.equal(refusal.fields.reason, 'CURVE client key is not allowed');
    assert.equal(transport.openConnections, 0, 'the failed connection is closed and forgotten');
  });

  test('a client without CURVE, or expecting another server key, gets nothing through', async () => {
    const agent = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
    const frame = encodeFrame(sampleEnvelope());
    const plain = rawDealer(closer, agent.worker, null);
    await assert.rejects(plain.send(['dispatch', frame]), /EAGAIN|timed out|Operation was not possible/i);
    // Allowed client key, but the wrong server key: the handshake cannot complete.
    const wrongServer = liveWorker({
      zmqAddress: agent.worker.endpoints.zmqAddress,
      zmqPublicKey: zmq.curveKeyPair().publicKey,
    });
    await assert.rejects(
      delivery({ deadlineMs: 300 }).deliver({ kind: 'worker', worker: wrongServer }, sampleEnvelope()),
      isUnavailable('deadline'),
    );
    assert.deepEqual(agent.received, []);
  });

  test('NULL, PLAIN, an unknown CURVE key and a bad secret key: each refused and logged with its reason, once a minute; the receiver keeps serving', async () => {
    const stranger = zmq.curveKeyPair();
    const clients: [
      string,
      (agent: Awaited<ReturnType<typeof startReceiver>>) => ConstructorParameters<typeof zmq.Dealer>[0],
      RegExp,
    ][] = [
      ['NULL', () => ({}), /^client (mechanism is not CURVE|hung up during the handshake)/],
      [
        'PLAIN',
        () => ({ plainUsername: 'dispatcher', plainPassword: 'guess' }),
        /^client (mechanism is not CURVE|hung up during the handshake)/,
      ],
      [
        'unknown key',
        (agent) => ({
          curveServerKey: agent.worker.endpoints.zmqPublicKey ?? null,
          curvePublicKey: stranger.publicKey,
          curveSecretKey: stranger.secretKey,
        }),
        /^CURVE client key is not allowed$/,
      ],
      [
        'bad secret',
        (agent) => ({
          curveServerKey: agent.worker.endpoints.zmqPublicKey ?? null,
          curvePublicKey: dispatcherKeys.publicKey,
          curveSecretKey: zmq.curveKeyPair().secretKey,
        }),
        /^CURVE handshake did not verify/,
      ],
    ];
    for (const [name, options, reason] of clients) {
      const agent = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
      const client = closer.add(
        new zmq.Dealer({ linger: 0, immediate: true, sendTimeout: 500, ...options(agent) }),
      );
      client.connect(agent.worker.endpoints.zmqAddress ?? '');
      await assert.rejects(
        client.send(['dispatch', encodeFrame(sampleEnvelope())]),
        `${name}: nothing is sent`,
      );
      const refusals = () => agent.log.lines.filter((l) => l.message === 'zmq connection refused');
      await eventually(() => refusals().length > 0, `${name}: a refusal is logged`);
      // Two more clients of the same kind (and whatever reconnects the first makes): refused too, yet the
      // log keeps one line per reason.
      const refused = agent.receiver.refusedHandshakes;
      for (const _ of [1, 2]) {
        closer
          .add(new zmq.Dealer({ linger: 0, immediate: true, ...options(agent) }))
          .connect(agent.worker.endpoints.zmqAddress ?? '');
      }
      await eventually(
        () => agent.receiver.refusedHandshakes >= refused + 2,
        `${name}: two more refusals counted`,
      );
      const reasons = refusals().map((l) => String(l.fields.reason));
      assert.ok(
        reasons.every((r) => reason.test(r)),
        `${name}: ${reasons.join('; ')}`,
      );
      assert.equal(
        new Set(reasons).size,
        reasons.length,
        `${name}: each reason logged once: ${reasons.join('; ')}`,
      );
      if (name === 'unknown key') assert.equal(refusals()[0]?.fields.clientKey, stranger.publicKey);
      assert.deepEqual(agent.received, [], `${name}: nothing received`);
      client.close();
      await delivery().deliver({ kind: 'worker', worker: agent.worker }, sampleEnvelope());
      assert.equal(agent.received.length, 1, `${name}: the receiver still serves the allowed dispatcher`);
    }
  });

  test('the allow-list can be replaced (key rotation) without restarting the receiver', async () => {
    const next = zmq.curveKeyPair();
    const agent = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
    agent.receiver.allow([next.publicKey]);
    await delivery({ keys: next }).deliver({ kind: 'worker', worker: agent.worker }, sampleEnvelope());
    assert.equal(agent.received.length, 1);
  });

  test('receivers in one process keep their own allow-lists', async () => {
    const other = zmq.curveKeyPair();
    const mine = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
    const theirs = await startReceiver(closer, { allowedClientKeys: [other.publicKey] });
    const ours = delivery({ deadlineMs: 200 });
    await ours.deliver({ kind: 'worker', worker: mine.worker }, sampleEnvelope());
    await assert.rejects(
      ours.deliver({ kind: 'worker', worker: theirs.worker }, sampleEnvelope()),
      isUnavailable('deadline'),
    );
    await delivery({ keys: other }).deliver({ kind: 'worker', worker: theirs.worker }, sampleEnvelope());
    assert.equal(mine.received.length, 1);
    assert.equal(theirs.received.length, 1);
  });

  test('z85Encode matches the Z85 keys libzmq produces', () => {
    // RFC 32 test vector.
    const bytes = Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    assert.equal(z85Encode(bytes), 'HelloWorld');
  });
});

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
