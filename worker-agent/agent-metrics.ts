/**
 * The agent's metric channel (issue 27): how late runs start, and this host's clock offset when it is
 * past the threshold. The Lambdas publish in embedded metric format through their log groups
 * (functions/metrics.ts); an agent has no such log group, so it calls CloudWatch PutMetricData.
 *
 * Cost rules (ARCHITECTURE.md, Budgets: idle costs ~nothing): what is recorded is aggregated in memory
 * and sent at most once a minute, in one request (more only past `MAX_DATA_PER_REQUEST` series), and
 * only when something was recorded — the flush timer is armed by the first value after a flush, so an
 * idle agent whose clock is in sync makes no request and has no timer. CloudWatch bills a custom
 * metric only for the hours it receives data.
 *
 * - Start lateness (`RunStartLatenessMs`, by Stage, Pool and Precision) goes as values and counts, not
 *   as a statistic set, so CloudWatch can answer percentiles (p50, p99) over them; a datum carries at
 *   most 150 distinct values (PutMetricData's limit), more are split over several data.
 * - Clock offset (`AgentClockOffsetMs`, by Stage) is a statistic set of the offset estimates known to
 *   lie past the threshold (clock-offset.ts): signed, positive when this clock is behind.
 *
 * A failed send is logged and dropped: metrics never hold up runs, and a backlog would only grow.
 *
 * @example
 * const metrics = new AgentMetrics({ client: clients.cloudwatch, stage: 'clover-dev', log });
 * metrics.recordStartLateness('default', 'SECOND', 12);
 * await metrics.close(); // sends what is pending
 */
import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { Logger } from '../core/log';
import type { Run } from '../core/model';
import { AGENT_METRICS, METRIC_NAMESPACE } from '../infra/resources';

/** How a run was fired, the `Precision` dimension of its start lateness. */
export type StartPrecision =
  /** A precise REMOTE job's planned fire (`precision: SECOND`), started at its second by the agent. */
  | 'SECOND'
  /** A plain REMOTE fire: started when EventBridge Scheduler's invocation reached a worker. */
  | 'MINUTE'
  /** A LOCAL job's fire, timed by the agents themselves. */
  | 'LOCAL';

/**
 * The `Precision` of a scheduled run's first start, or undefined for runs whose start is not a fire's
 * (manual, chained) or not its first (a retry or a recovery starts late by design).
 */
export function startPrecisionOf(run: Run): StartPrecision | undefined {
  if (run.attempt > 1) return undefined;
  if (run.trigger === 'LOCAL') return 'LOCAL';
  if (run.trigger !== 'SCHEDULE') return undefined;
  return run.replacesPlan === undefined ? 'MINUTE' : 'SECOND';
}

export interface AgentMetricsOptions {
  readonly client: CloudWatchClient;
  /** close() also destroys `client` (the agent's own, from agent-deps.ts). @default false */
  readonly ownsClient?: boolean;
  /** The stage's prefix: the `Stage` dimension, as on the Lambdas' metrics. */
  readonly stage: string;
  readonly log: Logger;
  /** How long values are gathered before they are sent. @default 60_000 */
  readonly flushAfterMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** PutMetricData takes at most 150 values per datum. */
const MAX_VALUES_PER_DATUM = 150;
/** Keeps a request well under PutMetricData's 1 MB even with every datum full of values. */
export const MAX_DATA_PER_REQUEST = 100;

interface Stats {
  count: number;
  sum: number;
  min: number;
  max: number;
}

export class AgentMetrics {
  /** Start lateness by "pool\0precision": value (ms) → count. */
  private lateness = new Map<string, Map<number, number>>();
  private offset: Stats | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly flushAfterMs: number;
  private readonly now: () => number;
  private sending: Promise<void> = Promise.resolve();

  constructor(private readonly options: AgentMetricsOptions) {
    this.flushAfterMs = options.flushAfterMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** A scheduled run started `ms` after its nominal instant. */
  recordStartLateness(pool: string, precision: StartPrecision, ms: number): void {
    if (!Number.isFinite(ms)) return;
    const key = `${pool}\0${precision}`;
    const counts = this.lateness.get(key) ?? new Map<number, number>();
    this.lateness.set(key, counts);
    const value = Math.round(ms);
    counts.set(value, (counts.get(value) ?? 0) + 1);
    this.arm();
  }

  /** This host's clock is off the control plane's by `offsetMs`, past the threshold (clock-offset.ts). */
  recordClockOffset(offsetMs: number): void {
    if (!Number.isFinite(offsetMs)) return;
    const s = this.offset;
    this.offset = s
      ? {
          count: s.count + 1,
          sum: s.sum + offsetMs,
          min: Math.min(s.min, offsetMs),
          max: Math.max(s.max, offsetMs),
        }
      : { count: 1, sum: offsetMs, min: offsetMs, max: offsetMs };
    this.arm();
  }

  /** What was recorded since the last take, as PutMetricData's MetricData, and forgets it. */
  take(): MetricDatum[] {
    const at = new Date(this.now());
    const stage = { Name: 'Stage', Value: this.options.stage };
    const data: MetricDatum[] = [];
    for (const [key, counts] of this.lateness) {
      const [pool = '', precision = ''] = key.split('\0');
      const values = [...counts.keys()].sort((a, b) => a - b);
      for (let i = 0; i < values.length; i += MAX_VALUES_PER_DATUM) {
        const chunk = values.slice(i, i + MAX_VALUES_PER_DATUM);
        data.push({
          MetricName: AGENT_METRICS.runStartLateness.name,
          Unit: AGENT_METRICS.runStartLateness.unit,
          Dimensions: [stage, { Name: 'Pool', Value: pool }, { Name: 'Precision', Value: precision }],
          Timestamp: at,
          Values: chunk,
          Counts: chunk.map((v) => counts.get(v) ?? 0),
        });
      }
    }
    if (this.offset) {
      const { count, sum, min, max } = this.offset;
      data.push({
        MetricName: AGENT_METRICS.clockOffset.name,
        Unit: AGENT_METRICS.clockOffset.unit,
        Dimensions: [stage],
        Timestamp: at,
        StatisticValues: { SampleCount: count, Sum: sum, Minimum: min, Maximum: max },
      });
    }
    this.lateness = new Map();
    this.offset = undefined;
    return data;
  }

  /** Sends what was recorded (nothing when nothing was). Never rejects: a failure is logged and dropped. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const data = this.take();
    if (data.length === 0) return this.sending;
    // One send at a time, in order: a close() during a timer's send waits for it, then sends the rest.
    this.sending = this.sending.then(() => this.send(data));
    return this.sending;
  }

  /** Stops the timer and sends what is pending (the agent's shutdown); then closes an owned client. */
  async close(): Promise<void> {
    await this.flush();
    if (this.options.ownsClient) this.options.client.destroy();
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), this.flushAfterMs);
    // Pending metrics never keep a process alive; close() sends them.
    this.timer.unref();
  }

  private async send(data: MetricDatum[]): Promise<void> {
    for (let i = 0; i < data.length; i += MAX_DATA_PER_REQUEST) {
      const batch = data.slice(i, i + MAX_DATA_PER_REQUEST);
      try {
        await this.options.client.send(
          new PutMetricDataCommand({ Namespace: METRIC_NAMESPACE, MetricData: batch }),
        );
      } catch (error) {
        this.options.log.log('warn', 'metrics not sent (dropped)', { data: batch.length, error });
      }
    }
  }
}
