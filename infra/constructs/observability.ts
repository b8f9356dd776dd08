import { Duration, Validations } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  SingleValueWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { PlanReport } from '../../core/planner';
import { METRIC_NAMESPACE, METRICS, type MetricKey } from '../../functions/metrics';
import { AGENT_METRICS, physicalName, type TableDefinition } from '../resources';
import type { CloverNodeFunction } from './node-function';

export interface CloverObservabilityProps {
  /** The stage's resource prefix: alarms are named `${prefix}-<what>`, the dashboard `${prefix}`. */
  readonly prefix: string;
  /** Every dead-letter queue of the stage, by logical name: each gets a "not empty" alarm. */
  readonly deadLetterQueues: ReadonlyArray<readonly [string, IQueue]>;
  /** Every Clover Lambda: each gets an errors alarm and a throttles alarm. */
  readonly functions: readonly CloverNodeFunction[];
  /** The stage's schedule group: failed, dropped and throttled fires alarm. */
  readonly scheduleGroup: IScheduleGroup;
  /** Every table with its definition: each (and each of its indexes) gets a throttled-requests alarm. */
  readonly tables: ReadonlyArray<{ readonly table: ITable; readonly definition: TableDefinition }>;
  /** Queues whose oldest message must not wait longer than `maxAge` (someone should consume them). */
  readonly queueAges: ReadonlyArray<{
    readonly name: string;
    readonly queue: IQueue;
    readonly maxAge: Duration;
  }>;
  /** The management API: 5xx answers and latency alarm. @default none (a stage without the API) */
  readonly api?: HttpApi;
  /** Who the alarms mail (an SNS email subscription, confirmed from the first message). @default none */
  readonly alarmEmail?: string;
}

/** An alarm's condition beyond its metric: reach `threshold` in `evaluationPeriods` periods in a row. */
interface AlarmCondition {
  readonly metric: IMetric;
  readonly description: string;
  /** @default 1 */
  readonly threshold?: number;
  /** @default 1 */
  readonly evaluationPeriods?: number;
}

/** CloudWatch takes at most 10 metrics in one alarm's math expression. */
const METRICS_PER_ALARM = 10;
/** The API's p99 latency (ms) that, held for 15 minutes, means users wait: the Lambda's own limit is 29 s. */
export const API_LATENCY_P99_MS = 5_000;

const MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

/** A metric the Lambdas publish in EMF (functions/metrics.ts), for the stage. */
export function cloverMetric(
  prefix: string,
  key: MetricKey,
  options: {
    statistic?: string;
    period?: Duration;
    dimensions?: Record<string, string>;
    label?: string;
  } = {},
): Metric {
  return new Metric({
    namespace: METRIC_NAMESPACE,
    metricName: METRICS[key].name,
    dimensionsMap: { Stage: prefix, ...options.dimensions },
    statistic: options.statistic ?? 'Sum',
    period: options.period ?? MINUTE,
    ...(options.label ? { label: options.label } : {}),
  });
}

/** The fire outcomes the dispatcher reports (core/dispatch/types.ts FireOutcome kinds). */
export const FIRE_OUTCOMES = [
  'dispatched',
  'queued',
  'skipped',
  'duplicate',
  'no_worker',
  'rejected',
  'invalid',
] as const;

/** The planner pass's outcomes, the `Outcome` dimension of `PlannedFires` (functions/dispatcher/handler.ts). */
export const PLAN_OUTCOMES = [
  'planned',
  'alreadyPlanned',
  'missedFired',
  'missedSkipped',
  'failed',
] as const satisfies readonly (keyof PlanReport)[];

/**
 * One line per dimension set of an agent metric (worker-agent/agent-metrics.ts) for the stage: agents
 * publish under dimensions the stack cannot list (their pools), so the dashboard searches for them.
 */
function agentSearch(
  prefix: string,
  metric: (typeof AGENT_METRICS)[keyof typeof AGENT_METRICS],
  dimensions: readonly string[],
  statistic: string,
  label: string,
): MathExpression {
  const schema = [METRIC_NAMESPACE, ...dimensions, 'Stage'].join(',');
  return new MathExpression({
    expression: `SEARCH('{${schema}} MetricName="${metric.name}" Stage="${prefix}"', '${statistic}', ${FIVE_MINUTES.toSeconds()})`,
    usingMetrics: {},
    label,
    period: FIVE_MINUTES,
  });
}

