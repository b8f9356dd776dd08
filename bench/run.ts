/**
 * `npm run bench`: every benchmark, one after another, each printing its figures.
 * Figures are measurements of one run on this machine, never pass/fail limits; compare ratios
 * within a run (ZeroMQ against SQS on the same emulator), not absolute numbers across machines.
 *
 *   npm run bench                 # all
 *   npm run bench -- requests     # only those whose name contains "requests"
 */
import { spawnSync } from 'node:child_process';
import { apiAtSize } from './api';
import { cliStartup } from './cli-startup';
import { consoleBench } from './console';
import { failover } from './failover';
import { poisonFlood } from './poison-flood';
import { requestsPerFire } from './requests-per-fire';
import { scheduleSearches } from './schedule';
import { zmqLatency } from './zmq-latency';

const benchmarks: ReadonlyArray<{ name: string; run: () => Promise<unknown> }> = [
  { name: 'schedule engine searches', run: () => scheduleSearches() },
  { name: 'cli start-up (bundle: median of 10 runs; source: of 3)', run: () => cliStartup(10) },
  { name: 'requests-per-fire (SQS path, 200 fires)', run: () => requestsPerFire(200) },
  { name: 'zmq-latency (fire-to-start, ZeroMQ vs SQS, 200 fires)', run: () => zmqLatency(200) },
  {
    name: 'console (bundle size gzipped, dashboard paint in Chromium, 5 cold loads)',
    run: () => consoleBench(5),
  },
  {
    name: 'api (lists and error search at 10,000 jobs and 100,000 runs: latency and reads per page)',
    run: () => apiAtSize(10_000, 100_000),
  },
  { name: 'failover (kill -9, default lease 6 s, monitor sweep 5 s)', run: () => failover(3) },
  { name: 'poison-flood (fire-to-start behind 200 malformed messages, 5 fires)', run: () => poisonFlood(5) },
  {
    // Its own process: it measures timer lateness, which other work in this process would distort.
    name: 'local-jitter (LOCAL mode, 3 agents, a fire every 2 s for 60 s)',
    run: async () => {
      spawnSync(process.execPath, ['--import', 'tsx', 'bench/local-jitter.ts'], { stdio: 'inherit' });
      return 'see above';
    },
  },
];

const filters = process.argv.slice(2);
for (const bench of benchmarks.filter(
  (b) => filters.length === 0 || filters.some((f) => b.name.includes(f)),
)) {
  console.log(`\n== ${bench.name}`);
  const started = performance.now();
  const figures = await bench.run();
  if (typeof figures !== 'string') console.log(JSON.stringify(figures, null, 2));
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
