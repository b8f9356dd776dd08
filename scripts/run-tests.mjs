#!/usr/bin/env node
// Runs every *.test.ts under the source folders with node's own test runner (TypeScript through tsx).
// Node 20's runner does not expand globs, so the files are listed here. Arguments narrow the set:
// `node scripts/run-tests.mjs schedule` runs only files whose path contains "schedule".
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const roots = ['core', 'functions', 'worker-agent', 'infra', 'test', 'cli', 'bench'];
const skipDirs = new Set(['node_modules', 'cdk.out', 'dist', '.clover']);

function* walk(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skipDirs.has(entry.name)) yield* walk(path);
    } else if (entry.name.endsWith('.test.ts')) {
      yield relative(process.cwd(), path);
    }
  }
}

const filters = process.argv.slice(2);
const files = roots
  .flatMap((root) => [...walk(root)])
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ') || '*.test.ts'}`);
  process.exit(1);
}

const concurrency = process.env.CLOVER_TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
