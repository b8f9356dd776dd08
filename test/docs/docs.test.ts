/**
 * Docs that cannot lie (issue 25): every shell example in README.md and docs/*.md is marked runnable
 * or illustrative (test/docs/examples.ts says how), and every runnable one is run, in file order,
 * against one local product — the real `npm start` with its demo agents, in a scratch directory that
 * links the repository's files — by bash with `set -eo pipefail`. Each must end with its mark's exit
 * code and print what its mark's pattern matches. The product listens on a free port: an example's
 * `127.0.0.1:8080` is rewritten to it. The test prints how many examples ran.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { uniquePrefix } from '../harness';
import { REPO, StartProcess } from '../local/start-process';
import { repositoryExamples, type ShellExample } from './examples';

const examples = repositoryExamples(REPO);
const EXAMPLE_TIMEOUT_MS = 240_000;

test('every shell example in README.md and docs/ is marked runnable (with exit code and output check) or illustrative (with a reason)', () => {
  const problems = examples
    .filter((e) => e.mark.kind === 'unmarked' || e.mark.kind === 'bad')
    .map((e) => `${e.file}:${e.line}: ${'problem' in e.mark ? e.mark.problem : ''}`);
  assert.deepEqual(problems, []);
  const runnable = examples.filter((e) => e.mark.kind === 'runnable').length;
  console.log(
    `docs examples: ${examples.length} shell examples, ${runnable} runnable, ${examples.length - runnable} illustrative`,
  );
  assert.ok(runnable > 0);
});

function runExample(
  code: string,
  cwd: string,
  port: number,
): Promise<{ exit: number | null; output: string }> {
  const script = `set -eo pipefail\n${code.replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`)}`;
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], {
      cwd,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => {
      output += `\n[docs test: no exit within ${EXAMPLE_TIMEOUT_MS} ms; killed]`;
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, EXAMPLE_TIMEOUT_MS);
    child.once('exit', (exit) => {
      clearTimeout(timer);
      resolve({ exit, output });
    });
  });
}

test('every runnable example passes against the local product', { timeout: 1_800_000 }, async () => {
  const runnable = examples.filter(
    (e): e is ShellExample & { mark: { kind: 'runnable'; exit: number; output: RegExp } } =>
      e.mark.kind === 'runnable',
  );
  // A scratch checkout: the repository's files linked, its own .clover/ (token, mail, demo logs).
  const cwd = await mkdtemp(join(tmpdir(), 'clover-docs-'));
  // `npm run build:cli` writes the repository's dist/ (git-ignored); link it even before it exists.
  await mkdir(join(REPO, 'dist'), { recursive: true });
  for (const name of await readdir(REPO)) {
    if (name === '.clover' || name === '.git') continue;
    await symlink(join(REPO, name), join(cwd, name));
  }
  const start = new StartProcess({ cwd, env: { PORT: '0', CLOVER_PREFIX: uniquePrefix() } });
  try {
    const [, port] = await start.waitFor(
      /Clover is ready in [\d.]+ s at http:\/\/127\.0\.0\.1:(\d+)/,
      240_000,
    );
    const failures: string[] = [];
    for (const example of runnable) {
      const { exit, output } = await runExample(example.code, cwd, Number(port));
      const ok = exit === example.mark.exit && example.mark.output.test(output);
      if (!ok) {
        failures.push(
          `${example.file}:${example.line}: exit ${exit} (expected ${example.mark.exit}), output ${example.mark.output.test(output) ? 'matches' : `does not match ${example.mark.output}`}:\n${output.slice(-3000)}`,
        );
      }
    }
    const byFile = new Map<string, number>();
    for (const e of runnable) byFile.set(e.file, (byFile.get(e.file) ?? 0) + 1);
    console.log(
      `docs examples: ran ${runnable.length} (${[...byFile].map(([f, n]) => `${f} ${n}`).join(', ')}), failed ${failures.length}`,
    );
    assert.deepEqual(failures, []);
  } finally {
    start.interrupt();
    await Promise.race([start.exited, new Promise((r) => setTimeout(r, 60_000))]);
    start.kill();
  }
});
