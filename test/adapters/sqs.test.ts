/** SqsDelivery against the emulator: the Delivery contract, plus the SQS-only limits and errors. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { decodeFrame, encodeFrame, fromSqsBody } from '../../core/adapters/envelope-codec';
import { ensureQueue } from '../../core/adapters/provision';
import { SQS_ATTRIBUTES, SqsDelivery } from '../../core/adapters/sqs-delivery';
import type { DispatchEnvelope } from '../../core/envelope';
import { CloverError, PayloadTooLargeError } from '../../core/errors';
import type { Worker } from '../../core/model';
import type { DeliveryTarget } from '../../core/ports';
import { deliveryContract } from '../../core/testing/contracts/delivery';
import { sampleEnvelope, sampleRegistration } from '../../core/testing/contracts/fixtures';
import { runtimeDispatchQueue, workerQueueName } from '../../infra/resources';
import { useEmulator } from '../harness';

const aws = useEmulator();

let workerTarget: Promise<{ target: DeliveryTarget; url: string }> | undefined;

function workerOf(queueUrl: string | undefined): Worker {
  const registration = sampleRegistration();
  return {
    ...registration,
    endpoints: { ...registration.endpoints, ...(queueUrl ? { queueUrl } : {}) },
    status: 'ACTIVE',
    leaseFence: 1,
    leaseExpiresAt: Date.now() + 10_000,
    registeredAt: Date.now(),
    heartbeatAt: Date.now(),
    load: 0,
  };
}

async function subject() {
  const stack = await aws.provisioned();
  workerTarget ??= (async () => {
    const worker = workerOf(undefined);
    const queue = await ensureQueue(
      aws.clients.sqs,
      aws.prefix,
      runtimeDispatchQueue(workerQueueName(worker.workerId)),
    );
    return { target: { kind: 'worker', worker: workerOf(queue.url) } as DeliveryTarget, url: queue.url };
  })();
  const { target: worker, url: workerUrl } = await workerTarget;
  const delivery = new SqsDelivery({ client: aws.clients.sqs, prefix: aws.prefix });
  const pool: DeliveryTarget = { kind: 'pool', pool: 'default' };
  const urlOf = (target: DeliveryTarget) =>
    target.kind === 'pool' ? stack.queues['dispatch-default'] : workerUrl;
  return {
    delivery,
    pool,
    worker,
    async received(target: DeliveryTarget): Promise<DispatchEnvelope[]> {
      const envelopes: DispatchEnvelope[] = [];
      for (;;) {
        const out = await aws.clients.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: urlOf(target),
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            MessageAttributeNames: ['All'],
          }),
        );
        const messages = out.Messages ?? [];
        if (messages.length === 0) return envelopes;
        for (const message of messages) {
          const envelope = fromSqsBody(message.Body ?? '');
          assert.equal(message.MessageAttributes?.[SQS_ATTRIBUTES.runId]?.StringValue, envelope.runId);
          assert.equal(message.MessageAttributes?.[SQS_ATTRIBUTES.jobId]?.StringValue, envelope.jobId);
          assert.equal(message.MessageAttributes?.[SQS_ATTRIBUTES.version]?.StringValue, String(envelope.v));
          envelopes.push(envelope);
          await aws.clients.sqs.send(
            new DeleteMessageCommand({ QueueUrl: urlOf(target), ReceiptHandle: message.ReceiptHandle }),
          );
        }
      }
    },
  };
}

deliveryContract('SQS', subject);

describe('SQS delivery limits and errors', () => {
  it('refuses an incompressible envelope whose frame is over the SQS limit, and sends nothing', async () => {
    const s = await subject();
    await s.received(s.pool);
    // ~200 KiB of random base64: under the JSON limit, but Snappy cannot shrink it below the frame limit.
    const envelope = sampleEnvelope({ payload: randomBytes(150 * 1024).toString('base64') });
    assert.throws(() => encodeFrame(envelope), PayloadTooLargeError);
    await assert.rejects(s.delivery.deliver(s.pool, envelope), PayloadTooLargeError);
    assert.deepEqual(await s.received(s.pool), []);
  });

  it('names the pool whose queue does not exist', async () => {
    const s = await subject();
    await assert.rejects(
      s.delivery.deliver({ kind: 'pool', pool: 'no-such-pool' }, sampleEnvelope()),
      (error: unknown) => {
        assert.ok(error instanceof CloverError);
        assert.equal(error.code, 'not_found');
        assert.match(error.message, /no-such-pool/);
        return true;
      },
    );
  });

  it('names the worker without a queue endpoint', async () => {
    const s = await subject();
    const worker = workerOf(undefined);
    await assert.rejects(
      s.delivery.deliver({ kind: 'worker', worker }, sampleEnvelope()),
      (error: unknown) => {
        assert.ok(error instanceof CloverError);
        assert.equal(error.code, 'no_worker');
        assert.match(error.message, new RegExp(worker.workerId));
        return true;
      },
    );
  });

  it('round-trips a frame and rejects garbage as malformed', () => {
    const envelope = sampleEnvelope();
    assert.deepEqual(decodeFrame(encodeFrame(envelope)), envelope);
    for (const bad of ['', '!!!', Buffer.from('not snappy at all').toString('base64')]) {
      assert.throws(
        () => fromSqsBody(bad),
        (error: unknown) => error instanceof CloverError && error.code === 'malformed_message',
      );
    }
    // A header claiming a 1 GiB payload is refused before any decompression.
    const bomb = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x04, 0x00]);
    assert.throws(() => decodeFrame(bomb), /would decompress to/);
  });
});
