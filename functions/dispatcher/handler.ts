import { awsClients } from '../../core/adapters/aws-clients';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import type { Dispatcher, FireOutcome } from '../../core/dispatch';
import { CloverError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { dispatcherZmq, functionLogger, readConfig } from '../config';

export interface DispatcherHandlerDeps {
  readonly dispatcher: Dispatcher;
  readonly log: Logger;
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
  return async (event: unknown): Promise<DispatcherResult> => {
    try {
      const outcome = await deps.dispatcher.fire(event);
      return { status: outcome.kind, runIds: runIdsOf(outcome) };
    } catch (error) {
      if (error instanceof CloverError && !error.retryable) {
        deps.log.log('error', 'fire rejected', { error: error.toJSON(), event });
        return { status: 'invalid', error: error.toJSON() };
      }
      throw error;
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

let defaultHandler: ReturnType<typeof makeDispatcherHandler> | undefined;
let defaultPlane: ControlPlane | undefined;

/**
 * Built once per warm container from the environment: clients, stores, worker cache and ZeroMQ
 * connections (when CLOVER_DISPATCHER_ZMQ_* hold a key pair) are reused by every warm invocation.
 */
export const handler = (event: unknown): Promise<DispatcherResult> => {
  if (!defaultHandler) {
    const config = readConfig();
    const log = functionLogger(config, 'dispatcher');
    const zmq = dispatcherZmq(config);
    defaultPlane = controlPlane({
      clients: awsClients(),
      prefix: config.CLOVER_PREFIX,
      log,
      ...(config.CLOVER_DISPATCHER_ARN ? { dispatcherArn: config.CLOVER_DISPATCHER_ARN } : {}),
      ...(zmq ? { zmq } : {}),
    });
    defaultHandler = makeDispatcherHandler({ dispatcher: defaultPlane.dispatcher, log });
    if (zmq) {
      // Lambda sends SIGTERM before it shuts a container down (when an extension is registered).
      process.once('SIGTERM', () => void closeDispatcher().finally(() => process.exit(0)));
    }
  }
  return defaultHandler(event);
};

/** Closes the warm container's sockets (the next invocation builds everything again). */
export async function closeDispatcher(): Promise<void> {
  const plane = defaultPlane;
  defaultPlane = undefined;
  defaultHandler = undefined;
  await plane?.close();
}
