import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { controlPlane } from '../../core/adapters/control-plane';
import { WAKE_EVENT } from '../../core/adapters/lambda-monitor-invoker';
import { CloverError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { parseOrThrow } from '../../core/model';
import { Monitor, nextSweepIn, type SweepReport, somethingToWatch } from '../../core/monitor';
import type { Clock, WatchStore } from '../../core/ports';
import { scheduleTargets } from '../config';
import { type EmfMetrics, type MetricKey, noMetrics } from '../metrics';
import { type FunctionParts, lambdaEntry, planeOptionsOf } from '../telemetry';

export interface MonitorHandlerDeps {
  readonly monitor: Pick<Monitor, 'sweep'>;
  readonly log: Logger;
  /** Sweep again every this many seconds while watching; 0 sweeps once per invocation. */
  readonly loopSeconds: number;
  /** Stop watching after this long, before the next scheduled invocation starts. @default 55 */
  readonly runSeconds?: number;
  /**
   * Who watches (core/monitor/watch.ts). Without it a scheduled invocation still watches only while
   * work is in flight, and a woken one always does.
   */
  readonly watch?: WatchStore;
  /** How often the schedule invokes the monitor: a retry due within it is watched for. @default 60 */
  readonly scheduleSeconds?: number;
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly now?: () => number;
  /** Each sweep's non-zero counts in EMF (functions/metrics.ts): failover, lost sends resent, misfires, jobs without a live worker. @default noMetrics */
  readonly metrics?: EmfMetrics;
}

/** The subset of the Lambda context the monitor reads. */
export interface MonitorContext {
  getRemainingTimeInMillis?(): number;
  readonly awsRequestId?: string;
}

export interface MonitorResult {
  readonly sweeps: number;
  readonly errors: number;
  readonly last: SweepReport | undefined;
  /** Whether this invocation watched (swept every `loopSeconds`) or swept once. */
  readonly watched: boolean;
}

/** True for the event a waker sends (LambdaMonitorInvoker); the schedule's events are anything else. */
export function isWakeEvent(event: unknown): boolean {
  return (
    typeof event === 'object' && event !== null && (event as { wake?: unknown }).wake === WAKE_EVENT.wake
  );
}

/**
 * The monitor Lambda, invoked every minute by an EventBridge rule and woken by whoever starts work
 * (core/monitor/watch.ts):
 *
 * - scheduled: one sweep; when it found work in flight (or a step failed), it takes the watch and
 *   sweeps again every `loopSeconds` until `runSeconds` (or the invocation's remaining time, less one
 *   loop) are used, or until a newer invocation took the watch — so a dead worker is noticed within
 *   lease TTL + loop interval; with nothing in flight it ends after the one sweep;
 * - woken (`{"wake": true}`): takes the watch unless one runs past its first loop, and then watches
 *   for its whole time; otherwise ends without sweeping.
 *
 * Sweeps are idempotent, so an overlap of two invocations does no harm. A failing step is logged,
 * counted (`MonitorStepErrors`) and does not stop the sweep or the loop; once all sweeps ran, the
 * invocation throws {@link MonitorStepsFailedError} so the failure reaches the Lambda errors alarm and
 * the on-failure destination instead of passing as a success.
 */
export function makeMonitorHandler(deps: MonitorHandlerDeps) {
  const wait = deps.sleep ?? sleep;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? noMetrics;
  const idleMs = (deps.scheduleSeconds ?? 60) * 1000;
  return async (event?: unknown, context?: MonitorContext): Promise<MonitorResult> => {
    const started = now();
    const loopMs = deps.loopSeconds * 1000;
    const budgetMs = (deps.runSeconds ?? 55) * 1000;
    const me = { sweeper: context?.awsRequestId ?? randomUUID(), until: started + budgetMs };
    const woken = isWakeEvent(event);
    if (woken && loopMs > 0 && deps.watch) {
      if (!(await deps.watch.take(me, { ifEndsBy: started + loopMs }))) {
        return { sweeps: 0, errors: 0, last: undefined, watched: false };
      }
    }
    let watched = woken && loopMs > 0;
    let sweeps = 0;
    let errors = 0;
    let last: SweepReport | undefined;
    const failures = new Set<string>();
    for (;;) {
      last = await deps.monitor.sweep();
      sweeps += 1;
      errors += last.errors.length;
      for (const e of last.errors) failures.add(`${e.step}: ${e.message}`);
      publish(metrics, last);
      if (loopMs <= 0) break;
      if (!watched) {
        // A failed step may have hidden the runs in flight: watch rather than miss a dead worker.
        if (!somethingToWatch(last, now(), idleMs) && last.errors.length === 0) break;
        watched = true;
        await deps.watch?.take(me);
      }
      const elapsed = now() - started;
      const remaining = context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
      if (elapsed + loopMs > budgetMs || remaining < loopMs + 5_000) break;
      await wait(nextSweepIn(last, now(), loopMs));
      const current = await deps.watch?.read();
      if (current && current.sweeper !== me.sweeper) break; // a newer invocation watches now
    }
    if (failures.size > 0) {
      // Every sweep ran (a failing step never stops the others); now the invocation fails, so Lambda's
      // Errors metric and the on-failure destination (monitor-failures) see what a step hid.
      const error = new MonitorStepsFailedError(sweeps, errors, [...failures]);
      deps.log.log('error', 'monitor invocation failed', { error });
      throw error;
    }
    return { sweeps, errors, last, watched };
  };
}

/**
 * A monitor invocation in which at least one step of one sweep failed (AccessDenied, throttling, a
 * bug): thrown after all sweeps ran, naming each distinct `step: message`.
 */
export class MonitorStepsFailedError extends CloverError {
  constructor(
    readonly sweeps: number,
    readonly errors: number,
    readonly failures: readonly string[],
  ) {
    super('internal', `monitor: ${errors} failing step(s) in ${sweeps} sweep(s): ${failures.join('; ')}`, {
      details: { sweeps, errors, failures },
    });
  }
}

/**
 * What a sweep publishes, each only when not zero: an idle, healthy stage publishes no metric at all,
 * so it is billed none (CloudWatch bills a custom metric for the hours it receives data). Every alarm
 * on these treats missing data as not breaching (infra/constructs/observability.ts), so a gauge that
 * stops being published — `JobsWithoutLiveWorker` back to zero — clears its alarm as a zero would.
 * bench/stage-inventory.ts counts them.
 */
export const SWEEP_METRICS = {
  jobsWithoutLiveWorker: (r) => r.jobsWithoutLiveWorker,
  runsRecovered: (r) => r.runsRecovered,
  runsLost: (r) => r.runsLost,
  runsTimedOut: (r) => r.runsTimedOut,
  runsResent: (r) => r.runsResent,
  workersExpired: (r) => r.workersExpired,
  misfires: (r) => r.misfiresSkipped + r.catchUpFires + r.deadLettersDrained,
  monitorStepErrors: (r) => r.errors.length,
} as const satisfies Partial<Record<MetricKey, (report: SweepReport) => number>>;

/** One sweep's non-zero counts as metrics, flushed at once so the no-live-worker gauge is fresh every sweep. */
function publish(metrics: EmfMetrics, report: SweepReport): void {
  for (const [key, value] of Object.entries(SWEEP_METRICS)) {
    const n = value(report);
    if (n !== 0) metrics.put(key as MetricKey, n);
  }
  metrics.flush();
}

/**
 * Sweep interval while watching: with the agent's default lease TTL (8 s) a dead worker's run is
 * found within 10 s (ARCHITECTURE.md, Budgets), at its lease's expiry when the sweep knew it
 * (`nextSweepIn`, core/monitor/watch.ts).
 */
export const DEFAULT_MONITOR_LOOP_SECONDS = 2;

const MonitorEnvSchema = z.object({
  /** Sweep every N seconds while watching work in flight (0: once a minute only). @default 2 */
  CLOVER_MONITOR_LOOP_SECONDS: z.coerce.number().int().min(0).max(60).default(DEFAULT_MONITOR_LOOP_SECONDS),
  /** How long one invocation keeps looping. @default 55 */
  CLOVER_MONITOR_RUN_SECONDS: z.coerce.number().int().min(1).max(900).default(55),
  /** A scheduled fire without a run this long after its instant counts as missed. @default 60 */
  CLOVER_MISFIRE_GRACE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** A DISPATCHED run unclaimed this long after its dispatch gets its envelope sent again, once. @default 60 */
  CLOVER_UNCLAIMED_RESEND_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
});

/**
 * The monitor Lambda's handler as its container builds it: settings from `env` (a bad value names the
 * variable), the stage's control plane, the Monitor and the watch. A test or bench gives its own
 * clock (every store's and the monitor's `now`) and `sleep` to run simulated minutes
 * (test/monitor/idle-hour.test.ts).
 */
export function monitorHandlerFor(
  parts: FunctionParts,
  options: {
    readonly env?: Readonly<Record<string, string | undefined>>;
    readonly clock?: Clock;
    readonly sleep?: (ms: number) => Promise<unknown>;
  } = {},
) {
  const { config, log, metrics } = parts;
  const env = Object.freeze(parseOrThrow(MonitorEnvSchema, options.env ?? process.env, 'env'));
  const plane = controlPlane({
    ...planeOptionsOf(parts, options.clock),
    // Schedule repair re-creates schedules: they must target the deployed dispatcher, through the
    // stage's scheduler role, dead-lettering to fires-dlq — not the emulator placeholders.
    ...scheduleTargets(config),
  });
  const monitor = new Monitor({
    ...plane,
    workers: plane.workers,
    alertStore: plane.alertStore,
    deadLetters: plane.fireDeadLetters,
    options: {
      misfireGraceMs: env.CLOVER_MISFIRE_GRACE_SECONDS * 1000,
      unclaimedResendMs: env.CLOVER_UNCLAIMED_RESEND_SECONDS * 1000,
    },
  });
  return makeMonitorHandler({
    monitor,
    log,
    loopSeconds: env.CLOVER_MONITOR_LOOP_SECONDS,
    watch: plane.watch,
    runSeconds: env.CLOVER_MONITOR_RUN_SECONDS,
    metrics,
    now: () => plane.clock.now(),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });
}

/** Built once per warm container (functions/telemetry.ts). */
export const handler = lambdaEntry<unknown, MonitorResult>('monitor', (telemetry) => {
  const invoke = monitorHandlerFor(telemetry);
  return (event, context) => invoke(event, context);
});
