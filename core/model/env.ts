import { z } from 'zod';

/*
 * What a handler's environment is built from (ARCHITECTURE.md invariant 7; docs/agent.md, "What a
 * handler sees"). The agent assembles it per run (worker-agent/handler-env.ts), never by inheriting
 * its own: AWS credentials, API tokens and CURVE keys stay with the agent unless its config names them.
 */

/**
 * The harmless basics every handler gets from the agent's environment, when set there: where programs
 * are, who and where the user is, language, time zone, temporary files. Locale variables (`LC_*`) too.
 */
export const HANDLER_BASE_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
] as const;

/** Locale variables (LC_ALL, LC_CTYPE, ...) are basics too. */
export const isBaseEnvName = (name: string): boolean =>
  (HANDLER_BASE_ENV as readonly string[]).includes(name) || /^LC_[A-Z]+$/.test(name);

/** Clover's own variables: the run's context, which nothing else may set (CLOVER_RUN_ID, CLOVER_UPSTREAM_STATUS, ...). */
export const CLOVER_ENV_PREFIX = 'CLOVER_';

/**
 * Names a job's `env` may not set, because they make the programs a command starts load other code
 * (a job is defined through the API; what runs stays the agent's choice, invariant 6) or because they
 * are the base a command relies on. Best effort for the common loaders; the agent config's own
 * `env` of a command handler, written by the operator of the host, has no such limit.
 */
const RESERVED_JOB_ENV = [
  /^CLOVER_/,
  /^(PATH|HOME|USER|LOGNAME|SHELL|TMPDIR|IFS|ENV|BASH_ENV|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND)$/,
  /^BASH_FUNC_/,
  /^(LD|DYLD)_/,
  /^(NODE_OPTIONS|NODE_PATH)$/,
  /^PYTHON(STARTUP|PATH|HOME|INSPECT)$/,
  /^(PERL5LIB|PERL5OPT|PERLLIB|RUBYOPT|RUBYLIB)$/,
  /^(JAVA_TOOL_OPTIONS|JDK_JAVA_OPTIONS|_JAVA_OPTIONS|CLASSPATH)$/,
  /^(GCONV_PATH|LOCPATH|HOSTALIASES|RESOLV_HOST_CONF|GIT_SSH_COMMAND|GIT_EXEC_PATH)$/,
];

export const MAX_JOB_ENV_VARS = 50;
export const MAX_JOB_ENV_NAME = 128;
export const MAX_JOB_ENV_VALUE = 4096;
/** All names and values together, in characters. */
export const MAX_JOB_ENV_TOTAL = 16 * 1024;

/** A process environment variable name (letters, digits, `_`, not starting with a digit). */
export const EnvNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name');

/**
 * A job's own environment variables, set for each of its runs (not a place for secrets: every API
 * reader sees the job). Refused with the variable named: a bad name, a reserved one, a value too long,
 * too many or too large together.
 */
export const JobEnvSchema = z
  .record(
    z.string(),
    z
      .string({ error: 'must be a string' })
      .max(MAX_JOB_ENV_VALUE, `must be at most ${MAX_JOB_ENV_VALUE} characters`),
  )
  .superRefine((env, ctx) => {
    const names = Object.keys(env);
    if (names.length > MAX_JOB_ENV_VARS) {
      ctx.addIssue({ code: 'custom', path: [], message: `at most ${MAX_JOB_ENV_VARS} variables` });
    }
    let total = 0;
    for (const name of names) {
      total += name.length + (env[name]?.length ?? 0);
      if (!EnvNameSchema.safeParse(name).success || name.length > MAX_JOB_ENV_NAME) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `must be a valid environment variable name of at most ${MAX_JOB_ENV_NAME} characters`,
        });
      } else if (RESERVED_JOB_ENV.some((pattern) => pattern.test(name))) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: name.startsWith(CLOVER_ENV_PREFIX)
            ? 'CLOVER_* variables are set by Clover for each run'
            : 'is reserved: it changes which programs or code a command runs (docs/agent.md, "What a handler sees")',
        });
      }
    }
    if (total > MAX_JOB_ENV_TOTAL) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `names and values together at most ${MAX_JOB_ENV_TOTAL} characters`,
      });
    }
  });
export type JobEnv = z.output<typeof JobEnvSchema>;
