/**
 * The agent config's settings: their defaults, the file's schema (zod) and the resolved, typed shape
 * the agent runs on. Reading and layering the sources is config.ts.
 */
import { z } from 'zod';
import {
  EnvNameSchema,
  HandlerNameSchema,
  IdSchema,
  type JobSpec,
  JobSpecSchema,
  LabelsSchema,
} from '../core/model';
import { type AgentZmqConfig, AgentZmqFileSchema } from './zmq-intake';

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

export type SettingKey = keyof AgentConfigFlags;
