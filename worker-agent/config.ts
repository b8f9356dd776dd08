/**
 * The agent's config file (YAML), read once into a typed, frozen object.
 *
 * Precedence, highest first, per setting: CLI flag → environment (`CLOVER_AGENT_*`) → config file →
 * default. Only the scalar settings (worker id, pool, labels, capacity, priority, timings, journal dir)
 * can come from flags or the environment; handlers and jobs come ONLY from the file, so a command to run
 * is never taken from anywhere but this local file (invariant 6).
 *
 * A bad config is a ConfigError naming the file, the line and the field:
 * `agent.yaml:12: handlers.backup.command: must be a non-empty array or string`.
 *
 * @example
 * const config = await loadAgentConfig({ path: 'agent.yaml', flags: { capacity: 8 } });
 * config.handlers['report.daily']; // { kind: 'command', argv: [...], ... }
 */
import { constants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from 'yaml';
import { z } from 'zod';
import { CloverError } from '../core/errors';
import {
  EnvNameSchema,
  HandlerNameSchema,
  IdSchema,
  type JobSpec,
  JobSpecSchema,
  LabelsSchema,
} from '../core/model';
import { type AgentZmqConfig, AgentZmqFileSchema, withZmqSecretFromEnv } from './zmq-intake';

/**
 * A renewal every 4 s writes one lease item (one write unit): ~$0.41 a month per agent, where every
 * 2 s cost twice that. A lease of 8 s with the monitor's 2 s sweep while runs are in flight finds a
 * dead worker's run within 10 s (docs/capacity.md, "Heartbeats"; ARCHITECTURE.md, Budgets).
 */
export const DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 4;
export const DEFAULT_LEASE_TTL_SECONDS = 8;
export const DEFAULT_DRAIN_GRACE_SECONDS = 30;
/**
 * How long an agent keeps trying to register a new lease after losing one before it exits 3: long
 * enough to ride out a control-plane stall or a short outage, short enough that a supervisor notices
 * a host that cannot reach AWS at all.
 */
export const DEFAULT_REJOIN_TIMEOUT_SECONDS = 600;
export const DEFAULT_KILL_GRACE_SECONDS = 5;
export const DEFAULT_JOURNAL_DIR = '.clover/journal';
/** The largest config file read: far above any real one (500 jobs), small enough that a stray file is refused. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/**
 * How many nodes YAML aliases may expand to in total (the `yaml` library's count, also its default):
 * anchors for shared settings fit easily; an alias bomb (aliases of aliases, doubling at each level)
 * is refused before it is expanded.
 */
export const MAX_CONFIG_ALIAS_COUNT = 100;

/**
 * What handlers get of the agent's own environment besides the base (handler-env.ts): the names listed,
 * on purpose — an AWS credential, an API token or a CURVE key reaches a handler only when named here.
 */
const HandlerEnvSchema = z.strictObject({
  passThrough: z
    .array(
      EnvNameSchema.refine(
        (name) =>
          !/^CLOVER_(RUN|UPSTREAM)_|^CLOVER_(JOB_ID|SCHEDULED_TIME|ATTEMPT|PAYLOAD|DEADLINE_AT)$/.test(name),
        'is set by Clover for each run',
      ),
    )
    .max(100, 'at most 100 names')
    .default([]),
});

const EnvValueSchema = z
  .union([z.string(), z.number(), z.boolean()], { error: 'must be a string, number or boolean' })
  .transform(String);

const CommandSchema = z.union(
  [
    z.array(z.string().min(1, 'must not be empty')).min(1, 'must be a non-empty array or string'),
    z.string().min(1, 'must be a non-empty array or string'),
  ],
  { error: 'must be a non-empty array or string' },
);

const secondsSchema = (max: number) =>
  z.number().positive('must be more than 0').max(max, `must be at most ${max}`);

/**
 * One entry of `handlers:`. Exactly one of `module` (a module export, resolved relative to the config
 * file) or `command` (argv array, or a string run by `/bin/sh -c`).
 */
const HandlerEntrySchema = z
  .strictObject({
    module: z.string().min(1, 'must be a non-empty path').optional(),
    export: z.string().min(1, 'must be a non-empty export name').optional(),
    command: CommandSchema.optional(),
    cwd: z.string().min(1, 'must be a non-empty path').optional(),
    env: z.record(EnvNameSchema, EnvValueSchema).optional(),
    timeoutSeconds: secondsSchema(7 * 24 * 3600).optional(),
    killGraceSeconds: secondsSchema(3600).optional(),
  })
  .superRefine((entry, ctx) => {
    if (entry.module === undefined && entry.command === undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'needs either `module` or `command`' });
    }
    if (entry.module !== undefined && entry.command !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'cannot be set together with `module`' });
    }
    if (entry.module !== undefined) {
      for (const key of ['cwd', 'env', 'timeoutSeconds', 'killGraceSeconds'] as const) {
        if (entry[key] !== undefined) {
          ctx.addIssue({ code: 'custom', path: [key], message: 'applies only to `command` handlers' });
        }
      }
    }
    if (entry.command !== undefined && entry.export !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['export'], message: 'applies only to `module` handlers' });
    }
  });

