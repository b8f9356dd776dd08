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
 * The rooms: config-schema.ts (settings, defaults, the file's schema and the resolved types),
 * config-env.ts (environment variables and flags), config-yaml.ts (the file: size and alias limits,
 * lines for errors), config-error.ts (ConfigError); this file layers the sources and resolves paths.
 *
 * @example
 * const config = await loadAgentConfig({ path: 'agent.yaml', flags: { capacity: 8 } });
 * config.handlers['report.daily']; // { kind: 'command', argv: [...], ... }
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { AGENT_CONFIG_ENV_VAR, AGENT_ENV_VARS, envValue, kebab } from './config-env';
import { ConfigError, type ConfigIssue, type SettingOrigin } from './config-error';
import {
  type AgentConfig,
  AgentConfigFileSchema,
  type AgentConfigFlags,
  type ConfigSource,
  DEFAULT_JOURNAL_DIR,
  DEFAULT_KILL_GRACE_SECONDS,
  type HandlerConfig,
  type SettingKey,
} from './config-schema';
import { parseYaml, readConfigFile } from './config-yaml';
import { withZmqSecretFromEnv } from './zmq-intake';

export { AGENT_CONFIG_ENV_VAR, AGENT_ENV_VARS, parseLabels } from './config-env';
export { ConfigError, type ConfigIssue, type SettingOrigin } from './config-error';
export {
  type AgentConfig,
  type AgentConfigFileInput,
  AgentConfigFileSchema,
  type AgentConfigFlags,
  type CommandHandlerConfig,
  type ConfigSource,
  DEFAULT_DRAIN_GRACE_SECONDS,
  DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
  DEFAULT_JOURNAL_DIR,
  DEFAULT_KILL_GRACE_SECONDS,
  DEFAULT_LEASE_TTL_SECONDS,
  DEFAULT_REJOIN_TIMEOUT_SECONDS,
  type HandlerConfig,
  type ModuleHandlerConfig,
} from './config-schema';
export { MAX_CONFIG_ALIAS_COUNT, MAX_CONFIG_BYTES } from './config-yaml';

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

  const { raw, lineOf } = parseYaml(text, fileLabel);

  // Layer the sources: file, then env over it, then flags over that; remember who set what.
  const merged: Record<string, unknown> = { ...raw };
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
        line: lineOf(path),
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
      line: lineOf(['handlers', name]),
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
    return { origin: 'file', location: fileLabel, line: lineOf([key]) };
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

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
