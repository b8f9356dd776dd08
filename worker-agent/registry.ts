/**
 * The agent's handler registry: the only place a handler name from an envelope is looked up
 * (invariant 6: nothing received over the wire can name code or a command to run — a name that is
 * not registered here is an UnknownHandlerError, and the run fails with `unknown_handler`).
 *
 * Four ways in, all ending in `register(name, fn)`:
 * - programmatic: `registry.register('report.daily', async (ctx) => ...)`;
 * - decorators (TypeScript 5 standard decorators): `@handler('name')` on methods, then
 *   `registry.registerInstance(new MyJobs())`;
 * - config modules: `handlers: { x: { module: './jobs.js', export: 'x' } }`, imported by registerConfig;
 * - config commands: `handlers: { x: { command: [...] } }`, run by shellHandler.
 *
 * @example
 * class Reports {
 *   @handler('report.daily')
 *   async daily(ctx: HandlerContext) { ctx.log('building'); return { rows: 12 }; }
 * }
 * const registry = new HandlerRegistry();
 * registry.registerInstance(new Reports());
 * await registry.registerConfig(config.handlers);
 * await registry.get('report.daily')(ctx);
 */
import { pathToFileURL } from 'node:url';
import { AlreadyExistsError, UnknownHandlerError, ValidationError } from '../core/errors';
import {
  fieldIssues,
  HandlerNameSchema,
  type JobSpec,
  type JobSpecInput,
  JobSpecSchema,
} from '../core/model';
import { type AgentConfig, ConfigError, type HandlerConfig } from './config';
import type { Handler, HandlerContext, HandlerFunction } from './handler';
import { shellHandler } from './shell-handler';

/** Per-instance list of handlers its `@handler` methods declared, filled as the instance is constructed. */
const DECLARED = Symbol('clover.declaredHandlers');

interface DeclaredHandler {
  readonly name: string;
  readonly fn: Handler;
  readonly job?: JobSpec;
}

/** Options of `@handler`: a job to declare beside the handler, synced when the agent starts. */
export interface HandlerDecoratorOptions {
  /** A job spec without `handler` (it is the decorated handler). Validated when the class is defined. */
  readonly job?: Omit<JobSpecInput, 'handler'>;
}

function checkJob(name: string, job: Omit<JobSpecInput, 'handler'>): JobSpec {
  const parsed = JobSpecSchema.safeParse({ ...job, handler: name });
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error, 'job'));
  return parsed.data;
}

type WithDeclared = { [DECLARED]?: DeclaredHandler[] };

function checkName(name: string): string {
  const parsed = HandlerNameSchema.safeParse(name);
  if (!parsed.success)
    throw ValidationError.field('handler', parsed.error.issues[0]?.message ?? 'invalid name');
  return parsed.data;
}

/**
 * Method decorator (TypeScript 5 standard decorators): declares the method as the handler `name`.
 * The method is bound to its instance when the instance is constructed; pass the instance to
 * `HandlerRegistry.registerInstance`. On a static method, pass the class itself.
 *
 * @example
 * class Backups {
 *   constructor(private readonly bucket: string) {}
 *   @handler('backup.nightly')
 *   async nightly(ctx: HandlerContext) { ctx.log(`to ${this.bucket}`); }
 * }
 * registry.registerInstance(new Backups('s3://b'));
 *
 * A job can be declared beside the handler; the agent syncs it like a config file's `jobs:`:
 * `@handler('report.daily', { job: { jobId: 'daily-report', schedule: { expression: 'cron(0 6 * * ? *)' } } })`
 */
