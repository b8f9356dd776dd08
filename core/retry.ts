import type { JobSpec } from './model';

/**
 * Exponential backoff with "full jitter": attempt n (1-based, the one that just failed) waits a
 * uniformly random time in [base/2, min(cap, base * 2^(n-1))], so retries of many jobs that failed
 * together do not arrive together. Returns null when the policy allows no further attempt.
 */
export function nextRetryDelayMs(
  retry: JobSpec['retry'],
  failedAttempt: number,
  random: () => number = Math.random,
): number | null {
  if (failedAttempt >= retry.maxAttempts) return null;
  const ceiling = Math.min(retry.maxBackoffSeconds, retry.backoffSeconds * 2 ** (failedAttempt - 1)) * 1000;
  const floor = Math.min(ceiling, (retry.backoffSeconds * 1000) / 2);
  return Math.round(floor + random() * (ceiling - floor));
}
