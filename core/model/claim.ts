import { ClaimRefusedError, RunNotInStateError, StaleFenceError } from '../errors';
import type { Run, UpstreamRef } from './run';

/**
 * A worker's claim of a run (DISPATCHED → RUNNING), made from an envelope it received. The envelope is
 * only a pointer: the claim is a conditional write that succeeds only when the record agrees with
 * everything the envelope says, the run is DISPATCHED to this worker (or to no one: a pool-queue run,
 * which the same write assigns to it), and the fence matches. What the worker then executes comes
 * from the record the claim returns, never from the message (ARCHITECTURE.md, invariant 6).
 */
export interface RunClaim {
  readonly workerId: string;
  readonly fence: number;
  readonly at: number;
  /** What the envelope says about the run; each must equal the record's value. */
  readonly expect: ClaimExpectation;
}

export interface ClaimExpectation {
  readonly jobId: string;
  readonly scheduledTime: string;
  readonly handler: string;
  /** Compared as JSON text, as the DynamoDB ledger stores it. */
  readonly payload: unknown;
  readonly attempt: number;
  readonly deadlineAt: number;
  /** A dependent run's upstream runs (absent otherwise); compared as JSON text, like the payload. */
  readonly upstream?: readonly UpstreamRef[] | undefined;
}

/** The fields of the record a claim compares with the envelope, in the order they are reported. */
export const CLAIM_CHECKED_FIELDS = [
  'jobId',
  'scheduledTime',
  'handler',
  'payload',
  'attempt',
  'deadlineAt',
  'upstream',
] as const satisfies readonly (keyof ClaimExpectation & keyof Run)[];

/** Checked fields holding opaque JSON: compared as JSON text, as the DynamoDB ledger stores them. */
export function isClaimJsonField(
  field: (typeof CLAIM_CHECKED_FIELDS)[number],
): field is 'payload' | 'upstream' {
  return field === 'payload' || field === 'upstream';
}

/** One field where an envelope and the run record disagree: `record` is the truth, `envelope` what the message said. */
export interface ClaimDifference {
  readonly field: 'workerId' | 'fence' | (typeof CLAIM_CHECKED_FIELDS)[number];
  readonly record: unknown;
  readonly envelope: unknown;
}

/** JSON text of a value as both ledgers compare it (`undefined` stays undefined: an absent attribute). */
export function claimJson(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

/**
 * Where `claim` disagrees with `run`, besides its status: the worker (a run dispatched to another
 * worker), the fence, and each checked field. Empty when the claim may take the run.
 */
export function claimDifferences(run: Run, claim: RunClaim): ClaimDifference[] {
  const differences: ClaimDifference[] = [];
  if (run.workerId !== undefined && run.workerId !== claim.workerId) {
    differences.push({ field: 'workerId', record: run.workerId, envelope: claim.workerId });
  }
  if (run.fence !== claim.fence)
    differences.push({ field: 'fence', record: run.fence, envelope: claim.fence });
  for (const field of CLAIM_CHECKED_FIELDS) {
    const record = run[field];
    const envelope = claim.expect[field];
    const same = isClaimJsonField(field) ? claimJson(record) === claimJson(envelope) : record === envelope;
    if (!same) differences.push({ field, record, envelope });
  }
  return differences;
}

/**
 * The error for a claim the ledger refused, from the record as it is (every ledger maps a failed claim
 * through this, so they agree): not DISPATCHED → RunNotInStateError (a replay, or a run already taken,
 * finished or moved on); another fence → StaleFenceError (a superseded delivery); under the record's
 * fence, anything else that differs → ClaimRefusedError naming each field. Each carries the current run.
 */
export function claimRefusal(runId: string, current: Run, claim: RunClaim): Error {
  if (current.status !== 'DISPATCHED') return new RunNotInStateError(runId, ['DISPATCHED'], current);
  // Another fence means another dispatch (moved to the next candidate, retried, recovered): its worker,
  // attempt and deadline differ as a consequence. Only under the record's own fence is a difference forged.
  if (current.fence !== claim.fence) return new StaleFenceError(`run ${runId}`, claim.fence, current);
  return new ClaimRefusedError(runId, claimDifferences(current, claim), current);
}
