import type { Logger } from '../../core/log';
import { nextSweepIn, type SweepReport, somethingToWatch } from '../../core/monitor';

export interface LocalMonitorLoopOptions {
  /** One sweep; `signal` is aborted when the loop stops, so a sweep under way at a stop stops acting. */
  readonly sweep: (signal: AbortSignal) => Promise<SweepReport>;
  readonly log: Logger;
  /** Between sweeps while watching, unless the lease of a worker holding a run runs out sooner. */
  readonly watchMs: number;
  /** Between sweeps with nothing to watch: the deployed monitor's schedule. @default 60_000 */
  readonly idleMs?: number;
  /** How long one finding of work (or a wake) keeps the loop watching, as one Lambda invocation does. @default 55_000 */
  readonly watchForMs?: number;
  readonly now?: () => number;
}

/**
 * The monitor of `npm start`, by the deployed monitor's rules (core/monitor/watch.ts): a sweep a
 * minute while nothing is in flight; a sweep every `watchMs` for `watchForMs` after a sweep found
 * work, or after `wake()` — which the local dispatcher calls when it puts a run in flight and the run
 * watcher calls when it sees one (agents' LOCAL fires included) — ends an idle wait at once. While
 * watching, a sweep comes at the lease expiry of a worker holding a run when that is sooner than
 * `watchMs` (`nextSweepIn`), so a dead worker's run is handled then, as in a deployed stage.
 */
export function startLocalMonitorLoop(options: LocalMonitorLoopOptions) {
  const now = options.now ?? Date.now;
  const idleMs = options.idleMs ?? 60_000;
  const watchForMs = options.watchForMs ?? 55_000;
  let watchUntil = Number.NEGATIVE_INFINITY;
  let active = true;
  const stopping = new AbortController();
  /** Ends the current wait at once; `idle` says whether it is an idle wait (which a wake cuts short). */
  let wait: { readonly idle: boolean; readonly cut: () => void } | undefined;
  const loop = (async () => {
    while (active) {
      let report: SweepReport | undefined;
      try {
        report = await options.sweep(stopping.signal);
        if (somethingToWatch(report, now(), idleMs) || report.errors.length > 0)
          watchUntil = now() + watchForMs;
      } catch (error) {
        options.log.log('error', 'local monitor sweep failed; retrying next tick', { error });
      }
      if (!active) break;
      const idle = now() >= watchUntil;
      const watchMs = report ? nextSweepIn(report, now(), options.watchMs) : options.watchMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, idle ? idleMs : watchMs);
        wait = {
          idle,
          cut: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
      wait = undefined;
    }
  })();
  return {
    /** Work started: watch from now (ending an idle wait at once). */
    wake(): void {
      watchUntil = now() + watchForMs;
      if (wait?.idle) wait.cut();
    },
    /** Stops after the current sweep, which it tells to act on nothing more (`sweep`'s signal). */
    async stop(): Promise<void> {
      active = false;
      stopping.abort();
      wait?.cut();
      await loop;
    },
  };
}
