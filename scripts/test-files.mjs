// Runs test files with node's own test runner (TypeScript through tsx), each in a `node --test` of its
// own with a per-file timeout, a few at a time; shared by run-tests.mjs and test-chaos.mjs.
//
// Why a process per file: on Node 20, `--test-timeout` given to `node --test` bounds each *file* (the
// runner's subtest for it), and one process takes one value; files that are slow by nature need a
// larger one than the rest. So each file gets its own `node --test --test-timeout=<its limit>`: a hang
// ends at that limit as `✖ <file> ... 'test timed out after Nms'`, with the file's name, instead of
// holding CI until its own deadline. A guard kills a file's process group if node itself has not
// ended it a minute after the limit.
//
// Each file's output is printed whole when it ends (no interleaving), with its duration; the end is a
// summary in node's form plus one line `N passed, N failed` (cancelled and timed-out tests count as
// failed; a file that ended without a summary counts as one failure).
import { spawn } from 'node:child_process';

const COUNTS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];
const GUARD_MS = 60_000;

/**
 * @param {string[]} files
 * @param {{ concurrency: number, timeoutMs: (file: string) => number }} options
 * @returns {Promise<number>} the exit code: 0 when every file passed
 */
export async function runTestFiles(files, { concurrency, timeoutMs }) {
  const started = Date.now();
  const totals = Object.fromEntries(COUNTS.map((name) => [name, 0]));
  const failures = [];
  let unfinished = 0;
  const queue = [...files];

  const runOne = (file) =>
    new Promise((resolve) => {
      const limit = timeoutMs(file);
      const fileStarted = Date.now();
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--test', `--test-timeout=${limit}`, '--test-reporter=spec', file],
        { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
      );
      let output = '';
      child.stdout.on('data', (chunk) => {
        output += chunk;
      });
      child.stderr.on('data', (chunk) => {
        output += chunk;
      });
      let guarded = false;
      const guard = setTimeout(() => {
        guarded = true;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, limit + GUARD_MS);
      child.on('close', (code, signal) => {
        clearTimeout(guard);
        const seconds = ((Date.now() - fileStarted) / 1000).toFixed(1);
        const counts = summaryOf(output);
        process.stdout.write(output.endsWith('\n') || output === '' ? output : `${output}\n`);
        if (counts === undefined) {
          unfinished += 1;
          const why = guarded
            ? `killed ${GUARD_MS / 1000} s after its ${limit / 1000} s limit`
            : `exit ${code ?? signal}`;
          failures.push(`✖ ${file}: ended without a test summary (${why})`);
        } else {
          for (const name of COUNTS) totals[name] += counts[name] ?? 0;
          const failed = (counts.fail ?? 0) + (counts.cancelled ?? 0);
          if (failed > 0 || code !== 0)
            failures.push(failingPart(output) || `✖ ${file}: exit ${code ?? signal}`);
        }
        console.log(`== ${file}: ${seconds} s (limit ${limit / 1000} s), exit ${code ?? signal}\n`);
        resolve();
      });
    });

  const workers = Array.from({ length: Math.max(1, concurrency) }, async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) await runOne(file);
  });
  await Promise.all(workers);

  for (const name of COUNTS) console.log(`ℹ ${name} ${totals[name]}`);
  console.log(`ℹ duration_ms ${Date.now() - started}`);
  if (failures.length > 0) console.log(`\n✖ failing tests:\n\n${failures.join('\n\n')}\n`);
  const failed = totals.fail + totals.cancelled + unfinished;
  console.log(`${totals.pass} passed, ${failed} failed`);
  return failed === 0 && failures.length === 0 ? 0 : 1;
}

/** The counts of node's summary (`ℹ pass 9`), or undefined when the output has none. */
function summaryOf(output) {
  const counts = {};
  for (const match of output.matchAll(/^ℹ (\w+) (\d+)$/gm)) counts[match[1]] = Number(match[2]);
  return 'tests' in counts ? counts : undefined;
}

/** The spec reporter's closing list of failures, without its heading. */
function failingPart(output) {
  const at = output.lastIndexOf('✖ failing tests:');
  return at === -1 ? '' : output.slice(at + '✖ failing tests:'.length).trim();
}
