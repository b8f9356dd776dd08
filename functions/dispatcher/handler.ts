import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { readCurveKeySecret } from '../../core/adapters/curve-key-secret';
import type { Dispatcher, FireOutcome } from '../../core/dispatch';
import { CloverError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { dispatcherZmq } from '../config';
import { type EmfMetrics, noMetrics } from '../metrics';
import { lambdaEntry } from '../telemetry';

export interface DispatcherHandlerDeps {
  readonly dispatcher: Dispatcher;
  readonly log: Logger;
  /** Fires by outcome and their lateness (functions/metrics.ts). @default noMetrics */
  readonly metrics?: EmfMetrics;
  readonly now?: () => number;
}

export type DispatcherResult =
  | { readonly status: FireOutcome['kind']; readonly runIds: readonly string[] }
  | { readonly status: 'invalid'; readonly error: ReturnType<CloverError['toJSON']> };

/**
 * The dispatcher Lambda: EventBridge Scheduler invokes it with `{jobId, scheduledTime}` (manual
 * triggers add `trigger: 'MANUAL'`). Input that can never succeed is answered, not thrown, so
 * Scheduler does not retry it; transient failures throw, so Scheduler retries and finally
 * dead-letters the fire for the monitor.
 */
export function makeDispatcherHandler(deps: DispatcherHandlerDeps) {
  const metrics = deps.metrics ?? noMetrics;
  const now = deps.now ?? Date.now;
  return async (event: unknown): Promise<DispatcherResult> => {
    const { log } = deps;
    const scheduled = Date.parse(String((event as { scheduledTime?: unknown } | null)?.scheduledTime ?? ''));
    try {
      const outcome = await deps.dispatcher.fire(event);
      metrics.put('fires', 1, { Outcome: outcome.kind });
      if (Number.isFinite(scheduled)) metrics.put('fireLateness', Math.max(0, now() - scheduled));
      return { status: outcome.kind, runIds: runIdsOf(outcome) };
    } catch (error) {
      if (error instanceof CloverError && !error.retryable) {
        log.log('error', 'fire rejected', { error: error.toJSON(), event });
        metrics.put('fires', 1, { Outcome: 'invalid' });
        return { status: 'invalid', error: error.toJSON() };
      }
      log.log('error', 'fire failed; Lambda retries it, then fires-dlq', { error, event });
      throw error;
    } finally {
      metrics.flush();
    }
  };
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
 * Built once per warm container (functions/telemetry.ts): clients, stores, worker cache and ZeroMQ
 * connections are reused by every warm invocation. The CURVE key pair (when the stage has one) is read
 * from Secrets Manager here, at cold start, and kept in memory only; a failed read fails the invocation
 * (Lambda retries it) and is tried again by the next one.
 */
export const handler = lambdaEntry<unknown, DispatcherResult>(
  'dispatcher',
  async ({ config, log, metrics, clients, traceId }) => {
    const zmq = await dispatcherZmq(config, (arn) => readCurveKeySecret(clients.secretsManager, arn));
    defaultPlane = controlPlane({
      clients,
      prefix: config.CLOVER_PREFIX,
      log,
      traceId,
      ...(config.CLOVER_DISPATCHER_ARN ? { dispatcherArn: config.CLOVER_DISPATCHER_ARN } : {}),
      ...(zmq ? { zmq } : {}),
    });
    if (zmq) {
      // The addon loads here, at cold start: a bundle without it fails its first invocation loudly
      // instead of quietly sending every ZMQ job over SQS.
      await defaultPlane.zmqDelivery?.ready();
      // Lambda sends SIGTERM before it shuts a container down (when an extension is registered).
      process.once('SIGTERM', () => void closeDispatcher().finally(() => process.exit(0)));
    }
    return makeDispatcherHandler({ dispatcher: defaultPlane.dispatcher, log, metrics });
  },
);

/** Closes the warm container's sockets (the next invocation builds everything again). */
export async function closeDispatcher(): Promise<void> {
  const plane = defaultPlane;
  defaultPlane = undefined;
  handler.reset();
  await plane?.close();
}
