import type { Run, RunStatus } from './types';

/**
 * Final statuses, as core/model/run.ts's state machine has them (`isFinal`). Restated rather than
 * imported because that module builds zod schemas, which would land in the bundle; the Record over
 * RunStatus makes the typecheck fail here when core adds a status.
 */
const FINAL: Readonly<Record<RunStatus, boolean>> = {
  PENDING: false,
  DISPATCHED: false,
  RUNNING: false,
  NO_WORKER: false,
  SUCCEEDED: true,
  FAILED: true,
  TIMED_OUT: true,
  CANCELLED: true,
  LOST: true,
  SKIPPED: true,
};

/** A run is still moving while it is not final (NO_WORKER is final once no retry is scheduled). */
export function isRunActive(run: Pick<Run, 'status' | 'nextAttemptAt'>): boolean {
  if (run.status === 'NO_WORKER') return run.nextAttemptAt !== undefined;
  return !FINAL[run.status];
}
