import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { CloverQueues } from './constructs/clover-queues';
import { CloverTables } from './constructs/clover-tables';
import { stagePrefix } from './constructs/stage';
import { physicalName, type QueueDefinition, queues, scheduleGroupName, tables } from './resources';
import { CloverStack, type CloverStackProps, DEFAULT_ALERT_FROM, DEFAULT_CONSOLE_URL } from './stack';

const PREFIX = 'clover-test';

/**
 * A stack as the app builds it, without bundling the dispatcher: bundling installs snappy's
 * linux-arm64 binary from the npm registry, which unit tests must not need. `npx cdk synth`
 * bundles for real.
 */
function synth(props: CloverStackProps = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new CloverStack(app, 'Clover', { prefix: PREFIX, ...props });
  return { stack, template: Template.fromStack(stack) };
}

const { stack, template } = synth();
const ref = (value: string) => stack.resolve(value);

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
const resourcesOf = (type: string) => template.findResources(type) as Record<string, Resource>;
const onlyResource = (type: string, props: Record<string, unknown> = {}): Resource => {
  const found = Object.values(
    template.findResources(type, { Properties: props }) as Record<string, Resource>,
  );
  assert.equal(
    found.length,
    1,
    `expected one ${type} matching ${JSON.stringify(props)}, found ${found.length}`,
  );
  return found[0]!;
};

/** A CloudFormation value as text: `Fn::Join` flattened, `{Ref: X}` as `<X>`, `{Fn::GetAtt: [X, Y]}` as `<X.Y>`. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (Array.isArray(v['Fn::Join'])) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  if (typeof v.Ref === 'string') return `<${v.Ref}>`;
  if (Array.isArray(v['Fn::GetAtt'])) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  return JSON.stringify(value);
}

/** The names of the SQS queues (or name patterns) a policy statement's Resource lists. */
function queueNames(resource: unknown): string[] {
  return (Array.isArray(resource) ? resource : [resource])
    .map(render)
    .filter((arn) => arn.includes(':sqs:'))
    .map((arn) => arn.slice(arn.lastIndexOf(':') + 1));
}

type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
};
const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesIn = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** The statements of the inline policy CDK attaches to `role` (its DefaultPolicy). */
function roleStatements(role: { roleName: string }): Statement[] {
  const policy = onlyResource('AWS::IAM::Policy', { Roles: [ref(role.roleName)] });
  return (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
}

/** The tables (by logical name) the statements reach, and those they may write, with the write actions. */
function tableAccess(statements: readonly Statement[]) {
  const reached = new Set<string>();
  const writes = new Map<string, Set<string>>();
  for (const statement of statements) {
    const tablesIn = new Set(
      resourcesIn(statement)
        .map(render)
        .flatMap((arn) => arn.match(/^<Tables([a-z]+)/)?.[1] ?? []),
    );
    for (const table of tablesIn) {
      reached.add(table);
      for (const action of actionsOf(statement)) {
        if (!/^dynamodb:(Put|Update|Delete|BatchWrite)/.test(action)) continue;
        writes.set(table, (writes.get(table) ?? new Set()).add(action));
      }
    }
  }
  const written = Object.fromEntries(
    [...writes.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([t, a]) => [t, [...a].sort()]),
  );
  return { reached: [...reached].sort(), written };
}

const ALL_WRITES = ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];