/** The file's shape as written (after YAML parsing), before paths are resolved. */
export const AgentConfigFileSchema = z
  .strictObject({
    workerId: IdSchema.optional(),
    pool: IdSchema.default('default'),
    labels: LabelsSchema.default({}),
    capacity: z.number().int('must be an integer').min(1).max(1000).default(4),
    priority: z.number().int('must be an integer').min(0).max(1_000_000).default(100),
    heartbeatIntervalSeconds: secondsSchema(3600).default(DEFAULT_HEARTBEAT_INTERVAL_SECONDS),
    leaseTtlSeconds: secondsSchema(3600).default(DEFAULT_LEASE_TTL_SECONDS),
    drainGraceSeconds: z
      .number()
      .min(0)
      .max(24 * 3600)
      .default(DEFAULT_DRAIN_GRACE_SECONDS),
    journalDir: z.string().min(1, 'must be a non-empty path').optional(),
    /** Exit (code 3) on a lost lease instead of registering a new one (rejoin.ts). */
    exitOnLeaseLoss: z.boolean().default(false),
    /** After a lost lease, how long registering a new one may keep failing before the agent exits 3. */
    rejoinTimeoutSeconds: secondsSchema(7 * 24 * 3600).default(DEFAULT_REJOIN_TIMEOUT_SECONDS),
    handlerEnv: HandlerEnvSchema.default({ passThrough: [] }),
    handlers: z.record(HandlerNameSchema, HandlerEntrySchema).default({}),
    jobs: z.array(JobSpecSchema).max(500).default([]),
    /** Direct ZeroMQ delivery (zmq-intake.ts); without it the agent takes runs over SQS only. */
    zmq: AgentZmqFileSchema.optional(),
    jobsOwner: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"')
      .optional(),
  })
  .superRefine((config, ctx) => {
    if (config.leaseTtlSeconds < 2 * config.heartbeatIntervalSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['leaseTtlSeconds'],
        message: `must be at least twice heartbeatIntervalSeconds (${config.heartbeatIntervalSeconds}), so one late heartbeat does not lose the lease`,
      });
    }
    const seen = new Set<string>();
    config.jobs.forEach((job, index) => {
      if (!(job.handler in config.handlers)) {
        ctx.addIssue({
          code: 'custom',
          path: ['jobs', index, 'handler'],
          message: `must name a handler declared under handlers: in this file (${JSON.stringify(job.handler)} is not)`,
        });
      }
      if (seen.has(job.jobId)) {
        ctx.addIssue({ code: 'custom', path: ['jobs', index, 'jobId'], message: 'is declared twice' });
      }
      seen.add(job.jobId);
    });
  });
export type AgentConfigFileInput = z.input<typeof AgentConfigFileSchema>;

/** Where a handler was declared, for error messages after loading (a module without that export, say). */
export interface ConfigSource {
  readonly file: string;
  readonly line: number | undefined;
  readonly field: string;
}

export interface ModuleHandlerConfig {
  readonly kind: 'module';
  /** Absolute path of the module. */
  readonly module: string;
  /** Export name; `default` unless given. */
  readonly export: string;
  readonly source: ConfigSource;
}

