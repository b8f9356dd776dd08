#!/usr/bin/env node
// `npm run test:chaos`: the fault scenarios under test/chaos/ (files named *.chaos.ts, which the normal
// runner's *.test.ts walk never picks up, so `npm test` and `npm run test:stress` leave them out). Each
// scenario runs real agent processes against its own emulator, injects one kind of fault repeatedly
// with seeded random choices, and prints `scenario <name>: fires N, runs N, duplicates 0, lost 0`.
// Arguments narrow the files by substring (`npm run test:chaos -- kill`); CLOVER_CHAOS_SEED replays a
// run's choices; CLOVER_TEST_CONCURRENCY (default 2) sets how many scenario files run at once.
// What each scenario proves: docs/chaos.md.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

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

const concurrency = process.env.CLOVER_TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
