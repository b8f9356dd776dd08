/**
 * Every failure Clover reports has a stable `code` (the API returns it, the console branches on it),
 * a human message, and a `retryable` flag: retryable errors are transient (throttling, an emulator
 * that is down, a lost race that a later attempt may win); the rest fail at once and change nothing.
 */
export type ErrorCode =
  | 'validation_failed'
  | 'invalid_schedule'
  | 'invalid_cursor'
  | 'not_found'
  | 'already_exists'
  | 'already_acknowledged'
  | 'version_conflict'
  | 'already_fired'
  | 'run_not_in_state'
  | 'stale_fence'
  | 'claim_refused'
  | 'lease_lost'
  | 'lock_held'
  | 'payload_too_large'
  | 'unknown_handler'
  | 'no_worker'
  | 'malformed_message'
  | 'unavailable'
  | 'internal';

export interface CloverErrorOptions {
  readonly retryable?: boolean;
  readonly cause?: unknown;
  readonly details?: Readonly<Record<string, unknown>>;
}

export class CloverError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: CloverErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }

  /** The shape the API and logs carry: stable code, message, details. */
  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** One problem with one field of some input: `field` is a dotted path such as `schedule.timezone`. */
export interface FieldIssue {
  readonly field: string;
  readonly reason: string;
}

/** Input was rejected before anything was written. Names every offending field and why. */
export class ValidationError extends CloverError {
  readonly issues: readonly FieldIssue[];

  constructor(
    issues: readonly FieldIssue[],
    code: 'validation_failed' | 'invalid_schedule' = 'validation_failed',
  ) {
    const text = issues.map((i) => `${i.field}: ${i.reason}`).join('; ');
    super(code, text || 'invalid input', { details: { issues } });
    this.issues = issues;
  }

  static field(field: string, reason: string): ValidationError {
    return new ValidationError([{ field, reason }]);
  }
}

/** A schedule expression, time zone or date that AWS EventBridge Scheduler (or Clover's LOCAL mode) would not accept. */
export class ScheduleError extends ValidationError {
  constructor(field: string, reason: string) {
    super([{ field, reason }], 'invalid_schedule');
  }
}

/** A list cursor that this query did not hand out (another query's, tampered, or from another deployment). */
export class InvalidCursorError extends CloverError {
  constructor(reason: string) {
    super('invalid_cursor', `cursor: ${reason}`, { details: { issues: [{ field: 'cursor', reason }] } });
  }
}

export class NotFoundError extends CloverError {
  constructor(kind: string, id: string) {
    super('not_found', `${kind} ${JSON.stringify(id)} does not exist`, { details: { kind, id } });
  }
}

export class AlreadyExistsError extends CloverError {
  constructor(kind: string, id: string) {
    super('already_exists', `${kind} ${JSON.stringify(id)} already exists`, { details: { kind, id } });
  }
}

/** An alert can be acknowledged once: the second acknowledgement changes nothing and says who took it. */
export class AlreadyAcknowledgedError extends CloverError {
  constructor(alertId: string, by: string, at: number) {
    super(
      'already_acknowledged',
      `alert ${JSON.stringify(alertId)} was already acknowledged by ${by} at ${new Date(at).toISOString()}`,
      { details: { alertId, acknowledgedBy: by, acknowledgedAt: at, field: 'alertId' } },
    );
  }
}

/** An update named a version that is no longer current: someone else changed the record first. */
export class VersionConflictError extends CloverError {
  constructor(
    kind: string,
    id: string,
    readonly expectedVersion: number,
    readonly currentVersion: number | undefined,
  ) {
    super(
      'version_conflict',
      `${kind} ${JSON.stringify(id)} is at version ${currentVersion ?? 'none'}, not ${expectedVersion}`,
      {
        details: { kind, id, expectedVersion, currentVersion },
      },
    );
  }
}

/**
 * A define that adds to `after` lost a race: a job on the upstream graph it checked for cycles changed
 * (or appeared, or went) before its write landed. Nothing was written; reading again and retrying gives
 * either success or the cycle as a validation error.
 */
export class GraphChangedError extends CloverError {
  constructor(
    readonly jobId: string,
    readonly changedJobId: string,
  ) {
    super(
      'version_conflict',
      `job ${JSON.stringify(changedJobId)}, upstream of ${JSON.stringify(jobId)}, changed while ${JSON.stringify(jobId)} was being defined; read it again and retry`,
      { details: { kind: 'job', id: jobId, changedJobId, field: 'after' } },
    );
  }
}

/** A second invocation for a fire that already has its run record. Carries the existing run id. */
export class AlreadyFiredError extends CloverError {
  constructor(
    readonly runId: string,
    readonly existing?: unknown,
  ) {
    super('already_fired', `fire ${runId} already has a run`, { details: { runId } });
  }
}

/** A conditional transition found the run in another state, or owned by another fence. Carries the current item. */
export class RunNotInStateError extends CloverError {
  constructor(
    readonly runId: string,
    readonly expected: readonly string[],
    readonly current?: unknown,
  ) {
    super('run_not_in_state', `run ${runId} is not in state ${expected.join(' or ')}`, {
      details: { runId, expected },
    });
  }
}

/** A write carried a fencing token older than the one the record holds now. */
export class StaleFenceError extends CloverError {
  constructor(
    readonly resource: string,
    readonly fence: number,
    readonly current?: unknown,
  ) {
    super('stale_fence', `${resource}: fencing token ${fence} is stale`, { details: { resource, fence } });
  }
}

/**
 * A claim whose envelope disagrees with the run record (another worker's run, another handler, payload,
 * attempt or deadline): nothing was written. `differences` names each field, the record's value and
 * the envelope's; `current` is the run as it is.
 */
export class ClaimRefusedError extends CloverError {
  constructor(
    readonly runId: string,
    readonly differences: readonly {
      readonly field: string;
      readonly record: unknown;
      readonly envelope: unknown;
    }[],
    readonly current?: unknown,
  ) {
    const fields = differences.map((d) => d.field).join(', ') || 'nothing';
    super(
      'claim_refused',
      `claim of run ${runId} refused: the envelope disagrees with the record on ${fields}`,
      {
        details: { runId, differences },
      },
    );
  }
}

/** A worker's lease expired or was taken over; it must stop taking work and abort what it runs. */
export class LeaseLostError extends CloverError {
  constructor(readonly workerId: string) {
    super('lease_lost', `worker ${workerId} no longer holds its lease`, { details: { workerId } });
  }
}

export class LockHeldError extends CloverError {
  constructor(
    readonly lockKey: string,
    readonly owner: string | undefined,
  ) {
    super('lock_held', `lock ${lockKey} is held by ${owner ?? 'another owner'}`, {
      details: { lockKey, owner },
    });
  }
}

export class PayloadTooLargeError extends CloverError {
  constructor(
    readonly field: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super('payload_too_large', `${field}: ${size} bytes is over the limit of ${limit} bytes`, {
      details: { field, size, limit },
    });
  }
}

export class UnknownHandlerError extends CloverError {
  constructor(readonly handler: string) {
    super('unknown_handler', `no handler named ${JSON.stringify(handler)} is registered on this worker`, {
      details: { handler },
    });
  }
}

export class MalformedMessageError extends CloverError {
  constructor(reason: string, cause?: unknown) {
    super('malformed_message', `malformed message: ${reason}`, { cause, details: { reason } });
  }
}

/** The control plane (AWS or the emulator) did not answer. Always retryable. */
export class UnavailableError extends CloverError {
  constructor(what: string, cause?: unknown) {
    super('unavailable', `${what} is unavailable`, { retryable: true, cause });
  }
}