/**
 * What watches a stage: an SNS topic for alarms (mailed to `alarmEmail`), an alarm for each
 * dead-letter queue holding a message, for each Lambda's errors and throttles, for throttled
 * requests on each table and index, for messages waiting too long on the dispatch and alert queues,
 * for the API's 5xx answers and latency, for the scheduler's failed, dropped and throttled fires,
 * for notifier send failures, failing monitor steps, resent runs and jobs no live worker can run
 * (the Lambdas' EMF metrics, functions/metrics.ts); and a dashboard of fires by outcome, lateness,
 * failover, alert sends, the precise-jobs planner, runs' start lateness and agents' clock offsets
 * (the agents' metrics, worker-agent/agent-metrics.ts) and the Lambdas.
 *
 * Every alarm treats missing data as fine (no data is no failure) and fires on the first breach:
 * each condition means a person should look now.
 *
 * @example
 * new CloverObservability(this, 'Observability', { prefix, deadLetterQueues, functions, scheduleGroup, alarmEmail: 'ops@example.com' });
 */
export class CloverObservability extends Construct {
  readonly topic: Topic;
  /** Every alarm, by a stable key such as `dlq:fires-dlq`, `errors:dispatcher`, `scheduler:dropped`. */
  readonly alarms = new Map<string, Alarm>();
  readonly dashboard: Dashboard;
  private readonly action: SnsAction;
  private readonly prefix: string;

