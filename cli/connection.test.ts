/** Where the CLI connects and with which token: flags, environment, the local runtime's .clover/api.json. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_ENDPOINT, normalizeEndpoint, resolveConnection } from './connection';

async function localDir(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'clover-cli-conn-'));
  await mkdir(join(dir, '.clover'));
  await writeFile(join(dir, '.clover', 'api.json'), content);
  return dir;
}

test('no flags: the local runtime from .clover/api.json, found from a subdirectory too', async () => {
  const dir = await localDir(JSON.stringify({ endpoint: 'http://127.0.0.1:9191', token: 'local-admin' }));
  await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
  const c = resolveConnection({ env: {}, cwd: join(dir, 'sub', 'deeper') });
  assert.equal(c.endpoint, 'http://127.0.0.1:9191');
  assert.equal(c.token, 'local-admin');
  assert.equal(c.endpointFrom, join(dir, '.clover', 'api.json'));
});

test('flags beat the environment, which beats the file', async () => {
  const dir = await localDir(JSON.stringify({ endpoint: 'http://127.0.0.1:9191', token: 'local-admin' }));
  const env = { CLOVER_API_URL: 'https://api.example.com/api/', CLOVER_TOKEN: 'env-token' };
  const fromEnv = resolveConnection({ env, cwd: dir });
  assert.deepEqual([fromEnv.endpoint, fromEnv.token], ['https://api.example.com', 'env-token']);
  const fromFlags = resolveConnection({
    endpoint: 'https://other.example.com',
    token: 'flag',
    env,
    cwd: dir,
  });
  assert.deepEqual(
    [fromFlags.endpoint, fromFlags.token, fromFlags.endpointFrom],
    ['https://other.example.com', 'flag', '--endpoint'],
  );
});

test('the local token is never sent to another endpoint', async () => {
  const dir = await localDir(JSON.stringify({ endpoint: 'http://127.0.0.1:9191', token: 'local-admin' }));
  const remote = resolveConnection({ endpoint: 'https://api.example.com', env: {}, cwd: dir });
  assert.equal(remote.token, undefined);
  const sameViaEnv = resolveConnection({ env: { CLOVER_API_URL: 'http://127.0.0.1:9191' }, cwd: dir });
  assert.equal(
    sameViaEnv.token,
    'local-admin',
    'sourcing .clover/local.env (CLOVER_API_URL) keeps the local token',
  );
});

test('no file: the default local endpoint and no token; a malformed file is ignored', async () => {
  const none = resolveConnection({ env: {}, cwd: await mkdtemp(join(tmpdir(), 'clover-cli-none-')) });
  assert.equal(none.endpoint, DEFAULT_ENDPOINT);
  assert.equal(none.endpointFrom, 'default');
  const broken = resolveConnection({ env: {}, cwd: await localDir('{not json') });
  assert.equal(broken.endpoint, DEFAULT_ENDPOINT);
  assert.equal(normalizeEndpoint('http://h:1/api'), 'http://h:1');
});
