/**
 * The benchmarks `npm run bench` runs (bench/run.ts), in the order it runs them: one entry per bench
 * with the README rows it produces, read as one table; the benches themselves live in their own files.
 *
 * To add a bench: an entry in `benchmarks` below — `name`, a one-line `description` with its sizes,
 * `run()` resolving to its figures (plain JSON; set up and tear down with bench/harness.ts), and
 * optionally `headline(figures)`: the rows it adds to the README table, each compared with its floor,
 * peer, budget or target. A bench that runs the Redis peer returns `redis: { version, hz }` in its
 * figures; the run lifts it into latest.json's meta.
 */
import { apiAtSize } from './api';
import { cliStartup } from './cli-startup';
import { consoleBench } from './console';
import { costs } from './costs';
import { dispatchThroughput } from './dispatch-throughput';
import { failover } from './failover';
import { figuresFromChild } from './harness';
import { localDiscovery } from './local-discovery';
import { poisonFlood } from './poison-flood';
import { requestsPerFire } from './requests-per-fire';
import { at, type Bench, type Figures } from './results';
import { readResults } from './results-files';
import { scale } from './scale';
import { scheduleSearches } from './schedule';
import { startupTimes } from './startup';
import { zmqLatency } from './zmq-latency';

export const benchmarks: readonly Bench[] = [
  {
    name: 'schedule',
    description: 'schedule engine searches that skip by year, month and day (median of 20 calls)',
    run: () => scheduleSearches(),
  },
  {
    name: 'cli-startup',
    description:
      '`clover` CLI start-up: `npx clover --help`, the bundle (medians of 10 runs) against the source under tsx (of 3)',
    run: () => cliStartup(10),
    headline: (f) => {
      const wall = (key: string) => Number(/wall (\d+)/.exec(String(f[key]))?.[1] ?? Number.NaN);
      return [
        {
          figure: '`clover --help` (bundle), wall',
          value: wall('bundle: clover --help, ms'),
          unit: 'ms',
          compare: { against: 'bare node', value: wall('bare node (floor), ms') },
        },
        {
          figure: '`npx clover --help` (warm), wall',
          value: wall('npx clover --help (warm), ms'),
          unit: 'ms',
          compare: { against: 'aim', value: 300 },
        },
      ];
    },
  },
  {
    name: 'requests-per-fire',
    description: 'AWS requests per fire on the SQS path, end to end (200 fires)',
    run: () => requestsPerFire(200),
    headline: (f) => [
      {
        figure: 'AWS requests per fire, SQS path',
        value: at(f, 'requestsPerFire'),
        unit: '',
        compare: { against: 'budget', value: 6 },
      },
    ],
  },
  {
    // After requests-per-fire: it prices the requests per fire that bench wrote to latest.json.
    name: 'costs',
    description:
      'dollars per million fires (SQS path) and per month at idle, from requests counted here and bench/aws-prices.json (an idle agent for 60 s, a simulated hour of a quiet stage)',
    run: () => costs(readResults()?.benches['requests-per-fire']),
    headline: (f) => [
      { figure: 'dollars per million fires, SQS path', value: at(f, 'perMillionFires.total'), unit: '$' },
      {
        figure: 'dollars per month, idle stage (compute and data)',
        value: at(f, 'idle.stack.total'),
        unit: '$',
      },
      {
        figure: 'dollars per month, idle stage optional extras',
        value: at(f, 'idle.extras.total'),
        unit: '$',
      },
      { figure: 'dollars per month, each idle agent', value: at(f, 'idle.perAgent.total'), unit: '$' },
    ],
  },
  {
    name: 'zmq-latency',
    description:
      'fire-to-start, ZeroMQ against SQS delivery, and ZeroMQ for a lock-protected job, alternating (200 fires each)',
    run: () => zmqLatency(200),
    headline: (f) => [
      ...(['sqs', 'zmq'] as const).flatMap((path) => {
        const name = path === 'sqs' ? 'SQS' : 'ZeroMQ';
        const floor = {
          against: 'emulator floor of its path',
          value: at(f, `fireToStartBreakdown.${path}.floorMs`),
        };
        return [
          {
            figure: `fire-to-start p50, ${name}`,
            value: at(f, `fireToStartMs.${path}.p50`),
            unit: 'ms',
            compare: floor,
          },
          {
            figure: `fire-to-start p99, ${name}`,
            value: at(f, `fireToStartMs.${path}.p99`),
            unit: 'ms',
            compare: floor,
          },
        ];
      }),
      {
        // The target is against the minimal floor (above); this row splits the distance (bench/floor.ts).
        figure: 'fire-to-start p50, ZeroMQ, against its own items',
        value: at(f, 'fireToStartMs.zmq.p50'),
        unit: 'ms',
        compare: {
          against: "floor of its path with Clover's own items",
          value: at(f, 'fireToStartBreakdown.zmq.ownItemFloorMs'),
        },
      },
      {
        figure: 'fire-to-start p50, ZeroMQ against SQS',
        value: at(f, 'fireToStartMs.zmq.p50'),
        unit: 'ms',
        compare: { against: 'SQS p50', value: at(f, 'fireToStartMs.sqs.p50') },
      },
      {
        figure: 'fire-to-start p99, ZeroMQ against SQS',
        value: at(f, 'fireToStartMs.zmq.p99'),
        unit: 'ms',
        compare: { against: 'SQS p99', value: at(f, 'fireToStartMs.sqs.p99') },
      },
      {
        figure: 'fire-to-start p50, ZeroMQ, lock-protected job',
        value: at(f, 'fireToStartMs.zmq-lock.p50'),
        unit: 'ms',
        compare: {
          against: 'emulator floor of its path',
          value: at(f, 'fireToStartBreakdown.zmq-lock.floorMs'),
        },
      },
    ],
  },
  {
    name: 'startup',
    description:
      '`npm start` to its ready line with and without the demo, the agent to `agent started` from source and from its bundle (median of 2 each)',
    run: () => startupTimes(2),
    headline: (f) => [
      {
        figure: '`npm start` to ready, with the demo',
        value: at(f, 'npmStartToReadyMs.withDemo.medianMs') / 1000,
        unit: 's',
      },
      {
        figure: '`npm start -- --no-demo` to ready',
        value: at(f, 'npmStartToReadyMs.noDemo.medianMs') / 1000,
        unit: 's',
      },
      {
        figure: 'agent (bundle) to started',
        value: at(f, 'agentToStartedMs.fromBundle.medianMs') / 1000,
        unit: 's',
      },
    ],
  },
  {
    name: 'console',
    description: 'console bundle size (gzipped) and dashboard paint in Chromium (5 cold loads)',
    run: () => consoleBench(5),
    headline: (f) => [
      {
        figure: 'console first page JS, gzipped',
        value: at(f, 'bundle.firstPageJsGzipKB'),
        unit: 'kB',
        compare: { against: 'aim', value: 250 },
      },
    ],
  },
  {
    // 100,000 runs never finished seeding on moto (its 5 s request deadline); 10,000 does.
    name: 'api',
    description:
      'management API lists and error search at 10,000 jobs and 10,000 runs: latency and reads per page',
    run: () => apiAtSize(10_000, 10_000),
    headline: (f) => [
      { figure: 'API: jobs of a pool, a page', value: at(f, 'jobs, pool filter (index).p50Ms'), unit: 'ms' },
      {
        figure: 'API: runs newest first, a page',
        value: at(f, 'runs, newest first, 50 a page.p50Ms'),
        unit: 'ms',
      },
      {
        figure: 'API: error search, a page',
        value: at(f, 'error search "disk full" over 7 days.p50Ms'),
        unit: 'ms',
      },
    ],
  },
  {
    name: 'failover',
    description:
      'kill -9 of the agent running a recoverable job, default heartbeat 4 s, lease 8 s and monitor sweep 2 s while runs are in flight (3 trials)',
    run: async () => ({ ...(await failover(3)) }),
    headline: (f) => [
      {
        figure: 'failover, kill -9 to re-dispatch (slowest of 3)',
        value: at(f, 'redispatchS.max'),
        unit: 's',
        compare: { against: 'target', value: 10 },
      },
      {
        figure: 'failover, kill -9 to completion elsewhere (median)',
        value: at(f, 'completionS.median'),
        unit: 's',
        compare: { against: 'target', value: 15 },
      },
    ],
  },
  {
    name: 'local-discovery',
    description:
      'reads each agent spends per hour finding its LOCAL jobs among 10,000 jobs (3 LOCAL): the Scan it replaced against the byMode Query',
    run: () => localDiscovery(10_000, 3),
    headline: (f) => [
      {
        figure: 'LOCAL job discovery, read units per agent per hour (10,000 jobs)',
        value: at(f, 'perAgentPerHour.after.readUnits'),
        unit: '',
        compare: { against: 'the full Scan it replaced', value: at(f, 'perAgentPerHour.before.readUnits') },
      },
    ],
  },
  {
    name: 'poison-flood',
    description: 'fire-to-start behind 200 malformed messages on the worker queue (5 fires)',
    run: () => poisonFlood(5),
    headline: (f) => [
      {
        figure: 'fire-to-start p50 behind 200 malformed messages',
        value: at(f, 'fireToStartMs.behind200Malformed.p50'),
        unit: 'ms',
        compare: { against: 'quiet p50', value: at(f, 'fireToStartMs.quiet.p50') },
      },
    ],
  },
  {
    name: 'bullmq',
    description:
      'the peer: BullMQ 6 on Redis at hz 10 and 100 (100 fires, 2,000 jobs) beside Clover in the same run (zmq-latency and one dispatcher, 100 fires)',
    // Imported when run: a checkout whose node_modules predates the bullmq devDependency still runs the rest.
    run: async () => (await import('./bullmq')).bullmqPeer(100, 2000),
    headline: (f) => [
      {
        figure: 'fire-to-start p50, Clover ZeroMQ',
        value: at(f, 'clover.fireToStartMs.zmq.p50'),
        unit: 'ms',
        compare: {
          against: 'BullMQ delayed p50, hz 10',
          value: at(f, 'peer.hz10.fireToStartMs.delayed.p50'),
        },
      },
      {
        figure: 'fire-to-start p50, Clover ZeroMQ',
        value: at(f, 'clover.fireToStartMs.zmq.p50'),
        unit: 'ms',
        compare: {
          against: 'BullMQ delayed p50, hz 100',
          value: at(f, 'peer.hz100.fireToStartMs.delayed.p50'),
        },
      },
      {
        figure: 'one dispatcher, fires per second',
        value: at(f, 'clover.oneDispatcherFiresPerSecond'),
        unit: '/s',
        compare: {
          against: 'BullMQ adds/s, one producer, hz 10',
          value: at(f, 'peer.hz10.throughput.addsPerSecond'),
        },
      },
    ],
  },
  {
    name: 'dispatch-throughput',
    description:
      "fires per second of one dispatcher process and of four in parallel on one emulator (200 fires a phase on emptied tables, re-sends, duplicates counted); the emulator's ceiling for the same calls and moto's CPU per fire, in the same run",
    run: () => dispatchThroughput({ firesPerPhase: 200 }),
    headline: (f) => [
      {
        figure: 'dispatch throughput, four processes over one',
        value: at(f, 'fourOverOne'),
        unit: 'x',
        compare: { against: 'target', value: 3 },
      },
      {
        figure: 'dispatch throughput, four processes',
        value: at(f, 'processes4.firesPerSecond'),
        unit: '/s',
        compare: {
          against: "emulator ceiling (four processes of a fire's raw calls)",
          value: at(f, 'emulatorCeiling.proxy, 4 concurrent.firesPerSecond'),
        },
      },
      {
        figure: "most four-over-one moto's one core allows (one fire's CPU over moto's)",
        value: at(f, 'cpuBoundFourOverOne'),
        unit: 'x',
        compare: { against: 'target', value: 3 },
      },
      {
        figure: 'duplicate runs, four dispatchers with re-sends',
        value: at(f, 'processes4.duplicates'),
        unit: '',
      },
    ],
  },
  {
    name: 'scale',
    description:
      "10,000 jobs and 200 agents: lease renewals at the agent's default heartbeat (rate, latency, cost) and the monitor sweep (cold, warm, at housekeeping; requests and read units), read units per month of sweeps idle and watching, before/after issue 16",
    run: () => scale(10_000, 200),
    headline: (f) => [
      {
        figure: 'monitor sweep at 10,000 jobs / 200 agents, cold instance',
        value: at(f, 'monitorSweep.cold.seconds'),
        unit: 's',
      },
      {
        figure: 'monitor sweep at 10,000 jobs / 200 agents, warm instance',
        value: at(f, 'monitorSweep.warm.seconds'),
        unit: 's',
      },
      {
        figure: 'monitor read units per month at 10,000 jobs, idle (a sweep a minute)',
        value: at(f, 'monitorSweep.perMonth.idle.readUnits'),
        unit: '',
      },
      {
        figure: 'monitor read units per month at 10,000 jobs, watching all month (a sweep every 2 s)',
        value: at(f, 'monitorSweep.perMonth.watching.after.readUnits'),
        unit: '',
        compare: {
          against: 'a full read every sweep (before)',
          value: at(f, 'monitorSweep.perMonth.watching.before.readUnits'),
        },
      },
      {
        figure: "200 agents' lease renewals, per month",
        value: at(f, 'leaseRenewals.cost.dollarsPerMonth'),
        unit: '$',
      },
    ],
  },
  {
    // Its own process: it measures timer lateness, which other work in this process would distort.
    name: 'local-jitter',
    description: 'LOCAL mode: how late a fire starts after its instant; 3 agents, a fire every 2 s for 60 s',
    run: async () => (await figuresFromChild('bench/local-jitter.ts')) as Figures,
    headline: (f) => [
      {
        figure: 'LOCAL timer-to-claim p50 (decided ahead of the instant)',
        value: at(f, 'timerToClaimBreakdown.local.p50'),
        unit: 'ms',
        compare: {
          against: 'emulator floor of its path',
          value: at(f, 'timerToClaimBreakdown.local.floorMs'),
        },
      },
      {
        figure: 'LOCAL fire start lateness p99',
        value: at(f, 'lateMs.start.p99'),
        unit: 'ms',
        compare: { against: 'aim', value: 50 },
      },
    ],
  },
  {
    // Its own process, for the same reason as local-jitter: it measures when handlers start.
    name: 'precise-lateness',
    description:
      'precise REMOTE start lateness from the nominal second (ZeroMQ and SQS, 4 jobs every 2 s each for 270 s) beside plain REMOTE and LOCAL, Scheduler lateness simulated',
    run: async () => (await figuresFromChild('bench/precise-lateness.ts')) as Figures,
    headline: (f) =>
      (['precise-zmq', 'precise-sqs'] as const).map((path) => ({
        figure: `precise REMOTE start lateness p99 (${path === 'precise-zmq' ? 'ZeroMQ' : 'SQS'})`,
        value: at(f, `${path}.startLateMs.p99`),
        unit: 'ms',
        compare: { against: 'goal', value: 100 },
      })),
  },
];
