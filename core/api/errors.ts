import { CloverError, type FieldIssue } from '../errors';
import { API_ERROR_STATUS, type ApiErrorBody, type ApiErrorCode } from './schemas';

/** An answer the API gives before reaching a use case: no or bad token, wrong role, throttled. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly fields?: readonly FieldIssue[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const BY_CLOVER_CODE: Readonly<Record<string, ApiErrorCode>> = {
  validation_failed: 'VALIDATION_FAILED',
  invalid_schedule: 'INVALID_SCHEDULE',
  invalid_cursor: 'INVALID_CURSOR',
  not_found: 'NOT_FOUND',
  // A worker that no longer holds its lease is, to an operator, a worker that is not there.
  lease_lost: 'NOT_FOUND',
  already_exists: 'ALREADY_EXISTS',
  already_acknowledged: 'ALREADY_ACKNOWLEDGED',
  version_conflict: 'VERSION_CONFLICT',
  run_not_in_state: 'RUN_NOT_IN_STATE',
  stale_fence: 'RUN_NOT_IN_STATE',
  payload_too_large: 'PAYLOAD_TOO_LARGE',
  unavailable: 'UNAVAILABLE',
};

/**
 * The one mapping from a failure to the API's error shape and status. Domain errors keep their
 * message and field issues; anything unexpected becomes a 500 INTERNAL whose message says nothing
 * about internals (the caller logs the error itself).
 */
export function toApiError(error: unknown): { status: number; body: ApiErrorBody; internal: boolean } {
  if (error instanceof ApiError) {
    return {
      status: API_ERROR_STATUS[error.code],
      body: withFields(error.code, error.message, error.fields),
      internal: false,
    };
  }
  if (error instanceof CloverError) {
    const code = BY_CLOVER_CODE[error.code];
    if (code) {
      const issues =
        (error.details.issues as readonly FieldIssue[] | undefined) ??
        (typeof error.details.field === 'string'
          ? [{ field: error.details.field, reason: error.message }]
          : undefined);
      return {
        status: API_ERROR_STATUS[code],
        body: withFields(code, error.message, issues),
        internal: false,
      };
    }
  }
  return {
    status: 500,
    body: { code: 'INTERNAL', message: 'internal error; the server log has the details' },
    internal: true,
  };
}

function withFields(code: ApiErrorCode, message: string, issues?: readonly FieldIssue[]): ApiErrorBody {
  return {
    code,
    message,
    ...(issues?.length ? { fields: issues.map((i) => ({ path: i.field, message: i.reason })) } : {}),
  };
}