export interface CommandHandlerConfig {
  readonly kind: 'command';
  /** What is executed: the array as given, or `['/bin/sh', '-c', string]` for a string command. */
  readonly argv: readonly [string, ...string[]];
  /** Absolute working directory (default: the config file's directory). */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number | undefined;
  readonly killGraceSeconds: number;
  readonly source: ConfigSource;
}

export type HandlerConfig = ModuleHandlerConfig | CommandHandlerConfig;

export interface AgentConfig {
  /** Absolute path of the config file this came from (undefined when there was none). */
  readonly file: string | undefined;
  readonly workerId: string;
  readonly pool: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: number;
  readonly priority: number;
  readonly heartbeatIntervalMs: number;
  readonly leaseTtlMs: number;
  readonly drainGraceMs: number;
  /** Exit on a lost lease instead of rejoining (rejoin.ts). */
  readonly exitOnLeaseLoss: boolean;
  /** How long rejoining after a lost lease may fail before the agent exits. */
  readonly rejoinTimeoutMs: number;
  /** Absolute path. */
  readonly journalDir: string;
  readonly handlers: Readonly<Record<string, HandlerConfig>>;
  /** The agent's environment variables handlers get besides the base (handler-env.ts). */
  readonly handlerEnv: { readonly passThrough: readonly string[] };
  readonly jobs: readonly JobSpec[];
  /** The ZeroMQ intake's bind address, key pair and allowed dispatcher keys (zmq-intake.ts); absent: SQS only. */
  readonly zmq?: AgentZmqConfig | undefined;
  /**
   * Names the owner of the declared jobs: `agent:<pool>:<jobsOwner>` (job-sync.ts, ownerIdFor). Default:
   * the config file's base name. When set, the sync also runs with no `jobs:` (deleting what it owned).
   */
  readonly jobsOwner: string | undefined;
}

/** Settings a CLI flag may override. */
export interface AgentConfigFlags {
  readonly workerId?: string;
  readonly pool?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly capacity?: number;
  readonly priority?: number;
  readonly heartbeatIntervalSeconds?: number;
  readonly leaseTtlSeconds?: number;
  readonly drainGraceSeconds?: number;
  readonly journalDir?: string;
}

type SettingKey = keyof AgentConfigFlags;

/** The environment variable for each overridable setting; labels are `k=v,k2=v2`. */
export const AGENT_ENV_VARS: Readonly<Record<SettingKey, string>> = {
  workerId: 'CLOVER_AGENT_WORKER_ID',
  pool: 'CLOVER_AGENT_POOL',
  labels: 'CLOVER_AGENT_LABELS',
  capacity: 'CLOVER_AGENT_CAPACITY',
  priority: 'CLOVER_AGENT_PRIORITY',
  heartbeatIntervalSeconds: 'CLOVER_AGENT_HEARTBEAT_INTERVAL_SECONDS',
  leaseTtlSeconds: 'CLOVER_AGENT_LEASE_TTL_SECONDS',
  drainGraceSeconds: 'CLOVER_AGENT_DRAIN_GRACE_SECONDS',
  journalDir: 'CLOVER_AGENT_JOURNAL_DIR',
};

/** Environment variable naming the config file when no `--config` flag is given. */
export const AGENT_CONFIG_ENV_VAR = 'CLOVER_AGENT_CONFIG';

const numericSettings = new Set<SettingKey>([
  'capacity',
  'priority',
  'heartbeatIntervalSeconds',
  'leaseTtlSeconds',
  'drainGraceSeconds',
]);

/** Where a setting's value came from; errors name it. */
export type SettingOrigin = 'file' | 'env' | 'flag';

/** One problem with the config: where (file and line, or env var / flag) and which field. */
export interface ConfigIssue {
  readonly origin: SettingOrigin;
  /** The config file, for file issues (as the user named it); the env var or `--flag` otherwise. */
  readonly location: string;
  readonly line: number | undefined;
  readonly field: string;
  readonly reason: string;
}

