/**
 * Dispatch throughput: fires per second of one dispatcher process, and of four dispatcher processes
 * in parallel, against one emulator. Processes, not instances in one process: each Lambda container
 * is its own process with its own clients and worker cache, taking one fire at a time, and so is
 * each dispatcher here (`fire` awaited before the next).
 *
 * Every fire is a distinct (job, scheduledTime) of a distinct job (the default FORBID policy, so the
 * full path: job read, run + lock transaction, delivery to the one registered worker's SQS queue,
 * DISPATCHED). No agent consumes the queue: this is the dispatcher's rate, not end-to-end.
 *
 * Zero duplicates is checked, not assumed: every 10th fire a process also sends again a fire that
 * its neighbour owns (at about the same moment, so conditional writes from two processes collide),
 * and after each phase the run records are counted: exactly one per distinct fire, and every
 * re-send answered `duplicate`.
 *
 *   npx tsx bench/dispatch-throughput.ts [firesPerProcess=200]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { type AwsClients, awsClients } from '../core/adapters/aws-clients';
import { controlPlane } from '../core/adapters/control-plane';
import { encodeJob } from '../core/adapters/dynamo-job-store';
import { JobSchema } from '../core/model';
import type { Emulator } from '../infra/local/emulator';
import { physicalName } from '../infra/resources';
import { withBenchStack } from './harness';
import { batchWrite } from './seed';

const SCHEDULED_TIME = '2026-01-01T00:00:00Z';
/** Every this many fires a dispatcher also re-sends one of its neighbour's. */
const RESEND_EVERY = 10;

/** The job of one fire: phase (its process count), process, index; each fire has a job of its own. */
const jobId = (phase: number, process: number, index: number) =>
  `tp-${phase}-${process}-${String(index).padStart(5, '0')}`;

/** What one dispatcher process reports. */
interface ChildFigures {
  readonly fires: number;
  readonly resends: number;
  readonly outcomes: Record<string, number>;
  readonly seconds: number;
}

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
}

export interface DispatchThroughputOptions {
  /** Fires each dispatcher process makes (plus one warm-up fire each). @default 200 */
  readonly firesPerProcess?: number;
  /** How many processes in each phase, in order. @default [1, 4] */
  readonly phases?: readonly number[];
  /** Also measure the emulator's own capacity (requests/s with and without the proxy). @default true */
  readonly capacity?: boolean;
}

export function dispatchThroughput({
  firesPerProcess = 200,
  phases = [1, 4],
  capacity = true,
}: DispatchThroughputOptions = {}): Promise<Record<string, unknown>> {
  return withBenchStack({ name: 'throughput' }, async ({ emulator, clients, prefix, registerWorker }) => {
    const { queueUrl } = await registerWorker({
      workerId: 'tp-worker',
      handlers: ['bench.noop'],
      capacity: 1000,
    });
    const now = Date.now();
    const seedStarted = performance.now();
    await batchWrite(
      clients,
      physicalName(prefix, 'jobs'),
      phases.flatMap((processes) =>
        Array.from({ length: processes * (firesPerProcess + 1) }, (_, i) => ({
          PutRequest: {
            Item: encodeJob(
              JobSchema.parse({
                spec: {
                  jobId: jobId(processes, Math.floor(i / (firesPerProcess + 1)), i % (firesPerProcess + 1)),
                  handler: 'bench.noop',
                },
                version: 1,
                createdAt: now,
                updatedAt: now,
                syncState: 'IN_SYNC',
              }),
            ),
          },
        })),
      ),
    );
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const results: Record<string, ThroughputPhase> = {};
    let recordsBefore = 0;
    for (const processes of phases) {
      const result = await runPhase(emulator, prefix, processes, firesPerProcess);
      const all = await countRuns(clients, physicalName(prefix, 'runs'));
      // Less each process's warm-up fire, made before the clock started.
      const records = all - recordsBefore - processes;
      recordsBefore = all;
      const distinctFires = processes * firesPerProcess;
      const outcomes = sumOutcomes(result.children);
      results[`processes${processes}`] = {
        processes,
        distinctFires,
        resends: result.children.reduce((n, c) => n + c.resends, 0),
        seconds: +result.seconds.toFixed(2),
        firesPerSecond: +(distinctFires / result.seconds).toFixed(1),
        outcomes,
        runRecords: records,
        // A fire dispatched twice, or a run record beyond one per fire: both must be zero.
        duplicates: Math.max(0, (outcomes.dispatched ?? 0) - distinctFires, records - distinctFires),
        // Fires every caller was told were duplicates (a write that landed, then timed out and was retried).
        answeredByNobody: Math.max(0, distinctFires - (outcomes.dispatched ?? 0)),
      };
    }
    const queued = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    const one = results.processes1;
    const four = results.processes4;
    return {
      emulator: emulator.kind,
      firesPerProcess,
      dispatchers: 'separate node processes, one fire at a time each (like Lambda containers)',
      seedSeconds: +seedSeconds.toFixed(1),
      ...results,
      ...(one && four ? { fourOverOne: +(four.firesPerSecond / one.firesPerSecond).toFixed(2) } : {}),
      // Every dispatched run is one message on the worker's queue (warm-up fires included).
      messagesOnWorkerQueue: Number(queued.Attributes?.ApproximateNumberOfMessages ?? Number.NaN),
      runRecords: recordsBefore,
      ...(capacity
        ? { emulatorCapacity: await emulatorCapacity(emulator, physicalName(prefix, 'jobs')) }
        : {}),
    };
  });
}