  constructor(scope: Construct, id: string, props: CloverObservabilityProps) {
    super(scope, id);
    const { prefix } = props;
    this.prefix = prefix;
    this.topic = new Topic(this, 'AlarmTopic', {
      topicName: physicalName(prefix, 'alarms'),
      displayName: `Clover ${prefix} alarms`,
      enforceSSL: true,
    });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry only alarm names and states, no job data; CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer-managed key would cost more than the rest of an idle stage.',
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    this.action = new SnsAction(this.topic);

    for (const [name, queue] of props.deadLetterQueues) {
      this.alarm(`dlq:${name}`, `${name}-not-empty`, {
        metric: queue.metricApproximateNumberOfMessagesVisible({
          statistic: 'Maximum',
          period: FIVE_MINUTES,
        }),
        description: `Dead-letter queue ${physicalName(prefix, name)} holds a message: something failed for good (docs/deploy.md, "Alarms").`,
      });
    }
    for (const f of props.functions) {
      const name = f.functionName.slice(prefix.length + 1);
      this.alarm(`errors:${name}`, `${name}-errors`, {
        metric: f.fn.metricErrors({ period: MINUTE, statistic: 'Sum' }),
        description: `${f.functionName} failed (an invocation threw or timed out): read its log group.`,
      });
      this.alarm(`throttles:${name}`, `${name}-throttles`, {
        metric: f.fn.metricThrottles({ period: MINUTE, statistic: 'Sum' }),
        description: `${f.functionName} was throttled: its concurrency limit or the account's was reached.`,
      });
    }
    for (const { table, definition } of props.tables) this.throttleAlarms(table, definition);
    for (const { name, queue, maxAge } of props.queueAges) {
      this.alarm(`age:${name}`, `${name}-oldest-message`, {
        metric: queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: FIVE_MINUTES }),
        threshold: maxAge.toSeconds(),
        description: `A message has waited ${maxAge.toHumanString()} or more in ${physicalName(prefix, name)}: nothing consumes it (no live agent of the pool, or the notifier failing).`,
      });
    }
    if (props.api) {
      this.alarm('api:5xx', 'api-5xx', {
        metric: props.api.metricServerError({ statistic: 'Sum', period: MINUTE }),
        description:
          'The management API answered 5xx (the API Lambda failed or timed out): read its log group.',
      });
      this.alarm('api:latency', 'api-latency', {
        metric: props.api.metricLatency({ statistic: 'p99', period: FIVE_MINUTES }),
        threshold: API_LATENCY_P99_MS,
        evaluationPeriods: 3,
        description: `The management API's p99 latency stayed at ${API_LATENCY_P99_MS} ms or more for 15 minutes.`,
      });
    }
    this.alarm('monitor:step-errors', 'monitor-step-errors', {
      metric: cloverMetric(prefix, 'monitorStepErrors'),
      description:
        "A monitor step failed (AccessDenied, throttling, a bug): the invocation fails too, and the monitor's log names the step.",
    });
    this.alarm('monitor:runs-resent', 'runs-resent', {
      metric: cloverMetric(prefix, 'runsResent', { period: FIVE_MINUTES }),
      description:
        'The monitor sent a dispatched run again because no agent claimed it in time: a send was lost, or the chosen agent is not consuming its queue.',
    });
    const group = props.scheduleGroup;
    this.alarm('scheduler:target-errors', 'scheduler-target-errors', {
      metric: group.metricTargetErrors({ period: MINUTE, statistic: 'Sum' }),
      description:
        'EventBridge Scheduler could not invoke the dispatcher for a fire (it retries, then dead-letters to fires-dlq).',
    });
    this.alarm('scheduler:dropped', 'scheduler-dropped', {
      metric: group.metricDropped({ period: MINUTE, statistic: 'Sum' }),
      description:
        'EventBridge Scheduler dropped a fire after its retries (it could not be dead-lettered either, or the schedule has no dead-letter queue).',
    });
    this.alarm('scheduler:dlq-failed', 'scheduler-dead-letter-failed', {
      metric: group.metricFailedToBeSentToDLQ(undefined, { period: MINUTE, statistic: 'Sum' }),
      description: 'EventBridge Scheduler could not put a failed fire on fires-dlq: the fire is lost.',
    });
    this.alarm('scheduler:throttled', 'scheduler-throttled', {
      metric: group.metricThrottled({ period: MINUTE, statistic: 'Sum' }),
      description: "EventBridge Scheduler throttled the stage's fires (account quota).",
    });
    this.alarm('notifier:send-failures', 'alert-send-failures', {
      metric: cloverMetric(prefix, 'alertSendFailures'),
      description: 'The notifier could not mail an alert (SES refused or failed): the alert record says why.',
    });
    this.alarm('monitor:no-live-worker', 'no-live-worker', {
      metric: cloverMetric(prefix, 'jobsWithoutLiveWorker', { statistic: 'Maximum', period: FIVE_MINUTES }),
      description:
        'A job that is not paused has no live worker that could run it (its pool is empty or nobody has its handler).',
    });

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: prefix,
      defaultInterval: Duration.hours(6),
    });
    const metric = (key: MetricKey, extra: Parameters<typeof cloverMetric>[2] = {}) =>
      cloverMetric(prefix, key, { period: FIVE_MINUTES, ...extra });
    this.dashboard.addWidgets(
      graph(
        'Fires by outcome',
        FIRE_OUTCOMES.map((outcome) => metric('fires', { dimensions: { Outcome: outcome }, label: outcome })),
      ),
      graph('Fire lateness (ms)', [
        metric('fireLateness', { statistic: 'p50', label: 'p50' }),
        metric('fireLateness', { statistic: 'p99', label: 'p99' }),
        metric('fireLateness', { statistic: 'Maximum', label: 'max' }),
      ]),
      graph('Runs the monitor settled (failover)', [
        metric('runsRecovered', { label: 'recovered (re-dispatched)' }),
        metric('runsLost', { label: 'lost' }),
        metric('runsTimedOut', { label: 'timed out' }),
        metric('runsResent', { label: 'unclaimed, envelope resent' }),
        metric('workersExpired', { label: 'worker leases expired' }),
        metric('misfires', { label: 'misfires' }),
      ]),
      graph('Alert sends', [
        metric('alertsSent', { label: 'sent' }),
        metric('alertSendFailures', { label: 'failed' }),
      ]),
    );
    this.dashboard.addWidgets(
      new SingleValueWidget({
        title: 'Jobs without a live worker',
        metrics: [metric('jobsWithoutLiveWorker', { statistic: 'Maximum' })],
        width: 6,
      }),
      graph(
        'Lambda errors',
        props.functions.map((f) => f.fn.metricErrors({ period: FIVE_MINUTES, label: f.functionName })),
      ),
      graph(
        'Dead-letter queues',
        props.deadLetterQueues.map(([name, queue]) =>
          queue.metricApproximateNumberOfMessagesVisible({
            period: FIVE_MINUTES,
            statistic: 'Maximum',
            label: name,
          }),
        ),
      ),
      graph('Scheduler', [
        group.metricAttempts({ period: FIVE_MINUTES, statistic: 'Sum', label: 'invocation attempts' }),
        group.metricTargetErrors({ period: FIVE_MINUTES, statistic: 'Sum', label: 'target errors' }),
        group.metricSentToDLQ({ period: FIVE_MINUTES, statistic: 'Sum', label: 'sent to fires-dlq' }),
      ]),
    );
    // Precise jobs (docs/precise-jobs.md): the planner's passes, and how late runs start on the agents.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudWatch's dynamic label syntax, filled per line.
    const byPoolAndPrecision = "${PROP('Dim.Pool')} ${PROP('Dim.Precision')}";
    this.dashboard.addWidgets(
      graph(
        'Precise jobs: planned fires',
        PLAN_OUTCOMES.map((outcome) =>
          metric('plannedFires', { dimensions: { Outcome: outcome }, label: outcome }),
        ),
      ),
      new GraphWidget({
        title: 'Run start lateness (ms) by pool and precision',
        left: [
          agentSearch(
            prefix,
            AGENT_METRICS.runStartLateness,
            ['Pool', 'Precision'],
            'p50',
            `${byPoolAndPrecision} p50`,
          ),
          agentSearch(
            prefix,
            AGENT_METRICS.runStartLateness,
            ['Pool', 'Precision'],
            'p99',
            `${byPoolAndPrecision} p99`,
          ),
        ],
        width: 12,
      }),
      graph("Agents' clock offset past the threshold (ms)", [
        agentSearch(prefix, AGENT_METRICS.clockOffset, [], 'Maximum', 'max'),
        agentSearch(prefix, AGENT_METRICS.clockOffset, [], 'Minimum', 'min'),
      ]),
    );
  }

  /** Alarms on `metric` reaching the threshold (1 unless told) in the periods, notifying the topic. */
  alarm(key: string, name: string, props: AlarmCondition): Alarm {
    if (this.alarms.has(key)) throw new Error(`alarm ${JSON.stringify(key)} is defined twice`);
    const alarm = new Alarm(this, `Alarm-${key.replace(/[^A-Za-z0-9]/g, '-')}`, {
      alarmName: physicalName(this.prefix, name),
      alarmDescription: props.description,
      metric: props.metric,
      threshold: props.threshold ?? 1,
      evaluationPeriods: props.evaluationPeriods ?? 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.action);
    this.alarms.set(key, alarm);
    return alarm;
  }

  /**
   * A throttled request on the table or any of its indexes alarms: the sum of AWS's
   * ReadThrottleEvents and WriteThrottleEvents of each, as few alarms as CloudWatch's 10 metrics
   * per expression allow (`<table>-throttled`, then `-throttled-2`, ...).
   */
  private throttleAlarms(table: ITable, definition: TableDefinition): void {
    const sources: Array<Record<string, string>> = [
      { TableName: table.tableName },
      ...definition.indexes.map((index) => ({
        TableName: table.tableName,
        GlobalSecondaryIndexName: index.name,
      })),
    ];
    const perAlarm = METRICS_PER_ALARM / 2;
    for (let start = 0, part = 1; start < sources.length; start += perAlarm, part += 1) {
      const usingMetrics: Record<string, IMetric> = {};
      sources.slice(start, start + perAlarm).forEach((dimensionsMap, i) => {
        for (const [id, metricName] of [
          [`r${i}`, 'ReadThrottleEvents'],
          [`w${i}`, 'WriteThrottleEvents'],
        ] as const) {
          usingMetrics[id] = new Metric({
            namespace: 'AWS/DynamoDB',
            metricName,
            dimensionsMap,
            statistic: 'Sum',
            period: MINUTE,
          });
        }
      });
      const suffix = part === 1 ? '' : `-${part}`;
      const what = sources
        .slice(start, start + perAlarm)
        .map((source) =>
          source.GlobalSecondaryIndexName ? `index ${source.GlobalSecondaryIndexName}` : 'the table',
        )
        .join(', ');
      this.alarm(
        `throttled:${definition.logicalName}${suffix}`,
        `${definition.logicalName}-throttled${suffix}`,
        {
          metric: new MathExpression({
            expression: `SUM([${Object.keys(usingMetrics).join(',')}])`,
            usingMetrics,
            period: MINUTE,
            label: `${definition.logicalName} throttle events`,
          }),
          description: `DynamoDB throttled requests on ${physicalName(this.prefix, definition.logicalName)} (${what}): a hot key, or the table's on-demand limits.`,
        },
      );
    }
  }
}

function graph(title: string, metrics: IMetric[]): GraphWidget {
  return new GraphWidget({ title, left: metrics, width: 6 });
}
