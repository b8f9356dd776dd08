/**
 * Fire-to-start latency, direct ZeroMQ against SQS, on the same emulator (issue 5), through the real
 * path: the dispatcher of `controlPlane({ zmq })` (ZmqDelivery for ZMQ jobs, SqsDelivery otherwise)
 * and two in-process agents (worker-agent/agent.ts). Measured from calling `dispatcher.fire` to the
 * handler being invoked, i.e. after the agent's claim (DISPATCHED → RUNNING) was written.
 *
 * - SQS: a job with `delivery: SQS` pinned to agent `bench-sqs`; the dispatcher sends to its own
 *   queue, which the agent long-polls (a poll is waiting when the message lands: SQS's best case).
 * - ZeroMQ: a job with `delivery: ZMQ` pinned to agent `bench-zmq`, whose intake (zmq-intake.ts)
 *   claims on receipt and acknowledges once the claim is decided; the handler starts right after.
 *   Both jobs allow overlap (concurrency ALLOW): a fire reads the job's stamp, then writes its run.
 * - ZeroMQ, lock-protected (`zmq-lock`): the same agent and delivery, for a job with the default
 *   concurrency (FORBID): its run is written with its lock and the check of the dispatcher's kept job
 *   in one transaction, which moto serves far slower than a plain write (it copies the tables). Its
 *   fires follow the alternating ones, so SQS and ZeroMQ are measured as without it.
 *
 * Every fire waits for its run to be written SUCCEEDED before the next, and the two paths alternate,
 * so neither gets the emulator in a better state. A measurement, not a test: figures depend on the
 * machine and the emulator.
 *
 * Each fire also waits for the previous one's tail (the lock release, the recovery-alert Query of the
 * runs table) to end: no DynamoDB call in flight for 20 ms. The emulator serves DynamoDB one request at
 * a time (infra/local/linearizing-proxy.ts) and moto's index Queries walk the whole table, so a fire
 * sent while that Query runs waits 100–200 ms behind it: the emulator's queue, not the fire's path
 * (AWS serves requests concurrently).
 *
 *   npx tsx bench/zmq-latency.ts [fires=200]
 */
import * as zmq from 'zeromq';
import { FireBreakdown } from './floor';
import { waitForFinal, withBenchStack } from './harness';
import { percentile, round } from './stats';

export function zmqLatency(fires = 200): Promise<Record<string, unknown>> {
  const dispatcherKeys = zmq.curveKeyPair();
  return withBenchStack({ name: 'zmq', plane: { zmq: { keys: dispatcherKeys } } }, async (stack) => {
    const { plane, emulator } = stack;
    const breakdown = new FireBreakdown(stack);
    /** Resolved by the handler of the run in flight, with the time it was invoked. */
    let onStart: ((at: number) => void) | undefined;
    const started = () => onStart?.(performance.now());
    for (const [workerId, handler, zmqSection] of [
      ['bench-sqs', 'bench.sqs', []],
      [
        'bench-zmq',
        'bench.zmq',
        [
          'zmq:',
          '  bind: tcp://127.0.0.1:*',
          `  secretKey: ${JSON.stringify(zmq.curveKeyPair().secretKey)}`,
          `  allowedDispatcherKeys: [${JSON.stringify(dispatcherKeys.publicKey)}]`,
        ],
      ],
    ] as const) {
      await stack.agent({ workerId, yaml: zmqSection, handlers: { [handler]: async () => started() } });
      await plane.jobService.define({
        jobId: workerId,
        handler,
        delivery: workerId === 'bench-zmq' ? 'ZMQ' : 'SQS',
        target: { pool: 'bench', workerIds: [workerId] },
        routing: 'FIRST',
        concurrency: { policy: 'ALLOW' },
      });
    }
    await plane.jobService.define({
      jobId: 'bench-zmq-lock',
      handler: 'bench.zmq',
      delivery: 'ZMQ',
      target: { pool: 'bench', workerIds: ['bench-zmq'] },
      routing: 'FIRST',
    });
    const pathOf = { 'bench-sqs': 'sqs', 'bench-zmq': 'zmq', 'bench-zmq-lock': 'zmq-lock' } as const;

    const fire = async (jobId: keyof typeof pathOf): Promise<number> => {
      const handlerStarted = new Promise<number>((resolve) => {
        onStart = resolve;
      });
      const start = performance.now();
      const outcome = await plane.dispatcher.fire({ jobId, trigger: 'MANUAL' });
      if (outcome.kind !== 'dispatched')
        throw new Error(`the ${jobId} fire was ${outcome.kind}: ${JSON.stringify(outcome)}`);
      const [run] = outcome.runs;
      if (!run) throw new Error(`the ${jobId} fire dispatched no run`);
      if (run.fence !== 1) throw new Error(`the ${jobId} fire was not delivered on the first try`);
      const startedAt = await handlerStarted;
      breakdown.record(pathOf[jobId], start, startedAt);
      const ms = startedAt - start;
      await waitForFinal(plane, run.runId);
      await stack.calls.quiet('DynamoDB', QUIET_MS);
      return ms;
    };
    // Warm every path (connections, queue URLs, worker lists, kept jobs), then alternate.
    const jobIds = Object.keys(pathOf) as (keyof typeof pathOf)[];
    for (const jobId of jobIds) await fire(jobId);
    const ms = { sqs: [] as number[], zmq: [] as number[], 'zmq-lock': [] as number[] };
    for (let i = 0; i < fires; i += 1) {
      ms.sqs.push(await fire('bench-sqs'));
      ms.zmq.push(await fire('bench-zmq'));
    }
    // Apart, after: moto's transactions copy the tables they touch, and the garbage they leave would
    // slow the fires that follow them, so SQS and ZeroMQ are measured as they were without this path.
    for (let i = 0; i < fires; i += 1) ms['zmq-lock'].push(await fire('bench-zmq-lock'));
    const figures = (of: number[]) => ({ p50: round(percentile(of, 50)), p99: round(percentile(of, 99)) });
    return {
      fires,
      emulator: emulator.kind,
      fireToStartMs: { sqs: figures(ms.sqs), zmq: figures(ms.zmq), 'zmq-lock': figures(ms['zmq-lock']) },
      ...(await breakdown.summary()),
    };
  });
}

/** A fire starts once no DynamoDB call has been in flight for this long (see the header). */
const QUIET_MS = 20;

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await zmqLatency(Number(process.argv[2] ?? 200)), null, 2));
}
