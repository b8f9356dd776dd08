/**
 * Waiting on conditions, not on time: process tests poll what they are waiting for (a run's status, a
 * lease's expiry, a log line) until it holds or a generous deadline passes. The deadline is a failure
 * bound for a loaded machine, never an expected duration; on expiry the error says what was awaited
 * and the last value seen.
 *
 * @example
 * const run = await waitFor(() => plane.runs.get(runId), (r) => r?.status === 'SUCCEEDED', 'run succeeded');
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this long. @default 60000 */
  readonly timeoutMs?: number;
  /** Time between probes. @default 100 */
  readonly intervalMs?: number;
}

/** Probes until `done(value)` holds and returns that value; throws naming `what` after the timeout. */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  done: (value: T) => boolean,
  what: string,
  options: WaitOptions = {},
): Promise<T> {
  const until = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > until) {
      throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(value)?.slice(0, 2000)}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}
