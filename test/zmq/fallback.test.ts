/**
 * The dispatcher's side of ZeroMQ delivery in memory (ARCHITECTURE.md, Deliver): a ZMQ job's
 * candidates over the direct delivery, then SQS to the first candidate (fence raised), and SQS jobs
 * untouched. Plus the agent config's `zmq:` section.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as zmq from 'zeromq';
import { Dispatcher } from '../../core/dispatch';
import type { DispatchEnvelope } from '../../core/envelope';
import { CloverError } from '../../core/errors';
import { RunExecution } from '../../core/execution';
import { silentLogger } from '../../core/log';
import { type DeliveryKinds, JobSchema, WorkerRegistrationSchema } from '../../core/model';
import { type Delivery, type DeliveryTarget, systemClock } from '../../core/ports';
import {
  MemoryDelivery,
  MemoryJobStore,
  MemoryLockStore,
  MemoryRunLedger,
  MemoryWorkerRegistry,
} from '../../core/testing/memory-stores';
import { WorkerDirectory } from '../../core/worker-directory';
import { dispatcherZmq, readConfig } from '../../functions/config';
import { ConfigError, parseAgentConfig } from '../../worker-agent/config';
import { curvePublicKey } from '../../worker-agent/zmq-intake';

const unavailable = () =>
  new CloverError('unavailable', 'no acknowledgement within 500 ms', { retryable: true });

async function setup(delivery: (typeof DeliveryKinds)[number], direct: Delivery) {
  const jobs = new MemoryJobStore();
  const locks = new MemoryLockStore();
  const runs = new MemoryRunLedger(locks);
  const registry = new MemoryWorkerRegistry();
  const sqs = new MemoryDelivery();
  const dispatcher = new Dispatcher({
    jobs,
    runs,
    locks,
    workers: new WorkerDirectory(registry, 0),
    delivery: sqs,
    directDelivery: direct,
    clock: systemClock,
    log: silentLogger,
    alerts: { raise: async () => {} },
  });
  const execution = new RunExecution({ jobs, runs, dispatcher, clock: systemClock, log: silentLogger });
  for (const [workerId, priority] of [
    ['a', 1],
    ['b', 2],
  ] as const) {
    await registry.register(
      WorkerRegistrationSchema.parse({
        workerId,
        host: `${workerId}.local`,
        handlers: ['h'],
        priority,
        endpoints: { queueUrl: `q-${workerId}`, zmqAddress: `tcp://${workerId}:5555`, zmqPublicKey: 'k' },
      }),
      Date.now(),
      600_000,
    );
  }
  await jobs.put(
    JobSchema.parse({
      spec: { jobId: 'j', handler: 'h', routing: 'FAILOVER', delivery },
      version: 1,
      createdAt: Date.now(),
      updatedAt: Date.now(),
      syncState: 'IN_SYNC',
    }),
    0,
  );
  return { dispatcher, execution, runs, sqs };
}

/** A direct delivery that fails every send, recording (worker, fence) of each. */
function failingDirect(onSend?: (envelope: DispatchEnvelope) => Promise<void>) {
  const sent: string[] = [];
  const delivery: Delivery = {
    async deliver(target: DeliveryTarget, envelope: DispatchEnvelope) {
      sent.push(`${target.kind === 'worker' ? target.worker.workerId : target.pool}#${envelope.fence}`);
      await onSend?.(envelope);
      throw unavailable();
    },
  };
  return { delivery, sent };
}

