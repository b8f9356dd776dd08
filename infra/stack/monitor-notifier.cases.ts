/**
 * The monitor (its rule, watch settings and role) and the notifier (its queue, sender, console link and role).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { CloverQueues } from '../constructs/clover-queues';
import { CloverTables } from '../constructs/clover-tables';
import { NotifierFunction } from '../constructs/notifier-function';
import { physicalName, queues, scheduleGroupName } from '../resources';
import { DEFAULT_ALERT_FROM, DEFAULT_CONSOLE_URL } from '../stack';
import { onlyResource, ref, roleStatements, stack, template } from './base-stage';
import { full } from './full-stage';
import { PREFIX, SENDER, synth } from './synth';
import {
  ALL_WRITES,
  actionsOf,
  queueNames,
  type Resource,
  render,
  resourcesIn,
  type Statement,
  tableAccess,
} from './template-reading';
import { throwaway } from './throwaway-stage';

describe('monitor', () => {
  const fn = onlyResource('AWS::Lambda::Function', { FunctionName: physicalName(PREFIX, 'monitor') });
  const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
  const statements = roleStatements(stack.monitor.role);
  const bySid = (sid: string) => {
    const found = statements.find((s) => s.Sid === sid);
    assert.ok(found, `statement ${sid}`);
    return found;
  };

  test('GIVEN the stack WHEN synthesized THEN an EventBridge rule invokes the monitor every minute, without retries', () => {
    const rule = onlyResource('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    const targets = rule.Properties.Targets as Array<Record<string, unknown>>;
    assert.equal(targets.length, 1);
    assert.deepEqual(targets[0]!.Arn, ref(stack.monitor.fn.functionArn));
    assert.deepEqual(targets[0]!.RetryPolicy, { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: ref(stack.monitor.fn.functionArn),
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(stack.monitor.fn.functionName),
      MaximumRetryAttempts: 0,
    });
  });

  test('GIVEN no monitor settings WHEN synthesized THEN it watches every 2 s for up to 55 s within a 70 s timeout', () => {
    assert.equal(env.CLOVER_MONITOR_LOOP_SECONDS, '2');
    assert.equal(env.CLOVER_MONITOR_RUN_SECONDS, '55');
    assert.equal(fn.Properties.Timeout, 70);
    assert.equal(fn.Properties.Runtime, 'nodejs22.x');
    assert.deepEqual(fn.Properties.Architectures, ['arm64']);
    // The handler stops looping when less than one loop + 5 s remains: 55 + 5 + 5 <= 70.
    assert.ok(Number(env.CLOVER_MONITOR_RUN_SECONDS) + Number(env.CLOVER_MONITOR_LOOP_SECONDS) + 5 <= 70);
  });

  test('GIVEN the stack WHEN synthesized THEN the dispatcher and the agents may wake the monitor, named by its physical name', () => {
    const monitorArn = `arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:${physicalName(PREFIX, 'monitor')}`;
    const wake = roleStatements(stack.dispatcher.role).find((st) => st.Sid === 'WakeMonitor');
    assert.ok(wake, 'the dispatcher role may invoke the monitor');
    assert.deepEqual(resourcesIn(wake).map(render), [monitorArn]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: physicalName(PREFIX, 'dispatcher'),
      Environment: {
        Variables: Match.objectLike({ CLOVER_MONITOR_FUNCTION: physicalName(PREFIX, 'monitor') }),
      },
    });
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      ManagedPolicyName: physicalName(PREFIX, 'worker-agent'),
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'WakeMonitor', Action: 'lambda:InvokeFunction' }),
        ]),
      }),
    });
  });

  test('GIVEN monitorLoopSeconds 0 WHEN synthesized THEN the monitor sweeps once per invocation', () => {
    throwaway.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: physicalName(PREFIX, 'monitor'),
      Environment: { Variables: Match.objectLike({ CLOVER_MONITOR_LOOP_SECONDS: '0' }) },
    });
    assert.throws(() => synth({ monitorLoopSeconds: 61 }), /loopSeconds must be an integer 0-60, got 61/);
    assert.throws(() => synth({ monitorLoopSeconds: 2.5 }), /got 2\.5/);
  });

  test('GIVEN the monitor WHEN synthesized THEN repaired schedules target the dispatcher through the scheduler role, dead-lettering to fires-dlq', () => {
    assert.match(
      JSON.stringify(env.CLOVER_DISPATCHER_ARN),
      new RegExp(`:function:${physicalName(PREFIX, 'dispatcher')}"`),
    );
    assert.deepEqual(env.CLOVER_SCHEDULER_ROLE_ARN, ref(stack.schedulerRole.role.roleArn));
    assert.deepEqual(env.CLOVER_FIRES_DLQ_ARN, ref(stack.queues.queue('fires-dlq').queueArn));
    assert.equal(env.CLOVER_PREFIX, PREFIX);
  });

  test('GIVEN the monitor role WHEN synthesized THEN schedule writes are scoped to the stage group and PassRole to the scheduler role for Scheduler only', () => {
    const repair = bySid('RepairSchedules');
    assert.deepEqual(actionsOf(repair).sort(), [
      'scheduler:CreateSchedule',
      'scheduler:DeleteSchedule',
      'scheduler:UpdateSchedule',
    ]);
    assert.deepEqual(resourcesIn(repair).map(render), [
      `arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${scheduleGroupName(PREFIX)}/*`,
    ]);
    const pass = bySid('PassSchedulerRole');
    assert.equal(pass.Action, 'iam:PassRole');
    assert.deepEqual(pass.Resource, ref(stack.schedulerRole.role.roleArn));
    assert.deepEqual(pass.Condition, { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
    assert.ok(
      !statements.some((s) => actionsOf(s).some((a) => a.startsWith('iam:') && a !== 'iam:PassRole')),
    );
  });

  test('GIVEN the monitor role WHEN synthesized THEN it drains fires-dlq, raises alerts and re-dispatches to the stage queues only', () => {
    const drain = bySid('DrainFiresDeadLetters');
    assert.deepEqual(drain.Resource, ref(stack.queues.queue('fires-dlq').queueArn));
    assert.deepEqual(actionsOf(drain).sort(), ['sqs:DeleteMessage', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage']);
    assert.deepEqual(bySid('QueueAlerts').Resource, ref(stack.queues.queue('alerts').queueArn));
    assert.deepEqual(queueNames(bySid('RedispatchToDispatchQueues').Resource).sort(), [
      `${PREFIX}-dispatch-*`,
      `${PREFIX}-worker-*`,
    ]);
    const sqsActions = new Set(statements.flatMap(actionsOf).filter((a) => a.startsWith('sqs:')));
    assert.ok(!sqsActions.has('sqs:CreateQueue') && !sqsActions.has('sqs:DeleteQueue'));
  });

  test('GIVEN the monitor role WHEN synthesized THEN it writes what a sweep changes and never reads contacts', () => {
    const { reached, written } = tableAccess(statements);
    assert.deepEqual(reached, ['alerts', 'jobs', 'leases', 'locks', 'runs', 'workers']);
    assert.deepEqual(written, {
      alerts: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
      jobs: ['dynamodb:UpdateItem'],
      leases: ['dynamodb:UpdateItem'],
      locks: ALL_WRITES,
      runs: ALL_WRITES,
      workers: ['dynamodb:UpdateItem'],
    });
  });
});

describe('notifier', () => {
  const fn = onlyResource('AWS::Lambda::Function', { FunctionName: physicalName(PREFIX, 'notifier') });
  const statements = roleStatements(stack.notifier.role);

  test('GIVEN the stack WHEN synthesized THEN the alerts queue drives the notifier with partial batch responses', () => {
    const mapping = onlyResource('AWS::Lambda::EventSourceMapping');
    assert.deepEqual(mapping.Properties.EventSourceArn, ref(stack.queues.queue('alerts').queueArn));
    assert.deepEqual(mapping.Properties.FunctionName, ref(stack.notifier.fn.functionName));
    assert.deepEqual(mapping.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
    assert.equal(mapping.Properties.BatchSize, 1);
    assert.deepEqual(mapping.Properties.ScalingConfig, { MaximumConcurrency: 2 });
  });

  test("GIVEN the notifier WHEN synthesized THEN the alerts queue hides a received message for at least 6x the notifier's timeout", () => {
    const alertsQueue = onlyResource('AWS::SQS::Queue', { QueueName: physicalName(PREFIX, 'alerts') });
    const timeout = fn.Properties.Timeout as number;
    assert.equal(timeout, 30);
    assert.ok(
      (alertsQueue.Properties.VisibilityTimeout as number) >= 6 * timeout,
      `visibility ${String(alertsQueue.Properties.VisibilityTimeout)} s, notifier timeout ${timeout} s`,
    );
  });

  test('GIVEN a notifier timeout over 1/6 of the alerts visibility WHEN synthesizing THEN it is refused naming both', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const s = new Stack(app, 'S');
    const tables = new CloverTables(s, 'T', { prefix: PREFIX, definitions: [] });
    const queuesOf = new CloverQueues(s, 'Q', { prefix: PREFIX, definitions: queues });
    assert.throws(
      () =>
        new NotifierFunction(s, 'N', {
          prefix: PREFIX,
          tables,
          alertsQueue: queuesOf.queue('alerts'),
          alertFrom: SENDER,
          consoleUrl: 'https://clover.example.org',
          timeout: Duration.seconds(31),
        }),
      /notifier timeout 31 s is more than 1\/6 of the alerts queue's visibility timeout \(180 s\)/,
    );
  });

  test('GIVEN alerts on and no sender WHEN synthesizing THEN it is refused naming alertFrom', () => {
    assert.throws(() => synth({ alertFrom: undefined }), /alertFrom: is required while alerts are on/);
  });

  test('GIVEN alerts off, no sender and no console WHEN synthesized THEN the placeholders are used, no SES identity is made, and synth warns', () => {
    throwaway.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: physicalName(PREFIX, 'notifier'),
      Environment: {
        Variables: Match.objectLike({
          CLOVER_ALERT_FROM: DEFAULT_ALERT_FROM,
          CLOVER_CONSOLE_URL: DEFAULT_CONSOLE_URL,
        }),
      },
    });
    throwaway.template.resourceCountIs('AWS::SES::EmailIdentity', 0);
    Annotations.fromStack(throwaway.stack).hasWarning('/Clover', Match.stringLikeRegexp('Alerts are off'));
  });

  test('GIVEN a sender WHEN synthesized THEN the stack creates its SES email identity, unless told to import it', () => {
    template.resourceCountIs('AWS::SES::EmailIdentity', 1);
    template.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'clover@ops.example.org' });
    // The full stage imports its sender's identity (sesIdentity: 'import').
    full.template.resourceCountIs('AWS::SES::EmailIdentity', 0);
  });

  test('GIVEN the stack console WHEN synthesized THEN alert mail links to it', () => {
    full.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: physicalName(PREFIX, 'notifier'),
      Environment: { Variables: Match.objectLike({ CLOVER_CONSOLE_URL: 'https://clover.example.org' }) },
    });
  });

  test('GIVEN a sender and console URL WHEN synthesized THEN they reach the environment and SendEmail is scoped to that sender', () => {
    const { stack: custom, template: t } = { stack, template };
    t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: physicalName(PREFIX, 'notifier'),
      Environment: {
        Variables: Match.objectLike({
          CLOVER_ALERT_FROM: 'Clover <clover@ops.example.org>',
          CLOVER_CONSOLE_URL: 'https://clover.example.org',
          CLOVER_SES_CONFIGURATION_SET: 'clover-mail',
        }),
      },
    });
    assert.equal(
      Annotations.fromStack(custom).findWarning('*', Match.stringLikeRegexp('Alerts are off')).length,
      0,
    );
    const policy = Object.values(
      t.findResources('AWS::IAM::Policy', {
        Properties: { Roles: [custom.resolve(custom.notifier.role.roleName)] },
      }) as Record<string, Resource>,
    )[0]!;
    const ses = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement.find(
      (st) => st.Sid === 'SendAlertMail',
    )!;
    assert.equal(ses.Action, 'ses:SendEmail');
    assert.deepEqual(
      resourcesIn(ses)
        .map((r) =>
          render(custom.resolve(r)).replace(/^arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:/, ''),
        )
        .sort(),
      ['configuration-set/clover-mail', 'identity/clover@ops.example.org', 'identity/ops.example.org'],
    );
    assert.deepEqual(ses.Condition, { StringEquals: { 'ses:FromAddress': 'clover@ops.example.org' } });
  });

  test('GIVEN a sender or console URL that is not one WHEN synthesizing THEN it is refused by value', () => {
    assert.throws(() => synth({ alertFrom: 'ops team' }), /alertFrom "ops team" is not an email address/);
    assert.throws(() => synth({ alertFrom: 'a@b' }), /alertFrom "a@b" is not an email address/);
    assert.throws(
      () => synth({ consoleUrl: 'clover.example.org' }),
      /consoleUrl "clover.example.org" is not an absolute URL/,
    );
  });

  test('GIVEN the notifier role WHEN synthesized THEN it updates alerts, reads contacts and jobs, and sends mail only', () => {
    const { reached, written } = tableAccess(statements);
    assert.deepEqual(reached, ['alerts', 'contacts', 'jobs']);
    assert.deepEqual(written, { alerts: ['dynamodb:UpdateItem'] });
    const services = new Set(statements.flatMap(actionsOf).map((a) => a.split(':')[0]));
    assert.deepEqual([...services].sort(), ['dynamodb', 'logs', 'ses', 'sqs', 'xray']);
    const sqsResources = new Set(
      statements
        .filter((st) => actionsOf(st).some((a) => a.startsWith('sqs:')))
        .flatMap(resourcesIn)
        .map(render),
    );
    assert.deepEqual([...sqsResources], [render(ref(stack.queues.queue('alerts').queueArn))]);
  });
});
