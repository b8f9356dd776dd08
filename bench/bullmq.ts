/**
 * The peer: BullMQ on Redis (Debian's redis-server, started here on a free loopback port, nothing
 * persisted), running the workload of Clover's fire-to-start and throughput benches, so the two can
 * be read side by side from one run.
 *
 * - fire-to-start, immediate: `queue.add` to the handler being invoked, one job at a time, each
 *   waiting for the previous to complete (as zmq-latency.ts does with `dispatcher.fire`).
 * - fire-to-start, delayed: a job added with a delay of 100-200 ms, from the instant it was due
 *   (`timestamp + delay`) to its handler being invoked: BullMQ's own timer lateness plus delivery —
 *   the analog of a scheduled fire. A worker blocks on Redis with a timeout until the next delayed
 *   job is due; Redis wakes blocked clients whose timeout passed from its timer, which runs `hz`
 *   times a second, so the lateness follows `hz` (default 10).
 * - throughput: `jobs` jobs added by one producer one `await queue.add` at a time (like one
 *   dispatcher taking one fire at a time), with one worker of concurrency 10 running a no-op
 *   handler: adds per second, and jobs per second from the first add to the last completion.
 *
 * Each figure is measured at every `hz` in `hzs` (10, Redis's default, and 100), on a fresh server.
 *
 *   npx tsx bench/bullmq.ts [fires=100] [jobs=2000]
 */
import { createRequire } from 'node:module';
import { Queue, Worker } from 'bullmq';
import { dispatchThroughput } from './dispatch-throughput';
import { startRedisServer } from './redis-server';
import { percentile } from './stats';
import { zmqLatency } from './zmq-latency';

export interface BullmqFigures {
  readonly redis: { readonly version: string; readonly hz: number };
  readonly bullmq: string;
  readonly fires: number;
  readonly fireToStartMs: {
    readonly immediate: { readonly p50: number; readonly p99: number };
    readonly delayed: { readonly p50: number; readonly p99: number; readonly delayMs: readonly number[] };
  };
  readonly throughput: {
    readonly jobs: number;
    readonly workerConcurrency: number;
    readonly addsPerSecond: number;
    readonly jobsPerSecond: number;
  };
}

const DELAY_MS = 100;
/** The pinned devDependency (package.json). */
const BULLMQ_VERSION = createRequire(import.meta.url)('bullmq/package.json').version as string;
const CONCURRENCY = 10;

export async function bullmqAtHz(hz: number, fires = 100, jobs = 2000): Promise<BullmqFigures> {
  const redis = await startRedisServer({ hz });
  const connection = redis.client();
  const queue = new Queue('bench', { connection });
  /** Called by the handler of the job in flight with the time it was invoked. */
  let onStart: ((job: { id?: string | undefined }, at: number, wall: number) => void) | undefined;
  let worker: Worker | undefined;
  try {
    worker = new Worker(
      'bench',
      async (job) => {
        onStart?.(job, performance.now(), Date.now());
      },
      { connection: redis.client(), concurrency: CONCURRENCY },
    );
    await worker.waitUntilReady();

    /** Adds one job and resolves when its handler has run and it is completed. */
    const one = async (delay: number): Promise<number> => {
      let started!: (ms: number) => void;
      const startedMs = new Promise<number>((resolve) => {
        started = resolve;
      });
      const added = performance.now();
      let dueAt = 0;
      onStart = (_job, at, wall) => started(delay === 0 ? at - added : wall - dueAt);
      const completed = new Promise((resolve) => worker?.once('completed', resolve));
      const job = await queue.add('fire', {}, { delay, removeOnComplete: true });
      dueAt = job.timestamp + delay;
      const ms = await startedMs;
      await completed;
      return ms;
    };
    // A job added right after the previous one completed would fall due at the same phase of
    // Redis's timer every time; a random extra delay spreads due instants as real schedules do.
    const delayedOne = () => one(DELAY_MS + Math.floor(Math.random() * DELAY_MS));
    await one(0);
    await delayedOne();
    const immediate: number[] = [];
    const delayed: number[] = [];
    for (let i = 0; i < fires; i += 1) {
      immediate.push(await one(0));
      delayed.push(await delayedOne());
    }

    let completed = 0;
    const allDone = new Promise<number>((resolve) => {
      worker?.on('completed', () => {
        completed += 1;
        if (completed === jobs) resolve(performance.now());
      });
    });
    onStart = undefined;
    const begin = performance.now();
    for (let i = 0; i < jobs; i += 1) await queue.add('fire', {}, { removeOnComplete: true });
    const addsDone = performance.now();
    const end = await allDone;

    const figures = (ms: number[]) => ({ p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)) });
    return {
      redis: { version: redis.version, hz: redis.hz },
      bullmq: BULLMQ_VERSION,
      fires,
      fireToStartMs: {
        immediate: figures(immediate),
        delayed: { ...figures(delayed), delayMs: [DELAY_MS, 2 * DELAY_MS] },
      },
      throughput: {
        jobs,
        workerConcurrency: CONCURRENCY,
        addsPerSecond: Math.round(jobs / ((addsDone - begin) / 1000)),
        jobsPerSecond: Math.round(jobs / ((end - begin) / 1000)),
      },
    };
  } finally {
    await worker?.close();
    await queue.close();
    connection.disconnect();
    await redis.stop();
  }
}

