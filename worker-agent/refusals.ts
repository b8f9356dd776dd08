/**
 * How the agent tells a refused claim or write from a failure, and the one log line for a refused
 * claim: the ledger's conditional writes refuse what is not this worker's to do, and each refusal
 * carries the run as it is.
 */
import type { DispatchEnvelope } from '../core/envelope';
import {
  ClaimRefusedError,
  CloverError,
  NotFoundError,
  RunNotInStateError,
  StaleFenceError,
} from '../core/errors';
import type { Logger } from '../core/log';
import type { Run } from '../core/model';

/** A claim or write the ledger refused by its condition: the run is someone else's, elsewhere, or not as claimed. */
export function isRefusal(error: unknown): error is RunNotInStateError | StaleFenceError | ClaimRefusedError {
  return (
    error instanceof RunNotInStateError ||
    error instanceof StaleFenceError ||
    error instanceof ClaimRefusedError
  );
}

/**
 * One log line for a claim the ledger refused, with the reason: an envelope that disagrees with the
 * record under its own fence (forged, or naming another worker's run) is a warning naming each field;
 * a run that does not exist, is no longer waiting (a replay) or was dispatched again (another fence)
 * is routine.
 */
export function logRefusedClaim(
  log: Logger,
  envelope: DispatchEnvelope,
  error: RunNotInStateError | StaleFenceError | ClaimRefusedError | NotFoundError,
  message: string,
): void {
  if (error instanceof ClaimRefusedError) {
    log.log('warn', message, {
      reason: 'envelope_mismatch',
      detail: 'the envelope disagrees with the run record',
      fence: envelope.fence,
      differences: error.differences,
    });
    return;
  }
  const current = currentOf(error);
  const [reason, detail] =
    error instanceof NotFoundError
      ? ['run_not_found', 'the run does not exist']
      : error instanceof StaleFenceError
        ? ['stale_fence', `the run was dispatched again (fence ${current?.fence})`]
        : ['not_claimable', `the run is ${current?.status ?? 'gone'}, not waiting to be claimed`];
  log.log('info', message, {
    reason,
    detail,
    fence: envelope.fence,
    status: current?.status,
    currentFence: current?.fence,
    owner: current?.workerId,
  });
}

/** A refusal, or a run that does not exist: either way the write is not this attempt's to make. */
export function isRefusedOrGone(
  error: unknown,
): error is RunNotInStateError | StaleFenceError | ClaimRefusedError | NotFoundError {
  return isRefusal(error) || error instanceof NotFoundError;
}

export function currentOf(error: unknown): Run | undefined {
  if (isRefusal(error)) {
    return error.current as Run | undefined;
  }
  return undefined;
}

/** A call AWS did not answer (a retryable error): the agent journals what it wanted to write. */
export function isUnavailable(error: unknown): boolean {
  return error instanceof CloverError && error.retryable;
}
