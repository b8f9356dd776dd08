/**
 * Dispatch throughput: fires per second of one dispatcher process, and of four dispatcher processes
 * in parallel, against one emulator — and, in the same run, the emulator's own ceiling for the same
 * calls, so four-over-one can be read against what the emulator allows on this machine.
 *
 * Dispatchers are processes, not instances in one process: each Lambda container is its own process
 * with its own clients and worker cache, taking one fire at a time, and so is each dispatcher here
 * (`fire` awaited before the next). Every fire is a distinct (job, scheduledTime) of a distinct job
 * (the default FORBID policy, so the full path: job read, run + lock transaction, delivery to the one
 * registered worker's SQS queue, DISPATCHED). No agent consumes the queue: this is the dispatcher's
 * rate, not end to end.
 *
 * Fair to both phases: each phase makes the same number of fires (one process all of them, four a
 * quarter each) on emptied runs and locks tables. moto's TransactWriteItems deep-copies every table
 * it touches (docs/emulators.md), so its cost grows with the runs and locks tables: a phase run on
 * tables the previous phase filled would be slower for that alone.
 *
 * The ceiling: the calls of a fire (GetItem of the job, the run + lock TransactWriteItems, SendMessage
 * of the envelope) made through Clover's adapters without the dispatcher's logic, by 1 and by 4
 * processes run exactly as the dispatchers are (with the same re-sends), through the linearizing proxy
 * (what the dispatchers use) and straight to moto — the same number of fires, on emptied tables too.
 * CPU per phase (moto, the dispatchers, this process with the proxy) says which process is the
 * bound, and moto's CPU per fire the rate no number of dispatchers can pass (one Python process, one
 * core at most).
 *
 * Zero duplicates is checked, not assumed: every 10th fire a process also sends again a fire that
 * its neighbour owns (at about the same moment, so conditional writes from two processes collide),
 * and after each phase the run records are counted: exactly one per distinct fire, and every
 * re-send answered `duplicate`.
 *
 *   npx tsx bench/dispatch-throughput.ts [firesPerPhase=200]
 *
 * Each dispatcher process is bench/throughput-dispatcher.ts; this file runs the phases and reads
 * what the processes report.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DescribeTableCommand, ScanCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../core/adapters/aws-clients';
import { encodeJob } from '../core/adapters/dynamo-job-store';
import { JobSchema } from '../core/model';
import type { Emulator } from '../infra/local/emulator';
import { physicalName } from '../infra/resources';
import { withBenchStack } from './harness';
import { type FailedFigure, tryFigure } from './results';
import { batchWrite } from './seed';
import {
  type ChildFigures,
  type DispatcherArgs,
  jobId,
  motoCpuSeconds,
  WORKER_ID,
} from './throughput-dispatcher';

/** The bench's own seeding, counting and clearing wait on moto behind the proxy: not the product's 5 s. */
const BENCH_CALL_TIMEOUT_MS = 60_000;

/** The dispatcher process's file, started once per process of a phase. */
const DISPATCHER = fileURLToPath(new URL('./throughput-dispatcher.ts', import.meta.url));

/** CPU seconds per wall second over a phase, per process kind: 1 is one core kept busy. */
type CoresBusy = Record<string, number>;

export interface ThroughputPhase {
  readonly processes: number;
  readonly distinctFires: number;
  readonly resends: number;
  readonly seconds: number;
  readonly firesPerSecond: number;
  readonly outcomes: Record<string, number>;
  readonly runRecords: number;
  readonly duplicates: number;
  readonly answeredByNobody: number;
  /** AWS calls per distinct fire, by operation (re-sends included: they are part of the load). */
  readonly callsPerFire: Record<string, number>;
  readonly coresBusy: CoresBusy;
  /** moto's CPU per distinct fire, ms: what bounds every dispatcher together. */
  readonly motoCpuMsPerFire: number;
  /** CPU per distinct fire, ms, of each process on a fire's path. */
  readonly cpuMsPerFire: {
    readonly moto: number;
    readonly dispatchers: number;
    readonly benchAndProxy: number;
  };
  readonly loadAverage: readonly number[];
}

export interface DispatchThroughputOptions {
  /** Fires in each phase, split evenly between its processes (plus one warm-up fire each). @default 200 */
  readonly firesPerPhase?: number;
  /** How many processes in each phase, in order; each must divide firesPerPhase. @default [1, 4] */
  readonly phases?: readonly number[];
  /** Also measure the emulator's ceiling for the same calls. @default true */
  readonly ceiling?: boolean;
}

