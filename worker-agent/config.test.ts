import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, defaultWorkerId, loadAgentConfig, parseAgentConfig, parseLabels } from './config';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clover-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ConfigError');
}

const FULL = `# a complete agent config
workerId: batch-1
pool: batch
labels:
  zone: eu-west-1a
capacity: 8
priority: 10
heartbeatIntervalSeconds: 1
leaseTtlSeconds: 4
drainGraceSeconds: 20
journalDir: ./journal
handlers:
  report.daily:
    module: ./handlers/report.js
    export: daily
  backup:
    command: ['/usr/bin/env', 'bash', '-c', 'echo hi']
    cwd: ./work
    env:
      TARGET: s3://bucket
      RETRIES: 3
    timeoutSeconds: 600
  cleanup:
    command: rm -rf /tmp/cache
jobs:
  - jobId: nightly-backup
    handler: backup
    schedule:
      expression: cron(0 2 * * ? *)
      timezone: Europe/Paris
`;

describe('loadAgentConfig', () => {
  test('GIVEN a complete file WHEN loaded THEN every setting is typed, resolved and frozen', async () => {
    const path = await write('full.yaml', FULL);
    const config = await loadAgentConfig({ path, env: {} });
    assert.equal(config.file, path);
    assert.equal(config.workerId, 'batch-1');
    assert.equal(config.pool, 'batch');
    assert.deepEqual(config.labels, { zone: 'eu-west-1a' });
    assert.equal(config.capacity, 8);
    assert.equal(config.priority, 10);
    assert.equal(config.heartbeatIntervalMs, 1000);
    assert.equal(config.leaseTtlMs, 4000);
    assert.equal(config.drainGraceMs, 20_000);
    assert.equal(config.journalDir, join(dir, 'journal'));
    const report = config.handlers['report.daily'];
    assert.deepEqual(report && { ...report, source: undefined }, {
      kind: 'module',
      module: join(dir, 'handlers/report.js'),
      export: 'daily',
      source: undefined,
    });
    assert.equal(report?.source.line, 13);
    const backup = config.handlers.backup;
    assert.equal(backup?.kind, 'command');
    if (backup?.kind === 'command') {
      assert.deepEqual(backup.argv, ['/usr/bin/env', 'bash', '-c', 'echo hi']);
      assert.equal(backup.cwd, join(dir, 'work'));
      assert.deepEqual(backup.env, { TARGET: 's3://bucket', RETRIES: '3' });
      assert.equal(backup.timeoutSeconds, 600);
      assert.equal(backup.killGraceSeconds, 5);
    }
    const cleanup = config.handlers.cleanup;
    assert.ok(cleanup?.kind === 'command');
    assert.deepEqual(cleanup.argv, ['/bin/sh', '-c', 'rm -rf /tmp/cache']);
    assert.equal(cleanup.cwd, dir);
    assert.equal(config.jobs.length, 1);
    assert.equal(config.jobs[0]?.jobId, 'nightly-backup');
    assert.equal(config.jobs[0]?.mode, 'REMOTE');
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.handlers) && Object.isFrozen(config.labels));
  });

  test('GIVEN an empty file WHEN loaded THEN defaults apply', async () => {
    const path = await write('empty.yaml', '');
    const config = await loadAgentConfig({ path, env: {}, cwd: '/srv/agent', host: 'web-1', pid: 42 });
    assert.equal(config.workerId, 'web-1-42');
    assert.equal(config.pool, 'default');
    assert.equal(config.capacity, 4);
    assert.equal(config.heartbeatIntervalMs, 4000);
    assert.equal(config.leaseTtlMs, 8000);
    assert.equal(config.drainGraceMs, 30_000);
    assert.equal(config.journalDir, '/srv/agent/.clover/journal');
    assert.deepEqual(config.handlers, {});
    assert.deepEqual(config.jobs, []);
  });

  test('precedence: flag over env over file over default', async () => {
    const path = await write('prec.yaml', 'pool: from-file\ncapacity: 2\npriority: 7\njournalDir: j\n');
    const config = await loadAgentConfig({
      path,
      cwd: '/cwd',
      env: {
        CLOVER_AGENT_POOL: 'from-env',
        CLOVER_AGENT_CAPACITY: '5',
        CLOVER_AGENT_LABELS: 'zone=a, tier=batch',
      },
      flags: { capacity: 9 },
    });
    assert.equal(config.pool, 'from-env');
    assert.equal(config.capacity, 9);
    assert.equal(config.priority, 7);
    assert.deepEqual(config.labels, { zone: 'a', tier: 'batch' });
    assert.equal(config.journalDir, join(dir, 'j'), 'a file path is relative to the file');
    assert.equal(config.leaseTtlMs, 8000);
    const fromEnv = await loadAgentConfig({ path, cwd: '/cwd', env: { CLOVER_AGENT_JOURNAL_DIR: 'e' } });
    assert.equal(fromEnv.journalDir, '/cwd/e', 'an env path is relative to the working directory');
  });

  test('the file may be named by CLOVER_AGENT_CONFIG', async () => {
    const path = await write('by-env.yaml', 'pool: named\n');
    const config = await loadAgentConfig({ env: { CLOVER_AGENT_CONFIG: path } });
    assert.equal(config.pool, 'named');
  });

  test('a bad command names the file, line and field', async () => {
    const path = await write(
      'agent.yaml',
      ['pool: batch', 'handlers:', '  ok:', '    command: echo ok', '  backup:', '    command: 42', ''].join(
        '\n',
      ),
    );
    const error = await configError(loadAgentConfig({ path, env: {} }));
    assert.equal(error.file, path);
    assert.equal(error.line, 6);
    assert.equal(error.field, 'handlers.backup.command');
    assert.equal(error.message, `${path}:6: handlers.backup.command: must be a non-empty array or string`);
    assert.equal(error.code, 'validation_failed');
  });

  test('an empty command array points at the key when the value starts on another line', async () => {
    const path = await write('empty-cmd.yaml', 'handlers:\n  backup:\n    command: []\n');
    const error = await configError(loadAgentConfig({ path, env: {} }));
    assert.equal(error.line, 3);
    assert.equal(error.reason, 'must be a non-empty array or string');
  });

  test('unknown keys, both module and command, and missing kinds are reported with their lines', async () => {
    const path = await write(
      'many.yaml',
      [
        'pool: batch',
        'capacty: 3',
        'handlers:',
        '  both:',
        '    module: ./x.js',
        '    command: echo',
        '  neither:',
        '    cwd: /tmp',
        '',
      ].join('\n'),
    );
    const error = await configError(loadAgentConfig({ path, env: {} }));
    const found = error.issues.map((i) => `${i.line} ${i.field}`);
    assert.ok(found.includes('2 capacty'), found.join(', '));
    assert.ok(found.includes('6 handlers.both.command'), found.join(', '));
    assert.ok(found.includes('7 handlers.neither'), found.join(', '));
    assert.match(error.message, /many\.yaml:2: capacty: Unrecognized key/);
  });

  test('jobs are validated as JobSpecs and must use a handler from this file', async () => {
    const path = await write(
      'jobs.yaml',
      [
        'handlers:',
        '  backup:',
        '    command: [/bin/true]',
        'jobs:',
        '  - jobId: a',
        '    handler: backup',
        '    schedule:',
        '      expression: cron(bad)',
        '  - jobId: b',
        '    handler: elsewhere',
        '',
      ].join('\n'),
    );
    const error = await configError(loadAgentConfig({ path, env: {} }));
    const found = error.issues.map((i) => `${i.line} ${i.field}`);
    assert.ok(found.includes('8 jobs.0.schedule.expression'), found.join(', '));
    assert.ok(found.includes('10 jobs.1.handler'), found.join(', '));
  });

  test('YAML syntax errors and duplicate keys name the line', async () => {
    const path = await write('syntax.yaml', 'pool: a\npool: b\n');
    const error = await configError(loadAgentConfig({ path, env: {} }));
    assert.equal(error.line, 2);
    assert.equal(error.field, '(yaml)');
    const bad = await write('bad.yaml', 'pool: a\nhandlers: [\n');
    const error2 = await configError(loadAgentConfig({ path: bad, env: {} }));
    assert.equal(error2.file, bad);
    assert.ok(error2.line !== undefined);
  });

  test('a bad env value names the variable and field', async () => {
    const path = await write('ok.yaml', 'pool: a\n');
    const error = await configError(loadAgentConfig({ path, env: { CLOVER_AGENT_CAPACITY: 'lots' } }));
    assert.equal(error.file, undefined);
    assert.equal(error.field, 'capacity');
    assert.match(error.message, /^CLOVER_AGENT_CAPACITY: capacity: /);
  });

  test('lease TTL must leave room for a late heartbeat', async () => {
    const path = await write('ttl.yaml', 'heartbeatIntervalSeconds: 5\nleaseTtlSeconds: 6\n');
    const error = await configError(loadAgentConfig({ path, env: {} }));
    assert.equal(error.line, 2);
    assert.equal(error.field, 'leaseTtlSeconds');
  });

  test('a missing file is a ConfigError naming it', async () => {
    const path = join(dir, 'nope.yaml');
    const error = await configError(loadAgentConfig({ path, env: {} }));
    assert.equal(error.file, path);
    assert.match(error.reason, /ENOENT/);
  });

  test('a file that is not a mapping is rejected', async () => {
    const path = await write('list.yaml', '- a\n- b\n');
    const error = await configError(loadAgentConfig({ path, env: {} }));
    assert.equal(error.field, '(root)');
  });
});

