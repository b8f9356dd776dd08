/** Runs the real `clover` CLI as a child process. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function clover(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/clover.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const LONDON = [
  'cron(0 10 L * ? *)',
  '--tz',
  'Europe/London',
  '--from',
  '2026-01-01T00:00:00Z',
  '--count',
  '3',
];

describe('clover schedule next', () => {
  test('prints UTC fire times, one per line', () => {
    const r = clover('schedule', 'next', ...LONDON);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '2026-01-31T10:00:00Z\n2026-02-28T10:00:00Z\n2026-03-31T09:00:00Z\n');
  });

  test('--json prints an array of the same strings', () => {
    const r = clover('schedule', 'next', ...LONDON, '--json');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), [
      '2026-01-31T10:00:00Z',
      '2026-02-28T10:00:00Z',
      '2026-03-31T09:00:00Z',
    ]);
  });

  test('an invalid expression exits 2 naming the field', () => {
    const r = clover('schedule', 'next', 'cron(0 10 ? * 8 *)');
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: schedule\.expression: day-of-week field "8" is out of range 1-7/);
    assert.equal(r.out, '');
  });

  test('a bad time zone exits 2 naming the field', () => {
    const r = clover('schedule', 'next', 'cron(0 10 * * ? *)', '--tz', 'Mars/Olympus');
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: schedule\.timezone: /);
  });

  test('an unknown flag is a usage error', () => {
    const r = clover('schedule', 'next', 'rate(5 minutes)', '--bogus');
    assert.equal(r.code, 2);
    assert.match(r.err, /Run 'clover schedule next --help'/);
  });

  test('a bad --count is a usage error', () => {
    const r = clover('schedule', 'next', 'rate(5 minutes)', '--count', 'many');
    assert.equal(r.code, 2);
    assert.match(r.err, /--count must be an integer/);
  });
});

describe('clover schedule check', () => {
  test('prints the EventBridge form and a description', () => {
    const r = clover('schedule', 'check', '30 9 * * 1-5', '--tz', 'Europe/London');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'cron(30 9 ? * MON-FRI *)\nAt 09:30, on Monday through Friday (Europe/London)\n');
  });

  test('seconds are rejected in REMOTE and accepted in LOCAL', () => {
    const remote = clover('schedule', 'check', '*/10 * * * * ?');
    assert.equal(remote.code, 2);
    assert.match(remote.err, /use mode LOCAL/);
    const local = clover('schedule', 'check', '*/10 * * * * ?', '--mode', 'LOCAL');
    assert.equal(local.code, 0, local.err);
    assert.match(local.out, /^LOCAL only/);
  });

  test('--help at every level', () => {
    for (const args of [
      ['--help'],
      ['schedule', '--help'],
      ['schedule', 'check', '--help'],
      ['schedule', 'next', '-h'],
    ]) {
      const r = clover(...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.match(r.out, /^Usage: clover/);
      assert.match(r.out, /clover schedule/);
    }
  });
});

test('bin/clover.mjs launches the same CLI', () => {
  const r = spawnSync(process.execPath, ['bin/clover.mjs', 'schedule', 'next', ...LONDON], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.split('\n')[0], '2026-01-31T10:00:00Z');
});
