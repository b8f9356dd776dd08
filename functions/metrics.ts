import { Console } from 'node:console';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMESPACE } from '../infra/resources';

/**
 * Clover's metrics, published by Powertools for AWS Lambda's Metrics utility in CloudWatch embedded
 * metric format (EMF): one JSON line on stdout per flush, which CloudWatch Logs turns into metrics in
 * the `Clover` namespace without any API call or permission beyond the function's own log group.
 * Powertools writes through its own Console on stdout (not the global console.log), so Lambda's JSON
 * log format passes the lines through unwrapped and the extraction still sees them.
 *
 * The names, units and dimensions are the contract between the Lambdas and the stack's alarms and
 * dashboard (infra/constructs/observability.ts), so both import them from here. Every metric carries
 * the `Stage` dimension and only it, plus the dimensions a `put` names: Powertools' default `service`
 * dimension is dropped, because the alarms watch exactly these dimension sets.
 *
 * @example
 * const metrics = emfMetrics({ stage: 'clover-prod', fn: 'monitor' });
 * metrics.put('jobsWithoutLiveWorker', 2);
 * metrics.flush();
 */

export { METRIC_NAMESPACE };

/** Every metric a Clover Lambda publishes, with its unit; all carry the `Stage` dimension. */
export const METRICS = {
  /** One per fire the dispatcher handled; the `Outcome` dimension is the fire's outcome kind. */
  fires: { name: 'Fires', unit: MetricUnit.Count },
  /** How late a scheduled fire reached the dispatcher (now − scheduledTime). */
  fireLateness: { name: 'FireLatenessMs', unit: MetricUnit.Milliseconds },
  /**
   * Precise jobs' fires a planner pass handled (core/planner.ts); the `Outcome` dimension is the
   * PlanReport field: planned, alreadyPlanned, missedFired, missedSkipped, failed.
   */
  plannedFires: { name: 'PlannedFires', unit: MetricUnit.Count },
  /** Jobs (not paused) that no live worker could run, at the end of a monitor sweep: a gauge. */
  jobsWithoutLiveWorker: { name: 'JobsWithoutLiveWorker', unit: MetricUnit.Count },
  /** Runs the monitor re-dispatched after their worker's lease expired (failover). */
  runsRecovered: { name: 'RunsRecovered', unit: MetricUnit.Count },
  runsLost: { name: 'RunsLost', unit: MetricUnit.Count },
  runsTimedOut: { name: 'RunsTimedOut', unit: MetricUnit.Count },
  /** DISPATCHED runs left unclaimed whose envelope the monitor sent again (a lost send). */
  runsResent: { name: 'RunsResent', unit: MetricUnit.Count },
  workersExpired: { name: 'WorkersExpired', unit: MetricUnit.Count },
  misfires: { name: 'Misfires', unit: MetricUnit.Count },
  /** Sweep steps that failed (each is logged with its error). */
  monitorStepErrors: { name: 'MonitorStepErrors', unit: MetricUnit.Count },
  alertsSent: { name: 'AlertsSent', unit: MetricUnit.Count },
  /**
   * Refused sign-ins and bearer tokens at the management API; the `Kind` dimension is `sign_in` or
   * `token`. Each is also logged (address, route, a token's hash prefix; never a secret).
   */
  authFailures: { name: 'AuthFailures', unit: MetricUnit.Count },
  /** Alert sends that failed (SES refused or failed), including those given up on. */
  alertSendFailures: { name: 'AlertSendFailures', unit: MetricUnit.Count },
} as const;

export type MetricKey = keyof typeof METRICS;

export interface EmfMetricsOptions {
  /** The stage's prefix, the `Stage` dimension of every metric. */
  readonly stage: string;
  /** The function's logical name: Powertools' service name (not a dimension: alarms are per stage). */
  readonly fn: string;
  /**
   * Where each EMF line goes instead of stdout (tests, the bench's inventory): the same line
   * Powertools serializes. @default Powertools' own write to stdout
   */
  readonly write?: (line: string) => void;
}