/**
 * What the emulator itself can answer: DynamoDB requests per second from `n` concurrent loops (one
 * process, one client each), through the linearizing proxy and straight to moto, for a GetItem and
 * for a PutItem of a fresh item. Where the dispatchers' ceiling is, apart from Clover's own code.
 */
async function emulatorCapacity(
  emulator: Emulator,
  table: string,
  seconds = 2,
  concurrency: readonly number[] = [1, 4, 16],
): Promise<Record<string, Record<string, number>>> {
  const targets = {
    proxy: emulator.endpoint,
    ...(emulator.unproxiedEndpoint ? { motoDirect: emulator.unproxiedEndpoint } : {}),
  };
  const key = { jobId: { S: jobId(1, 0, 0) } };
  const figures: Record<string, Record<string, number>> = {};
  let written = 0;
  for (const [name, endpoint] of Object.entries(targets)) {
    for (const operation of ['GetItem', 'PutItem'] as const) {
      for (const n of concurrency) {
        const loops = Array.from({ length: n }, () =>
          awsClients({ endpoint, region: emulator.region, credentials: emulator.credentials }),
        );
        let requests = 0;
        let errors = 0;
        const until = performance.now() + seconds * 1000;
        const started = performance.now();
        await Promise.all(
          loops.map(async (client) => {
            while (performance.now() < until) {
              try {
                if (operation === 'GetItem')
                  await client.dynamodb.send(new GetItemCommand({ TableName: table, Key: key }));
                else {
                  written += 1;
                  await client.dynamodb.send(
                    new PutItemCommand({
                      TableName: table,
                      Item: { jobId: { S: `capacity-${written}` } },
                      ConditionExpression: 'attribute_not_exists(jobId)',
                    }),
                  );
                }
                requests += 1;
              } catch {
                errors += 1;
              }
            }
          }),
        );
        const elapsed = (performance.now() - started) / 1000;
        for (const client of loops) client.destroy();
        figures[`${name} ${operation}`] = {
          ...figures[`${name} ${operation}`],
          [`${n} concurrent`]: Math.round(requests / elapsed),
          ...(errors ? { [`${n} concurrent, failed requests`]: errors } : {}),
        };
      }
    }
  }
  return figures;
}

function sumOutcomes(children: readonly ChildFigures[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const child of children)
    for (const [kind, n] of Object.entries(child.outcomes)) sum[kind] = (sum[kind] ?? 0) + n;
  return sum;
}

async function countRuns(clients: AwsClients, table: string): Promise<number> {
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

/**
 * Starts `processes` dispatcher processes, lets each warm up (clients, worker cache, one fire of its
 * own), then releases them together and waits for all: the phase's time is from release to the last.
 */
async function runPhase(
  emulator: Emulator,
  prefix: string,
  processes: number,
  fires: number,
): Promise<{ seconds: number; children: ChildFigures[] }> {
  const children: ChildProcess[] = [];
  try {
    const ready: Promise<unknown>[] = [];
    const done: Promise<ChildFigures>[] = [];
    for (let p = 0; p < processes; p += 1) {
      const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, 'dispatcher'], {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: {
          ...process.env,
          BENCH_DISPATCHER: JSON.stringify({
            endpoint: emulator.endpoint,
            region: emulator.region,
            credentials: emulator.credentials,
            prefix,
            phase: processes,
            process: p,
            neighbour: (p + 1) % processes,
            fires,
          }),
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
    const started = performance.now();
    for (const child of children) child.stdin!.write('go\n');
    const results = await Promise.all(done);
    return { seconds: (performance.now() - started) / 1000, children: results };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** One dispatcher process: warm up, say `ready`, wait for `go`, fire its slice, print its figures. */
async function dispatcherProcess(): Promise<void> {
  const args = JSON.parse(process.env.BENCH_DISPATCHER ?? '{}') as {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
    prefix: string;
    phase: number;
    process: number;
    neighbour: number;
    fires: number;
  };
  const clients = awsClients(args);
  const plane = controlPlane({ clients, prefix: args.prefix });
  // Warm like a container that has served before: clients connected, worker list cached.
  await plane.dispatcher.fire({
    jobId: jobId(args.phase, args.process, args.fires),
    scheduledTime: SCHEDULED_TIME,
  });
  console.log('ready');
  const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  await stdin.next();
  const outcomes: Record<string, number> = {};
  const count = (kind: string) => {
    outcomes[kind] = (outcomes[kind] ?? 0) + 1;
  };
  const started = performance.now();
  let resends = 0;
  // A fire that throws (an SDK timeout on a loaded machine) is counted, not fatal: the counts of
  // run records still show whether anything was duplicated.
  const fire = async (owner: number, index: number) => {
    try {
      count(
        (
          await plane.dispatcher.fire({
            jobId: jobId(args.phase, owner, index),
            scheduledTime: SCHEDULED_TIME,
          })
        ).kind,
      );
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
  console.log(JSON.stringify({ fires: args.fires, resends, outcomes, seconds } satisfies ChildFigures));
  await plane.close();
  clients.destroy();
  process.exit(0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv[2] === 'dispatcher') await dispatcherProcess();
  else
    console.log(
      JSON.stringify(await dispatchThroughput({ firesPerProcess: Number(process.argv[2] ?? 200) }), null, 2),
    );
}
