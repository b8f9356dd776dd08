/**
 * `npm start` as a user meets it, the real command in its own process group: it either starts the
 * whole product and says `ready`, or says in one line what is wrong and exits non-zero with nothing
 * left running; a demo agent killed with SIGKILL is restarted; Ctrl-C stops everything in order with
 * no error line and no process left behind.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { uniquePrefix } from '../harness';
import { alive, StartProcess } from './start-process';

const workdir = () => mkdtemp(join(tmpdir(), 'clover-start-'));

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = await listen();
  const port = portOf(server);
  await new Promise((done) => server.close(done));
  return port;
}

/** Runs `npm start` expecting it to refuse: exit code, its stderr lines, and whether anything was left. */
async function refusal(env: Record<string, string | undefined>, args: readonly string[] = ['--no-demo']) {
  const start = new StartProcess({ cwd: await workdir(), env, args });
  try {
    const { code } = await start.exited;
    const lines = start.stderr.split('\n').filter((line) => line.trim() !== '');
    return { code, lines, left: [...start.descendants].filter(alive), start };
  } finally {
    start.kill();
  }
}

describe('npm start refuses to start with one clear line', () => {
  test('a port already in use: exit 1, one line naming the port, nothing started', async () => {
    const holder = await listen();
    const port = portOf(holder);
    try {
      const { code, lines, left, start } = await refusal({ PORT: String(port) });
      assert.equal(code, 1, start.output);
      assert.equal(lines.length, 1, start.output);
      assert.match(lines[0] ?? '', new RegExp(`^clover: port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.match(lines[0] ?? '', /PORT=\d+ npm start/, 'it says how to pick another port');
      assert.doesNotMatch(start.stdout, /emulator/, 'no emulator was looked for');
      assert.deepEqual(left, []);
    } finally {
      await new Promise((done) => holder.close(done));
    }
  });

  test('a PORT that is not a port: exit 1, one line naming PORT', async () => {
    const { code, lines, start } = await refusal({ PORT: 'eighty' });
    assert.equal(code, 1, start.output);
    assert.deepEqual(lines, ['clover: PORT must be a whole number from 0 to 65535, not "eighty"']);
  });

  test('an unknown option: exit 2, one line', async () => {
    const { code, lines, start } = await refusal({ PORT: '0' }, ['--demo-please']);
    assert.equal(code, 2, start.output);
    assert.equal(lines.length, 1, start.output);
    assert.match(lines[0] ?? '', /^clover: .*--demo-please.*npm start -- --help/);
  });

  test('no Python, no moto, no Docker: exit 1, one line saying what to install, nothing left', async () => {
    const empty = await workdir();
    const { code, lines, left, start } = await refusal({
      PORT: '0',
      PATH: empty,
      // moto, whatever emulator this test run uses (npm run test:localstack sets AWS_ENDPOINT_URL).
      CLOVER_EMULATOR: 'moto',
      AWS_ENDPOINT_URL: undefined,
    });
    assert.equal(code, 1, start.output);
    assert.equal(lines.length, 1, start.output);
    assert.match(lines[0] ?? '', /Python 3 is not installed/);
    assert.match(lines[0] ?? '', /pip install 'moto\[server\]==5\.2\.1'/);
    assert.deepEqual(left, []);
  });

  test('an AWS_ENDPOINT_URL nothing answers on: exit 1, one line naming it', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const { code, lines, start } = await refusal({ PORT: '0', AWS_ENDPOINT_URL: endpoint });
    assert.equal(code, 1, start.output);
    assert.deepEqual(lines, [
      `clover: nothing answers at AWS_ENDPOINT_URL=${endpoint} (ECONNREFUSED): start the emulator there, or unset AWS_ENDPOINT_URL so npm start runs LocalStack or moto itself`,
    ]);
  });
});

test('npm start runs the demo, answers, and Ctrl-C stops everything in order, quietly, leaving nothing', async () => {
  const cwd = await workdir();
  // Its own emulator (moto, in its own process group) as on a fresh clone, unless AWS_ENDPOINT_URL is set.
  const start = new StartProcess({ cwd, env: { PORT: '0', CLOVER_PREFIX: uniquePrefix() } });
  try {
    const [, url] = await start.waitFor(
      /Clover is ready in [\d.]+ s at (http:\/\/127\.0\.0\.1:\d+)/,
      120_000,
    );
    assert.ok(url);
    assert.equal(
      start.stdout.split('\n').filter((line) => /Clover is ready/.test(line)).length,
      1,
      start.output,
    );
    assert.match(start.stdout, /Sign in as admin with password \S+/);

    // The admin token the CLI uses, accepted by the API.
    const token = (await readFile(join(cwd, '.clover/local-token'), 'utf8')).trim();
    const me = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { role: string }).role, 'admin');

    // The demo agents' LOCAL job (every 10 s) actually runs on one of them.
    await start.waitFor(/run SUCCEEDED .*runId=heartbeat@\S+ attempt=1 workerId=demo-[12]/, 60_000);
    // A demo agent killed with SIGKILL is restarted by npm start, which says so: one line each way.
    const [, pid] = await start.waitFor(/demo agent started .*workerId=demo-1 pid=(\d+)/, 10_000);
    process.kill(Number(pid), 'SIGKILL');
    await start.waitFor(
      /WARN {2}demo agent exited; restarting it .*workerId=demo-1 .*signal=SIGKILL/,
      60_000,
    );
    const [, newPid] = await start.waitFor(
      /demo agent restarted .*workerId=demo-1 pid=(\d+) restarts=1/,
      180_000,
    );
    assert.notEqual(newPid, pid, 'a new process');
    assert.equal(start.stdout.match(/demo agent exited/g)?.length, 1, start.output);
    const agentLogs = await readdir(join(cwd, '.clover/demo'));
    assert.ok(agentLogs.includes('demo-1.log') && agentLogs.includes('demo-2.log'), agentLogs.join());
    assert.ok(
      start.descendants.size >= 2,
      'the demo agents (and moto, unless AWS_ENDPOINT_URL) ran as children',
    );

    const before = start.stdout.length;
    start.interrupt();
    const { code } = await start.exited;
    const afterStop = start.stdout.slice(before);
    assert.equal(code, 0, start.output);
    assert.match(afterStop, /SIGINT: stopping/);
    assert.match(afterStop, /\bstopped\n/);
    assert.equal(start.stderr, '', 'nothing on stderr');
    assert.doesNotMatch(start.stdout, / ERROR /, 'no error line, from start to stop');
    assert.ok(alive(Number(newPid)) === false, 'the restarted agent stopped with the rest');
    // A demo run that fails while the agents drain is reported (WARN run FAILED); nothing else warns.
    const warnings = afterStop
      .split('\n')
      .filter((line) => / WARN /.test(line) && !/ WARN {2}run FAILED /.test(line));
    assert.deepEqual(warnings, [], 'no warning while stopping');
    assert.deepEqual(
      [...start.descendants].filter(alive),
      [],
      'no child process outlives npm start (moto, agents, their commands)',
    );
  } finally {
    start.kill();
  }
});
