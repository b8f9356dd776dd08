/**
 * The monitor: one sweep repairs what dead workers, lost sends and missed fires left behind. See
 * monitor.ts for the rooms of this folder and the order of a sweep's steps.
 */
export { JOB_UNAVAILABLE } from './availability';
export { Monitor } from './monitor';
export type { SweepReport } from './report';
export type { MonitorDeps, MonitorOptions } from './types';
export {
  MIN_SWEEP_GAP_MS,
  MonitorWaker,
  type MonitorWakerDeps,
  nextSweepIn,
  somethingToWatch,
  type WatchSignals,
} from './watch';