export interface EmfMetrics {
  /** Adds `value` to the metric for this flush, under `dimensions` besides Stage. */
  put(key: MetricKey, value: number, dimensions?: Readonly<Record<string, string>>): void;
  /**
   * Publishes what was put since the last flush and forgets it: one EMF line, or more where two
   * dimension sets give one metric or one dimension different values. `properties` go on the line
   * as plain keys, neither metric nor dimension (the dispatcher's fire: its job, run and worker).
   */
  flush(properties?: Readonly<Record<string, string | undefined>>): void;
}

type EmfLine = Record<string, unknown> & { _aws: { CloudWatchMetrics: unknown[] } };

/**
 * Clover's metric keys over one Powertools `Metrics` instance. Powertools attaches dimensions to a
 * whole flush, not to one metric, so each dimension set is serialized apart — the dispatcher's
 * `Fires` by `Outcome` never drags `FireLatenessMs` into that set — and the sets are then written
 * as one line with a metric directive each, as EMF allows: a fire's metrics are one log line, not
 * one per set (a fire's log bytes are billed a million times over: docs/capacity.md).
 */
export function emfMetrics(options: EmfMetricsOptions): EmfMetrics {
  const metrics = new CloverMetrics({ namespace: METRIC_NAMESPACE, serviceName: options.fn });
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({ Stage: options.stage });
  // Powertools' own Console on stdout, not the global console.log (see the header).
  const stdout = new Console({ stdout: process.stdout, stderr: process.stderr });
  const write = options.write ?? ((line: string) => stdout.log(line));
  /** Per dimension set (as JSON): its dimensions and the values put under each metric. */
  let pending = new Map<
    string,
    { dimensions: Readonly<Record<string, string>>; values: [MetricKey, number][] }
  >();
  return {
    put(key, value, dimensions = {}) {
      if (!Number.isFinite(value)) return;
      const id = JSON.stringify(dimensions);
      const entry = pending.get(id) ?? { dimensions, values: [] };
      pending.set(id, entry);
      entry.values.push([key, value]);
    },
    flush(properties = {}) {
      const batch = pending;
      pending = new Map();
      const lines: EmfLine[] = [];
      for (const { dimensions, values } of batch.values()) {
        for (const [name, value] of Object.entries(dimensions)) metrics.addDimension(name, value);
        for (const [key, value] of values) metrics.addMetric(METRICS[key].name, METRICS[key].unit, value);
        const set = metrics.serializeMetrics() as EmfLine;
        metrics.clearMetrics();
        metrics.clearDimensions();
        const into = lines.find((line) => fits(line, set));
        if (into) {
          into._aws.CloudWatchMetrics.push(...set._aws.CloudWatchMetrics);
          Object.assign(into, { ...set, _aws: into._aws });
        } else lines.push(set);
      }
      if (!options.write && metrics.off) return;
      const extra = Object.fromEntries(Object.entries(properties).filter(([, v]) => v !== undefined));
      for (const line of lines) write(JSON.stringify({ ...extra, ...line }));
    },
  };
}

/** Powertools' Metrics, saying whether it is switched off (POWERTOOLS_METRICS_DISABLED, dev mode), as its own publish would. */
class CloverMetrics extends Metrics {
  get off(): boolean {
    return this.isDisabled();
  }
}

/** Whether `set` can join `line`: every key they share (Stage, say) has one value in both. */
function fits(line: EmfLine, set: EmfLine): boolean {
  return Object.entries(set).every(
    ([key, value]) => key === '_aws' || !(key in line) || JSON.stringify(line[key]) === JSON.stringify(value),
  );
}

/** Metrics that go nowhere (tests, the local runtime). */
export const noMetrics: EmfMetrics = { put() {}, flush() {} };