describe('ZMQ jobs: the next candidate, then SQS', () => {
  test('every ZeroMQ candidate failed: SQS to the first candidate, with the fence raised again', async () => {
    const direct = failingDirect();
    const { dispatcher, sqs } = await setup('ZMQ', direct.delivery);
    const outcome = await dispatcher.fire({ jobId: 'j', scheduledTime: '2026-01-30T10:00:00Z' });
    assert.equal(outcome.kind, 'dispatched');
    const run = outcome.kind === 'dispatched' ? outcome.runs[0]! : assert.fail();
    assert.deepEqual(direct.sent, ['a#1', 'b#2']);
    assert.equal(sqs.delivered.length, 1);
    const [viaSqs] = sqs.delivered;
    assert.equal(viaSqs?.target.kind === 'worker' && viaSqs.target.worker.workerId, 'a');
    assert.equal(viaSqs?.envelope.fence, 3);
    assert.equal(run.workerId, 'a');
    assert.equal(run.fence, 3);
    assert.equal(run.history.at(-1)?.note, 'delivery moved to a over SQS');
  });

  test('SQS failing too: the run goes back by policy (NO_WORKER without retries)', async () => {
    const { dispatcher, sqs } = await setup('ZMQ', failingDirect().delivery);
    sqs.failNext(unavailable());
    const outcome = await dispatcher.fire({ jobId: 'j', scheduledTime: '2026-01-30T10:00:00Z' });
    assert.equal(outcome.kind, 'no_worker');
    assert.equal(outcome.kind === 'no_worker' && outcome.run.status, 'NO_WORKER');
  });

  test('a candidate that claimed before acknowledging keeps the run: no move, no second delivery', async () => {
    // The agent took the run (claimed with fence 1), then its acknowledgement never came.
    const holder: { execution?: RunExecution } = {};
    const direct = failingDirect(async (envelope) => {
      await holder.execution!.claim(envelope, 'a');
    });
    const { dispatcher, execution, sqs } = await setup('ZMQ', direct.delivery);
    holder.execution = execution;
    const outcome = await dispatcher.fire({ jobId: 'j', scheduledTime: '2026-01-30T10:00:00Z' });
    assert.equal(outcome.kind, 'dispatched');
    const run = outcome.kind === 'dispatched' ? outcome.runs[0]! : assert.fail();
    assert.equal(run.status, 'RUNNING');
    assert.equal(run.workerId, 'a');
    assert.equal(run.fence, 1);
    assert.deepEqual(direct.sent, ['a#1']);
    assert.equal(sqs.delivered.length, 0);
  });

  test('SQS jobs never use the direct delivery', async () => {
    const direct = failingDirect();
    const { dispatcher, sqs } = await setup('SQS', direct.delivery);
    const outcome = await dispatcher.fire({ jobId: 'j', scheduledTime: '2026-01-30T10:00:00Z' });
    assert.equal(outcome.kind, 'dispatched');
    assert.deepEqual(direct.sent, []);
    assert.equal(sqs.delivered.length, 1);
    assert.equal(outcome.kind === 'dispatched' && outcome.runs[0]?.fence, 1);
  });
});