function formatIssue(issue: ConfigIssue): string {
  const where = issue.line === undefined ? issue.location : `${issue.location}:${issue.line}`;
  return `${where}: ${issue.field}: ${issue.reason}`;
}

/**
 * The config could not be read or is invalid. `file`, `line`, `field` and `reason` describe the first
 * problem; `issues` lists all of them. The CLI prints the message and exits 2.
 */
export class ConfigError extends CloverError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly field: string;
  readonly reason: string;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly [ConfigIssue, ...ConfigIssue[]], options: { cause?: unknown } = {}) {
    const first = issues[0];
    super('validation_failed', issues.map(formatIssue).join('\n'), {
      cause: options.cause,
      details: { issues },
    });
    this.file = first.origin === 'file' ? first.location : undefined;
    this.line = first.line;
    this.field = first.field;
    this.reason = first.reason;
    this.issues = issues;
  }
}

/**
 * A worker id derived from the host name and process id: `web-1.example-4242`. Characters an id may not
 * hold become `-`, and the host part is shortened so the whole fits in 64 characters. Stable for the life
 * of the process; set `workerId` to keep one across restarts.
 */
export function defaultWorkerId(host: string = hostname(), pid: number = process.pid): string {
  const suffix = `-${pid}`;
  const cleaned =
    host
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 64 - suffix.length) || 'worker';
  return `${cleaned}${suffix}`;
}

export interface LoadAgentConfigOptions {
  /** Config file path. When absent, `CLOVER_AGENT_CONFIG` from `env`; with neither, only env, flags and defaults. */
  readonly path?: string;
  readonly flags?: AgentConfigFlags;
  /** Defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Base for relative paths from env, flags and defaults; defaults to process.cwd(). */
  readonly cwd?: string;
  /** For the default worker id; defaults to the machine's. */
  readonly host?: string;
  readonly pid?: number;
}

/**
 * Reads, validates and resolves the agent config. Throws ConfigError naming file, line and field.
 *
 * @example
 * try {
 *   const config = await loadAgentConfig({ path: argv.config, flags });
 * } catch (error) {
 *   if (error instanceof ConfigError) { console.error(error.message); process.exit(2); }
 *   throw error;
 * }
 */
export async function loadAgentConfig(options: LoadAgentConfigOptions = {}): Promise<AgentConfig> {
  const env = options.env ?? process.env;
  const path = options.path ?? env[AGENT_CONFIG_ENV_VAR] ?? undefined;
  const parsed =
    path === undefined || path === ''
      ? parseWithSources('', { ...options, path: undefined })
      : parseWithSources(await readConfigFile(path), { ...options, path });
  await checkJournalDir(parsed.config.journalDir, parsed.sourceOf('journalDir'));
  return parsed.config;
}

/** Reads the file, refusing one over {@link MAX_CONFIG_BYTES} (naming the line where it crosses the limit) unread past it. */
async function readConfigFile(path: string): Promise<string> {
  const fileIssue = (line: number | undefined, reason: string): ConfigIssue => ({
    origin: 'file',
    location: path,
    line,
    field: '(file)',
    reason,
  });
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CONFIG_BYTES) {
        const line = buffer.subarray(0, MAX_CONFIG_BYTES).toString('latin1').split('\n').length;
        throw new ConfigError([
          fileIssue(
            line,
            `is over the ${MAX_CONFIG_BYTES}-byte limit for a config file (it crosses it on this line)`,
          ),
        ]);
      }
    }
    return buffer.subarray(0, length).toString('utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([fileIssue(undefined, `cannot be read (${code})`)], { cause: error });
  } finally {
    await handle?.close();
  }
}

/**
 * The journal directory must be one the agent can create or write: checked at load, so a path that is
 * a file (or runs through one) is a config error naming the setting, not an EEXIST at start.
 */
