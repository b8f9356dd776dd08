/**
 * Secrets at rest under `.clover/`: `npm start` (with its demo agents, real processes) over an install
 * made before the rule — a 0755 directory, 0644 files, local passwords in plain text — leaves every
 * directory 0700 and every file 0600 (what it found and what it and the agents write: API key and
 * token files, agent environment, users file, mail, demo logs, agent journals and their locks), stores
 * the passwords as scrypt hashes that still sign in, and does not print them (they were not made now).
 */
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { uniquePrefix } from '../harness';
import { StartProcess } from './start-process';

/** Every path under `root` (itself included) with its permission bits. */
async function modes(root: string): Promise<Map<string, { mode: number; dir: boolean }>> {
  const found = new Map<string, { mode: number; dir: boolean }>();
  const visit = async (path: string) => {
    const stat = await lstat(path);
    found.set(path, { mode: stat.mode & 0o777, dir: stat.isDirectory() });
    if (stat.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  };
  await visit(root);
  return found;
}

function assertOwnerOnly(found: Map<string, { mode: number; dir: boolean }>): void {
  const wrong = [...found]
    .filter(([, { mode, dir }]) => mode !== (dir ? 0o700 : 0o600))
    .map(([path, { mode }]) => `${path} ${mode.toString(8)}`);
  assert.deepEqual(wrong, [], 'every directory 0700, every file 0600');
}

/** Writes `text` at `path` with exactly `mode` (the umask would narrow writeFile's). */
async function oldFile(path: string, text: string, mode = 0o644): Promise<void> {
  await writeFile(path, text);
  await chmod(path, mode);
}

test('npm start over an older install: owner-only files, hashed passwords that still sign in, none printed', async () => {
  const cwd = await mkdtemp(join(tmpdir(), 'clover-state-'));
  const state = join(cwd, '.clover');
  for (const dir of [state, join(state, 'mail'), join(state, 'demo'), join(state, 'demo/demo-1-journal')]) {
    await mkdir(dir);
    await chmod(dir, 0o755);
  }
  const old = { admin: 'old-admin-Secret1', operator: 'old-operator-Secret2', viewer: 'old-viewer-Secret3' };
  await oldFile(join(state, 'local-users.json'), JSON.stringify(old, null, 2));
  await oldFile(join(state, 'local.env'), 'AWS_SECRET_ACCESS_KEY=old\n');
  await oldFile(join(state, 'mail/2026-11-01T00-00-00-000Z-old.eml'), 'Subject: an old alert\r\n\r\nold\r\n');
  await oldFile(join(state, 'demo/demo-1.log'), '{"msg":"an old agent log line"}\n');

  const start = new StartProcess({ cwd, env: { PORT: '0', CLOVER_PREFIX: uniquePrefix() } });
  try {
    const [, url] = await start.waitFor(
      /Clover is ready in [\d.]+ s at (http:\/\/127\.0\.0\.1:\d+)/,
      120_000,
    );
    // Both demo agents hold their journal directories (agent.lock) before this point.
    await start.waitFor(/demo agent started .*workerId=demo-2/, 60_000);

    for (const password of Object.values(old)) assert.ok(!start.stdout.includes(password), 'not printed');
    assert.match(start.stdout, /local passwords were kept in plain text: now stored as scrypt hashes/);
    assert.match(
      start.stdout,
      /Sign in as admin, operator or viewer with the passwords printed when \.clover\/local-users\.json was made \(.*keeps only hashes; for new ones, delete \.clover\/local-users\.json \(or one user's entry\) and start again\)/,
    );
    const stored = await readFile(join(state, 'local-users.json'), 'utf8');
    for (const password of Object.values(old))
      assert.ok(!stored.includes(password), 'not stored in plain text');
    assert.match(stored, /"admin": "scrypt\$16384\$8\$1\$/);

    const login = await fetch(`${url}/api/auth/local/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: old.admin }),
    });
    assert.equal(login.status, 200, 'the old password signs in');
    assert.equal(((await login.json()) as { role: string }).role, 'admin');

    const running = await modes(state);
    for (const written of [
      'api-key',
      'api.json',
      'local-token',
      'local.env',
      'demo/demo-2.log',
      'demo/demo-1-journal/agent.lock',
      'demo/demo-2-journal/agent.lock',
    ]) {
      assert.ok(running.has(join(state, written)), `${written} written`);
    }
    assertOwnerOnly(running);

    start.interrupt();
    const { code } = await start.exited;
    assert.equal(code, 0, start.output);
    // And after the agents drained and everything stopped.
    assertOwnerOnly(await modes(state));
  } finally {
    start.kill();
  }
});
