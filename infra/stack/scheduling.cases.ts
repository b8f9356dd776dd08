/**
 * What fires jobs: the schedule group, the scheduler role, the precise-jobs planner's schedule, and the
 * dispatcher with its role.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { IdSchema } from '../../core/model';
import { isPlannerRequest, parsePlannerRequest } from '../../core/planner';
import { PLANNER_SCHEDULE_NAME, physicalName, scheduleGroupName, tables } from '../resources';
import { onlyResource, ref, resourcesOf, roleStatements, stack, template } from './base-stage';
import { full } from './full-stage';
import { PREFIX } from './synth';
import {
  ALL_WRITES,
  actionsOf,
  onlyResourceIn,
  queueNames,
  type Statement,
  tableAccess,
} from './template-reading';
import { throwaway } from './throwaway-stage';

describe('schedule group and scheduler role', () => {
  test('GIVEN the prefix WHEN synthesized THEN the schedule group is named scheduleGroupName(prefix)', () => {
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: scheduleGroupName(PREFIX) });
  });

  test('GIVEN the scheduler role WHEN synthesized THEN only scheduler.amazonaws.com may assume it, for this account and group', () => {
    const role = ref(stack.schedulerRole.role.roleArn) as { 'Fn::GetAtt': [string, string] };
    const trust = (
      resourcesOf('AWS::IAM::Role')[role['Fn::GetAtt'][0]]!.Properties.AssumeRolePolicyDocument as {
        Statement: unknown[];
      }
    ).Statement;
    assert.deepEqual(trust, [
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnEquals: { 'aws:SourceArn': ref(stack.scheduleGroup.scheduleGroupArn) },
        },
      },
    ]);
  });

  test('GIVEN the scheduler role WHEN synthesized THEN it may invoke the dispatcher and dead-letter to fires-dlq, nothing else', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [ref(stack.schedulerRole.role.roleName)],
      PolicyDocument: {
        Statement: [
          {
            Sid: 'InvokeDispatcher',
            Effect: 'Allow',
            Action: 'lambda:InvokeFunction',
            Resource: ref(stack.dispatcher.fn.functionArn),
          },
          {
            Sid: 'DeadLetterFires',
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Resource: ref(stack.queues.queue('fires-dlq').queueArn),
          },
        ],
      },
    });
  });
});

describe('precise-jobs planner schedule', () => {
  test('GIVEN every configuration WHEN synthesized THEN one rate(1 minute) schedule in the stage group, no flexible window, invokes the dispatcher as the scheduler role with the planner input', () => {
    for (const [s, t] of [
      [stack, template],
      [full.stack, full.template],
      [throwaway.stack, throwaway.template],
    ] as const) {
      t.resourceCountIs('AWS::Scheduler::Schedule', 1);
      const { Properties: p } = onlyResourceIn(t, 'AWS::Scheduler::Schedule');
      const target = p.Target as Record<string, unknown>;
      assert.equal(p.Name, PLANNER_SCHEDULE_NAME);
      assert.deepEqual(p.GroupName, s.resolve(s.scheduleGroup.scheduleGroupName));
      assert.equal(p.ScheduleExpression, 'rate(1 minute)');
      assert.deepEqual(p.FlexibleTimeWindow, { Mode: 'OFF' });
      assert.equal(p.State, 'ENABLED');
      assert.deepEqual(target.Arn, s.resolve(s.dispatcher.fn.functionArn));
      assert.deepEqual(target.RoleArn, s.resolve(s.schedulerRole.role.roleArn));
      assert.deepEqual(target.RetryPolicy, { MaximumEventAgeInSeconds: 120, MaximumRetryAttempts: 2 });
      const input = String(target.Input);
      assert.deepEqual(JSON.parse(input), { planner: true, scheduledTime: '<aws.scheduler.scheduled-time>' });
      // As Scheduler delivers it: the context attribute replaced by the invocation's instant.
      const delivered = JSON.parse(input.replace('<aws.scheduler.scheduled-time>', '2026-12-07T14:00:00Z'));
      assert.ok(isPlannerRequest(delivered));
      assert.deepEqual(parsePlannerRequest(delivered), {
        planner: true,
        scheduledTime: '2026-12-07T14:00:00Z',
      });
    }
  });

  test('GIVEN the planner schedule WHEN synthesized THEN its name is one no job schedule can take', () => {
    assert.ok(!IdSchema.safeParse(PLANNER_SCHEDULE_NAME).success, 'not a job id');
    assert.match(PLANNER_SCHEDULE_NAME, /^[0-9a-zA-Z_.-]{1,64}$/, "Scheduler's name pattern");
  });
});

describe('dispatcher', () => {
  const fn = onlyResource('AWS::Lambda::Function', { FunctionName: physicalName(PREFIX, 'dispatcher') });

  test('GIVEN the dispatcher WHEN synthesized THEN it runs on Node.js 22, ARM64', () => {
    assert.equal(fn.Properties.Runtime, 'nodejs22.x');
    assert.deepEqual(fn.Properties.Architectures, ['arm64']);
    assert.equal(fn.Properties.Handler, 'index.handler');
  });

  test('GIVEN the dispatcher WHEN synthesized THEN its environment names the stage, itself, the scheduler role and fires-dlq', () => {
    const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.equal(env.CLOVER_PREFIX, PREFIX);
    assert.deepEqual(env.CLOVER_SCHEDULER_ROLE_ARN, ref(stack.schedulerRole.role.roleArn));
    assert.deepEqual(env.CLOVER_FIRES_DLQ_ARN, ref(stack.queues.queue('fires-dlq').queueArn));
    // Built from the name, not a reference to the function itself (which would be a cycle).
    const own = JSON.stringify(env.CLOVER_DISPATCHER_ARN);
    assert.match(own, new RegExp(`:function:${physicalName(PREFIX, 'dispatcher')}"`));
    const self = stack.getLogicalId(stack.dispatcher.fn.node.defaultChild as CfnFunction);
    assert.ok(!own.includes(self), own);
  });

  test('GIVEN the dispatcher role WHEN synthesized THEN it names tables and indexes one by one and queues by the stage prefix', () => {
    const policy = onlyResource('AWS::IAM::Policy', { Roles: [ref(stack.dispatcher.role.roleName)] });
    // The X-Ray uploads' `*` aside (they have no resource; the 'every function' tests pin that statement).
    const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement.filter(
      (st) => !actionsOf(st).every((action) => action.startsWith('xray:')),
    );
    const resources = statements.flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]));
    const text = JSON.stringify(resources);
    assert.doesNotMatch(text, /index\/\*/);
    assert.ok(!resources.includes('*'));
    for (const index of tables.flatMap((t) =>
      ['runs', 'workers'].includes(t.logicalName) ? t.indexes : [],
    )) {
      assert.match(text, new RegExp(`/index/${index.name}"`));
    }
    assert.deepEqual(resources.flatMap(queueNames).sort(), [`${PREFIX}-dispatch-*`, `${PREFIX}-worker-*`]);
  });

  test('GIVEN the dispatcher role WHEN synthesized THEN it writes runs and locks, only puts alerts, and touches no other table', () => {
    const { reached, written } = tableAccess(roleStatements(stack.dispatcher.role));
    assert.deepEqual(written, { alerts: ['dynamodb:PutItem'], locks: ALL_WRITES, runs: ALL_WRITES });
    assert.deepEqual(reached, ['alerts', 'jobs', 'leases', 'locks', 'runs', 'workers']);
  });

  test('GIVEN the dispatcher role WHEN synthesized THEN it may send no_worker alerts to the alerts queue', () => {
    const statements = roleStatements(stack.dispatcher.role);
    const queueAlerts = statements.find((s) => s.Sid === 'QueueAlerts');
    assert.ok(queueAlerts);
    assert.deepEqual(queueAlerts.Resource, ref(stack.queues.queue('alerts').queueArn));
    assert.deepEqual(actionsOf(queueAlerts).sort(), ['sqs:GetQueueUrl', 'sqs:SendMessage']);
  });

  test('GIVEN the dispatcher WHEN synthesized THEN it writes only to its own log group, not via a managed policy', () => {
    const role = ref(stack.dispatcher.role.roleArn) as { 'Fn::GetAtt': [string, string] };
    assert.equal(
      resourcesOf('AWS::IAM::Role')[role['Fn::GetAtt'][0]]!.Properties.ManagedPolicyArns,
      undefined,
    );
    assert.deepEqual(
      (fn.Properties.LoggingConfig as { LogGroup: unknown }).LogGroup,
      ref(stack.dispatcher.logGroup.logGroupName),
    );
  });
});
