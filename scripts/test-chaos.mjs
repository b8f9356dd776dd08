#!/usr/bin/env node
// `npm run test:chaos`: the fault scenarios under test/chaos/ (files named *.chaos.ts, which the normal
// runner's *.test.ts walk never picks up, so `npm test` and `npm run test:stress` leave them out). Each
// scenario runs real agent processes against its own emulator, injects one kind of fault repeatedly
// with seeded random choices, and prints `scenario <name>: fires N, runs N, duplicates 0, lost 0`.
// Arguments narrow the files by substring (`npm run test:chaos -- kill`); CLOVER_CHAOS_SEED replays a
// run's choices; CLOVER_TEST_CONCURRENCY (default 2) sets how many scenario files run at once.
// What each scenario proves: docs/chaos.md.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runTestFiles } from './test-files.mjs';

const dir = join(import.meta.dirname, '..', 'test', 'chaos');
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.chaos.ts'))
  .map((name) => relative(process.cwd(), join(dir, name)))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no chaos scenario matches ${filters.join(' ')}`);
  process.exit(1);
}

// A scenario takes 1-2 minutes on a quiet machine, up to 10 on a busy one; a hang fails it, named.
const SCENARIO_TIMEOUT_SECONDS = 900;
process.exitCode = await runTestFiles(files, {
  concurrency: Number(process.env.CLOVER_TEST_CONCURRENCY ?? '2'),
  timeoutMs: () => SCENARIO_TIMEOUT_SECONDS * 1000,
});