export function dispatchThroughput({
  firesPerPhase = 200,
  phases = [1, 4],
  ceiling = true,
}: DispatchThroughputOptions = {}): Promise<Record<string, unknown>> {
  for (const processes of phases) {
    if (firesPerPhase % processes !== 0)
      throw new Error(`firesPerPhase ${firesPerPhase} does not split evenly between ${processes} processes`);
  }
  return withBenchStack(
    { name: 'throughput', callTimeoutMs: BENCH_CALL_TIMEOUT_MS },
    async ({ emulator, clients, prefix, registerWorker }) => {
      const { queueUrl } = await registerWorker({
        workerId: WORKER_ID,
        handlers: ['bench.noop'],
        capacity: 1000,
      });
      const tables = { jobs: physicalName(prefix, 'jobs'), runs: physicalName(prefix, 'runs') };
      const cleared = [tables.runs, physicalName(prefix, 'locks')];
      // Every phase's jobs (the widest split's slices and the one process's whole run), warm-ups
      // included, seeded once: the jobs table is read by key only, so its size costs nothing.
      const ids = new Set<string>();
      for (const processes of phases)
        for (let p = 0; p < processes; p += 1)
          for (let i = 0; i <= firesPerPhase / processes; i += 1) ids.add(jobId(p, i));
      const now = Date.now();
      const seedStarted = performance.now();
      await batchWrite(
        clients,
        tables.jobs,
        [...ids].map((id) => ({
          PutRequest: {
            Item: encodeJob(
              JobSchema.parse({
                spec: { jobId: id, handler: 'bench.noop' },
                version: 1,
                createdAt: now,
                updatedAt: now,
                syncState: 'IN_SYNC',
              }),
            ),
          },
        })),
      );
      const seedSeconds = (performance.now() - seedStarted) / 1000;

      const results: Record<string, ThroughputPhase | FailedFigure> = {};
      const ceilings: Record<string, Record<string, unknown> | FailedFigure> = {};
      let messagesExpected = 0;
      const measureCeiling = async (target: 'proxy' | 'motoDirect', loops: number) => {
        const endpoint = target === 'proxy' ? emulator.endpoint : emulator.unproxiedEndpoint;
        if (!ceiling || endpoint === undefined) return;
        const figure = await tryFigure(async () => {
          await clearTables(clients, cleared);
          const phase = await runPhase(emulator, prefix, loops, firesPerPhase / loops, {
            raw: true,
            endpoint,
          });
          const outcomes = sumOutcomes(phase.children);
          messagesExpected += (outcomes.dispatched ?? 0) + loops;
          return {
            fires: firesPerPhase,
            seconds: +phase.seconds.toFixed(2),
            firesPerSecond: +(firesPerPhase / phase.seconds).toFixed(1),
            outcomes,
            coresBusy: {
              ...phase.coresBusy,
              loops: +(phase.children.reduce((n, c) => n + c.cpuSeconds, 0) / phase.seconds).toFixed(2),
            },
            motoCpuMsPerFire: +(
              ((phase.coresBusy.moto ?? Number.NaN) * phase.seconds * 1000) /
              firesPerPhase
            ).toFixed(1),
            ...(phase.children[0]?.perStep && loops === 1 ? { perFire: phase.children[0].perStep } : {}),
          };
        });
        ceilings[`${target}, ${loops} concurrent`] = figure;
      };
      for (const processes of phases) {
        // The ceiling of as many raw loops just before the phase: the machine's load drifts (other
        // processes share it), so what is compared is measured close together.
        await measureCeiling('proxy', processes);
        results[`processes${processes}`] = await tryFigure(async () => {
          await clearTables(clients, cleared);
          const phase = await runPhase(emulator, prefix, processes, firesPerPhase / processes);
          // Less each process's warm-up fire, made before the clock started.
          const records = (await countItems(clients, tables.runs)) - processes;
          const outcomes = sumOutcomes(phase.children);
          /** CPU ms per distinct fire from cores busy over the phase. */
          const perFire = (cores = Number.NaN) =>
            +((cores * phase.seconds * 1000) / firesPerPhase).toFixed(1);
          const calls = sumOutcomes(phase.children.map((c) => ({ outcomes: c.calls })));
          messagesExpected += (outcomes.dispatched ?? 0) + processes;
          return {
            processes,
            distinctFires: firesPerPhase,
            resends: phase.children.reduce((n, c) => n + c.resends, 0),
            seconds: +phase.seconds.toFixed(2),
            firesPerSecond: +(firesPerPhase / phase.seconds).toFixed(1),
            outcomes,
            runRecords: records,
            // A fire dispatched twice, or a run record beyond one per fire: both must be zero.
            duplicates: Math.max(0, (outcomes.dispatched ?? 0) - firesPerPhase, records - firesPerPhase),
            // Fires every caller was told were duplicates (a write that landed, then timed out and was retried).
            answeredByNobody: Math.max(0, firesPerPhase - (outcomes.dispatched ?? 0)),
            callsPerFire: Object.fromEntries(
              Object.entries(calls).map(([op, n]) => [op, +(n / firesPerPhase).toFixed(2)]),
            ),
            coresBusy: {
              ...phase.coresBusy,
              dispatchers: +(phase.children.reduce((s, c) => s + c.cpuSeconds, 0) / phase.seconds).toFixed(2),
            },
            motoCpuMsPerFire: perFire(phase.coresBusy.moto),
            cpuMsPerFire: {
              moto: perFire(phase.coresBusy.moto),
              dispatchers: perFire(phase.children.reduce((n, c) => n + c.cpuSeconds, 0) / phase.seconds),
              benchAndProxy: perFire(phase.coresBusy.benchAndProxy),
            },
            loadAverage: phase.loadAverage,
          };
        });
      }
      // Without the linearizing proxy: whether serializing DynamoDB requests is what bounds the ceiling.
      for (const loops of phases) await measureCeiling('motoDirect', loops);
      const queued = await tryFigure(async () => {
        const out = await clients.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queueUrl,
            AttributeNames: ['ApproximateNumberOfMessages'],
          }),
        );
        return Number(out.Attributes?.ApproximateNumberOfMessages ?? Number.NaN);
      });

      const rate = (figure: unknown) =>
        typeof figure === 'object' && figure !== null && 'firesPerSecond' in figure
          ? Number(figure.firesPerSecond)
          : Number.NaN;
      const [few, many] = [phases[0], phases.at(-1)];
      const one = rate(results[`processes${few}`]);
      const four = rate(results[`processes${many}`]);
      const ceilingFour = rate(ceilings[`proxy, ${many} concurrent`]);
      const ceilingOne = rate(ceilings[`proxy, ${few} concurrent`]);
      const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? +(a / b).toFixed(2) : Number.NaN);
      const onePhase = results[`processes${few}`];
      // moto is one Python process (one core at most, its GIL): the CPU it spends per fire bounds the
      // rate of any number of dispatchers, however many cores the rest of the machine has.
      const cpu = onePhase && 'cpuMsPerFire' in onePhase ? onePhase.cpuMsPerFire : undefined;
      const motoBound = cpu ? 1000 / cpu.moto : Number.NaN;
      // One dispatcher on an idle machine takes at least the CPU on its fire's path (moto's, its own,
      // the proxy's: loopback calls are CPU) per fire; any number take at least moto's, which cannot
      // overlap with itself, and share the machine's cores. Measured as CPU, not wall time, it holds
      // whatever else loads the machine.
      const path = cpu ? cpu.moto + cpu.dispatchers + cpu.benchAndProxy : Number.NaN;
      const cpuBound = cpu ? Math.min(path / cpu.moto, cpus().length) : Number.NaN;
      return {
        emulator: emulator.kind,
        firesPerPhase,
        dispatchers: 'separate node processes, one fire at a time each (like Lambda containers)',
        seedSeconds: +seedSeconds.toFixed(1),
        jobsSeeded: ids.size,
        ...results,
        fourOverOne: ratio(four, one),
        emulatorCeiling: ceilings,
        // What four raw loops get over one: the most four dispatchers could gain on this emulator and machine.
        ceilingFourOverOne: ratio(ceilingFour, ceilingOne),
        // Four dispatchers' rate as a share of four raw loops': near 1, the emulator is the bound, not Clover.
        fourShareOfCeiling: ratio(four, ceilingFour),
        // Fires per second were moto given a whole core for them alone, from its CPU per fire above.
        motoBoundFiresPerSecond: Number.isFinite(motoBound) ? +motoBound.toFixed(1) : Number.NaN,
        // The most any number of dispatchers could get over one on this emulator and machine: one
        // fire's CPU path over moto's share of it (at most the cores).
        cpuBoundFourOverOne: Number.isFinite(cpuBound) ? +cpuBound.toFixed(2) : Number.NaN,
        // Every dispatched run is one message on the worker's queue (warm-up fires included), the ceiling's too.
        messagesOnWorkerQueue: queued,
        messagesExpected,
      };
    },
  );
}

