import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { readCurveKeySecret } from '../../core/adapters/curve-key-secret';
import type { Dispatcher, FireOutcome } from '../../core/dispatch';
import { CloverError, ValidationError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { Run } from '../../core/model';
import { isPlannerRequest, Planner, type PlanReport, parsePlannerRequest } from '../../core/planner';
import type { Clock } from '../../core/ports';
import { dispatcherZmq, monitorOf } from '../config';
import { type EmfMetrics, noMetrics } from '../metrics';
import { type FunctionParts, lambdaEntry, planeOptionsOf } from '../telemetry';

export interface DispatcherHandlerDeps {
  readonly dispatcher: Dispatcher;
  readonly log: Logger;
  /** Fires by outcome and their lateness (functions/metrics.ts). @default noMetrics */
  readonly metrics?: EmfMetrics;
  readonly now?: () => number;
  /**
   * The precise-jobs planner (core/planner.ts), for the planner schedule's invocations
   * (`{planner: true, scheduledTime}`). Kept for the warm container's life: it remembers which job
   * versions it has planned. @default none: planner invocations are answered invalid
   */
  readonly planner?: Pick<Planner, 'plan'>;
}

export type DispatcherResult =
  | { readonly status: FireOutcome['kind']; readonly runIds: readonly string[] }
  | { readonly status: 'planner'; readonly report: PlanReport }
  | { readonly status: 'invalid'; readonly error: ReturnType<CloverError['toJSON']> };

/**
 * The dispatcher Lambda: EventBridge Scheduler invokes it with `{jobId, scheduledTime}` (manual
 * triggers add `trigger: 'MANUAL'`), and every minute with `{planner: true, scheduledTime}` for a
 * planner pass over the precise jobs (docs/precise-jobs.md). Input that can never succeed is
 * answered, not thrown, so Scheduler does not retry it; transient failures throw, so Scheduler
 * retries and finally dead-letters the fire for the monitor (a planner pass that fails the same way
 * reaches fires-dlq too, where the monitor drops it as no job's fire: the next minute's pass plans
 * the same window again).
 */
export function makeDispatcherHandler(deps: DispatcherHandlerDeps) {
  const metrics = deps.metrics ?? noMetrics;
  const now = deps.now ?? Date.now;
  return async (event: unknown): Promise<DispatcherResult> => {
    const { log } = deps;
    if (isPlannerRequest(event)) return planPass(event);
    const scheduled = Date.parse(String((event as { scheduledTime?: unknown } | null)?.scheduledTime ?? ''));
    // The fire's one log line is its metric line: it names the job, run, worker and trace (core/dispatch/delivery.ts).
    let fire: Record<string, string | undefined> | undefined;
    try {
      const outcome = await deps.dispatcher.fire(event);
      metrics.put('fires', 1, { Outcome: outcome.kind });
      if (Number.isFinite(scheduled)) metrics.put('fireLateness', Math.max(0, now() - scheduled));
      const runIds = runIdsOf(outcome);
      const runs = runsOf(outcome);
      fire = {
        jobId: runs[0]?.jobId,
        runId: runIds.join(' '),
        workerId: outcome.kind === 'dispatched' ? workersOf(runs) : undefined,
        traceId: runs[0]?.traceId,
      };
      return { status: outcome.kind, runIds };
    } catch (error) {
      if (error instanceof CloverError && !error.retryable) {
        log.log('error', 'fire rejected', { error: error.toJSON(), event });
        metrics.put('fires', 1, { Outcome: 'invalid' });
        return { status: 'invalid', error: error.toJSON() };
      }
      log.log('error', 'fire failed; Lambda retries it, then fires-dlq', { error, event });
      throw error;
    } finally {
      metrics.flush(fire);
    }
  };

  async function planPass(event: unknown): Promise<DispatcherResult> {
    try {
      const request = parsePlannerRequest(event);
      if (!deps.planner) throw ValidationError.field('event.planner', 'this dispatcher runs no planner');
      const report = await deps.planner.plan(request);
      for (const [outcome, count] of Object.entries(report)) {
        if (count > 0) metrics.put('plannedFires', count, { Outcome: outcome });
      }
      return { status: 'planner', report };
    } catch (error) {
      if (error instanceof CloverError && !error.retryable) {
        deps.log.log('error', 'planner invocation rejected', { error: error.toJSON(), event });
        return { status: 'invalid', error: error.toJSON() };
      }
      deps.log.log('error', 'planner pass failed; Lambda retries it, and the next minute plans again', {
        error,
        event,
      });
      throw error;
    } finally {
      metrics.flush();
    }
  }
}

/** The workers a fire's runs went to (BROADCAST: several), unless none was named (a pool queue's). */
function workersOf(runs: readonly Run[]): string | undefined {
  const workers = runs.flatMap((run) => (run.workerId === undefined ? [] : [run.workerId]));
  return workers.length > 0 ? workers.join(' ') : undefined;
}

/** The runs a fire's outcome holds (a duplicate's, when the ledger returned it). */
function runsOf(outcome: FireOutcome): readonly Run[] {
  if (outcome.kind === 'dispatched') return outcome.runs;
  if (outcome.kind === 'duplicate') return outcome.existing ? [outcome.existing] : [];
  return [outcome.run];
}

function runIdsOf(outcome: FireOutcome): string[] {
  switch (outcome.kind) {
    case 'dispatched':
      return outcome.runs.map((run) => run.runId);
    case 'duplicate':
      return [outcome.runId];
    default:
      return [outcome.run.runId];
  }
}

let defaultPlane: ControlPlane | undefined;

/**
 * The dispatcher Lambda's handler as its container builds it, with the plane it runs on (closed by
 * the caller): the CURVE key pair (when the stage has one) is read from Secrets Manager here and
 * kept in memory only. A test or bench gives its own clock (the plane's, the planner's and the fires'
 * lateness) to run simulated minutes (test/monitor/idle-hour.test.ts).
 */
export async function dispatcherHandlerFor(parts: FunctionParts, options: { readonly clock?: Clock } = {}) {
  const { config, log, metrics, clients } = parts;
  const zmq = await dispatcherZmq(config, (arn) => readCurveKeySecret(clients.secretsManager, arn));
  const plane = controlPlane({
    ...planeOptionsOf(parts, options.clock),
    ...(config.CLOVER_DISPATCHER_ARN ? { dispatcherArn: config.CLOVER_DISPATCHER_ARN } : {}),
    ...(zmq ? { zmq } : {}),
    ...monitorOf(config),
  });
  // The addon loads here, at cold start: a bundle without it fails its first invocation loudly
  // instead of quietly sending every ZMQ job over SQS.
  await plane.zmqDelivery?.ready();
  // The planner pass runs here, not in a function of its own: it needs exactly what a fire needs
  // (the jobs, the live workers, the run ledger, SQS and ZeroMQ delivery, no_worker alerts), so it
  // shares this role, VPC, CURVE keys and alarms, and the scheduler role still invokes one function.
  const planner = new Planner({ ...plane, log: log.child({ source: 'planner' }) });
  const invoke = makeDispatcherHandler({
    dispatcher: plane.dispatcher,
    log,
    metrics,
    planner,
    now: () => plane.clock.now(),
  });
  return { plane, invoke };
}

/**
 * Built once per warm container (functions/telemetry.ts): clients, stores, worker cache and ZeroMQ
 * connections are reused by every warm invocation. A failed build (an unreadable CURVE secret) fails
 * the invocation (Lambda retries it) and is tried again by the next one.
 */
export const handler = lambdaEntry<unknown, DispatcherResult>('dispatcher', async (telemetry) => {
  const { plane, invoke } = await dispatcherHandlerFor(telemetry);
  defaultPlane = plane;
  if (plane.zmqDelivery) {
    // Lambda sends SIGTERM before it shuts a container down (when an extension is registered).
    process.once('SIGTERM', () => void closeDispatcher().finally(() => process.exit(0)));
  }
  return invoke;
});

/** Closes the warm container's sockets (the next invocation builds everything again). */
export async function closeDispatcher(): Promise<void> {
  const plane = defaultPlane;
  defaultPlane = undefined;
  handler.reset();
  await plane?.close();
}