async function checkJournalDir(dir: string, where: Omit<ConfigIssue, 'field' | 'reason'>): Promise<void> {
  const fail = (reason: string, cause?: unknown): never => {
    throw new ConfigError([{ ...where, field: 'journalDir', reason }], { cause });
  };
  let path = dir;
  for (;;) {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      return fail(`${path} cannot be inspected (${error.code ?? 'error'})`, error);
    });
    if (info) {
      if (!info.isDirectory()) {
        fail(
          path === dir ? `${dir} is a file, not a directory` : `${dir} cannot be created: ${path} is a file`,
        );
      }
      await access(path, constants.W_OK | constants.X_OK).catch((error: NodeJS.ErrnoException) =>
        fail(`${path} is not writable by this user (${error.code ?? 'error'})`, error),
      );
      return;
    }
    const parent = dirname(path);
    if (parent === path) return;
    path = parent;
  }
}

/** As loadAgentConfig, for text already read; `path` names it in errors and anchors relative paths. */
export function parseAgentConfig(text: string, options: LoadAgentConfigOptions = {}): AgentConfig {
  return parseWithSources(text, options).config;
}

/** Where each setting came from: its env var, flag, or file line (the file with no line for a default). */
type SourceOf = (key: SettingKey) => Omit<ConfigIssue, 'field' | 'reason'>;

function parseWithSources(
  text: string,
  options: LoadAgentConfigOptions,
): { config: AgentConfig; sourceOf: SourceOf } {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = options.path;
  const fileDir = file === undefined ? cwd : dirname(resolve(cwd, file));
  const fileLabel = file ?? '(config)';

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map(
      (error): ConfigIssue => ({
        origin: 'file',
        location: fileLabel,
        line: lineCounter.linePos(error.pos[0]).line,
        field: '(yaml)',
        reason: error.message.split('\n')[0] ?? 'invalid YAML',
      }),
    );
    throw new ConfigError(issues as [ConfigIssue, ...ConfigIssue[]]);
  }
  const raw: unknown = doc.contents === null ? {} : toJsWithLimits(doc, fileLabel, lineCounter);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([
      {
        origin: 'file',
        location: fileLabel,
        line: 1,
        field: '(root)',
        reason: 'must be a mapping of settings',
      },
    ]);
  }

  // Layer the sources: file, then env over it, then flags over that; remember who set what.
  const merged: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const origins = new Map<string, { origin: SettingOrigin; location: string }>();
  const fileDirFor = new Map<string, string>();
  for (const key of Object.keys(AGENT_ENV_VARS) as SettingKey[]) {
    const name = AGENT_ENV_VARS[key];
    const value = env[name];
    if (value === undefined || value === '') continue;
    merged[key] = envValue(key, value);
    origins.set(key, { origin: 'env', location: name });
  }
  for (const [key, value] of Object.entries(options.flags ?? {}) as [SettingKey, unknown][]) {
    if (value === undefined) continue;
    merged[key] = value;
    origins.set(key, { origin: 'flag', location: `--${kebab(key)}` });
  }
  if (!origins.has('journalDir') && typeof merged.journalDir === 'string')
    fileDirFor.set('journalDir', fileDir);

  withZmqSecretFromEnv(merged, env);
  const parsed = AgentConfigFileSchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue): ConfigIssue => {
      let path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
      if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) {
        path = [...path, issue.keys[0] as string];
      }
      const field = path.join('.') || '(root)';
      const top = path[0];
      const overridden = typeof top === 'string' ? origins.get(top) : undefined;
      if (overridden) {
        return { ...overridden, line: undefined, field, reason: issue.message };
      }
      return {
        origin: 'file',
        location: fileLabel,
        line: lineOf(doc.contents, path, lineCounter),
        field,
        reason: issue.message,
      };
    });
    throw new ConfigError(issues as [ConfigIssue, ...ConfigIssue[]]);
  }
  const config = parsed.data;

  const handlers: Record<string, HandlerConfig> = {};
  for (const [name, entry] of Object.entries(config.handlers)) {
    const source: ConfigSource = {
      file: file === undefined ? fileLabel : resolve(cwd, file),
      line: lineOf(doc.contents, ['handlers', name], lineCounter),
      field: `handlers.${name}`,
    };
    if (entry.module !== undefined) {
      handlers[name] = {
        kind: 'module',
        module: resolve(fileDir, entry.module),
        export: entry.export ?? 'default',
        source,
      };
    } else if (entry.command !== undefined) {
      const argv: [string, ...string[]] =
        typeof entry.command === 'string'
          ? ['/bin/sh', '-c', entry.command]
          : (entry.command as [string, ...string[]]);
      handlers[name] = {
        kind: 'command',
        argv,
        cwd: entry.cwd === undefined ? fileDir : resolve(fileDir, entry.cwd),
        env: entry.env ?? {},
        timeoutSeconds: entry.timeoutSeconds,
        killGraceSeconds: entry.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS,
        source,
      };
    }
  }

  const journalDir = config.journalDir ?? DEFAULT_JOURNAL_DIR;
  const journalBase = fileDirFor.get('journalDir') ?? cwd;
  const sourceOf: SourceOf = (key) => {
    const overridden = origins.get(key);
    if (overridden) return { ...overridden, line: undefined };
    return { origin: 'file', location: fileLabel, line: lineOf(doc.contents, [key], lineCounter) };
  };
  const resolved = deepFreeze({
    file: file === undefined ? undefined : resolve(cwd, file),
    workerId: config.workerId ?? defaultWorkerId(options.host, options.pid),
    pool: config.pool,
    labels: config.labels,
    capacity: config.capacity,
    priority: config.priority,
    heartbeatIntervalMs: Math.round(config.heartbeatIntervalSeconds * 1000),
    leaseTtlMs: Math.round(config.leaseTtlSeconds * 1000),
    drainGraceMs: Math.round(config.drainGraceSeconds * 1000),
    exitOnLeaseLoss: config.exitOnLeaseLoss,
    rejoinTimeoutMs: Math.round(config.rejoinTimeoutSeconds * 1000),
    journalDir: isAbsolute(journalDir) ? journalDir : resolve(journalBase, journalDir),
    handlers,
    handlerEnv: config.handlerEnv,
    jobs: config.jobs,
    zmq: config.zmq,
    jobsOwner: config.jobsOwner,
  });
  return { config: resolved, sourceOf };
}

