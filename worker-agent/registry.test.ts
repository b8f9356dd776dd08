import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AlreadyExistsError, UnknownHandlerError, ValidationError } from '../core/errors';
import { ConfigError, loadAgentConfig } from './config';
import type { HandlerContext } from './handler';
import { HandlerRegistry, handler } from './registry';

function context(payload: unknown = null): HandlerContext & { lines: string[] } {
  const lines: string[] = [];
  return {
    jobId: 'job-1',
    runId: 'job-1@2026-01-30T10:00:00Z',
    scheduledTime: '2026-01-30T10:00:00Z',
    attempt: 1,
    payload,
    signal: new AbortController().signal,
    deadlineAt: Date.now() + 60_000,
    upstream: [],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    progress() {},
    log(line) {
      lines.push(line);
    },
    lines,
  };
}

class Reports {
  constructor(private readonly prefix: string) {}

  @handler('report.daily')
  async daily(ctx: HandlerContext): Promise<string> {
    ctx.log('building');
    return `${this.prefix}:${String(ctx.payload)}`;
  }

  @handler('report.sync')
  sync(): number {
    return 7;
  }

  @handler('report.static')
  static async housekeeping(): Promise<string> {
    return 'static';
  }

  notAHandler(): void {}
}

class Nothing {
  plain(): void {}
}

describe('HandlerRegistry', () => {
  test('programmatic registration and lookup; sync functions become async', async () => {
    const registry = new HandlerRegistry();
    registry.register('b.one', async (ctx) => ctx.payload).register('a.two', () => 2);
    assert.deepEqual(registry.names(), ['a.two', 'b.one']);
    assert.equal(await registry.get('b.one')(context('x')), 'x');
    assert.equal(await registry.get('a.two')(context()), 2);
    assert.ok(registry.has('a.two'));
  });

  test('an unknown name is an UnknownHandlerError with code unknown_handler', () => {
    const registry = new HandlerRegistry();
    assert.throws(
      () => registry.get('rm -rf /'),
      (error: unknown) => error instanceof UnknownHandlerError && error.code === 'unknown_handler',
    );
  });

  test('bad and duplicate names are refused', () => {
    const registry = new HandlerRegistry();
    registry.register('x', () => 1);
    assert.throws(() => registry.register('x', () => 2), AlreadyExistsError);
    assert.throws(() => registry.register('1bad name', () => 2), ValidationError);
    assert.throws(() => handler('has space'), ValidationError);
  });

  test('GIVEN a decorated class WHEN an instance is registered THEN its methods run bound to it', async () => {
    const registry = new HandlerRegistry();
    const names = registry.registerInstance(new Reports('eu'));
    assert.deepEqual(names.sort(), ['report.daily', 'report.sync']);
    const ctx = context(42);
    assert.equal(await registry.get('report.daily')(ctx), 'eu:42');
    assert.deepEqual(ctx.lines, ['building']);
    assert.equal(await registry.get('report.sync')(context()), 7);
  });

  test('two instances of one class keep their own bindings; static handlers register from the class', async () => {
    const a = new HandlerRegistry();
    const b = new HandlerRegistry();
    a.registerInstance(new Reports('a'));
    b.registerInstance(new Reports('b'));
    assert.equal(await a.get('report.daily')(context(1)), 'a:1');
    assert.equal(await b.get('report.daily')(context(1)), 'b:1');
    const statics = new HandlerRegistry();
    assert.deepEqual(statics.registerInstance(Reports), ['report.static']);
    assert.equal(await statics.get('report.static')(context()), 'static');
  });

  test('a job declared on @handler is kept for the sync, with the decorated handler', () => {
    class Nightly {
      @handler('backup.nightly', {
        job: { jobId: 'nightly-backup', schedule: { expression: 'cron(0 2 * * ? *)' } },
      })
      async run(): Promise<void> {}
    }
    const registry = new HandlerRegistry();
    registry.registerInstance(new Nightly());
    const [job] = registry.declaredJobs();
    assert.equal(job?.jobId, 'nightly-backup');
    assert.equal(job?.handler, 'backup.nightly');
    assert.equal(job?.concurrency.policy, 'FORBID', 'defaults applied');
    assert.deepEqual(new HandlerRegistry().declaredJobs(), []);
  });

  test('an invalid job on @handler is refused when the class is defined, naming the field', () => {
    assert.throws(
      () => {
        class Broken {
          @handler('backup.nightly', { job: { jobId: 'x', schedule: { expression: 'cron(0 2 * * 8 *)' } } })
          async run(): Promise<void> {}
        }
        return Broken;
      },
      (error: unknown) =>
        error instanceof ValidationError && error.issues.some((i) => i.field === 'job.schedule.expression'),
    );
  });

  test('an object without @handler methods is refused', () => {
    assert.throws(() => new HandlerRegistry().registerInstance(new Nothing()), TypeError);
  });

  describe('config handlers', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'clover-registry-'));
      await writeFile(
        join(dir, 'jobs.mjs'),
        'export async function greet(ctx) { ctx.log("hi " + ctx.payload); return "greeted"; }\nexport const notFn = 1;\n',
      );
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test('module exports and commands from the config file are registered', async () => {
      const path = join(dir, 'agent.yaml');
      await writeFile(
        path,
        [
          'handlers:',
          '  greet:',
          '    module: ./jobs.mjs',
          '    export: greet',
          '  say:',
          '    command: echo "said $CLOVER_PAYLOAD"',
          '',
        ].join('\n'),
      );
      const config = await loadAgentConfig({ path, env: {} });
      const registry = new HandlerRegistry();
      assert.deepEqual(await registry.registerConfig(config.handlers), ['greet', 'say']);
      const ctx = context('you');
      assert.equal(await registry.get('greet')(ctx), 'greeted');
      assert.deepEqual(await registry.get('say')(ctx), { exitCode: 0 });
      assert.deepEqual(ctx.lines, ['hi you', 'said "you"']);
    });

    test('a missing export or module is a ConfigError naming file, line and field', async () => {
      const path = join(dir, 'bad.yaml');
      await writeFile(
        path,
        ['pool: p', 'handlers:', '  greet:', '    module: ./jobs.mjs', '    export: notFn', ''].join('\n'),
      );
      const config = await loadAgentConfig({ path, env: {} });
      await assert.rejects(
        new HandlerRegistry().registerConfig(config.handlers),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.file === path &&
          error.line === 3 &&
          error.field === 'handlers.greet.export' &&
          error.message.startsWith(`${path}:3: handlers.greet.export: `),
      );
      const missing = join(dir, 'missing.yaml');
      await writeFile(missing, 'handlers:\n  gone:\n    module: ./nope.mjs\n');
      const config2 = await loadAgentConfig({ path: missing, env: {} });
      await assert.rejects(
        new HandlerRegistry().registerConfig(config2.handlers),
        (error: unknown) => error instanceof ConfigError && error.field === 'handlers.gone.module',
      );
    });
  });
});
