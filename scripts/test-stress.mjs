#!/usr/bin/env node
// `npm run test:stress`: the integration and process tests (under test/) while a CPU hog
// keeps every core busy — the tests must hold on a loaded machine, not only on a quiet one.
// The hog is Debian's stress-ng (`apt-get install -y stress-ng`), one CPU worker per online core at
// 100 % load; it is stopped when the tests end, however they end. Not part of `npm test`.
// Arguments narrow the test files as for scripts/run-tests.mjs. By default: every folder under test/
// except test/console, the browser tests (their own layer, run by `npm test`).
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const probe = spawnSync('stress-ng', ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.error('test:stress needs stress-ng on PATH (Debian/Ubuntu: apt-get install -y stress-ng)');
  process.exit(2);
}

const cores = availableParallelism();
const BROWSER = new Set(['console']);
const filters =
  process.argv.length > 2
    ? process.argv.slice(2)
    : readdirSync(new URL('../test/', import.meta.url), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && !BROWSER.has(entry.name))
        .map((entry) => `test/${entry.name}/`);
const hog = spawn('stress-ng', ['--cpu', String(cores), '--cpu-load', '100', '--quiet'], {
  stdio: 'inherit',
});
console.log(
  `== stress-ng: ${cores} CPU workers at 100 % (pid ${hog.pid}); running ${process.argv.length > 2 ? filters.join(' ') : 'test/ (browser tests aside)'}`,
);

const stopHog = () => {
  if (hog.exitCode === null && hog.signalCode === null) hog.kill('SIGTERM');
};
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopHog();
    process.exit(130);
  });
}

const started = Date.now();
const tests = spawn(process.execPath, [new URL('./run-tests.mjs', import.meta.url).pathname, ...filters], {
  stdio: 'inherit',
});
tests.on('exit', (code, signal) => {
  stopHog();
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  console.log(
    `== test:stress ${code === 0 ? 'passed' : 'FAILED'} in ${minutes} min under ${cores} busy cores`,
  );
  process.exit(code ?? (signal ? 1 : 0));
});