export function handler(name: string, options: HandlerDecoratorOptions = {}) {
  const checked = checkName(name);
  const job = options.job ? checkJob(checked, options.job) : undefined;
  return <This extends object, M extends (this: This, ctx: HandlerContext) => unknown>(
    _method: M,
    context: ClassMethodDecoratorContext<This, M>,
  ): void => {
    if (context.kind !== 'method') throw new TypeError('@handler() decorates methods only');
    context.addInitializer(function (this: This) {
      const self = this as This & WithDeclared;
      if (!Object.hasOwn(self, DECLARED)) {
        Object.defineProperty(self, DECLARED, { value: [], enumerable: false });
      }
      self[DECLARED]?.push({
        name: checked,
        fn: async (ctx) => context.access.get(this).call(this, ctx),
        ...(job ? { job } : {}),
      });
    });
  };
}

export interface RegisterConfigOptions {
  /** Loads a module for `module:` handlers; defaults to a dynamic `import()` of the file. */
  readonly importModule?: (path: string) => Promise<Record<string, unknown>>;
}

export class HandlerRegistry {
  private readonly handlers = new Map<string, Handler>();
  private readonly jobs: JobSpec[] = [];

  /** Registers `fn` as handler `name`. ValidationError for a bad name, AlreadyExistsError for a taken one. */
  register(name: string, fn: HandlerFunction): this {
    const checked = checkName(name);
    if (typeof fn !== 'function') throw ValidationError.field('handler', `${name}: must be a function`);
    if (this.handlers.has(checked)) throw new AlreadyExistsError('handler', checked);
    this.handlers.set(checked, async (ctx) => fn(ctx));
    return this;
  }

  /**
   * Registers every `@handler` method of `instance` (or, for static methods, of the class passed).
   * Returns the names registered. TypeError when it declares none.
   */
  registerInstance(instance: object): string[] {
    const declared = Object.hasOwn(instance, DECLARED) ? (instance as WithDeclared)[DECLARED] : undefined;
    if (!declared || declared.length === 0) {
      throw new TypeError(
        'registerInstance: the object has no @handler methods (pass an instance, not the class)',
      );
    }
    for (const { name, fn, job } of declared) {
      this.register(name, fn);
      if (job) this.jobs.push(job);
    }
    return declared.map((d) => d.name);
  }

  /** Jobs declared on `@handler` decorators of the registered instances. */
  declaredJobs(): readonly JobSpec[] {
    return this.jobs;
  }

  /**
   * Registers the config file's handlers: module exports (imported now) and shell commands.
   * A module that cannot be imported, or lacks a function under the export's name, is a ConfigError
   * naming the file, line and field where the handler was declared.
   */
  async registerConfig(
    handlers: AgentConfig['handlers'],
    options: RegisterConfigOptions = {},
  ): Promise<string[]> {
    const importModule =
      options.importModule ??
      ((path: string) => import(pathToFileURL(path).href) as Promise<Record<string, unknown>>);
    const names: string[] = [];
    for (const [name, config] of Object.entries(handlers)) {
      this.register(name, await this.build(config, importModule));
      names.push(name);
    }
    return names;
  }

  /** The handler registered as `name`. UnknownHandlerError otherwise. */
  get(name: string): Handler {
    const found = this.handlers.get(name);
    if (!found) throw new UnknownHandlerError(name);
    return found;
  }

  has(name: string): boolean {
    return this.handlers.has(name);
  }

  /** Registered names, sorted: what the worker announces when it registers its lease. */
  names(): string[] {
    return [...this.handlers.keys()].sort();
  }

  private async build(
    config: HandlerConfig,
    importModule: (path: string) => Promise<Record<string, unknown>>,
  ): Promise<HandlerFunction> {
    if (config.kind === 'command') return shellHandler(config);
    const fail = (field: string, reason: string, cause?: unknown) =>
      new ConfigError(
        [
          {
            origin: 'file',
            location: config.source.file,
            line: config.source.line,
            field: `${config.source.field}.${field}`,
            reason,
          },
        ],
        { cause },
      );
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(config.module);
    } catch (error) {
      const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw fail('module', `cannot import ${config.module}: ${why}`, error);
    }
    const fn = mod[config.export];
    if (typeof fn !== 'function') {
      throw fail('export', `${config.module} has no function export ${JSON.stringify(config.export)}`);
    }
    return fn as HandlerFunction;
  }
}
