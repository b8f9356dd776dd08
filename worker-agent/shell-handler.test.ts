import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { HandlerContext } from './handler';
import { ShellCommandError, shellHandler } from './shell-handler';

function context(overrides: Partial<HandlerContext> = {}): HandlerContext & { lines: string[] } {
  const lines: string[] = [];
  return {
    jobId: 'nightly-backup',
    runId: 'nightly-backup@2026-01-30T10:00:00Z',
    scheduledTime: '2026-01-30T10:00:00Z',
    attempt: 2,
    payload: { bucket: 'b', keys: [1, 2] },
    signal: new AbortController().signal,
    deadlineAt: Date.now() + 60_000,
    upstream: [],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', JOB_VAR: 'from-job' },
    progress() {},
    log(line) {
      lines.push(line);
    },
    lines,
    ...overrides,
  };
}

const bash = (script: string) => ['/usr/bin/env', 'bash', '-c', script] as const;

async function failure(promise: Promise<unknown>): Promise<ShellCommandError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ShellCommandError, `expected ShellCommandError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the command to fail');
}

/** Waits until `predicate` holds, polling; fails after `ms`. */
async function until(predicate: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) assert.fail('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('shellHandler', () => {
  test('GIVEN a command WHEN it exits 0 THEN it resolves { exitCode: 0 } with the run context in its env', async () => {
    const ctx = context();
    const run = shellHandler({
      argv: bash(
        'echo "$CLOVER_JOB_ID|$CLOVER_RUN_ID|$CLOVER_SCHEDULED_TIME|$CLOVER_ATTEMPT|$CLOVER_PAYLOAD|$EXTRA"',
      ),
      env: { EXTRA: 'from-config', CLOVER_JOB_ID: 'spoofed' },
    });
    assert.deepEqual(await run(ctx), { exitCode: 0 });
    assert.deepEqual(ctx.lines, [
      'nightly-backup|nightly-backup@2026-01-30T10:00:00Z|2026-01-30T10:00:00Z|2|{"bucket":"b","keys":[1,2]}|from-config',
    ]);
  });

  test('a dependent run gets its upstream runs in CLOVER_UPSTREAM_*: one upstream, then fan-in by job id', async () => {
    const script = bash(
      'echo "[$CLOVER_UPSTREAM_RUN_ID|$CLOVER_UPSTREAM_STATUS|$CLOVER_UPSTREAM_RESULT]"; env | grep -c ^CLOVER_UPSTREAM_ || true',
    );
    const run = shellHandler({ argv: script });
    const b = { runId: 'b@after:a@t', jobId: 'b', status: 'SUCCEEDED' as const, result: { rows: 3 } };
    const c = { runId: 'c@after:a@t', jobId: 'c', status: 'FAILED' as const };
    const plain = context();
    const one = context({ upstream: [b] });
    const fanIn = context({ upstream: [b, c] });
    await run(plain);
    await run(one);
    await run(fanIn);
    assert.deepEqual(plain.lines, ['[||]', '0'], 'absent for runs without upstream');
    assert.deepEqual(one.lines, ['[b@after:a@t|SUCCEEDED|{"rows":3}]', '3']);
    assert.deepEqual(fanIn.lines, [
      '[b@after:a@t,c@after:a@t|SUCCEEDED,FAILED|{"b":{"rows":3},"c":null}]',
      '3',
    ]);
  });

  test("the environment is the run's (ctx.env), then the command's configured env, then CLOVER_*: nothing of the agent's own", async () => {
    process.env.CLOVER_TEST_AGENT_SECRET = 'agent-only';
    try {
      const ctx = context({
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', JOB_VAR: 'job', SHARED: 'job' },
      });
      await shellHandler({ argv: bash('env | sort'), env: { SHARED: 'config' } })(ctx);
      const names = ctx.lines.map((line) => line.split('=')[0]);
      assert.ok(
        ctx.lines.includes('JOB_VAR=job') && ctx.lines.includes('SHARED=config'),
        ctx.lines.join('\n'),
      );
      assert.ok(!names.includes('CLOVER_TEST_AGENT_SECRET'), "the agent's own variables stay with it");
      // bash itself adds PWD, SHLVL and _; everything else is what the run was given.
      const extra = names.filter(
        (n) => !['PWD', 'SHLVL', '_', 'PATH', 'JOB_VAR', 'SHARED'].includes(n ?? ''),
      );
      assert.ok(
        extra.every((n) => n?.startsWith('CLOVER_')),
        extra.join(' '),
      );
    } finally {
      delete process.env.CLOVER_TEST_AGENT_SECRET;
    }
  });

  test('stdout and stderr lines reach ctx.log, stderr prefixed; a last line without newline is kept', async () => {
    const ctx = context();
    await shellHandler({ argv: bash('echo one; echo two >&2; printf "three\\r\\nfour"') })(ctx);
    assert.deepEqual([...ctx.lines].sort(), ['[stderr] two', 'four', 'one', 'three']);
  });

  test('a string command runs under /bin/sh -c in the configured cwd', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clover-shell-'));
    try {
      const ctx = context();
      await shellHandler({ argv: ['/bin/sh', '-c', 'pwd'], cwd: dir })(ctx);
      assert.deepEqual(ctx.lines, [dir]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a non-zero exit throws with the exit code and the tail of stderr', async () => {
    const ctx = context();
    const error = await failure(
      shellHandler({ argv: bash('for i in $(seq 1 30); do echo "err $i" >&2; done; exit 3') })(ctx),
    );
    assert.equal(error.failure, 'exit');
    assert.equal(error.exitCode, 3);
    assert.equal(error.code, 'command_failed');
    assert.ok(error.stderrTail.endsWith('err 30'));
    assert.ok(!error.stderrTail.includes('err 10\n'), 'only the tail is kept');
    assert.match(error.message, /^command exited with code 3\n/);
  });

  test('a command that cannot start fails with a spawn error', async () => {
    const error = await failure(shellHandler({ argv: ['/nonexistent/clover-cmd'] })(context()));
    assert.equal(error.failure, 'spawn');
    assert.match(error.message, /ENOENT/);
  });

  test('abort sends SIGTERM to the process group; a command that traps it exits cleanly and the run fails as stopped', async () => {
    const controller = new AbortController();
    const ctx = context({ signal: controller.signal });
    const pending = shellHandler({
      argv: bash("trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.05; done"),
      killGraceSeconds: 10,
    })(ctx);
    await until(() => ctx.lines.includes('ready'));
    controller.abort(new Error('cancel requested'));
    const error = await failure(pending);
    assert.equal(error.failure, 'aborted');
    assert.equal(error.exitCode, 0);
    assert.match(error.message, /cancel requested/);
    assert.ok(ctx.lines.includes('got-term'));
    assert.notEqual(error.signal, 'SIGKILL', 'SIGTERM was enough: the SIGKILL grace was not needed');
  });

  test('a command that ignores SIGTERM is killed with SIGKILL after the grace, children included', async () => {
    const controller = new AbortController();
    const ctx = context({ signal: controller.signal });
    const pending = shellHandler({
      argv: bash("trap '' TERM; (trap '' TERM; sleep 30) & echo ready; while true; do sleep 0.05; done"),
      killGraceSeconds: 0.3,
    })(ctx);
    await until(() => ctx.lines.includes('ready'));
    const abortedAt = Date.now();
    controller.abort();
    const error = await failure(pending);
    assert.equal(error.failure, 'aborted');
    assert.equal(error.signal, 'SIGKILL');
    assert.ok(Date.now() - abortedAt >= 250, 'SIGTERM alone did not stop it');
  });

  test('timeoutSeconds stops the command like a cancel', async () => {
    const error = await failure(shellHandler({ argv: bash('sleep 10'), timeoutSeconds: 0.2 })(context()));
    assert.equal(error.failure, 'timeout');
    assert.equal(error.signal, 'SIGTERM');
    assert.match(error.message, /timed out after 0.2 s/);
  });

  test('an already aborted signal starts nothing', async () => {
    const controller = new AbortController();
    controller.abort(new Error('deadline passed'));
    const ctx = context({ signal: controller.signal });
    const error = await failure(shellHandler({ argv: bash('echo should-not-run') })(ctx));
    assert.equal(error.failure, 'aborted');
    assert.deepEqual(ctx.lines, []);
  });
});
