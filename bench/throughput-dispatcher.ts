/**
 * One dispatcher process of the dispatch-throughput bench: bench/dispatch-throughput.ts starts this
 * file once per process of a phase (`node --import tsx bench/throughput-dispatcher.ts`), as a Lambda
 * container is a process of its own, with its own clients and worker cache.
 *
 * The exchange with the bench, over stdio: the arguments come in `BENCH_DISPATCHER` (JSON,
 * {@link DispatcherArgs}); the process warms up with one fire of its own, prints `ready`, waits for a
 * line on stdin (`go`), fires its slice one at a time — every {@link RESEND_EVERY}th also one its
 * neighbour owns, so conditional writes from two processes collide — then prints its figures as one
 * JSON line ({@link ChildFigures}) and exits. `raw`: a fire's calls without the dispatcher's logic
 * (`rawFire`), for the emulator's ceiling.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { awsClients } from '../core/adapters/aws-clients';
import { type ControlPlane, controlPlane } from '../core/adapters/control-plane';
import type { FireOutcome } from '../core/dispatch';
import { envelopeFor } from '../core/envelope';
import { AlreadyFiredError } from '../core/errors';
import { fireRunId, jobLockKey, type Run, type Worker } from '../core/model';
import { RequestCounter } from './aws-requests';

const SCHEDULED_TIME = '2026-01-01T00:00:00Z';
/** Every this many fires a dispatcher also re-sends one of its neighbour's. */
const RESEND_EVERY = 10;
export const WORKER_ID = 'tp-worker';

/** The job of one fire: process, index; each fire has a job of its own (warm-ups too). */
export const jobId = (process: number, index: number) => `tp-${process}-${String(index).padStart(5, '0')}`;

/** What one dispatcher process reports. */
export interface ChildFigures {
  readonly fires: number;
  readonly resends: number;
  readonly outcomes: Record<string, number>;
  readonly seconds: number;
  /** CPU the process used while firing, seconds. */
  readonly cpuSeconds: number;
  /** AWS calls while firing, by operation. */
  readonly calls: Record<string, number>;
  /** Raw fires in a process alone: moto's CPU and wall ms per fire, by call. */
  readonly perStep?: Record<string, { motoCpuMs: number; wallMs: number }>;
}

/** What the bench tells one dispatcher process (`BENCH_DISPATCHER`). */
export interface DispatcherArgs {
  raw: boolean;
  motoPid?: number;
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  prefix: string;
  process: number;
  neighbour: number;
  fires: number;
}

let clockTicks: number | undefined;

/** CPU seconds moto_server has used (Linux /proc); NaN where that cannot be read. */
export function motoCpuSeconds(pid: number | undefined): number {
  try {
    if (pid === undefined) return Number.NaN;
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return Number.NaN;
  }
}

/**
 * The calls of a fire without the dispatcher's logic, through Clover's own adapters (the same items,
 * the same conditions): GetItem of the job, the run + lock TransactWriteItems, SendMessage of the
 * envelope. `step` wraps each call (the per-call breakdown).
 */
async function rawFire(
  plane: ControlPlane,
  worker: Worker,
  id: string,
  step: <T>(name: string, call: () => Promise<T>) => Promise<T>,
): Promise<FireOutcome['kind']> {
  const job = await step('GetItem job', () => plane.jobs.get(id));
  const now = Date.now();
  const lockKey = jobLockKey(id);
  const run: Run = {
    runId: fireRunId(id, SCHEDULED_TIME),
    jobId: id,
    scheduledTime: SCHEDULED_TIME,
    trigger: 'SCHEDULE',
    handler: job?.spec.handler ?? '',
    payload: null,
    status: 'DISPATCHED',
    attempt: 1,
    fence: 1,
    jobVersion: job?.version ?? 1,
    workerId: worker.workerId,
    lockKey,
    concurrency: 'FORBID',
    createdAt: now,
    updatedAt: now,
    dispatchedAt: now,
    deadlineAt: now + 3_600_000,
    history: [
      { at: now, status: 'PENDING', attempt: 1, note: 'fired by schedule' },
      { at: now, status: 'DISPATCHED', attempt: 1, workerId: worker.workerId },
    ],
  };
  try {
    await step('TransactWriteItems run+lock', () =>
      plane.runs.createWithLock(run, { key: lockKey, owner: run.runId, expiresAt: now + 3_660_000, now }),
    );
  } catch (error) {
    if (error instanceof AlreadyFiredError) return 'duplicate';
    throw error;
  }
  await step('SendMessage envelope', () =>
    plane.delivery.deliver({ kind: 'worker', worker }, envelopeFor(run, now + 3_600_000, now)),
  );
  return 'dispatched';
}

