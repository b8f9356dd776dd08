import { CloverError, UnavailableError } from '../errors';

/**
 * The one place that decides what an AWS SDK failure means to Clover, shared by every adapter
 * (DynamoDB, SQS, Scheduler, SES): transient failures (throttling, 5xx, a connection the emulator
 * refused, a transaction conflict) become a retryable {@link UnavailableError}; anything else is a
 * bug or a misconfiguration and becomes a non-retryable `internal` CloverError with the SDK error as
 * `cause`. Domain errors (already a CloverError) pass through untouched.
 *
 * @example
 * try { await sqs.send(cmd); } catch (error) { throw awsFailure('SQS queue q1', error); }
 */
export function awsFailure(what: string, error: unknown): CloverError {
  if (error instanceof CloverError) return error;
  if (isTransient(error)) return new UnavailableError(what, error);
  const name = errorName(error) ?? 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return new CloverError('internal', `${what}: ${name}: ${message}`, {
    cause: error,
    details: { awsError: name },
  });
}

/** The SDK's exception name (`ConditionalCheckFailedException`, `ResourceNotFoundException`, ...). */
export function errorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const named = error as { name?: unknown; Code?: unknown; code?: unknown };
  if (typeof named.name === 'string' && named.name !== 'Error') return named.name;
  if (typeof named.Code === 'string') return named.Code;
  if (typeof named.code === 'string') return named.code;
  return typeof named.name === 'string' ? named.name : undefined;
}

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'TransactionConflictException',
  'TransactionInProgressException',
  'InternalServerError',
  'InternalServerException',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

function isTransient(error: unknown): boolean {
  const name = errorName(error);
  if (name !== undefined && TRANSIENT_NAMES.has(name)) return true;
  const meta = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  const status = meta?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  const retryable = (error as { $retryable?: unknown } | null)?.$retryable;
  if (retryable) return true;
  // No HTTP status at all: the request never got an answer (connection refused, DNS, socket reset).
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== error && isTransient(cause);
}