/** Deletes every item of `tables` (the runs and locks a phase wrote), so the next phase starts as this one did. */
async function clearTables(clients: AwsClients, tables: readonly string[]): Promise<void> {
  for (const table of tables) {
    const described = await clients.dynamodb.send(new DescribeTableCommand({ TableName: table }));
    const keys = (described.Table?.KeySchema ?? []).map((k) => k.AttributeName!);
    const deletes: WriteRequest[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await clients.dynamodb.send(
        new ScanCommand({
          TableName: table,
          ProjectionExpression: keys.map((_, i) => `#k${i}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(keys.map((k, i) => [`#k${i}`, k])),
          ExclusiveStartKey: start as never,
        }),
      );
      for (const Key of page.Items ?? []) deletes.push({ DeleteRequest: { Key } });
      start = page.LastEvaluatedKey;
    } while (start);
    await batchWrite(clients, table, deletes);
  }
}

function sumOutcomes(children: readonly { outcomes: Record<string, number> }[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const child of children)
    for (const [kind, n] of Object.entries(child.outcomes)) sum[kind] = (sum[kind] ?? 0) + n;
  return sum;
}

async function countItems(clients: AwsClients, table: string): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.dynamodb.send(
      new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: start as never }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start);
  return count;
}

/** CPU of moto and of this process (the bench and the linearizing proxy) from now on. */
function cpuMeter(emulator: Emulator) {
  const self = process.cpuUsage();
  const moto = motoCpuSeconds(emulator.pid);
  return (seconds: number): CoresBusy => {
    const used = process.cpuUsage(self);
    return {
      moto: +((motoCpuSeconds(emulator.pid) - moto) / seconds).toFixed(2),
      benchAndProxy: +((used.user + used.system) / 1e6 / seconds).toFixed(2),
    };
  };
}

