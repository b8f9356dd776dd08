/**
 * When the monitor sweeps often (docs/architecture.md, "Monitor: idle and watching").
 *
 * A dead worker's running run must be noticed within about 10 s (lease TTL plus one sweep interval),
 * but sweeping every few seconds around the clock is most of an idle stage's bill. So the monitor
 * sweeps once a minute (its schedule) and watches — sweeps every few seconds — only while there is
 * something to watch:
 *
 * - a scheduled invocation sweeps once; when that sweep found work in flight (a DISPATCHED or RUNNING
 *   run, a retry due within the idle interval) it takes the watch ({@link WatchStore}) and keeps
 *   sweeping until its time is up or a newer invocation took the watch over;
 * - whoever puts a run in flight (every Dispatcher: the dispatcher Lambda, the API's manual triggers,
 *   agents' LOCAL fires and chained runs, the monitor's own re-dispatches) calls
 *   {@link MonitorWaker.wake}: unless a watch covers now, it invokes the monitor at once, and the woken
 *   invocation watches for its whole time (what woke it may not show in the status index yet). Two
 *   woken together take the watch once (`ifEndsBy`); the loser ends without sweeping.
 *
 * Once work stops, the current watch runs out and the next scheduled invocation finds nothing: back
 * to one short sweep a minute.
 *
 * Both runtimes loop by these decisions — the monitor Lambda (functions/monitor/handler.ts) and
 * `npm start`'s loop (functions/local/monitor-loop.ts): {@link somethingToWatch} says whether to watch
 * after a sweep, {@link nextSweepIn} how long to wait for the next sweep while watching.
 */
import type { Logger } from '../log';
import type { Clock, MonitorInvoker, WatchStore } from '../ports';
import type { SweepReport } from './report';

/** What one sweep tells the loop about the work in flight. */
export interface WatchSignals {
  /** DISPATCHED and RUNNING runs the sweep read. */
  readonly inFlight: number;
  /** The earliest instant a waiting retry is due, if any. */
  readonly nextRetryAt?: number;
}

/**
 * True when the sweep found something the monitor must look at again before the next idle sweep:
 * a run in flight (its worker may die), or a retry due within `idleMs`.
 */
export function somethingToWatch(signals: WatchSignals, now: number, idleMs: number): boolean {
  return signals.inFlight > 0 || (signals.nextRetryAt !== undefined && signals.nextRetryAt <= now + idleMs);
}

/**
 * How long a watching monitor waits for its next sweep: a loop, or less when the lease of a worker
 * holding a run runs out sooner — a dead worker's run is then found at its lease's expiry, not up to
 * a loop after it (a live worker renews long before, so this rarely shortens the wait).
 */
export function nextSweepIn(
  last: Pick<SweepReport, 'nextLeaseExpiryAt'>,
  now: number,
  loopMs: number,
): number {
  if (last.nextLeaseExpiryAt === undefined) return loopMs;
  return Math.min(loopMs, Math.max(MIN_SWEEP_GAP_MS, last.nextLeaseExpiryAt + 1 - now));
}

/** No two sweeps closer than this: a lease that ran out during a sweep is found by the next one. */
export const MIN_SWEEP_GAP_MS = 100;

export interface MonitorWakerDeps {
  /** Where the current watch is read; without it every wake past `recheckMs` invokes. */
  readonly watch?: WatchStore;
  readonly invoker: MonitorInvoker;
  readonly clock: Clock;
  readonly log: Logger;
  /**
   * After invoking (or failing to), how long to trust that the monitor is watching before reading
   * the watch again: the woken invocation takes it within a second or two. @default 10_000
   */
  readonly recheckMs?: number;
}

/**
 * Wakes the monitor when work starts while it idles. Cheap on the fire path: a warm process reads the
 * watch at most once per watch (it keeps `until`), and invokes at most once per `recheckMs`. Never
 * throws: a wake that fails leaves the run to the next scheduled sweep (within a minute), and is logged.
 *
 * @example
 * const waker = new MonitorWaker({ watch, invoker: new LambdaMonitorInvoker({ client, functionName }), clock, log });
 * await waker.wake(); // after a run was written DISPATCHED
 */
export class MonitorWaker {
  private coveredUntil = Number.NEGATIVE_INFINITY;
  private readonly recheckMs: number;

  constructor(private readonly deps: MonitorWakerDeps) {
    this.recheckMs = deps.recheckMs ?? 10_000;
  }

  async wake(): Promise<void> {
    const now = this.deps.clock.now();
    if (now < this.coveredUntil) return;
    try {
      const current = await this.deps.watch?.read();
      if (current && current.until > now) {
        this.coveredUntil = current.until;
        return;
      }
      this.coveredUntil = now + this.recheckMs;
      await this.deps.invoker.invoke();
    } catch (error) {
      this.coveredUntil = now + this.recheckMs;
      this.deps.log.log('warn', 'could not wake the monitor; its next scheduled sweep watches this run', {
        error,
      });
    }
  }
}
