/**
 * The flags of `clover jobs`' commands that become a spec or a request: the spec fields `create` and
 * `update` take (SPEC_OPTIONS, applied by withFlags), a JSON option, and `trigger`'s traceparent.
 * Each is checked here, so a bad one is a usage error naming the flag and nothing is sent.
 */
import { JobModes, readTraceparent } from '../core/model';
import type { Ctx } from './command';
import { UsageError } from './io';

/** `--after extract,load:COMPLETED` → after entries (`on` defaults to SUCCEEDED); `none` clears them. */
function afterOption(ctx: Ctx): unknown {
  const text = ctx.string('after');
  if (text === undefined) return undefined;
  if (text === 'none') return [];
  return text.split(',').map((item) => {
    const [jobId, on = 'SUCCEEDED'] = item.trim().split(':');
    return { jobId, on: on.toUpperCase() };
  });
}

export function jsonOption(ctx: Ctx, name: string): unknown {
  const text = ctx.string(name);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(
      `--${name} must be JSON, e.g. --${name} '{"day":"2026-01-30"}', got ${text}`,
      ctx.command,
    );
  }
}

/**
 * The caller's trace that `jobs trigger`'s run continues: --traceparent, else TRACEPARENT from the
 * environment (OpenTelemetry's environment-variable carrier names it so; CI runners and tools that
 * trace set it for their children). Checked here, so a bad one is refused naming where it came from
 * and nothing is fired. `--traceparent ''` sends none whatever the environment holds.
 */
export function traceparentOption(ctx: Ctx): string | undefined {
  const flag = ctx.string('traceparent');
  const value = flag ?? (ctx.io.env ?? process.env).TRACEPARENT;
  if (!value) return undefined;
  const read = readTraceparent(value);
  if ('refused' in read) {
    const source = flag === undefined ? 'TRACEPARENT (from the environment)' : '--traceparent';
    throw new UsageError(`${source} ${read.refused}`, ctx.command);
  }
  return value;
}

/** Spec fields set by flags, shared by `create` and `update`. */
export const SPEC_OPTIONS = {
  handler: { type: 'string' },
  schedule: { type: 'string' },
  tz: { type: 'string' },
  mode: { type: 'string' },
  payload: { type: 'string' },
  pool: { type: 'string' },
  description: { type: 'string' },
  timeout: { type: 'string' },
  attempts: { type: 'string' },
  after: { type: 'string' },
  'wait-for': { type: 'string' },
  file: { type: 'string', short: 'f' },
} as const;
export const SPEC_HELP = `  -f, --file FILE     The whole spec as YAML or JSON (- for stdin); flags below override it
  --handler NAME      Handler the workers run
  --schedule EXPR     cron(...), rate(...), at(...), or Unix/Quartz cron; "none" for manual only
  --tz ZONE           IANA time zone of the schedule (default UTC)
  --mode MODE         REMOTE (EventBridge fires it; default) or LOCAL (the agents fire it)
  --payload JSON      Payload handed to the handler
  --pool POOL         Worker pool to run on (default "default")
  --description TEXT  What the job does
  --timeout SECONDS   Per-attempt time limit (default 3600)
  --attempts N        Attempts before the run fails (default 1)
  --after JOBS        Run after these jobs: JOB[:ON],... with ON SUCCEEDED (default), FAILED or
                      COMPLETED; "none" clears it (docs/dependent-jobs.md)
  --wait-for MODE     ANY (default: each upstream fires it) or ALL (once per chain, after all)`;

/** Applies the spec flags onto `base` (a spec or a partial one). Schema validation happens in the API. */
export function withFlags(ctx: Ctx, base: Record<string, unknown>): Record<string, unknown> {
  const spec: Record<string, unknown> = { ...base };
  const set = (key: string, value: unknown) => {
    if (value !== undefined) spec[key] = value;
  };
  set('handler', ctx.string('handler'));
  set('payload', jsonOption(ctx, 'payload'));
  set('description', ctx.string('description'));
  set('timeoutSeconds', ctx.int('timeout', 1, 7 * 24 * 3600));
  set('after', afterOption(ctx));
  set('waitFor', ctx.string('wait-for')?.toUpperCase());
  const mode = ctx.string('mode')?.toUpperCase();
  if (mode !== undefined && !(JobModes as readonly string[]).includes(mode)) {
    throw new UsageError(`--mode must be REMOTE or LOCAL, got "${ctx.string('mode')}"`, ctx.command);
  }
  set('mode', mode);
  const attempts = ctx.int('attempts', 1, 20);
  if (attempts !== undefined) spec.retry = { ...(spec.retry as object | undefined), maxAttempts: attempts };
  const pool = ctx.string('pool');
  if (pool !== undefined) spec.target = { ...(spec.target as object | undefined), pool };
  const expression = ctx.string('schedule');
  const tz = ctx.string('tz');
  if (expression === 'none') {
    if (tz !== undefined) throw new UsageError('--tz needs a schedule', ctx.command);
    spec.schedule = null;
  } else if (expression !== undefined || tz !== undefined) {
    const current = (spec.schedule ?? {}) as Record<string, unknown>;
    if (expression === undefined && current.expression === undefined) {
      throw new UsageError('--tz needs --schedule (the job has no schedule)', ctx.command);
    }
    spec.schedule = {
      ...current,
      ...(expression === undefined ? {} : { expression }),
      ...(tz === undefined ? {} : { timezone: tz }),
    };
  }
  return spec;
}
