#!/usr/bin/env node
// Runs every *.test.ts under the source folders with node's own test runner (TypeScript through tsx).
// Node 20's runner does not expand globs, so the files are listed here. Arguments narrow the set:
// `node scripts/run-tests.mjs schedule` runs only files whose path contains "schedule".
//
// Each file has a time limit (test-files.mjs): a hang fails that file, named, at its limit. The limits
// are failure bounds for a loaded machine (load 10-25), never expected durations.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runTestFiles } from './test-files.mjs';

/** Per file, unless listed below. CLOVER_TEST_FILE_TIMEOUT_SECONDS overrides it (and the slow ones). */
const FILE_TIMEOUT_SECONDS = 300;
/**
 * Files slow by nature, with their limit: many browser pages, CDK synths of several stacks, real agent
 * fleets, or long scenarios. Each takes 1-3 minutes on a quiet 2-core machine.
 *
 * Not listed, so at the default: test/zmq/zmq.test.ts and test/zmq/zmq-runs.test.ts (~300 lines
 * each), the two halves of the one ZeroMQ file that was listed here at 600 s until e15becc split it.
 * The whole file took 13-20 s in four clean-clone CI runs and 42 s at most beside other test runs,
 * so each half is far inside 300 s.
 */
const SLOW_FILES = {
  'infra/stack.test.ts': 600,
  'infra/synth.test.ts': 600,
  'test/console/console.test.ts': 720,
  'test/console/start.test.ts': 600,
  'test/console/cognito.test.ts': 600,
  'test/agent/scenario.test.ts': 600,
  'test/agent/fleet.test.ts': 600,
  'test/local-mode/local-mode.test.ts': 600,
  'test/precise/precise.test.ts': 600,
  'test/api/fuzz.test.ts': 600,
  // Real CLI processes against npm start's pieces: 302 s once at load 30, 602 s once at load ~20
  // with another CI run's worth of helpers beside it (80 s quiet).
  'test/cli/end-to-end.test.ts': 900,
  // Every runnable example of the docs against one npm start: 302 s once at load 31.
  'test/docs/docs.test.ts': 600,
  // Signals to real agents under a watchdog: 196 s at load 30.
  'test/agent/signals.test.ts': 600,
  // A simulated idle hour of the monitor and planner, ~2,300 requests to moto: 189 s at load 11.
  'test/monitor/idle-hour.test.ts': 600,
  // A bundling cdk synth, then five Lambda bundles in Node.js arm64 under qemu: 10.4 min at load 30.
  'test/bundles/bundles.test.ts': 1200,
};

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

const override = Number(process.env.CLOVER_TEST_FILE_TIMEOUT_SECONDS) || undefined;
process.exitCode = await runTestFiles(files, {
  concurrency: Number(process.env.CLOVER_TEST_CONCURRENCY ?? '2'),
  timeoutMs: (file) => (override ?? SLOW_FILES[file] ?? FILE_TIMEOUT_SECONDS) * 1000,
});
