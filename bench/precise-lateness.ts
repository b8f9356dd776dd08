/**
 * Precise REMOTE jobs' start lateness (issue 27, docs/precise-jobs.md): how late a handler starts
 * after its fire's nominal second, for precise jobs over ZeroMQ and over SQS, beside plain REMOTE jobs
 * and LOCAL mode in the same run, on the local product's parts with EventBridge Scheduler's lateness
 * simulated: the scheduler clock (core/scheduler-clock.ts) delivers every invocation — the planner's
 * each minute and every plain REMOTE fire — at a random moment within its minute
 * (`schedulerLateness`, as `CLOVER_SCHEDULER_LATENESS=minute` does in `npm start`), into the
 * dispatcher's handler and the planner (core/planner.ts), as the local runtime wires them.
 *
 *   npx tsx bench/precise-lateness.ts [--jobs 4] [--seconds 270] [--lead-ms 1000]
 *
 * On a bench stack of its own, two in-process agents of pool `bench`: `precise-zmq` (with a ZeroMQ
 * intake) and `precise-sqs`. Per path `--jobs` precise jobs on `*\/2 * * * * ?` pinned to that path's
 * agent (delivery ZMQ or SQS), 2 LOCAL jobs on the same expression, and 10 plain REMOTE jobs on
 * `rate(1 minute)`, all in one window of `--seconds` that opens 100 s after the definitions (the first
 * planner pass may come up to a minute late). All jobs ALLOW overlap: a FORBID decision is a DynamoDB
 * transaction, which moto serves by copying the tables (hundreds of ms once the runs table holds a few
 * thousand runs), so it would measure the emulator, not the path.
 *
 * The lateness is each run's `startLateMs`, written by the agent that started it (its clock; the
 * same figure the agents' `RunStartLatenessMs` metric carries): p50, p99 and max per path, with the
 * machine's load average at the start and the end. A measurement, not a test. The last line of output
 * is every figure as JSON (bench/run.ts reads it).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';
import { isFinal, isoSeconds, type JobSpecInput, type Run } from '../core/model';
import { Planner } from '../core/planner';
import { SchedulerClock, schedulerLateness } from '../core/scheduler-clock';
import { makeDispatcherHandler } from '../functions/dispatcher/handler';
import { DEFAULT_AGENT_LEAD_MS } from '../worker-agent/local-mode';
import { withBenchStack } from './harness';
import { percentile } from './stats';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '270' },
    /** How long before its instant an agent decides and claims a fire (AgentOptions.local.leadMs). */
    'lead-ms': { type: 'string', default: String(DEFAULT_AGENT_LEAD_MS) },
  },
});
const JOBS_PER_PATH = Number(values.jobs);
const WINDOW_MS = Number(values.seconds) * 1000;
const LEAD_MS = Number(values['lead-ms']);
/** From the definitions to the window: the first planner pass, up to a minute late, plans it. */
const OPEN_AFTER_MS = 100_000;
const EXPRESSION = '*/2 * * * * ?';
const PATHS = ['precise-zmq', 'precise-sqs', 'remote', 'local'] as const;
type Path = (typeof PATHS)[number];

const load = () => loadavg().map((n) => Math.round(n * 10) / 10);

