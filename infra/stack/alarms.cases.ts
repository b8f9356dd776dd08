/**
 * The alarms (dead letters, Lambda errors, Clover's own metrics, AWS's) and the dashboard.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { silentLogger } from '../../core/log';
import type { SweepReport } from '../../core/monitor';
import { emfMetrics, METRIC_NAMESPACE, METRICS } from '../../functions/metrics';
import { MonitorStepsFailedError, makeMonitorHandler } from '../../functions/monitor/handler';
import { makeNotifierHandler } from '../../functions/notifier/handler';
import { PLAN_OUTCOMES } from '../constructs/observability';
import { AGENT_METRICS, queues, scheduleGroupName, tables } from '../resources';
import { CONFIGS, type Config, cloverFunctions } from './all-stages';
import { dashboardWidgets, onlyResource, template } from './base-stage';
import { PREFIX } from './synth';
import { alarmMetrics } from './template-reading';
import { throwaway } from './throwaway-stage';

describe('alarms and dashboard', () => {
  const alarmsOf = (c: Config) => Object.values(c.template.findResources('AWS::CloudWatch::Alarm'));
  const topicOf = (c: Config) => c.stack.resolve(c.stack.observability.topic.topicArn);

  test('GIVEN every configuration WHEN synthesized THEN each dead-letter queue has a not-empty alarm notifying the topic', () => {
    for (const [name, c] of Object.entries(CONFIGS)) {
      const dlqs = queues.filter((q) => q.deadLetter === undefined).map((q) => q.logicalName);
      assert.ok(dlqs.includes('fires-dlq') && dlqs.includes('monitor-failures') && dlqs.length === 4);
      for (const dlq of dlqs) {
        const queueId = c.stack.getLogicalId(
          c.stack.queues.queue(dlq as 'fires-dlq').node.defaultChild as CfnQueue,
        );
        const alarm = alarmsOf(c).find(
          (a) =>
            a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
            JSON.stringify(a.Properties.Dimensions).includes(queueId),
        );
        assert.ok(alarm, `${name}: alarm for ${dlq}`);
        assert.equal(alarm.Properties.Threshold, 1);
        assert.equal(alarm.Properties.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
        assert.deepEqual(alarm.Properties.AlarmActions, [topicOf(c)]);
      }
    }
  });

  test('GIVEN every configuration WHEN synthesized THEN each Clover Lambda has an errors alarm and a throttles alarm', () => {
    for (const [name, c] of Object.entries(CONFIGS)) {
      for (const f of cloverFunctions(c)) {
        const fnRef = JSON.stringify(c.stack.resolve(f.fn.functionName));
        for (const metric of ['Errors', 'Throttles']) {
          const alarm = alarmsOf(c).find(
            (a) =>
              a.Properties.MetricName === metric && JSON.stringify(a.Properties.Dimensions).includes(fnRef),
          );
          assert.ok(alarm, `${name}: ${metric} alarm for ${f.functionName}`);
          assert.equal(alarm.Properties.Namespace, 'AWS/Lambda');
          assert.deepEqual(alarm.Properties.AlarmActions, [topicOf(c)]);
        }
      }
    }
  });

  test('GIVEN the stack WHEN synthesized THEN the scheduler, alert sends and worker-less jobs alarm on the metrics the Lambdas publish', () => {
    const byName = (metric: string, namespace: string) =>
      alarmsOf(CONFIGS.base).filter(
        (a) => a.Properties.MetricName === metric && a.Properties.Namespace === namespace,
      );
    for (const metric of [
      'TargetErrorCount',
      'InvocationDroppedCount',
      'InvocationsFailedToBeSentToDeadLetterCount',
      'InvocationThrottleCount',
    ]) {
      const [alarm] = byName(metric, 'AWS/Scheduler');
      assert.ok(alarm, metric);
      assert.deepEqual(alarm.Properties.Dimensions, [
        { Name: 'ScheduleGroup', Value: scheduleGroupName(PREFIX) },
      ]);
    }
    for (const key of ['alertSendFailures', 'jobsWithoutLiveWorker'] as const) {
      const [alarm] = byName(METRICS[key].name, METRIC_NAMESPACE);
      assert.ok(alarm, key);
      assert.deepEqual(alarm.Properties.Dimensions, [{ Name: 'Stage', Value: PREFIX }]);
    }
  });

  test('GIVEN every configuration WHEN synthesized THEN the alarms a production operator expects are there, each on a metric AWS emits, notifying the topic', () => {
    for (const [name, c] of Object.entries(CONFIGS)) {
      const watched = alarmsOf(c).flatMap((alarm) => alarmMetrics(alarm).map((m) => ({ ...m, alarm })));
      const expectAlarm = (namespace: string, metric: string, dimensions: Record<string, unknown>) => {
        const wanted = Object.entries(dimensions)
          .map(([Name, Value]) => ({ Name, Value: c.stack.resolve(Value) }))
          .sort((a, b) => a.Name.localeCompare(b.Name));
        const found = watched.find(
          (m) =>
            m.Namespace === namespace &&
            m.MetricName === metric &&
            JSON.stringify(m.Dimensions) === JSON.stringify(wanted),
        );
        assert.ok(found, `${name}: no alarm on ${namespace} ${metric} ${JSON.stringify(wanted)}`);
        assert.deepEqual(
          found.alarm.Properties.AlarmActions,
          [topicOf(c)],
          `${name}: ${metric} notifies the topic`,
        );
      };
      for (const definition of tables) {
        const table = c.stack.tables.table(definition.logicalName as 'runs').tableName;
        for (const metric of ['ReadThrottleEvents', 'WriteThrottleEvents']) {
          expectAlarm('AWS/DynamoDB', metric, { TableName: table });
          for (const index of definition.indexes) {
            expectAlarm('AWS/DynamoDB', metric, { TableName: table, GlobalSecondaryIndexName: index.name });
          }
        }
      }
      const pools = c.stack.queues.all().filter(([q]) => q.startsWith('dispatch-') && !q.endsWith('-dlq'));
      assert.ok(pools.length >= 1 + (name === 'full' ? 1 : 0), `${name}: the default pool and declared ones`);
      for (const [, queue] of [...pools, ['alerts', c.stack.queues.queue('alerts')] as const]) {
        expectAlarm('AWS/SQS', 'ApproximateAgeOfOldestMessage', { QueueName: queue.queueName });
      }
      if (c.stack.api) {
        for (const metric of ['5xx', 'Latency']) {
          expectAlarm('AWS/ApiGateway', metric, { ApiId: c.stack.api.httpApi.apiId });
        }
      }
    }
  });

  test('GIVEN the alarms on Clover metrics WHEN the Lambdas run THEN each alarm watches a name, namespace and dimensions the code emits', async () => {
    // What the monitor and notifier handlers really write, from fakes behind their real handler code.
    const lines: string[] = [];
    const metrics = (fn: string) => emfMetrics({ stage: PREFIX, fn, write: (line) => lines.push(line) });
    const report = {
      at: 1,
      errors: [{ step: 'leases', message: 'throttled' }],
      jobsWithoutLiveWorker: 1,
      runsRecovered: 1,
      runsLost: 1,
      runsTimedOut: 1,
      runsResent: 1,
      workersExpired: 1,
      misfiresSkipped: 1,
      catchUpFires: 0,
      deadLettersDrained: 0,
    } as unknown as SweepReport;
    await assert.rejects(
      makeMonitorHandler({
        monitor: { sweep: async () => report },
        log: silentLogger,
        loopSeconds: 0,
        metrics: metrics('monitor'),
      })(),
      MonitorStepsFailedError,
    );
    await makeNotifierHandler({
      notifier: { process: async () => ({ outcome: 'failed', retry: true }) as never },
      log: silentLogger,
      metrics: metrics('notifier'),
    })({ Records: [{ messageId: 'm1', body: JSON.stringify({ alertId: 'a1' }) }] } as never);
    const emitted = new Set(
      lines.flatMap((line) => {
        const parsed = JSON.parse(line) as Record<string, unknown> & {
          _aws: {
            CloudWatchMetrics: Array<{
              Namespace: string;
              Dimensions: string[][];
              Metrics: Array<{ Name: string }>;
            }>;
          };
        };
        return parsed._aws.CloudWatchMetrics.flatMap((directive) =>
          directive.Metrics.map((m) =>
            JSON.stringify([
              directive.Namespace,
              m.Name,
              directive.Dimensions[0]!.map((d) => ({ Name: d, Value: parsed[d] })).sort((a, b) =>
                a.Name.localeCompare(b.Name),
              ),
            ]),
          ),
        );
      }),
    );
    for (const [name, c] of Object.entries(CONFIGS)) {
      const custom = alarmsOf(c)
        .flatMap(alarmMetrics)
        .filter((m) => m.Namespace === METRIC_NAMESPACE);
      for (const m of custom) {
        assert.ok(
          emitted.has(JSON.stringify([m.Namespace, m.MetricName, m.Dimensions])),
          `${name}: the alarm on ${m.MetricName} ${JSON.stringify(m.Dimensions)} watches a metric no Lambda emits`,
        );
      }
      for (const key of [
        'monitorStepErrors',
        'runsResent',
        'alertSendFailures',
        'jobsWithoutLiveWorker',
      ] as const) {
        assert.ok(
          custom.some((m) => m.MetricName === METRICS[key].name),
          `${name}: no alarm on ${METRIC_NAMESPACE}/${METRICS[key].name}`,
        );
      }
    }
  });

  test('GIVEN an alarm email WHEN synthesized THEN the topic mails it over TLS; without one nobody is subscribed', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.org',
    });
    throwaway.template.resourceCountIs('AWS::SNS::Subscription', 0);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('GIVEN the stack WHEN synthesized THEN a dashboard shows fires by outcome, lateness, failover and alert sends', () => {
    const dashboard = onlyResource('AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const title of [
      'Fires by outcome',
      'Fire lateness',
      'failover',
      'Alert sends',
      'Jobs without a live worker',
    ]) {
      assert.ok(body.includes(title), title);
    }
    for (const key of ['fires', 'fireLateness', 'runsRecovered', 'alertsSent'] as const) {
      assert.ok(body.includes(METRICS[key].name), key);
    }
  });

  test("GIVEN the stack WHEN synthesized THEN the dashboard shows the planner's fires by outcome, start lateness p50/p99 by pool and precision, and clock offsets", () => {
    const widgets = dashboardWidgets();
    const planned = widgets.find((w) => w.properties.title === 'Precise jobs: planned fires');
    assert.ok(planned, 'a PlannedFires widget');
    assert.deepEqual(
      planned.properties.metrics.map((m) => m.filter((part) => typeof part === 'string').slice(0, 6)),
      PLAN_OUTCOMES.map((outcome) => [
        METRIC_NAMESPACE,
        METRICS.plannedFires.name,
        'Outcome',
        outcome,
        'Stage',
        PREFIX,
      ]),
    );
    const lateness = widgets.find((w) => w.properties.title.startsWith('Run start lateness'));
    const searches = JSON.stringify(lateness?.properties.metrics ?? []);
    for (const statistic of ['p50', 'p99']) {
      assert.ok(
        searches.includes(
          `SEARCH('{${METRIC_NAMESPACE},Pool,Precision,Stage} MetricName=\\"${AGENT_METRICS.runStartLateness.name}\\" Stage=\\"${PREFIX}\\"', '${statistic}', 300)`,
        ),
        searches,
      );
    }
    const clock = widgets.find((w) => w.properties.title.includes('clock offset'));
    assert.ok(JSON.stringify(clock?.properties.metrics ?? []).includes(AGENT_METRICS.clockOffset.name));
  });
});
