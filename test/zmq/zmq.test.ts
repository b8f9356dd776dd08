/**
 * Direct ZeroMQ delivery (issue 5) over real sockets on loopback: envelopes and acknowledgements from
 * ZmqDelivery to ZmqReceiver, and CURVE with a ZAP allow-list. Malformed input, deadlines, the
 * dispatcher over ZeroMQ and descriptor hygiene: zmq-runs.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as zmq from 'zeromq';
import { encodeFrame } from '../../core/adapters/envelope-codec';
import { ZmqDelivery } from '../../core/adapters/zmq-delivery';
import { type ControlMessage, cancelOf, z85Encode } from '../../core/adapters/zmq-protocol';
import { ZmqReceiver } from '../../core/adapters/zmq-receiver';
import type { DispatchEnvelope } from '../../core/envelope';
import { CloverError, PayloadTooLargeError, ValidationError } from '../../core/errors';
import { sampleEnvelope } from '../../core/testing/contracts/fixtures';
import { MemoryDelivery } from '../../core/testing/memory-stores';
import { closer, delivery, dispatcherKeys, isUnavailable } from './dispatcher-side';
import { eventually, liveWorker, rawDealer, startReceiver } from './helpers';

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