function summary(runs: readonly Run[]) {
  const late = runs.flatMap((run) => (run.startLateMs === undefined ? [] : [run.startLateMs]));
  const statuses: Record<string, number> = {};
  for (const run of runs) {
    const key = run.reason ? `${run.status}(${run.reason})` : run.status;
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
  return {
    runs: runs.length,
    started: late.length,
    statuses,
    startLateMs: {
      p50: percentile(late, 50),
      p99: percentile(late, 99),
      max: late.length ? Math.max(...late) : Number.NaN,
    },
  };
}

function main(): Promise<void> {
  const dispatcherKeys = zmq.curveKeyPair();
  return withBenchStack(
    // The final reads Query the byJob index of a few thousand runs, which moto walks whole: slow under load.
    { name: 'precise', plane: { zmq: { keys: dispatcherKeys } }, callTimeoutMs: 60_000 },
    async (stack) => {
      const { plane, emulator, log } = stack;
      const loadAtStart = load();
      for (const [workerId, yaml] of [
        [
          'precise-zmq',
          [
            'zmq:',
            '  bind: tcp://127.0.0.1:*',
            `  secretKey: ${JSON.stringify(zmq.curveKeyPair().secretKey)}`,
            `  allowedDispatcherKeys: [${JSON.stringify(dispatcherKeys.publicKey)}]`,
          ],
        ],
        ['precise-sqs', []],
      ] as const) {
        await stack.agent({
          workerId,
          yaml,
          handlers: { 'bench.noop': async () => {} },
          agent: { local: { leadMs: LEAD_MS } },
        });
      }

      const opensAt = Math.ceil((Date.now() + OPEN_AFTER_MS) / 2000) * 2000;
      const window = { startDate: isoSeconds(opensAt), endDate: isoSeconds(opensAt + WINDOW_MS) };
      const jobs: Array<{ path: Path; spec: JobSpecInput }> = [];
      const common = { handler: 'bench.noop', concurrency: { policy: 'ALLOW' } } as const;
      for (let i = 1; i <= JOBS_PER_PATH; i += 1) {
        for (const [path, workerId, delivery] of [
          ['precise-zmq', 'precise-zmq', 'ZMQ'],
          ['precise-sqs', 'precise-sqs', 'SQS'],
        ] as const) {
          jobs.push({
            path,
            spec: {
              ...common,
              jobId: `${path}-${i}`,
              precision: 'SECOND',
              delivery,
              routing: 'FIRST',
              target: { pool: 'bench', workerIds: [workerId] },
              schedule: { expression: EXPRESSION, ...window },
            },
          });
        }
      }
      for (let i = 1; i <= 2; i += 1) {
        jobs.push({
          path: 'local',
          spec: {
            ...common,
            jobId: `local-${i}`,
            mode: 'LOCAL',
            target: { pool: 'bench' },
            schedule: { expression: EXPRESSION, ...window },
          },
        });
      }
      for (let i = 1; i <= 10; i += 1) {
        jobs.push({
          path: 'remote',
          spec: {
            ...common,
            jobId: `remote-${i}`,
            target: { pool: 'bench' },
            schedule: { expression: 'rate(1 minute)', ...window },
          },
        });
      }
      for (const { spec } of jobs) await plane.jobService.define(spec);

      // The local product's scheduler (functions/local/runtime.ts), with Scheduler's lateness on.
      const planner = new Planner({ ...plane, log });
      const clock = new SchedulerClock({
        schedules: plane.schedules,
        fire: makeDispatcherHandler({ dispatcher: plane.dispatcher, log }),
        planner: (scheduledTime) => planner.plan({ scheduledTime }),
        log,
        lateness: () => schedulerLateness(),
      });
      let ticking = true;
      const ticks = (async () => {
        while (ticking) {
          await clock.tick(Date.now()).catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      })();
      console.log(
        `emulator ${emulator.kind}; ${jobs.length} jobs (${JOBS_PER_PATH} precise per path); agents' lead ${LEAD_MS} ms; window ${WINDOW_MS / 1000} s from ${window.startDate}; load ${loadAtStart.join(' ')}`,
      );

      // The window, then a minute for the last plain REMOTE invocations (late by up to 60 s) to run.
      const ends = opensAt + WINDOW_MS + 75_000;
      await new Promise((resolve) => setTimeout(resolve, ends - Date.now()));
      ticking = false;
      await ticks;
      clock.stop();
      const loadAtEnd = load();
      const byPath = new Map<Path, Run[]>(PATHS.map((path) => [path, []]));
      for (const { path, spec } of jobs) {
        let runs: Run[] = [];
        for (let attempt = 0; attempt < 30; attempt += 1) {
          runs = await plane.runs.listByJob(spec.jobId, { limit: 1000 });
          if (runs.every(isFinal)) break;
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
        byPath.get(path)?.push(...runs);
      }
      const figures = Object.fromEntries(PATHS.map((path) => [path, summary(byPath.get(path) ?? [])]));
      for (const path of PATHS) {
        const f = figures[path]!;
        console.log(
          `${path.padEnd(12)} runs ${f.runs}, started ${f.started}: start lateness p50 ${f.startLateMs.p50} ms, p99 ${f.startLateMs.p99} ms, max ${f.startLateMs.max} ms  ${JSON.stringify(f.statuses)}`,
        );
      }
      console.log(`load average at start ${loadAtStart.join(' ')}, at end ${loadAtEnd.join(' ')}`);
      console.log(
        JSON.stringify({
          emulator: emulator.kind,
          jobsPerPath: JOBS_PER_PATH,
          leadMs: LEAD_MS,
          expression: EXPRESSION,
          windowSeconds: WINDOW_MS / 1000,
          schedulerLateness: 'uniform within the minute',
          loadAverage: { start: loadAtStart, end: loadAtEnd },
          ...figures,
        }),
      );
    },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