/** One dispatcher process: warm up, say `ready`, wait for `go`, fire its slice, print its figures. */
async function dispatcherProcess(): Promise<void> {
  const args = JSON.parse(process.env.BENCH_DISPATCHER ?? '{}') as DispatcherArgs;
  // The product's clients and deadlines: this is what a dispatcher runs with.
  const clients = awsClients(args);
  const plane = controlPlane({ clients, prefix: args.prefix });
  const counter = new RequestCounter(clients);
  // With one raw process, moto's CPU around each call is that call's (nothing else talks to it):
  // summed by step, where moto's time goes per fire. /proc counts in ticks of 10 ms, unbiased over
  // a few hundred calls.
  const perStep: Record<string, { motoCpuMs: number; wallMs: number }> = {};
  const step = async <T>(name: string, call: () => Promise<T>): Promise<T> => {
    if (args.motoPid === undefined) return call();
    const cpu = motoCpuSeconds(args.motoPid);
    const at = performance.now();
    try {
      return await call();
    } finally {
      const sum = perStep[name] ?? { motoCpuMs: 0, wallMs: 0 };
      perStep[name] = sum;
      sum.motoCpuMs += (motoCpuSeconds(args.motoPid) - cpu) * 1000;
      sum.wallMs += performance.now() - at;
    }
  };
  const worker = await plane.workers.get(WORKER_ID);
  if (!worker) throw new Error(`worker ${WORKER_ID} is not registered`);
  const fireOne = async (id: string) =>
    args.raw
      ? rawFire(plane, worker, id, step)
      : (await plane.dispatcher.fire({ jobId: id, scheduledTime: SCHEDULED_TIME })).kind;
  // Warm like a container that has served before: clients connected, worker list cached.
  await fireOne(jobId(args.process, args.fires));
  for (const key of Object.keys(perStep)) delete perStep[key];
  console.log('ready');
  const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  await stdin.next();
  const outcomes: Record<string, number> = {};
  const count = (kind: string) => {
    outcomes[kind] = (outcomes[kind] ?? 0) + 1;
  };
  counter.reset();
  const cpu = process.cpuUsage();
  const started = performance.now();
  let resends = 0;
  // A fire that throws (an SDK timeout on a loaded machine) is counted, not fatal: the counts of
  // run records still show whether anything was duplicated.
  const fire = async (owner: number, index: number) => {
    try {
      count(await fireOne(jobId(owner, index)));
    } catch (error) {
      count(`error: ${(error as Error).name}`);
    }
  };
  for (let i = 0; i < args.fires; i += 1) {
    await fire(args.process, i);
    if (i % RESEND_EVERY === 0) {
      // The neighbour's fire of the same index: it is firing it about now, so the writes race.
      await fire(args.neighbour, i);
      resends += 1;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  console.log(
    JSON.stringify({
      fires: args.fires,
      resends,
      outcomes,
      seconds,
      cpuSeconds: (used.user + used.system) / 1e6,
      calls: counter.snapshot(),
      ...(args.motoPid === undefined
        ? {}
        : {
            perStep: Object.fromEntries(
              Object.entries(perStep).map(([name, sum]) => [
                name,
                {
                  motoCpuMs: +(sum.motoCpuMs / args.fires).toFixed(1),
                  wallMs: +(sum.wallMs / args.fires).toFixed(1),
                },
              ]),
            ),
          }),
    } satisfies ChildFigures),
  );
  await plane.close();
  clients.destroy();
  process.exit(0);
}

if (import.meta.url === `file://${process.argv[1]}`) await dispatcherProcess();
