/**
 * `npm run bench`: every benchmark, one after another, each printing its figures as JSON.
 * Figures are measurements of one run on this machine, never pass/fail limits; compare ratios
 * within a run, not absolute numbers across machines.
 *
 *   npm run bench                 # all
 *   npm run bench -- requests     # only those whose name contains "requests"
 */
import { requestsPerFire } from './requests-per-fire';

const benchmarks: ReadonlyArray<{ name: string; run: () => Promise<unknown> }> = [
  { name: 'requests-per-fire (SQS path, 200 fires)', run: () => requestsPerFire(200) },
];

const filters = process.argv.slice(2);
for (const bench of benchmarks.filter(
  (b) => filters.length === 0 || filters.some((f) => b.name.includes(f)),
)) {
  console.log(`\n== ${bench.name}`);
  const started = performance.now();
  console.log(JSON.stringify(await bench.run(), null, 2));
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
