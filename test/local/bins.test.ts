/**
 * The README's commands inside a checkout: `npx clover-agent` and `npx clover` run this repository's
 * own bins (npm links them through the package's `"clover": "file:."` self-dependency), never a
 * package of the same name from the registry (npm_config_yes=false, npx's `--no`, forbids installing
 * one). The commands are typed as the README shows them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO } from './start-process';

const npx = (...args: string[]) =>
  promisify(execFile)('npx', args, {
    cwd: REPO,
    env: { ...process.env, NODE_OPTIONS: '', npm_config_yes: 'false' },
    timeout: 60_000,
  });

test('npx clover-agent --config ... runs the repository’s agent (a missing file is its exit 2)', async () => {
  await assert.rejects(
    npx('clover-agent', '--config', 'no-such-agent.yaml'),
    (error: Error & { code?: number; stderr?: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr ?? '', /no-such-agent\.yaml: \(file\): cannot be read \(ENOENT\)/);
      return true;
    },
  );
});

test('npx clover schedule check runs the repository’s CLI', async () => {
  const { stdout } = await npx('clover', 'schedule', 'check', 'rate(5 minutes)');
  assert.match(stdout, /^rate\(5 minutes\)\nEvery 5 minutes/);
});