/**
 * The peer at Redis's default `hz` (10) and at 100, each on a fresh server, and Clover's side of the
 * same workload measured in the same run: fire-to-start over SQS and ZeroMQ (bench/zmq-latency.ts,
 * `fires` each) and one dispatcher process's fires per second (bench/dispatch-throughput.ts).
 * Ratios are Clover / BullMQ: above 1 means Clover is slower (latency) or faster (throughput).
 */
export async function bullmqPeer(fires = 100, jobs = 2000, hzs: readonly number[] = [10, 100]) {
  const peer: Record<string, BullmqFigures> = {};
  for (const hz of hzs) peer[`hz${hz}`] = await bullmqAtHz(hz, fires, jobs);
  const clover = await zmqLatency(fires);
  const dispatch = await dispatchThroughput({ firesPerPhase: fires, phases: [1], ceiling: false });
  const cloverMs = clover.fireToStartMs as Record<'sqs' | 'zmq', { p50: number; p99: number }>;
  const cloverRate = (dispatch.processes1 as { firesPerSecond: number }).firesPerSecond;
  const ratio = (a: number, b: number) => +(a / b).toFixed(2);
  const ratios = Object.fromEntries(
    Object.entries(peer).map(([key, bull]) => [
      key,
      {
        'fire-to-start p50, Clover SQS / BullMQ delayed': ratio(
          cloverMs.sqs.p50,
          bull.fireToStartMs.delayed.p50,
        ),
        'fire-to-start p50, Clover ZeroMQ / BullMQ delayed': ratio(
          cloverMs.zmq.p50,
          bull.fireToStartMs.delayed.p50,
        ),
        'fire-to-start p99, Clover ZeroMQ / BullMQ delayed': ratio(
          cloverMs.zmq.p99,
          bull.fireToStartMs.delayed.p99,
        ),
        'fire-to-start p50, Clover ZeroMQ / BullMQ immediate': ratio(
          cloverMs.zmq.p50,
          bull.fireToStartMs.immediate.p50,
        ),
        'one producer, Clover fires/s / BullMQ adds/s': ratio(cloverRate, bull.throughput.addsPerSecond),
      },
    ]),
  );
  const first = peer[`hz${hzs[0]}`];
  return {
    // Lifted into latest.json's meta by the run (bench/results.ts, mergeResults): the server at Redis's default hz.
    redis: first?.redis,
    bullmq: first?.bullmq,
    fires,
    peer,
    clover: {
      emulator: clover.emulator,
      fireToStartMs: cloverMs,
      oneDispatcherFiresPerSecond: cloverRate,
    },
    ratios,
  };
}

const round = (ms: number) => Math.round(ms * 10) / 10;

if (import.meta.url === `file://${process.argv[1]}`) {
  const [fires, jobs] = process.argv.slice(2).map(Number);
  console.log(JSON.stringify(await bullmqPeer(fires || 100, jobs || 2000), null, 2));
}
