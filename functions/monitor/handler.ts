import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { controlPlane } from '../../core/adapters/control-plane';
import { CloverError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { parseOrThrow } from '../../core/model';
import { Monitor, type SweepReport } from '../../core/monitor';
import { scheduleTargets } from '../config';
import { type EmfMetrics, type MetricKey, noMetrics } from '../metrics';
import { lambdaEntry } from '../telemetry';

export interface MonitorHandlerDeps {
  readonly monitor: Pick<Monitor, 'sweep'>;
  readonly log: Logger;
  /** Sweep again every this many seconds inside one invocation; 0 sweeps once. */
  readonly loopSeconds: number;
  /** Stop looping after this long, before the next scheduled invocation starts. @default 55 */
  readonly runSeconds?: number;
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly now?: () => number;
  /** Each sweep's counts in EMF (functions/metrics.ts): failover, lost sends resent, misfires, jobs without a live worker. @default noMetrics */
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
}

/**
 * The monitor Lambda, invoked every minute by an EventBridge schedule. With `loopSeconds` it sweeps
 * again every that many seconds until `runSeconds` (or the invocation's remaining time, less one
 * loop) are used, so a dead worker is noticed within lease TTL + loop interval instead of a minute.
 * Sweeps are idempotent, so an overlap with the next invocation does no harm.
 *
 * A failing step is logged, counted (`MonitorStepErrors`) and does not stop the sweep or the loop;
 * once all sweeps ran, the invocation throws {@link MonitorStepsFailedError} so the failure reaches
 * the Lambda errors alarm and the on-failure destination instead of passing as a success.
 */
export function makeMonitorHandler(deps: MonitorHandlerDeps) {
  const wait = deps.sleep ?? sleep;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? noMetrics;
  return async (_event?: unknown, context?: MonitorContext): Promise<MonitorResult> => {
    const started = now();
    const loopMs = deps.loopSeconds * 1000;
    const budgetMs = (deps.runSeconds ?? 55) * 1000;
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
      const elapsed = now() - started;
      const remaining = context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
      if (elapsed + loopMs > budgetMs || remaining < loopMs + 5_000) break;
      await wait(loopMs);
    }
    if (failures.size > 0) {
      // Every sweep ran (a failing step never stops the others); now the invocation fails, so Lambda's
      // Errors metric and the on-failure destination (monitor-failures) see what a step hid.
      const error = new MonitorStepsFailedError(sweeps, errors, [...failures]);
      deps.log.log('error', 'monitor invocation failed', { error });
      throw error;
    }
    return { sweeps, errors, last };
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
 * What every sweep publishes, zeros included: each is a custom metric billed every hour of an idle
 * stage (bench/stage-inventory.ts counts them from here).
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

/** One sweep's counts as metrics, flushed at once so the no-live-worker gauge is fresh every sweep. */
function publish(metrics: EmfMetrics, report: SweepReport): void {
  for (const [key, value] of Object.entries(SWEEP_METRICS)) metrics.put(key as MetricKey, value(report));
  metrics.flush();
}

const MonitorEnvSchema = z.object({
  /** Sweep every N seconds inside one invocation (0: once a minute only). @default 5 */
  CLOVER_MONITOR_LOOP_SECONDS: z.coerce.number().int().min(0).max(60).default(5),
  /** How long one invocation keeps looping. @default 55 */
  CLOVER_MONITOR_RUN_SECONDS: z.coerce.number().int().min(1).max(900).default(55),
  /** A scheduled fire without a run this long after its instant counts as missed. @default 60 */
  CLOVER_MISFIRE_GRACE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** A DISPATCHED run unclaimed this long after its dispatch gets its envelope sent again, once. @default 60 */
  CLOVER_UNCLAIMED_RESEND_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
});

/** Built once per warm container (functions/telemetry.ts). */
export const handler = lambdaEntry<unknown, MonitorResult>(
  'monitor',
  ({ config, log, metrics, clients, traceId }) => {
    const env = Object.freeze(parseOrThrow(MonitorEnvSchema, process.env, 'env'));
    const plane = controlPlane({
      clients,
      prefix: config.CLOVER_PREFIX,
      log,
      traceId,
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
    const invoke = makeMonitorHandler({
      monitor,
      log,
      loopSeconds: env.CLOVER_MONITOR_LOOP_SECONDS,
      runSeconds: env.CLOVER_MONITOR_RUN_SECONDS,
      metrics,
    });
    return (event, context) => invoke(event, context);
  },
);
