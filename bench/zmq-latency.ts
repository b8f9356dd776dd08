/**
 * Fire-to-start latency, direct ZeroMQ against SQS, on the same emulator (issue 5): from calling the
 * dispatcher to the worker's claim (DISPATCHED → RUNNING) being written. Both paths share the
 * DynamoDB stores; only the delivery differs.
 *
 * - SQS: the dispatcher sends to the worker's own queue; the worker receives (the message is already
 *   there when it asks, the best case for SQS) and claims.
 * - ZeroMQ: the dispatcher sends to the worker's ROUTER and waits for the ack; the agent acks once the
 *   envelope is in its queue and claims at once, in parallel with the dispatcher's return.
 *
 * A measurement, not a test: figures depend on the machine and the emulator.
 *
 *   npx tsx bench/zmq-latency.ts [fires=200]
 */
import * as zmq from 'zeromq';
import { awsClients } from '../core/adapters/aws-clients';
import { controlPlane } from '../core/adapters/control-plane';
import { provision, teardown } from '../core/adapters/provision';
import { ensureWorkerQueue, SqsInbox } from '../core/adapters/sqs-inbox';
import { ZmqDelivery } from '../core/adapters/zmq-delivery';
import { ZmqReceiver } from '../core/adapters/zmq-receiver';
import { Dispatcher } from '../core/dispatch';
import type { DispatchEnvelope } from '../core/envelope';
import { silentLogger } from '../core/log';
import { type Run, WorkerRegistrationSchema } from '../core/model';
import { startEmulator } from '../infra/local/emulator';
import { percentile } from './stats';

export async function zmqLatency(fires = 200): Promise<Record<string, unknown>> {
  const emulator = await startEmulator();
  const clients = awsClients({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: emulator.credentials,
  });
  const prefix = `bench-zmq-${process.pid}`;
  const dispatcherKeys = zmq.curveKeyPair();
  const agentKeys = zmq.curveKeyPair();
  const delivered: ((envelope: DispatchEnvelope) => void)[] = [];
  const receiver = new ZmqReceiver({
    address: 'tcp://127.0.0.1:*',
    keys: agentKeys,
    allowedClientKeys: [dispatcherKeys.publicKey],
    log: silentLogger,
    onEnvelope: async (envelope) => delivered.shift()?.(envelope),
  });
  let zmqDelivery: ZmqDelivery | undefined;
  try {
    await provision(clients, prefix);
    const plane = controlPlane({ clients, prefix });
    const endpoint = await receiver.start();
    zmqDelivery = new ZmqDelivery({ keys: dispatcherKeys, fallback: plane.delivery, log: silentLogger });
    const zmqDispatcher = new Dispatcher({
      jobs: plane.jobs,
      runs: plane.runs,
      locks: plane.locks,
      workers: plane.directory,
      delivery: zmqDelivery,
      clock: plane.clock,
      log: silentLogger,
      alerts: plane.alerts,
    });
    const queueUrl = await ensureWorkerQueue(clients.sqs, prefix, 'bench-sqs');
    const inbox = new SqsInbox(clients.sqs, queueUrl);
    for (const [workerId, handler, endpoints] of [
      ['bench-sqs', 'bench.sqs', { queueUrl }],
      ['bench-zmq', 'bench.zmq', { zmqAddress: endpoint, zmqPublicKey: agentKeys.publicKey }],
    ] as const) {
      await plane.workers.register(
        WorkerRegistrationSchema.parse({
          workerId,
          host: 'bench',
          handlers: [handler],
          capacity: 100,
          endpoints,
        }),
        Date.now(),
        3_600_000,
      );
      await plane.jobService.define({ jobId: workerId, handler });
    }
    const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString().replace('.000', '');
    const finish = (run: Run) => plane.execution.complete(run, { status: 'SUCCEEDED' });

    const sqsMs: number[] = [];
    const zmqMs: number[] = [];
    const fireSqs = async (i: number): Promise<number> => {
      const start = performance.now();
      await plane.dispatcher.fire({ jobId: 'bench-sqs', scheduledTime: at(i) });
      const [message] = await inbox.receive({ maxMessages: 1, waitSeconds: 5 });
      if (!message?.ok) throw new Error('the SQS worker did not receive the run');
      const run = await plane.execution.claim(message.envelope, 'bench-sqs');
      const ms = performance.now() - start;
      await inbox.ack(message.receipt);
      await finish(run);
      return ms;
    };
    const fireZmq = async (i: number): Promise<number> => {
      const start = performance.now();
      const claimed = new Promise<Run>((resolve, reject) => {
        delivered.push((envelope) => {
          plane.execution.claim(envelope, 'bench-zmq').then(resolve, reject);
        });
      });
      const outcome = await zmqDispatcher.fire({ jobId: 'bench-zmq', scheduledTime: at(i) });
      if (outcome.kind !== 'dispatched') throw new Error(`the ZeroMQ fire was ${outcome.kind}`);
      const run = await claimed;
      const ms = performance.now() - start;
      await finish(run);
      return ms;
    };
    // Warm both paths (connections, queue URL, worker list), then alternate so that neither path
    // gets the emulator in a better state (its tables grow as the bench runs).
    await fireSqs(fires);
    await fireZmq(fires);
    for (let i = 0; i < fires; i += 1) {
      sqsMs.push(await fireSqs(i));
      zmqMs.push(await fireZmq(i));
    }
    const figures = (ms: number[]) => ({ p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)) });
    return {
      fires,
      emulator: emulator.kind,
      fireToStartMs: { sqs: figures(sqsMs), zmq: figures(zmqMs) },
    };
  } finally {
    await zmqDelivery?.close();
    await receiver.close();
    await teardown(clients, prefix).catch(() => undefined);
    clients.destroy();
    await emulator.stop();
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await zmqLatency(Number(process.argv[2] ?? 200)), null, 2));
}
