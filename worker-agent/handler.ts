/**
 * The contract between the agent and the code it runs. A handler is looked up by name in the agent's
 * own HandlerRegistry (never taken from a message: invariant 6) and called with a HandlerContext.
 */

import type { UpstreamRef } from '../core/model';

/** What a handler gets for one attempt of one run. */
export interface HandlerContext {
  readonly jobId: string;
  readonly runId: string;
  /** The fire's instant, UTC ISO-8601 to the second (`2026-01-30T10:00:00Z`). */
  readonly scheduledTime: string;
  /** 1 for the first attempt, higher for retries and recoveries. */
  readonly attempt: number;
  /** The job's payload, as JSON-parsed data (null when the job has none). */
  readonly payload: unknown;
  /** Aborted on cancel, at the deadline, and when the worker loses its lease or is forced to stop. */
  readonly signal: AbortSignal;
  /** Epoch milliseconds by which the attempt must finish. */
  readonly deadlineAt: number;
  /**
   * For a run fired by upstream outcomes (trigger DEPENDENT; docs/dependent-jobs.md): each upstream
   * run's id, job, final status and result, from the run record. One entry for `waitFor: ANY`, one
   * per listed upstream for `ALL`; empty for any other run.
   */
  readonly upstream: readonly UpstreamRef[];
  /**
   * The fire's trace id (`1-<8 hex>-<24 hex>`; also CLOVER_TRACE_ID): the same id is on the run record,
   * the dispatcher's log line and the agent's lines for the run. Pass it on in your own logs to join
   * them. Absent on runs made before traces were kept.
   */
  readonly traceId?: string;
  /**
   * The run's environment, built by the agent (handler-env.ts; docs/agent.md, "What a handler sees"):
   * the base variables, the names the agent's config passes through, the job's `env` and the CLOVER_*
   * context. Command handlers get exactly this (plus the command's configured `env`). A module handler
   * runs inside the agent and could still read `process.env`: use `ctx.env`, and run untrusted code as
   * a command.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Reports progress (0-100) with an optional message; the agent batches these. */
  progress(percent: number, message?: string): void;
  /** Appends one line to the run's log; the agent batches and stores these with the run. */
  log(line: string): void;
}

/** A registered handler: resolves with the run's result (JSON-serializable) or throws to fail the attempt. */
export type Handler = (ctx: HandlerContext) => Promise<unknown>;

/** What may be registered: a sync or async function of the context. */
export type HandlerFunction = (ctx: HandlerContext) => unknown;