describe('defaultWorkerId', () => {
  test('is derived from host and pid, cleaned to a valid id of at most 64 characters', () => {
    assert.equal(defaultWorkerId('ip-10-0-0-1.ec2.internal', 7), 'ip-10-0-0-1.ec2.internal-7');
    assert.equal(defaultWorkerId('_weird host!', 7), 'weird-host--7');
    const long = defaultWorkerId('h'.repeat(100), 123456);
    assert.equal(long.length, 64);
    assert.ok(long.endsWith('-123456'));
    assert.equal(defaultWorkerId('', 1), 'worker-1');
  });
});

describe('parseLabels', () => {
  test('reads k=v pairs', () => {
    assert.deepEqual(parseLabels('a=1, b = two ,c'), { a: '1', b: 'two', c: '' });
  });
});

describe('docs/agent.md', () => {
  test('the complete example config in the docs is valid', async () => {
    const docs = await readFile(new URL('../docs/agent.md', import.meta.url), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(docs)?.[1];
    assert.ok(example, 'docs/agent.md has a yaml example');
    const config = parseAgentConfig(example, { path: '/etc/clover/agent.yaml', env: {} });
    assert.equal(config.workerId, 'batch-eu-1');
    assert.deepEqual(Object.keys(config.handlers).sort(), [
      'backup.nightly',
      'cache.cleanup',
      'report.daily',
    ]);
    assert.equal(config.handlers['report.daily']?.kind, 'module');
    assert.equal(config.jobs[0]?.jobId, 'nightly-backup');
  });

  test('the error lines quoted in the docs are what the agent prints', async () => {
    const path = await write('agent.yaml', 'pool: a\ncapacty: 3\n');
    assert.match(
      (await configError(loadAgentConfig({ path, env: {} }))).message,
      /:2: capacty: Unrecognized key: "capacty"$/,
    );
    const ok = await write('ok2.yaml', '');
    const envError = await configError(loadAgentConfig({ path: ok, env: { CLOVER_AGENT_CAPACITY: 'x' } }));
    assert.equal(
      envError.message,
      'CLOVER_AGENT_CAPACITY: capacity: Invalid input: expected number, received string',
    );
  });
});

describe('limits', () => {
  test('anchors and aliases for shared settings still work under the alias limit', () => {
    const config = parseAgentConfig(
      [
        'workerId: w1',
        'handlers:',
        '  a:',
        '    command: [echo, a]',
        '    env: &shared { REGION: eu-west-1, TIER: batch }',
        '  b:',
        '    command: [echo, b]',
        '    env: *shared',
      ].join('\n'),
      { path: 'agent.yaml' },
    );
    const b = config.handlers.b;
    assert.equal(b?.kind, 'command');
    assert.deepEqual(b?.kind === 'command' ? b.env : undefined, { REGION: 'eu-west-1', TIER: 'batch' });
  });

  test('the journal directory is checked at load: an existing directory or a path to create passes, a file does not', async () => {
    const path = await write('journal-ok.yaml', `workerId: w1\njournalDir: ${join(dir, 'new', 'journal')}\n`);
    assert.equal((await loadAgentConfig({ path, env: {} })).journalDir, join(dir, 'new', 'journal'));
    const envPath = await write('journal-env.yaml', 'workerId: w1\n');
    const error = await configError(
      loadAgentConfig({ path: envPath, env: { CLOVER_AGENT_JOURNAL_DIR: envPath } }),
    );
    assert.equal(
      error.message,
      `CLOVER_AGENT_JOURNAL_DIR: journalDir: ${envPath} is a file, not a directory`,
    );
  });
});
