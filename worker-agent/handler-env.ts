/**
 * A handler's environment is built, not inherited (ARCHITECTURE.md invariant 7; docs/agent.md, "What
 * a handler sees"). For each run, in this order, later entries winning:
 *
 * 1. the base: {@link HANDLER_BASE_ENV} and `LC_*` from the agent's environment, when set there;
 * 2. the names the agent's config passes through (`handlerEnv.passThrough`), from its environment;
 * 3. the job's own `env` (copied onto the run record at the fire; validated by JobEnvSchema);
 * 4. for command handlers, the command's `env` from the agent's config (the host operator's word);
 * 5. the run's context — CLOVER_JOB_ID, CLOVER_RUN_ID, CLOVER_SCHEDULED_TIME, CLOVER_ATTEMPT,
 *    CLOVER_PAYLOAD (JSON), CLOVER_DEADLINE_AT (epoch ms), CLOVER_TRACE_ID (the fire's trace id, when
 *    the run has one) and, for dependent runs,
 *    CLOVER_UPSTREAM_RUN_ID, CLOVER_UPSTREAM_STATUS, CLOVER_UPSTREAM_RESULT — which nothing overrides.
 *
 * Nothing else of the agent's environment reaches a handler: AWS credentials, CLOVER_API_TOKEN and
 * CLOVER_AGENT_ZMQ_SECRET_KEY stay with the agent unless the operator names them in `passThrough`.
 *
 * @example
 * const base = baseHandlerEnv(process.env, ['HTTPS_PROXY']);
 * const env = runEnv(base, run.env, ctxFields); // what ctx.env holds and a command gets
 */
import { isBaseEnvName, type UpstreamRef } from '../core/model';

export type EnvSource = Readonly<Record<string, string | undefined>>;

/** Steps 1 and 2: what every handler of this agent starts from, taken once from the agent's environment. */
export function baseHandlerEnv(agentEnv: EnvSource, passThrough: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(agentEnv)) {
    if (value !== undefined && (isBaseEnvName(name) || passThrough.includes(name))) env[name] = value;
  }
  return env;
}

/** The run fields the CLOVER_* variables are made of. */
export interface RunEnvFields {
  readonly jobId: string;
  readonly runId: string;
  readonly scheduledTime: string;
  readonly attempt: number;
  readonly payload: unknown;
  readonly deadlineAt: number;
  readonly upstream: readonly UpstreamRef[];
  /** The fire's trace id (core/model/trace.ts); absent on runs made before traces were kept. */
  readonly traceId?: string;
}

/** Step 5: the CLOVER_* variables of one run. */
export function contextEnv(run: RunEnvFields): Record<string, string> {
  return {
    CLOVER_JOB_ID: run.jobId,
    CLOVER_RUN_ID: run.runId,
    CLOVER_SCHEDULED_TIME: run.scheduledTime,
    CLOVER_ATTEMPT: String(run.attempt),
    CLOVER_PAYLOAD: JSON.stringify(run.payload ?? null),
    CLOVER_DEADLINE_AT: String(run.deadlineAt),
    ...(run.traceId ? { CLOVER_TRACE_ID: run.traceId } : {}),
    // Contexts built by older callers (library users' own tests) may lack `upstream`.
    ...upstreamEnv(run.upstream ?? []),
  };
}

/**
 * A dependent run's upstream runs (none for other runs): CLOVER_UPSTREAM_RUN_ID and
 * CLOVER_UPSTREAM_STATUS, comma-separated in `after` order; CLOVER_UPSTREAM_RESULT, the upstream
 * result as JSON — for fan-in (several upstreams) a JSON object of results by upstream job id. A
 * result left out for size (over 4 KiB) is `null`.
 */
function upstreamEnv(upstream: readonly UpstreamRef[]): Record<string, string> {
  if (upstream.length === 0) return {};
  const result = (ref: UpstreamRef) => ref.result ?? null;
  return {
    CLOVER_UPSTREAM_RUN_ID: upstream.map((ref) => ref.runId).join(','),
    CLOVER_UPSTREAM_STATUS: upstream.map((ref) => ref.status).join(','),
    CLOVER_UPSTREAM_RESULT: JSON.stringify(
      upstream.length === 1 && upstream[0]
        ? result(upstream[0])
        : Object.fromEntries(upstream.map((ref) => [ref.jobId, result(ref)])),
    ),
  };
}

/** Steps 1, 2, 3 and 5 for one run: the environment a handler is given (`ctx.env`). */
export function runEnv(
  base: Readonly<Record<string, string>>,
  jobEnv: Readonly<Record<string, string>> | undefined,
  run: RunEnvFields,
): Record<string, string> {
  return { ...base, ...jobEnv, ...contextEnv(run) };
}
