/**
 * Local sign-in passwords at rest: `.clover/local-users.json` holds scrypt hashes only (0600 in a
 * 0700 directory), the plain passwords exist only in the result of the open that generated them, a
 * plain-text file of an older install is hashed in place (its passwords still sign in), and sign-in
 * checks own users only.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiError } from '../../core/api/errors';
import { LOCAL_USERS_FILE, LocalAuthenticator } from './auth';

const mode = async (path: string) => (await stat(path)).mode & 0o777;
const stateDir = async () => join(await mkdtemp(join(tmpdir(), 'clover-auth-')), '.clover');

async function refused(auth: LocalAuthenticator, username: string, password: string): Promise<void> {
  await assert.rejects(auth.login(username, password), (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, 'UNAUTHENTICATED');
    return true;
  });
}

test('a new users file keeps scrypt hashes only; its passwords come from the creating open alone', async () => {
  const dir = await stateDir();
  const auth = await LocalAuthenticator.open(dir);
  const { admin, operator, viewer } = auth.newPasswords;
  assert.ok(admin && operator && viewer, 'three passwords generated');
  assert.deepEqual(auth.migrated, []);

  const file = join(dir, LOCAL_USERS_FILE);
  const text = await readFile(file, 'utf8');
  for (const password of [admin, operator, viewer]) assert.ok(!text.includes(password), 'no plain password');
  const stored = JSON.parse(text) as Record<string, string>;
  assert.deepEqual(Object.keys(stored).sort(), ['admin', 'operator', 'viewer']);
  for (const hash of Object.values(stored)) assert.match(hash, /^scrypt\$16384\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
  assert.equal(await mode(dir), 0o700);
  assert.equal(await mode(file), 0o600);
  assert.equal(await mode(join(dir, 'api-key')), 0o600);

  assert.equal((await auth.login('viewer', viewer)).role, 'viewer');
  await refused(auth, 'viewer', admin);
  await refused(auth, 'viewer', `${viewer}x`);
  // Unknown names and Object.prototype's names are checked against the dummy hash and refused alike.
  for (const name of ['nobody', 'constructor', '__proto__', 'hasOwnProperty'])
    await refused(auth, name, admin);

  const again = await LocalAuthenticator.open(dir);
  assert.deepEqual(again.newPasswords, {}, 'a later open has no plain password to show');
  assert.equal(await readFile(file, 'utf8'), text, 'and leaves the file as it was');
  assert.equal((await again.login('admin', admin)).role, 'admin');
});

test('a plain-text users file of an older install is hashed in place; its passwords still sign in', async () => {
  const dir = await stateDir();
  await mkdir(dir, { mode: 0o755 });
  await chmod(dir, 0o755);
  const file = join(dir, LOCAL_USERS_FILE);
  const old = { admin: 'old-admin-Pw1', operator: 'old-operator-Pw2', viewer: 'old-viewer-Pw3' };
  await writeFile(file, JSON.stringify(old, null, 2), { mode: 0o644 });
  await chmod(file, 0o644);

  const auth = await LocalAuthenticator.open(dir);
  assert.deepEqual([...auth.migrated].sort(), ['admin', 'operator', 'viewer']);
  assert.deepEqual(auth.newPasswords, {}, 'nothing new to show: the passwords are unchanged');
  const text = await readFile(file, 'utf8');
  for (const password of Object.values(old)) assert.ok(!text.includes(password), `${password} not stored`);
  assert.ok(Object.values(JSON.parse(text) as Record<string, string>).every((v) => v.startsWith('scrypt$')));
  assert.equal(await mode(file), 0o600);
  assert.equal(await mode(dir), 0o700);
  assert.deepEqual((await readdir(dir)).sort(), ['api-key', LOCAL_USERS_FILE], 'no temp file left');

  assert.equal((await auth.login('operator', old.operator)).role, 'operator');
  await refused(auth, 'operator', old.admin);
  // And after a restart, from the hashed file.
  const restarted = await LocalAuthenticator.open(dir);
  assert.deepEqual(restarted.migrated, []);
  assert.equal((await restarted.login('admin', old.admin)).role, 'admin');
});

test("a user's entry removed gets a new password, shown once; the others are kept", async () => {
  const dir = await stateDir();
  const first = await LocalAuthenticator.open(dir);
  const file = join(dir, LOCAL_USERS_FILE);
  const { viewer: _, ...rest } = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
  await writeFile(file, JSON.stringify(rest));

  const reset = await LocalAuthenticator.open(dir);
  assert.deepEqual(Object.keys(reset.newPasswords), ['viewer']);
  assert.notEqual(reset.newPasswords.viewer, first.newPasswords.viewer);
  assert.equal((await reset.login('viewer', reset.newPasswords.viewer ?? '')).role, 'viewer');
  await refused(reset, 'viewer', first.newPasswords.viewer ?? '');
  assert.equal((await reset.login('admin', first.newPasswords.admin ?? '')).role, 'admin');
});

test('a users file it cannot use is refused with its path, the user and how to reset', async () => {
  const cases: [string, RegExp][] = [
    ['not json', /local-users\.json is not JSON .*delete .*local-users\.json/],
    ['["admin"]', /must be a JSON object of user → password hash/],
    ['{"root": "pw"}', /unknown user root \(the local users are viewer, operator, admin\)/],
    ['{"admin": 7}', /user admin must have a non-empty string/],
    [
      '{"admin": "scrypt$16384$8$1$c2FsdA"}',
      /user admin's hash is unusable \(not of the form scrypt\$N\$r\$p\$salt\$hash\)/,
    ],
    [
      `{"admin": "scrypt$${2 ** 30}$8$1$c2FsdHNhbHRzYWx0$${'A'.repeat(43)}"}`,
      /user admin's hash is unusable \(N must be a power of 2 up to 1048576\)/,
    ],
  ];
  for (const [content, message] of cases) {
    const dir = await stateDir();
    await mkdir(dir);
    await writeFile(join(dir, LOCAL_USERS_FILE), content);
    await assert.rejects(LocalAuthenticator.open(dir), message, content);
    assert.equal(await readFile(join(dir, LOCAL_USERS_FILE), 'utf8'), content, 'the file is left as it was');
  }
});