describe('tables', () => {
  test('GIVEN the table definitions WHEN synthesized THEN there is exactly one table per definition', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', tables.length);
  });

  for (const definition of tables) {
    test(`GIVEN the ${definition.logicalName} definition WHEN synthesized THEN keys, indexes and TTL match it`, () => {
      const keySchema = (partition: { name: string }, sort?: { name: string }) => [
        { AttributeName: partition.name, KeyType: 'HASH' },
        ...(sort ? [{ AttributeName: sort.name, KeyType: 'RANGE' }] : []),
      ];
      const table = onlyResource('AWS::DynamoDB::Table', {
        TableName: physicalName(PREFIX, definition.logicalName),
      });
      const p = table.Properties;
      assert.deepEqual(p.KeySchema, keySchema(definition.partitionKey, definition.sortKey));
      assert.equal(p.BillingMode, 'PAY_PER_REQUEST');
      assert.deepEqual(p.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
      assert.equal(table.DeletionPolicy, 'Retain');

      const indexes = (p.GlobalSecondaryIndexes ?? []) as Array<Record<string, unknown>>;
      assert.deepEqual(
        indexes.map((i) => ({ name: i.IndexName, keys: i.KeySchema, projection: i.Projection })),
        definition.indexes.map((i) => ({
          name: i.name,
          keys: keySchema(i.partitionKey, i.sortKey),
          projection: { ProjectionType: 'ALL' },
        })),
      );

      const keys = [
        definition.partitionKey,
        definition.sortKey,
        ...definition.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
      ];
      const expectedAttributes = new Map<string, string>();
      for (const key of keys) if (key) expectedAttributes.set(key.name, key.type);
      assert.deepEqual(
        new Map(
          (p.AttributeDefinitions as Array<{ AttributeName: string; AttributeType: string }>).map((a) => [
            a.AttributeName,
            a.AttributeType,
          ]),
        ),
        expectedAttributes,
      );

      assert.deepEqual(
        p.TimeToLiveSpecification,
        definition.ttlAttribute ? { AttributeName: definition.ttlAttribute, Enabled: true } : undefined,
      );
    });
  }

  test('GIVEN dataRemovalPolicy DESTROY WHEN synthesized THEN tables and the log group are deleted with the stack', () => {
    const throwaway = synth({ dataRemovalPolicy: RemovalPolicy.DESTROY }).template;
    for (const table of Object.values(throwaway.findResources('AWS::DynamoDB::Table'))) {
      assert.equal(table.DeletionPolicy, 'Delete');
    }
    for (const group of Object.values(throwaway.findResources('AWS::Logs::LogGroup'))) {
      assert.equal(group.DeletionPolicy, 'Delete');
    }
  });

  test('GIVEN a definition listed twice WHEN building the tables THEN it is refused by name', () => {
    const app = new App();
    const twice = [tables[0]!, tables[0]!];
    assert.throws(
      () => new CloverTables(new Stack(app, 'Twice'), 'T', { prefix: PREFIX, definitions: twice }),
      new RegExp(`table "${tables[0]!.logicalName}" is defined twice`),
    );
  });
});

