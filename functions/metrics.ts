/**
 * Metrics in CloudWatch embedded metric format (EMF): one JSON line on stdout per flush, which
 * CloudWatch Logs turns into metrics in the `Clover` namespace without any API call or permission
 * beyond the function's own log group. Lines go straight to stdout (not console.log), so Lambda's
 * JSON log format passes them through unwrapped and the extraction still sees them.
 *
 * The names are the contract between the Lambdas and the stack's alarms and dashboard
 * (infra/constructs/observability.ts), so both import them from here.
 *
 * @example
 * const metrics = emfMetrics({ stage: 'clover-prod', fn: 'monitor' });
 * metrics.put('JobsWithoutLiveWorker', 2);
 * metrics.flush();
 */

export const METRIC_NAMESPACE = 'Clover';

/** Every metric a Clover Lambda publishes, with its unit; all carry the `Stage` dimension. */
export const METRICS = {
  /** One per fire the dispatcher handled; the `Outcome` dimension is the fire's outcome kind. */
  fires: { name: 'Fires', unit: 'Count' },
  /** How late a scheduled fire reached the dispatcher (now − scheduledTime). */
  fireLateness: { name: 'FireLatenessMs', unit: 'Milliseconds' },
  /** Jobs (not paused) that no live worker could run, at the end of a monitor sweep: a gauge. */
  jobsWithoutLiveWorker: { name: 'JobsWithoutLiveWorker', unit: 'Count' },
  /** Runs the monitor re-dispatched after their worker's lease expired (failover). */
  runsRecovered: { name: 'RunsRecovered', unit: 'Count' },
  runsLost: { name: 'RunsLost', unit: 'Count' },
  runsTimedOut: { name: 'RunsTimedOut', unit: 'Count' },
  /** DISPATCHED runs left unclaimed whose envelope the monitor sent again (a lost send). */
  runsResent: { name: 'RunsResent', unit: 'Count' },
  workersExpired: { name: 'WorkersExpired', unit: 'Count' },
  misfires: { name: 'Misfires', unit: 'Count' },
  /** Sweep steps that failed (each is logged with its error). */
  monitorStepErrors: { name: 'MonitorStepErrors', unit: 'Count' },
  alertsSent: { name: 'AlertsSent', unit: 'Count' },
  /**
   * Refused sign-ins and bearer tokens at the management API; the `Kind` dimension is `sign_in` or
   * `token`. Each is also logged (address, route, a token's hash prefix; never a secret).
   */
  authFailures: { name: 'AuthFailures', unit: 'Count' },
  /** Alert sends that failed (SES refused or failed), including those given up on. */
  alertSendFailures: { name: 'AlertSendFailures', unit: 'Count' },
} as const;

export type MetricKey = keyof typeof METRICS;

export interface EmfMetricsOptions {
  /** The stage's prefix, the `Stage` dimension of every metric. */
  readonly stage: string;
  /** The function's logical name, a property of each line (not a dimension: alarms are per stage). */
  readonly fn: string;
  readonly write?: (line: string) => void;
  readonly now?: () => number;
}

export interface EmfMetrics {
  /** Adds `value` to the metric for this flush, under `dimensions` besides Stage. */
  put(key: MetricKey, value: number, dimensions?: Readonly<Record<string, string>>): void;
  /** Writes what was put since the last flush (one line per dimension set) and forgets it. */
  flush(): void;
}

export function emfMetrics(options: EmfMetricsOptions): EmfMetrics {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = options.now ?? Date.now;
  /** Per dimension set (as JSON): the dimensions and each metric's values. */
  let pending = new Map<string, { dimensions: Record<string, string>; values: Map<MetricKey, number[]> }>();
  return {
    put(key, value, dimensions = {}) {
      if (!Number.isFinite(value)) return;
      const all = { Stage: options.stage, ...dimensions };
      const id = JSON.stringify(all);
      const entry = pending.get(id) ?? { dimensions: all, values: new Map<MetricKey, number[]>() };
      pending.set(id, entry);
      entry.values.set(key, [...(entry.values.get(key) ?? []), value]);
    },
    flush() {
      const batch = pending;
      pending = new Map();
      for (const { dimensions, values } of batch.values()) {
        const line: Record<string, unknown> = {
          _aws: {
            Timestamp: now(),
            CloudWatchMetrics: [
              {
                Namespace: METRIC_NAMESPACE,
                Dimensions: [Object.keys(dimensions)],
                Metrics: [...values.keys()].map((key) => ({
                  Name: METRICS[key].name,
                  Unit: METRICS[key].unit,
                })),
              },
            ],
          },
          fn: options.fn,
          ...dimensions,
        };
        for (const [key, list] of values) line[METRICS[key].name] = list.length === 1 ? list[0] : list;
        write(JSON.stringify(line));
      }
    },
  };
}

/** Metrics that go nowhere (tests, the local runtime). */
export const noMetrics: EmfMetrics = { put() {}, flush() {} };