describe('the agent config `zmq:` section', () => {
  const keys = zmq.curveKeyPair();
  const dispatcher = zmq.curveKeyPair().publicKey;
  const section = (lines: string[]) =>
    [
      'zmq:',
      '  bind: tcp://0.0.0.0:5555',
      `  allowedDispatcherKeys: [${JSON.stringify(dispatcher)}]`,
      ...lines,
    ].join('\n');

  test('the public key is derived from the secret key as libzmq does', () => {
    for (let i = 0; i < 20; i++) {
      const pair = zmq.curveKeyPair();
      assert.equal(curvePublicKey(pair.secretKey), pair.publicKey);
    }
  });

  test('secret key from the file, or from CLOVER_AGENT_ZMQ_SECRET_KEY (which wins)', () => {
    const fromFile = parseAgentConfig(section([`  secretKey: ${JSON.stringify(keys.secretKey)}`]), {
      env: {},
    });
    assert.deepEqual(fromFile.zmq, {
      bind: 'tcp://0.0.0.0:5555',
      advertiseHost: undefined,
      publicKey: keys.publicKey,
      secretKey: keys.secretKey,
      allowedDispatcherKeys: [dispatcher],
    });
    const other = zmq.curveKeyPair();
    const fromEnv = parseAgentConfig(section([`  secretKey: ${JSON.stringify(keys.secretKey)}`]), {
      env: { CLOVER_AGENT_ZMQ_SECRET_KEY: other.secretKey },
    });
    assert.equal(fromEnv.zmq?.publicKey, other.publicKey);
    assert.equal(
      parseAgentConfig('pool: p', { env: { CLOVER_AGENT_ZMQ_SECRET_KEY: other.secretKey } }).zmq,
      undefined,
    );
  });

  test('a missing secret key, a public key of another pair, a bad bind or key: file, line and field', () => {
    const error = (text: string) => {
      try {
        parseAgentConfig(text, { path: 'agent.yaml', env: {} });
      } catch (caught) {
        assert.ok(caught instanceof ConfigError);
        return caught.message;
      }
      assert.fail('no ConfigError');
    };
    assert.match(
      error(section([])),
      /^agent\.yaml:1: zmq\.secretKey: is required .*CLOVER_AGENT_ZMQ_SECRET_KEY/,
    );
    assert.match(
      error(
        section([
          `  secretKey: ${JSON.stringify(keys.secretKey)}`,
          `  publicKey: ${JSON.stringify(zmq.curveKeyPair().publicKey)}`,
        ]),
      ),
      /^agent\.yaml:5: zmq\.publicKey: is not the public key of secretKey/,
    );
    assert.match(
      error(
        section([`  secretKey: ${JSON.stringify(keys.secretKey)}`]).replace('tcp://0.0.0.0:5555', 'udp://x'),
      ),
      /^agent\.yaml:2: zmq\.bind: must be tcp:\/\/HOST:PORT/,
    );
    assert.match(
      error(section(['  secretKey: short'])),
      /^agent\.yaml:4: zmq\.secretKey: must be a 40-character Z85/,
    );
  });
});

describe('the dispatcher Lambda’s ZeroMQ settings', () => {
  const noSecret = async (): Promise<never> => {
    throw new Error('no secret should be read');
  };

  test('a key pair (and a deadline) from the environment, both halves or neither', async () => {
    const pair = zmq.curveKeyPair();
    const env = {
      CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY: pair.publicKey,
      CLOVER_DISPATCHER_ZMQ_SECRET_KEY: pair.secretKey,
    };
    assert.deepEqual(await dispatcherZmq(readConfig({ ...env, CLOVER_ZMQ_DEADLINE_MS: '800' }), noSecret), {
      keys: pair,
      deadlineMs: 800,
    });
    assert.equal(await dispatcherZmq(readConfig({}), noSecret), undefined);
    assert.throws(
      () => readConfig({ CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY: pair.publicKey }),
      /CLOVER_DISPATCHER_ZMQ_SECRET_KEY/,
    );
    assert.throws(() => readConfig({ ...env, CLOVER_DISPATCHER_ZMQ_SECRET_KEY: 'short' }), /Z85/);
  });

  test('in AWS, the key pair from the secret the stack names, never from the environment as well', async () => {
    const pair = zmq.curveKeyPair();
    const arn =
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:clover-prod/dispatcher-curve-keys-AbCdEf';
    const read: string[] = [];
    const fromSecret = await dispatcherZmq(
      readConfig({ CLOVER_DISPATCHER_ZMQ_SECRET_ARN: arn }),
      async (id) => {
        read.push(id);
        return pair;
      },
    );
    assert.deepEqual(fromSecret, { keys: pair });
    assert.deepEqual(read, [arn]);
    assert.throws(
      () =>
        readConfig({
          CLOVER_DISPATCHER_ZMQ_SECRET_ARN: arn,
          CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY: pair.publicKey,
          CLOVER_DISPATCHER_ZMQ_SECRET_KEY: pair.secretKey,
        }),
      /CLOVER_DISPATCHER_ZMQ_SECRET_ARN: is set together with CLOVER_DISPATCHER_ZMQ_SECRET_KEY/,
    );
  });
});
