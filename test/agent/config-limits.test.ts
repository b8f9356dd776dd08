/**
 * Every config failure is exit 2 with `file:line: field: reason`, also for the inputs that used to
 * escape the rule: a YAML alias bomb (was a raw `ReferenceError` stack, exit 1), a config file far
 * too big, and a `journalDir` that is a file or runs through one (was `EEXIST mkdir`, exit 1).
 * The real `clover-agent` CLI is run; it fails before it talks to AWS, so no emulator is needed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { MAX_CONFIG_BYTES } from '../../worker-agent/config';

async function runAgent(config: string): Promise<{ status: number | null; stderr: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'clover-config-limits-'));
  const file = join(dir, 'agent.yaml');
  await writeFile(file, config);
  const result = spawnSync(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), resolve('worker-agent/cli.ts'), '--config', file],
    {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '', AWS_ENDPOINT_URL: 'http://127.0.0.1:9' },
      timeout: 60_000,
    },
  );
  return { status: result.status, stderr: result.stderr, file };
}

/** The one error line `file:line: field: reason` (the Node.js version warning aside). */
function errorLine(stderr: string, file: string): string {
  const line = stderr.split('\n').find((l) => l.startsWith(`${file}:`));
  assert.ok(line, `no line naming ${file} in:\n${stderr}`);
  return line;
}

test('a YAML alias bomb exits 2 naming the file, the line of the first alias and its key', async () => {
  const levels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const config = [
    'workerId: bomb',
    `a: &a [${Array(9).fill('"lol"').join(', ')}]`,
    ...levels.slice(1).map((name, i) => `${name}: &${name} [${Array(9).fill(`*${levels[i]}`).join(', ')}]`),
  ].join('\n');
  const { status, stderr, file } = await runAgent(config);
  assert.equal(status, 2, stderr);
  assert.match(errorLine(stderr, file), /:3: b: YAML aliases here expand past the limit of 100 nodes/);
  assert.doesNotMatch(stderr, /ReferenceError|at .*\.js:\d+/, 'no stack trace');
});

test('a config file over the size limit exits 2 naming the file and the line where it crosses the limit', async () => {
  const line = `  k: ${'v'.repeat(99)}\n`;
  const config = `workerId: big\nlabels:\n${line.repeat(Math.ceil((MAX_CONFIG_BYTES * 1.5) / line.length))}`;
  const { status, stderr, file } = await runAgent(config);
  assert.equal(status, 2, stderr);
  const crossing = Math.floor((MAX_CONFIG_BYTES - 'workerId: big\nlabels:\n'.length) / line.length) + 3;
  assert.equal(
    errorLine(stderr, file),
    `${file}:${crossing}: (file): is over the ${MAX_CONFIG_BYTES}-byte limit for a config file (it crosses it on this line)`,
  );
});

test('a journalDir that is a file, or runs through one, exits 2 naming the file, the line and journalDir', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clover-config-journal-'));
  const notADir = join(dir, 'journal');
  await writeFile(notADir, 'a file, not a directory\n');
  for (const [journalDir, reason] of [
    [notADir, `${notADir} is a file, not a directory`],
    [join(notADir, 'sub'), `${join(notADir, 'sub')} cannot be created: ${notADir} is a file`],
  ]) {
    const { status, stderr, file } = await runAgent(`workerId: j1\npool: ok\njournalDir: ${journalDir}\n`);
    assert.equal(status, 2, stderr);
    assert.equal(errorLine(stderr, file), `${file}:3: journalDir: ${reason}`);
  }
});