/**
 * The document as plain data, with aliases expanded at most {@link MAX_CONFIG_ALIAS_COUNT} nodes'
 * worth. Past that (an alias bomb) a ConfigError names the first alias's line and the key it sits under.
 */
function toJsWithLimits(doc: Document, fileLabel: string, lineCounter: LineCounter): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_CONFIG_ALIAS_COUNT });
  } catch (error) {
    let line: number | undefined;
    let field = '(yaml)';
    visit(doc, {
      Alias(_key, node, path) {
        const keys = path.filter(isPair).map((pair) => (isScalar(pair.key) ? String(pair.key.value) : '?'));
        if (keys.length > 0) field = keys.join('.');
        const start = rangeStart(node);
        line = start === undefined ? undefined : lineCounter.linePos(start).line;
        return visit.BREAK;
      },
    });
    const reason =
      line === undefined
        ? `cannot be read as data (${error instanceof Error ? error.message : String(error)})`
        : `YAML aliases here expand past the limit of ${MAX_CONFIG_ALIAS_COUNT} nodes (an alias bomb?)`;
    throw new ConfigError([{ origin: 'file', location: fileLabel, line, field, reason }], { cause: error });
  }
}

/** Turns an env string into what the schema expects; unparsable values pass through so the schema names them. */
function envValue(key: SettingKey, value: string): unknown {
  if (numericSettings.has(key)) {
    const n = Number(value);
    return value.trim() === '' || Number.isNaN(n) ? value : n;
  }
  if (key === 'labels') return parseLabels(value);
  return value;
}

/** `zone=a, tier=batch` → { zone: 'a', tier: 'batch' }. A pair without `=` is kept as a key with '' . */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const trimmed = pair.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    if (eq < 0) labels[trimmed] = '';
    else labels[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim();
  }
  return labels;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * The 1-based line of the deepest YAML node along `path`: the key's line for a mapping entry (so a block
 * value that starts on the next line still points at its key), the item's line for a sequence entry.
 */
function lineOf(root: unknown, path: readonly (string | number)[], counter: LineCounter): number | undefined {
  let node: unknown = root;
  let offset: number | undefined = rangeStart(root);
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
