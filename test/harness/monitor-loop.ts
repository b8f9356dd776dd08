import { after } from 'node:test';
import type { ControlPlane } from '../../core/adapters/control-plane';
import { Monitor, type MonitorOptions, type SweepReport } from '../../core/monitor';

/**
 * The local runtime's monitor loop (functions/local/runtime.ts) inside a test: a sweep every `ms`,
 * never overlapping, stopped when the test file ends (or by `stop()`). Sweeps that fail (the emulator
 * frozen on purpose) are counted, not thrown.
 */
export function monitorLoop(plane: ControlPlane, ms = 1000, options?: MonitorOptions) {
  const monitor = new Monitor({
    ...plane,
    deadLetters: plane.fireDeadLetters,
    ...(options ? { options } : {}),
  });
  const reports: SweepReport[] = [];
  let failures = 0;
  let active = true;
  let wake: (() => void) | undefined;
  const done = (async () => {
    while (active) {
      try {
        reports.push(await monitor.sweep());
      } catch {
        failures += 1;
      }
      if (active) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, ms);
        });
      }
    }
  })();
  const stop = async () => {
    active = false;
    wake?.();
    await done;
  };
  after(stop);
  return {
    reports,
    get failures() {
      return failures;
    },
    stop,
  };
}
