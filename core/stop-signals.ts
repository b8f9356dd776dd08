/**
 * Turns SIGINT / SIGTERM into stop requests, one per deliberate signal (issue 9).
 *
 * A single Ctrl-C, `kill -TERM -<pgid>` or `systemctl stop` often reaches a process more than once:
 * the terminal (or kill, or systemd's KillMode) signals every process of the group, and launchers in
 * that group — npm, tsx's own CLI — relay what they receive to their child. Counting each copy as a
 * new signal turned one Ctrl-C into "stop now" instead of "drain". So signals that arrive within
 * `windowMs` of the first of a burst count as one; a signal sent deliberately later (press Ctrl-C
 * again after a second) is the second request, which callers treat as "force".
 *
 * @example
 * onStopSignals((signal, count) => (count === 1 ? agent.close() : agent.close({ force: true })));
 */
export type StopSignal = 'SIGINT' | 'SIGTERM';

export interface StopSignalOptions {
  /** Copies of one signal arrive within this long of each other. @default 1000 */
  readonly windowMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** Where signals come from. @default process */
  readonly source?: Pick<NodeJS.Process, 'on' | 'off'>;
}

export const STOP_SIGNAL_WINDOW_MS = 1000;

/**
 * Calls `onStop(signal, count)` once per burst of SIGINT/SIGTERM (count 1, 2, ...). Returns a
 * function that removes the listeners.
 */
export function onStopSignals(
  onStop: (signal: StopSignal, count: number) => void,
  options: StopSignalOptions = {},
): () => void {
  const windowMs = options.windowMs ?? STOP_SIGNAL_WINDOW_MS;
  const now = options.now ?? Date.now;
  const source = options.source ?? process;
  let count = 0;
  let burstStartedAt = Number.NEGATIVE_INFINITY;
  const listener = (signal: StopSignal) => {
    const at = now();
    if (at - burstStartedAt < windowMs) return;
    burstStartedAt = at;
    count += 1;
    onStop(signal, count);
  };
  source.on('SIGINT', listener);
  source.on('SIGTERM', listener);
  return () => {
    source.off('SIGINT', listener);
    source.off('SIGTERM', listener);
  };
}