/**
 * Starts `processes` dispatcher processes, lets each warm up (clients, worker cache, one fire of its
 * own), then releases them together and waits for all: the phase's time is from release to the last.
 * `raw`: the processes make a fire's calls without the dispatcher (the ceiling), at `endpoint`.
 */
async function runPhase(
  emulator: Emulator,
  prefix: string,
  processes: number,
  fires: number,
  { raw = false, endpoint = emulator.endpoint }: { readonly raw?: boolean; readonly endpoint?: string } = {},
): Promise<{ seconds: number; children: ChildFigures[]; coresBusy: CoresBusy; loadAverage: number[] }> {
  const children: ChildProcess[] = [];
  try {
    const ready: Promise<unknown>[] = [];
    const done: Promise<ChildFigures>[] = [];
    for (let p = 0; p < processes; p += 1) {
      const child = spawn(process.execPath, ['--import', 'tsx', DISPATCHER], {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: {
          ...process.env,
          BENCH_DISPATCHER: JSON.stringify({
            raw,
            motoPid: processes === 1 && raw ? emulator.pid : undefined,
            endpoint,
            region: emulator.region,
            credentials: emulator.credentials,
            prefix,
            process: p,
            neighbour: (p + 1) % processes,
            fires,
          } satisfies DispatcherArgs),
        },
      });
      children.push(child);
      const lines = createInterface({ input: child.stdout! });
      const iterator = lines[Symbol.asyncIterator]();
      const exited = once(child, 'exit').then(([code]) => {
        throw new Error(`dispatcher ${p} exited with ${code} before reporting`);
      });
      ready.push(Promise.race([iterator.next(), exited]));
      done.push(
        ready[p]!.then(() => Promise.race([iterator.next(), exited])).then(
          (line) => JSON.parse(String((line as IteratorResult<string>).value)) as ChildFigures,
        ),
      );
    }
    await Promise.all(ready);
    const coresBusy = cpuMeter(emulator);
    const started = performance.now();
    for (const child of children) child.stdin!.write('go\n');
    const results = await Promise.all(done);
    const seconds = (performance.now() - started) / 1000;
    return {
      seconds,
      children: results,
      coresBusy: coresBusy(seconds),
      loadAverage: loadavg().map((n) => +n.toFixed(2)),
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(
    JSON.stringify(await dispatchThroughput({ firesPerPhase: Number(process.argv[2] ?? 200) }), null, 2),
  );
}