describe('queues', () => {
  const queueArn = (logicalName: string) => {
    const [id] = Object.entries(resourcesOf('AWS::SQS::Queue')).find(
      ([, q]) => q.Properties.QueueName === physicalName(PREFIX, logicalName),
    ) ?? [undefined];
    assert.ok(id, `no queue ${logicalName}`);
    return { 'Fn::GetAtt': [id, 'Arn'] };
  };

  test('GIVEN the queue definitions WHEN synthesized THEN there is exactly one queue per definition', () => {
    template.resourceCountIs('AWS::SQS::Queue', queues.length);
  });

  for (const definition of queues) {
    test(`GIVEN the ${definition.logicalName} definition WHEN synthesized THEN its attributes and redrive policy match it`, () => {
      const queue = onlyResource('AWS::SQS::Queue', {
        QueueName: physicalName(PREFIX, definition.logicalName),
      });
      const p = queue.Properties;
      assert.equal(p.VisibilityTimeout, definition.visibilityTimeoutSeconds);
      assert.equal(p.MessageRetentionPeriod, definition.retentionSeconds);
      assert.equal(p.ReceiveMessageWaitTimeSeconds, definition.receiveWaitTimeSeconds);
      assert.equal(p.SqsManagedSseEnabled, true);
      assert.deepEqual(
        p.RedrivePolicy,
        definition.deadLetter
          ? {
              deadLetterTargetArn: queueArn(definition.deadLetter.queue),
              maxReceiveCount: definition.deadLetter.maxReceiveCount,
            }
          : undefined,
      );
    });
  }

  test('GIVEN every queue WHEN synthesized THEN its policy denies requests without TLS', () => {
    template.resourceCountIs('AWS::SQS::QueuePolicy', queues.length);
    template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('GIVEN a queue naming a dead-letter queue defined after it WHEN building THEN it is refused by name', () => {
    const app = new App();
    const definitions: QueueDefinition[] = [
      {
        logicalName: 'work',
        visibilityTimeoutSeconds: 30,
        retentionSeconds: 60,
        receiveWaitTimeSeconds: 0,
        deadLetter: { queue: 'work-dlq', maxReceiveCount: 3 },
      },
      {
        logicalName: 'work-dlq',
        visibilityTimeoutSeconds: 30,
        retentionSeconds: 60,
        receiveWaitTimeSeconds: 0,
      },
    ];
    assert.throws(
      () => new CloverQueues(new Stack(app, 'Late'), 'Q', { prefix: PREFIX, definitions }),
      /queue "work" names dead-letter queue "work-dlq", which is not defined before it/,
    );
  });
});

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
    const statements = (policy.Properties.PolicyDocument as { Statement: Array<{ Resource: unknown }> })
      .Statement;
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
    assert.deepEqual(reached, ['alerts', 'jobs', 'locks', 'runs', 'workers']);
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

  test('GIVEN no monitor settings WHEN synthesized THEN it loops every 5 s for 55 s within a 70 s timeout', () => {
    assert.equal(env.CLOVER_MONITOR_LOOP_SECONDS, '5');
    assert.equal(env.CLOVER_MONITOR_RUN_SECONDS, '55');
    assert.equal(fn.Properties.Timeout, 70);
    assert.equal(fn.Properties.Runtime, 'nodejs22.x');
    assert.deepEqual(fn.Properties.Architectures, ['arm64']);
    // The handler stops looping when less than one loop + 5 s remains: 55 + 5 + 5 <= 70.
    assert.ok(Number(env.CLOVER_MONITOR_RUN_SECONDS) + Number(env.CLOVER_MONITOR_LOOP_SECONDS) + 5 <= 70);
  });

  test('GIVEN monitorLoopSeconds 0 WHEN synthesized THEN the monitor sweeps once per invocation', () => {
    const once = synth({ monitorLoopSeconds: 0 }).template;
    once.hasResourceProperties('AWS::Lambda::Function', {
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
    assert.deepEqual(reached, ['alerts', 'jobs', 'locks', 'runs', 'workers']);
    assert.deepEqual(written, {
      alerts: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
      jobs: ['dynamodb:UpdateItem'],
      locks: ALL_WRITES,
      runs: ALL_WRITES,
      workers: ['dynamodb:UpdateItem'],
    });
  });
});

describe('notifier', () => {
  const fn = onlyResource('AWS::Lambda::Function', { FunctionName: physicalName(PREFIX, 'notifier') });
  const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
  const statements = roleStatements(stack.notifier.role);

  test('GIVEN the stack WHEN synthesized THEN the alerts queue drives the notifier with partial batch responses', () => {
    const mapping = onlyResource('AWS::Lambda::EventSourceMapping');
    assert.deepEqual(mapping.Properties.EventSourceArn, ref(stack.queues.queue('alerts').queueArn));
    assert.deepEqual(mapping.Properties.FunctionName, ref(stack.notifier.fn.functionName));
    assert.deepEqual(mapping.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
    assert.equal(mapping.Properties.BatchSize, 10);
    assert.deepEqual(mapping.Properties.ScalingConfig, { MaximumConcurrency: 2 });
    const alerts = queues.find((q) => q.logicalName === 'alerts')!;
    assert.ok((fn.Properties.Timeout as number) <= alerts.visibilityTimeoutSeconds);
  });

  test('GIVEN no sender or console URL WHEN synthesized THEN the documented defaults are used and synth warns about the sender', () => {
    assert.equal(env.CLOVER_ALERT_FROM, DEFAULT_ALERT_FROM);
    assert.equal(env.CLOVER_CONSOLE_URL, DEFAULT_CONSOLE_URL);
    Annotations.fromStack(stack).hasWarning('/Clover', Match.stringLikeRegexp('No alertFrom given'));
  });

  test('GIVEN a sender and console URL WHEN synthesized THEN they reach the environment and SendEmail is scoped to that sender', () => {
    const { stack: custom, template: t } = synth({
      alertFrom: 'Clover <clover@ops.example.org>',
      consoleUrl: 'https://clover.example.org',
      sesConfigurationSet: 'clover-mail',
    });
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
      Annotations.fromStack(custom).findWarning('*', Match.stringLikeRegexp('alertFrom')).length,
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
      resourcesIn(ses).map((r) =>
        render(custom.resolve(r)).replace(/^arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:/, ''),
      ),
      ['identity/clover@ops.example.org', 'identity/ops.example.org', 'configuration-set/clover-mail'],
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
    assert.deepEqual([...services].sort(), ['dynamodb', 'logs', 'ses', 'sqs']);
    const sqsResources = new Set(
      statements
        .filter((st) => actionsOf(st).some((a) => a.startsWith('sqs:')))
        .flatMap(resourcesIn)
        .map(render),
    );
    assert.deepEqual([...sqsResources], [render(ref(stack.queues.queue('alerts').queueArn))]);
  });
});

describe('every function', () => {
  const functions = () => [stack.dispatcher, stack.monitor, stack.notifier];

  test('GIVEN the stack WHEN synthesized THEN there are the dispatcher, monitor and notifier, each with its own role and log group', () => {
    template.resourceCountIs('AWS::Lambda::Function', 3);
    const roles = new Set(functions().map((f) => JSON.stringify(ref(f.role.roleArn))));
    assert.equal(roles.size, 3);
    for (const f of functions()) {
      const resource = onlyResource('AWS::Lambda::Function', { FunctionName: f.functionName });
      assert.deepEqual(
        (resource.Properties.LoggingConfig as { LogGroup: unknown }).LogGroup,
        ref(f.logGroup.logGroupName),
      );
      assert.equal((resource.Properties.LoggingConfig as { LogFormat: string }).LogFormat, 'JSON');
      const role = ref(f.role.roleArn) as { 'Fn::GetAtt': [string, string] };
      assert.equal(
        resourcesOf('AWS::IAM::Role')[role['Fn::GetAtt'][0]]!.Properties.ManagedPolicyArns,
        undefined,
      );
    }
  });

  test('GIVEN every function role WHEN synthesized THEN no statement names every resource', () => {
    for (const f of functions()) {
      for (const statement of roleStatements(f.role)) {
        assert.ok(!resourcesIn(statement).includes('*'), `${f.functionName} ${statement.Sid}`);
        assert.ok(
          !resourcesIn(statement)
            .map(render)
            .some((r) => /index\/\*/.test(r)),
          `${f.functionName} ${statement.Sid}`,
        );
      }
    }
  });
});

describe('worker agent policy', () => {
  const policy = onlyResource('AWS::IAM::ManagedPolicy', {
    ManagedPolicyName: physicalName(PREFIX, 'worker-agent'),
  });
  const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
  const sqsArns = (s: Statement) => queueNames(s.Resource);
  const actions = actionsOf;

  test('GIVEN the agent policy WHEN synthesized THEN every queue it names is scoped to the stage prefix', () => {
    const sqsStatements = statements.filter(
      (s) => actions(s).some((a) => a.startsWith('sqs:')) && s.Sid !== 'QueueAlerts',
    );
    assert.ok(sqsStatements.length >= 2);
    // The alerts queue is the stack's own, named by reference.
    const queueAlerts = statements.find((s) => s.Sid === 'QueueAlerts');
    assert.deepEqual(queueAlerts?.Resource, ref(stack.queues.queue('alerts').queueArn));
    for (const statement of sqsStatements) {
      const names = sqsArns(statement);
      assert.ok(names.length > 0, statement.Sid);
      for (const name of names) assert.ok(name.startsWith(`${PREFIX}-`), `${statement.Sid}: ${name}`);
    }
  });

  test('GIVEN the agent policy WHEN synthesized THEN it consumes dispatch and worker queues, creates and deletes only worker queues', () => {
    const allowing = (action: string) =>
      statements
        .filter((s) => s.Effect === 'Allow' && actions(s).includes(action))
        .flatMap(sqsArns)
        .sort();
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']) {
      assert.deepEqual(allowing(action), [`${PREFIX}-dispatch-*`, `${PREFIX}-worker-*`], action);
    }
    for (const action of ['sqs:CreateQueue', 'sqs:DeleteQueue']) {
      assert.deepEqual(allowing(action), [`${PREFIX}-worker-*`], action);
    }
    const deny = statements.find((s) => s.Effect === 'Deny');
    assert.ok(deny);
    assert.deepEqual(sqsArns(deny), [physicalName(PREFIX, 'dispatch-default-dlq')]);
    assert.ok(actions(deny).includes('sqs:ReceiveMessage'));
  });

  test('GIVEN the agent policy WHEN synthesized THEN it reaches jobs read-only, runs, locks, workers read-write, only puts alerts, and no other table', () => {
    const readJobs = statements.find((s) => s.Sid === 'ReadJobs')!;
    assert.ok(!actions(readJobs).some((a) => /Put|Update|Delete/.test(a)));
    const { reached, written } = tableAccess(statements);
    assert.deepEqual(reached, ['alerts', 'jobs', 'locks', 'runs', 'workers']);
    assert.deepEqual(written, {
      alerts: ['dynamodb:PutItem'],
      locks: ALL_WRITES,
      runs: ALL_WRITES,
      workers: ALL_WRITES,
    });
  });

  test('GIVEN the stack WHEN synthesized THEN the agent policy ARN is an exported output', () => {
    template.hasOutput('WorkerAgentPolicyArn', {
      Value: ref(stack.workerAgentPolicy.policy.managedPolicyArn),
      Export: { Name: `${PREFIX}-worker-agent-policy-arn` },
    });
  });
});

describe('cdk-nag', () => {
  test('GIVEN the stack WHEN the AWS Solutions checks run THEN nothing is reported', () => {
    const report = new AwsSolutionsChecks(stack).validateScope(stack);
    assert.deepEqual(
      report.violations.map(
        (v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      ),
      [],
    );
  });

  test('GIVEN every acknowledged finding WHEN read back THEN it carries a written reason', () => {
    const acknowledged: Array<[string, string]> = [];
    const walk = (node: IConstruct) => {
      for (const entry of node.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, value] of Object.entries(entry.data as Record<string, unknown>)) {
          const reason = typeof value === 'string' ? value : (value as { reason?: string }).reason;
          acknowledged.push([id, reason ?? '']);
        }
      }
      for (const child of node.node.children) walk(child);
    };
    walk(stack);
    assert.ok(acknowledged.length > 0);
    for (const [id, reason] of acknowledged)
      assert.ok(reason.length >= 40, `${id}: ${JSON.stringify(reason)}`);
  });
});

describe('stage', () => {
  test('GIVEN no stage WHEN naming THEN the prefix is clover-dev', () => {
    assert.equal(stagePrefix(undefined), 'clover-dev');
    assert.equal(stagePrefix('prod'), 'clover-prod');
  });

  test('GIVEN a stage SQS would refuse WHEN naming THEN it is refused with the value', () => {
    assert.throws(() => stagePrefix('a.b'), /"clover-a\.b"/);
    assert.throws(() => stagePrefix(''), /got ""/);
    assert.throws(() => stagePrefix(3), /got 3/);
  });
});
