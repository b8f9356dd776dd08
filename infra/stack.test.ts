import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { App, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { silentLogger } from '../core/log';
import { IdSchema } from '../core/model';
import type { SweepReport } from '../core/monitor';
import { isPlannerRequest, parsePlannerRequest } from '../core/planner';
import { emfMetrics, METRIC_NAMESPACE, METRICS } from '../functions/metrics';
import { MonitorStepsFailedError, makeMonitorHandler } from '../functions/monitor/handler';
import { makeNotifierHandler } from '../functions/notifier/handler';
import { CloverQueues } from './constructs/clover-queues';
import { CloverTables } from './constructs/clover-tables';
import { VPC_ACCESS_POLICY } from './constructs/node-function';
import { NotifierFunction } from './constructs/notifier-function';
import { PLAN_OUTCOMES } from './constructs/observability';
import { stagePrefix } from './constructs/stage';
import { AGENT_TAGS, QUEUE_ADMIN_ACTIONS } from './constructs/worker-agent-policy';
import {
  AGENT_METRICS,
  PLANNER_SCHEDULE_NAME,
  physicalName,
  projectionOf,
  type QueueDefinition,
  queues,
  scheduleGroupName,
  tables,
} from './resources';
import {
  API_ENTRY,
  CloverStack,
  type CloverStackProps,
  DEFAULT_ALERT_FROM,
  DEFAULT_CONSOLE_URL,
} from './stack';

const PREFIX = 'clover-test';
const SENDER = 'Clover <clover@ops.example.org>';
/** The API handler when #12 has landed it; until then any handler module stands in (bundling is skipped). */
const API_ENTRY_FOR_TESTS = existsSync(new URL(`../${API_ENTRY}`, import.meta.url))
  ? API_ENTRY
  : 'functions/dispatcher/handler.ts';

/**
 * A stack as the app builds it, without bundling the Lambdas: bundling installs snappy's
 * linux-arm64 binary from the npm registry, which unit tests must not need (`infra/synth.test.ts`
 * runs the real `cdk synth`, offline, the same way). Each configuration is synthesized once per file
 * and shared by every assertion about it.
 */
/** The feature flags `npx cdk` applies from cdk.json, so these templates are the ones the CLI makes. */
const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

function synth(props: CloverStackProps = {}) {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  const stack = new CloverStack(app, 'Clover', {
    prefix: PREFIX,
    alertFrom: SENDER,
    alarmEmail: 'oncall@example.org',
    apiEntry: null,
    ...props,
  });
  return { stack, template: Template.fromStack(stack) };
}

/** The smallest stage: no API, no VPC. */
const { stack, template } = synth({
  consoleUrl: 'https://clover.example.org',
  sesConfigurationSet: 'clover-mail',
});
/** Everything on: a new VPC (ZeroMQ), the API and console, declared agents, a custom domain, deletion protection. */
const full = synth({
  vpc: { kind: 'new' },
  apiEntry: API_ENTRY_FOR_TESTS,
  consoleAssets: null,
  agents: [
    { workerId: 'host-1', pool: 'default' },
    { workerId: 'gpu-1', pool: 'gpu' },
  ],
  deletionProtection: true,
  sesIdentity: 'import',
  domain: {
    name: 'clover.example.org',
    certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012',
  },
});
/** A throwaway stage: alerts off, data deleted with the stack, an imported VPC, one sweep a minute. */
const throwaway = synth({
  alerts: false,
  alertFrom: undefined,
  alarmEmail: undefined,
  dataRemovalPolicy: RemovalPolicy.DESTROY,
  monitorLoopSeconds: 0,
  vpc: { kind: 'import', vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'] },
  agentCidr: '10.20.0.0/16',
});
const ref = (value: string) => stack.resolve(value);

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
const resourcesOf = (type: string) => template.findResources(type) as Record<string, Resource>;
const onlyResource = (type: string, props: Record<string, unknown> = {}): Resource =>
  onlyResourceIn(template, type, props);
/** The dashboard's widgets, with the body's tokens (function names, the region) rendered as `<token>`. */
function dashboardWidgets(): Array<{ properties: { title: string; metrics: unknown[][] } }> {
  const body = onlyResource('AWS::CloudWatch::Dashboard').Properties.DashboardBody as {
    'Fn::Join': [string, unknown[]];
  };
  const text = body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : '<token>')).join('');
  return (JSON.parse(text) as { widgets: ReturnType<typeof dashboardWidgets> }).widgets;
}
function onlyResourceIn(t: Template, type: string, props: Record<string, unknown> = {}): Resource {
  const found = Object.values(t.findResources(type, { Properties: props }) as Record<string, Resource>);
  assert.equal(
    found.length,
    1,
    `expected one ${type} matching ${JSON.stringify(props)}, found ${found.length}`,
  );
  return found[0]!;
}

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
  return (
    (Array.isArray(resource) ? resource : [resource])
      .map(render)
      .filter((arn) => arn.includes(':sqs:'))
      // arn:partition:sqs:region:account:name — the name may hold a policy variable such as ${aws:PrincipalTag/x}.
      .map((arn) => arn.replace(/^.*?:sqs:(?:<AWS::Region>|[^:]*):(?:<AWS::AccountId>|[^:]*):/, ''))
  );
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

/** The statements of the inline policy CDK attaches to `role` (its DefaultPolicy), in `config`. */
function roleStatements(
  role: { roleName: string },
  config: { stack: Stack; template: Template } = { stack, template },
): Statement[] {
  const found = Object.values(
    config.template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [config.stack.resolve(role.roleName)] },
    }) as Record<string, Resource>,
  );
  assert.equal(
    found.length,
    1,
    `one inline policy for ${JSON.stringify(config.stack.resolve(role.roleName))}`,
  );
  return (found[0]!.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
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
          projection: projectionOf(i).attributes
            ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...(projectionOf(i).attributes ?? [])] }
            : { ProjectionType: projectionOf(i).type },
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
    for (const table of Object.values(throwaway.template.findResources('AWS::DynamoDB::Table'))) {
      assert.equal(table.DeletionPolicy, 'Delete');
    }
    for (const group of Object.values(throwaway.template.findResources('AWS::Logs::LogGroup'))) {
      assert.equal(group.DeletionPolicy, 'Delete');
    }
  });

  test('GIVEN deletionProtection WHEN synthesized THEN every table refuses DeleteTable; without it none does', () => {
    const protectedTables = Object.values(full.template.findResources('AWS::DynamoDB::Table'));
    assert.equal(protectedTables.length, tables.length);
    for (const table of protectedTables) assert.equal(table.Properties.DeletionProtectionEnabled, true);
    const unprotected = Object.values(template.findResources('AWS::DynamoDB::Table'));
    assert.equal(unprotected.length, tables.length, 'every table checked, not none');
    for (const table of unprotected) assert.equal(table.Properties.DeletionProtectionEnabled, false);
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

type AlarmMetric = {
  Namespace: string;
  MetricName: string;
  Dimensions: Array<{ Name: string; Value: unknown }>;
};
/** The metrics an alarm watches: its own, or each of its math expression's (sorted dimensions). */
function alarmMetrics(alarm: Record<string, unknown>): AlarmMetric[] {
  const p = alarm.Properties as Partial<AlarmMetric> & {
    Metrics?: Array<{ MetricStat?: { Metric: AlarmMetric } }>;
  };
  const all = p.Metrics
    ? p.Metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric] : []))
    : [{ Namespace: p.Namespace!, MetricName: p.MetricName!, Dimensions: p.Dimensions ?? [] }];
  return all.map((m) => ({
    Namespace: m.Namespace,
    MetricName: m.MetricName,
    Dimensions: [...(m.Dimensions ?? [])].sort((a, b) => a.Name.localeCompare(b.Name)),
  }));
}

const CONFIGS = { base: { stack, template }, full, throwaway } as const;
type Config = (typeof CONFIGS)[keyof typeof CONFIGS];
const cloverFunctions = (c: Config) => [
  c.stack.dispatcher,
  c.stack.monitor,
  c.stack.notifier,
  c.stack.curveKeys.generator,
  ...(c.stack.api ? [c.stack.api.fn] : []),
];

describe('every function', () => {
  test('GIVEN the stack WHEN synthesized THEN there are the dispatcher, monitor, notifier and key generator, each with its own role and log group', () => {
    // The base stage has no API or console, so no CDK helper Lambda either.
    template.resourceCountIs('AWS::Lambda::Function', 4);
    const functions = cloverFunctions(CONFIGS.base);
    const roles = new Set(functions.map((f) => JSON.stringify(ref(f.role.roleArn))));
    assert.equal(roles.size, 4);
    for (const f of functions) {
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

  test('GIVEN every function in every configuration WHEN synthesized THEN X-Ray active tracing is on and Powertools samples debug logs', () => {
    for (const c of Object.values(CONFIGS)) {
      for (const f of cloverFunctions(c)) {
        const resource = c.template.findResources('AWS::Lambda::Function', {
          Properties: { FunctionName: f.functionName },
        }) as Record<string, Resource>;
        const [props] = Object.values(resource).map((r) => r.Properties);
        assert.ok(props, f.functionName);
        assert.deepEqual(props.TracingConfig, { Mode: 'Active' }, f.functionName);
        const env = (props.Environment as { Variables: Record<string, string> }).Variables;
        assert.equal(env.POWERTOOLS_LOGGER_SAMPLE_RATE, '0.01', f.functionName);
        const xray = roleStatements(f.role, c).filter((st) =>
          actionsOf(st).some((a) => a.startsWith('xray:')),
        );
        assert.deepEqual(
          xray.map((st) => actionsOf(st).sort()),
          [['xray:PutTelemetryRecords', 'xray:PutTraceSegments']],
          `${f.functionName}: uploads its trace segments, nothing else of X-Ray`,
        );
      }
    }
  });

  test('GIVEN every function role in every configuration WHEN synthesized THEN no statement names every resource, except the X-Ray uploads that have no resource', () => {
    const xrayUploads = new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
    for (const c of Object.values(CONFIGS)) {
      for (const f of cloverFunctions(c)) {
        for (const statement of roleStatements(f.role, c)) {
          if (actionsOf(statement).every((action) => xrayUploads.has(action))) continue;
          assert.ok(!resourcesIn(statement).includes('*'), `${f.functionName} ${statement.Sid}`);
          assert.ok(
            !resourcesIn(statement)
              .map(render)
              .some((r) => /index\/\*/.test(r)),
            `${f.functionName} ${statement.Sid}`,
          );
        }
      }
    }
  });

  test("GIVEN every IAM statement of every configuration WHEN synthesized THEN no action is a wildcard, except in CDK's console deployment helper", () => {
    const offenders: string[] = [];
    for (const [name, c] of Object.entries(CONFIGS)) {
      const policies = {
        ...c.template.findResources('AWS::IAM::Policy'),
        ...c.template.findResources('AWS::IAM::ManagedPolicy'),
      } as Record<string, Resource>;
      let statements = 0;
      for (const [id, policy] of Object.entries(policies)) {
        for (const statement of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
          statements += 1;
          for (const action of actionsOf(statement)) {
            if (action.includes('*') && !id.startsWith('CustomCDKBucketDeployment')) {
              offenders.push(`${name} ${id} ${statement.Sid ?? ''}: ${action}`);
            }
          }
        }
      }
      assert.ok(statements > 20, `${name}: ${statements} statements`);
    }
    assert.deepEqual(offenders, []);
  });

  test('GIVEN the dispatcher and monitor WHEN synthesized THEN each has an on-failure destination queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(stack.dispatcher.fn.functionName),
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 600,
      DestinationConfig: { OnFailure: { Destination: ref(stack.queues.queue('fires-dlq').queueArn) } },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(stack.monitor.fn.functionName),
      MaximumRetryAttempts: 0,
      DestinationConfig: { OnFailure: { Destination: ref(stack.queues.queue('monitor-failures').queueArn) } },
    });
  });
});

describe('CURVE keys and the VPC', () => {
  test('GIVEN the stack WHEN synthesized THEN the key pair is a secret filled by a custom resource, and only the public key is a parameter', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: `${PREFIX}/dispatcher-curve-keys`,
    });
    const keys = onlyResource('Custom::CloverCurveKeys');
    assert.deepEqual(keys.Properties.ServiceToken, ref(stack.curveKeys.generator.fn.functionArn));
    assert.deepEqual(keys.Properties.SecretArn, ref(stack.curveKeys.secret.secretArn));
    assert.equal(keys.Properties.Version, '1');
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: `/${PREFIX}/dispatcher-curve-public-key`,
      Value: { 'Fn::GetAtt': [Match.anyValue(), 'PublicKey'] },
    });
    const generator = roleStatements(stack.curveKeys.generator.role).filter(
      (st) => st.Sid !== undefined && !st.Sid.startsWith('Logs'),
    );
    const secrets = generator.filter((st) => actionsOf(st).some((a) => a.startsWith('secretsmanager:')));
    assert.deepEqual(secrets.flatMap(actionsOf).sort(), [
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
    ]);
    assert.deepEqual(secrets.flatMap(resourcesIn), [ref(stack.curveKeys.secret.secretArn)]);
  });

  test('GIVEN any configuration WHEN synthesized THEN no Lambda environment holds a CURVE key, only the secret ARN with a VPC', () => {
    for (const c of Object.values(CONFIGS)) {
      for (const fn of Object.values(c.template.findResources('AWS::Lambda::Function'))) {
        const vars = Object.keys(
          ((fn.Properties.Environment ?? {}) as { Variables?: object }).Variables ?? {},
        );
        assert.ok(!vars.includes('CLOVER_DISPATCHER_ZMQ_SECRET_KEY'), JSON.stringify(vars));
        assert.ok(!vars.includes('CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY'), JSON.stringify(vars));
      }
    }
    const env = (c: Config) =>
      (
        Object.values(
          c.template.findResources('AWS::Lambda::Function', {
            Properties: { FunctionName: physicalName(PREFIX, 'dispatcher') },
          }),
        )[0]!.Properties.Environment as { Variables: Record<string, unknown> }
      ).Variables;
    assert.equal(env(CONFIGS.base).CLOVER_DISPATCHER_ZMQ_SECRET_ARN, undefined);
    assert.deepEqual(
      env(full).CLOVER_DISPATCHER_ZMQ_SECRET_ARN,
      full.stack.resolve(full.stack.curveKeys.secret.secretArn),
    );
    const read = roleStatements(full.stack.dispatcher.role, full).find((st) => st.Sid === 'ReadCurveKeys');
    assert.deepEqual(read?.Action, 'secretsmanager:GetSecretValue');
    assert.ok(!roleStatements(stack.dispatcher.role).some((st) => st.Sid === 'ReadCurveKeys'));
  });

  test('GIVEN no VPC WHEN synthesized THEN the dispatcher runs outside any VPC and synth says ZeroMQ jobs go over SQS', () => {
    const fn = onlyResource('AWS::Lambda::Function', { FunctionName: physicalName(PREFIX, 'dispatcher') });
    assert.equal(fn.Properties.VpcConfig, undefined);
    Annotations.fromStack(stack).hasWarning(
      '/Clover',
      Match.stringLikeRegexp('delivers delivery: ZMQ jobs over SQS'),
    );
    assert.equal(
      Annotations.fromStack(full.stack).findWarning('*', Match.stringLikeRegexp('ZMQ jobs over SQS')).length,
      0,
    );
  });

  test("GIVEN vpc new WHEN synthesized THEN the dispatcher sits in its private subnets with a group that only reaches HTTPS and the agents' ZeroMQ port", () => {
    full.template.resourceCountIs('AWS::EC2::VPC', 1);
    full.template.resourceCountIs('AWS::EC2::FlowLog', 1);
    full.template.resourceCountIs('AWS::EC2::NatGateway', 1);
    const group = Object.values(
      full.template.findResources('AWS::EC2::SecurityGroup', {
        Properties: { GroupDescription: Match.stringLikeRegexp('Clover dispatcher') },
      }),
    )[0]!;
    assert.equal(group.Properties.SecurityGroupIngress, undefined);
    const egress = group.Properties.SecurityGroupEgress as Array<Record<string, unknown>>;
    assert.deepEqual(
      egress.map((e) => [e.FromPort, e.ToPort, typeof e.CidrIp === 'string' ? e.CidrIp : 'vpc']).sort(),
      [
        [443, 443, '0.0.0.0/0'],
        [5555, 5555, 'vpc'],
      ],
    );
    const fn = Object.values(
      full.template.findResources('AWS::Lambda::Function', {
        Properties: { FunctionName: physicalName(PREFIX, 'dispatcher') },
      }),
    )[0]!;
    const vpcConfig = fn.Properties.VpcConfig as { SubnetIds: unknown[]; SecurityGroupIds: unknown[] };
    assert.equal(vpcConfig.SubnetIds.length, 2);
    assert.equal(vpcConfig.SecurityGroupIds.length, 1);
  });

  test('GIVEN vpc new or an imported VPC WHEN synthesized THEN every function with a VpcConfig has the VPC access policy on its role, and no other does', () => {
    const policy = `arn:<AWS::Partition>:iam::aws:policy/${VPC_ACCESS_POLICY}`;
    for (const [name, c] of [
      ['vpc new', full],
      ['imported VPC', throwaway],
      ['no VPC', { stack, template }],
    ] as const) {
      const roles = c.template.findResources('AWS::IAM::Role') as Record<string, Resource>;
      const functions = Object.entries(
        c.template.findResources('AWS::Lambda::Function') as Record<string, Resource>,
      );
      const inVpc = functions.filter(([, fn]) => fn.Properties.VpcConfig !== undefined);
      assert.equal(inVpc.length, name === 'no VPC' ? 0 : 1, `${name}: functions in the VPC`);
      for (const [id, fn] of functions) {
        const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
        const attached = ((roles[roleId]?.Properties.ManagedPolicyArns ?? []) as unknown[]).map(render);
        assert.equal(
          attached.includes(policy),
          fn.Properties.VpcConfig !== undefined,
          `${name}: ${String(fn.Properties.FunctionName ?? id)} has VpcConfig ${fn.Properties.VpcConfig !== undefined} but its role's managed policies are ${JSON.stringify(attached)}`,
        );
      }
    }
  });

  test('GIVEN an imported VPC WHEN synthesized THEN the dispatcher uses its subnets and reaches the agentCidr', () => {
    const fn = Object.values(
      throwaway.template.findResources('AWS::Lambda::Function', {
        Properties: { FunctionName: physicalName(PREFIX, 'dispatcher') },
      }),
    )[0]!;
    assert.deepEqual((fn.Properties.VpcConfig as { SubnetIds: unknown[] }).SubnetIds, [
      'subnet-0123456789abcdef0',
    ]);
    throwaway.template.resourceCountIs('AWS::EC2::VPC', 0);
    throwaway.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      VpcId: 'vpc-0123456789abcdef0',
      SecurityGroupEgress: Match.arrayWith([Match.objectLike({ CidrIp: '10.20.0.0/16', FromPort: 5555 })]),
    });
  });
});

describe('worker agent policy', () => {
  const policyOf = (c: Config) =>
    Object.values(
      c.template.findResources('AWS::IAM::ManagedPolicy', {
        Properties: { ManagedPolicyName: physicalName(PREFIX, 'worker-agent') },
      }) as Record<string, Resource>,
    )[0]!;
  const statementsOf = (c: Config) =>
    (policyOf(c).Properties.PolicyDocument as { Statement: Statement[] }).Statement;
  const statements = statementsOf(CONFIGS.base);
  const allowing = (action: string) =>
    statements
      .filter((s) => s.Effect === 'Allow' && actionsOf(s).includes(action))
      .flatMap((s) => queueNames(s.Resource))
      .sort();

  test('GIVEN the agent policy WHEN synthesized THEN an agent consumes only the queues its principal tags name', () => {
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']) {
      assert.deepEqual(
        allowing(action),
        [
          `${PREFIX}-dispatch-\${aws:PrincipalTag/${AGENT_TAGS.pool}}`,
          `${PREFIX}-worker-\${aws:PrincipalTag/${AGENT_TAGS.workerId}}`,
        ],
        action,
      );
    }
  });

  test('GIVEN the agent policy WHEN synthesized THEN it allows no queue administration and denies it on every queue of the stage', () => {
    for (const action of QUEUE_ADMIN_ACTIONS) assert.deepEqual(allowing(action), [], action);
    const deny = statements.find((s) => s.Sid === 'NeverAdministerQueues');
    assert.equal(deny?.Effect, 'Deny');
    assert.deepEqual(actionsOf(deny!).sort(), [...QUEUE_ADMIN_ACTIONS].sort());
    assert.deepEqual(queueNames(deny!.Resource), [`${PREFIX}-*`]);
    assert.ok(actionsOf(deny!).includes('sqs:SetQueueAttributes'));
    const dlq = statements.find((s) => s.Sid === 'NeverTouchDeadLetters');
    assert.equal(dlq?.Effect, 'Deny');
    assert.deepEqual(dlq!.Resource, ref(stack.queues.queue('dispatch-default-dlq').queueArn));
    assert.deepEqual(
      actionsOf(dlq!).sort(),
      ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage'],
      'agents never read or remove dead letters',
    );
    const poison = statements.find((s) => s.Sid === 'PoisonToDeadLetterQueue');
    assert.equal(poison?.Effect, 'Allow');
    assert.deepEqual(poison!.Resource, ref(stack.queues.queue('dispatch-default-dlq').queueArn));
    assert.ok(actionsOf(poison!).includes('sqs:SendMessage'), 'poison is moved there on first receipt');
  });

  test('GIVEN the agent policy WHEN synthesized THEN it writes only the profile and lease items keyed by its own worker id', () => {
    const writers = statements.filter(
      (s) =>
        s.Effect === 'Allow' && actionsOf(s).some((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a)),
    );
    for (const name of ['workers', 'leases'] as const) {
      const arn = render(ref(stack.tables.table(name).tableArn));
      const onTable = writers.filter((s) =>
        resourcesIn(s)
          .map(render)
          .some((r) => r.startsWith(arn)),
      );
      assert.equal(onTable.length, 1, name);
      assert.deepEqual(onTable[0]!.Condition, {
        'ForAllValues:StringEquals': {
          'dynamodb:LeadingKeys': [`\${aws:PrincipalTag/${AGENT_TAGS.workerId}}`],
        },
      });
    }
    const { reached, written } = tableAccess(statements);
    assert.deepEqual(reached, ['alerts', 'jobs', 'leases', 'locks', 'runs', 'workers']);
    assert.deepEqual(written, {
      alerts: ['dynamodb:PutItem'],
      leases: ALL_WRITES,
      locks: ALL_WRITES,
      runs: ALL_WRITES,
      workers: ALL_WRITES,
    });
  });

  test("GIVEN the agent policy WHEN synthesized THEN it may send (only send) to dispatch and worker queues, and every queue is the stage's", () => {
    assert.deepEqual(allowing('sqs:SendMessage'), [`${PREFIX}-dispatch-*`, `${PREFIX}-worker-*`]);
    for (const statement of statements) {
      for (const name of queueNames(statement.Resource))
        assert.ok(name.startsWith(`${PREFIX}-`), `${statement.Sid}: ${name}`);
    }
    assert.deepEqual(
      statements.find((s) => s.Sid === 'QueueAlerts')?.Resource,
      ref(stack.queues.queue('alerts').queueArn),
    );
  });

  test("GIVEN the agent policy WHEN synthesized THEN agents may put metrics only in Clover's namespace", () => {
    const metrics = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('cloudwatch:')));
    assert.equal(metrics.length, 1);
    assert.equal(metrics[0]!.Effect, 'Allow');
    assert.deepEqual(actionsOf(metrics[0]!), ['cloudwatch:PutMetricData']);
    assert.deepEqual(metrics[0]!.Condition, { StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE } });
  });

  test('GIVEN the API WHEN synthesized THEN agents may sync declared jobs only under their own owner tag, by SigV4', () => {
    const sync = statementsOf(full).find((s) => s.Sid === 'SyncOwnDeclaredJobs');
    assert.equal(sync?.Action, 'execute-api:Invoke');
    assert.match(
      render(sync!.Resource),
      new RegExp(
        `/\\$default/PUT/api/agents/\\$\\{aws:PrincipalTag/${AGENT_TAGS.jobsOwner}\\}/declared-jobs$`,
      ),
    );
    assert.ok(!statements.some((s) => s.Sid === 'SyncOwnDeclaredJobs'));
    full.template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'PUT /api/agents/{owner}/declared-jobs',
      AuthorizationType: 'AWS_IAM',
    });
  });

  test("GIVEN declared agents WHEN synthesized THEN the stack makes their queues and their pools', encrypted and TLS-only, deleted with the stack", () => {
    const names = ['worker-host-1', 'worker-gpu-1', 'dispatch-gpu'];
    for (const name of names) {
      const queue = Object.values(
        full.template.findResources('AWS::SQS::Queue', {
          Properties: { QueueName: physicalName(PREFIX, name) },
        }),
      )[0];
      assert.ok(queue, name);
      assert.equal(queue.Properties.SqsManagedSseEnabled, true);
      assert.equal(queue.DeletionPolicy, 'Delete');
      assert.ok(queue.Properties.RedrivePolicy, name);
    }
    full.template.resourceCountIs('AWS::SQS::Queue', queues.length + names.length);
    full.template.resourceCountIs('AWS::SQS::QueuePolicy', queues.length + names.length);
  });

  test('GIVEN the stack WHEN synthesized THEN the agent policy ARN is an exported output', () => {
    template.hasOutput('WorkerAgentPolicyArn', {
      Value: ref(stack.workerAgentPolicy.policy.managedPolicyArn),
      Export: { Name: `${PREFIX}-worker-agent-policy-arn` },
    });
  });
});

describe('API and console', () => {
  const api = full.stack.api!;
  const fref = (v: string) => full.stack.resolve(v);

  test('GIVEN the API handler WHEN synthesized THEN an HTTP API throttles and routes to the API Lambda with JWT, IAM and open routes', () => {
    full.template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    full.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
    const routes = Object.values(full.template.findResources('AWS::ApiGatewayV2::Route')).map((r) => [
      r.Properties.RouteKey,
      r.Properties.AuthorizationType,
    ]);
    assert.deepEqual(routes.sort(), [
      ['ANY /api/{proxy+}', 'JWT'],
      ['GET /api/health', 'NONE'],
      ['GET /api/openapi.json', 'NONE'],
      ['PUT /api/agents/{owner}/declared-jobs', 'AWS_IAM'],
    ]);
    full.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Audience: [fref(api.client.userPoolClientId)], Issuer: Match.anyValue() },
    });
  });

  test('GIVEN the API WHEN synthesized THEN Cognito has the admin, operator and viewer groups, MFA, no self sign-up, and a hosted UI domain', () => {
    const groups = Object.values(full.template.findResources('AWS::Cognito::UserPoolGroup')).map(
      (g) => g.Properties.GroupName,
    );
    assert.deepEqual(groups.sort(), ['admin', 'operator', 'viewer']);
    full.template.hasResourceProperties('AWS::Cognito::UserPool', {
      MfaConfiguration: 'ON',
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
    });
    full.template.resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
    full.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: physicalName(PREFIX, 'api'),
      Environment: {
        Variables: Match.objectLike({
          COGNITO_USER_POOL_ID: fref(api.userPool.userPoolId),
          COGNITO_CLIENT_ID: fref(api.client.userPoolClientId),
        }),
      },
    });
    full.template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      CallbackURLs: ['https://clover.example.org/auth/callback'],
    });
  });

  test('GIVEN the API role WHEN synthesized THEN it cannot send mail, and writes schedules only in the stage group', () => {
    const statements = roleStatements(api.fn.role, full);
    assert.ok(!statements.some((st) => actionsOf(st).some((a) => a.startsWith('ses:'))));
    const schedules = statements.find((st) => st.Sid === 'ManageSchedules')!;
    assert.deepEqual(resourcesIn(schedules).map(render), [
      `arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${scheduleGroupName(PREFIX)}/*`,
    ]);
    const pass = statements.find((st) => st.Sid === 'PassSchedulerRole')!;
    assert.deepEqual(pass.Condition, { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
    const services = new Set(statements.flatMap(actionsOf).map((a) => a.split(':')[0]));
    assert.deepEqual([...services].sort(), ['dynamodb', 'iam', 'lambda', 'logs', 'scheduler', 'sqs', 'xray']);
    const wake = statements.find((st) => st.Sid === 'WakeMonitor')!;
    assert.deepEqual(
      actionsOf(wake),
      ['lambda:InvokeFunction'],
      'manual triggers wake the monitor, nothing else',
    );
    assert.deepEqual(resourcesIn(wake).map(render), [
      `arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:${physicalName(PREFIX, 'monitor')}`,
    ]);
  });

  test('GIVEN the console WHEN synthesized THEN a private bucket is read by CloudFront through OAC, HTTPS only, with no blanket error fallback', () => {
    full.template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    full.template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    full.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['clover.example.org'],
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
        CustomErrorResponses: Match.absent(),
        ViewerCertificate: Match.objectLike({ MinimumProtocolVersion: 'TLSv1.2_2021' }),
      }),
    });
    // S3 answers a missing object 404 (not 403) only to a reader that may list the bucket.
    const bucketPolicy = onlyResourceIn(full.template, 'AWS::S3::BucketPolicy');
    const cloudFront = (
      bucketPolicy.Properties.PolicyDocument as { Statement: Statement[] }
    ).Statement.filter((st) => JSON.stringify(st).includes('cloudfront.amazonaws.com'));
    assert.deepEqual(cloudFront.flatMap(actionsOf).sort(), ['s3:GetObject', 's3:ListBucket']);
  });

  test('GIVEN the console WHEN synthesized THEN every answer carries a Content-Security-Policy fit for the console, and the usual security headers', () => {
    const policy = onlyResourceIn(full.template, 'AWS::CloudFront::ResponseHeadersPolicy');
    const config = policy.Properties.ResponseHeadersPolicyConfig as {
      SecurityHeadersConfig: Record<string, Record<string, unknown>>;
    };
    const headers = config.SecurityHeadersConfig;
    const csp = render(headers.ContentSecurityPolicy!.ContentSecurityPolicy).replace(/<AWS::(\w+)>/g, '$1');
    const directives = Object.fromEntries(
      csp.split('; ').map((d) => [d.split(' ')[0]!, d.split(' ').slice(1)] as const),
    );
    assert.deepEqual(directives['script-src'], ["'self'"], 'no inline or foreign scripts');
    assert.deepEqual(directives['style-src'], ["'self'", "'unsafe-inline'"], "Recharts' inline styles");
    assert.deepEqual(directives['connect-src'], [
      "'self'",
      'https://*.execute-api.Region.URLSuffix',
      'https://cognito-idp.Region.URLSuffix',
      'https://*.auth.Region.amazoncognito.com',
    ]);
    assert.deepEqual(directives['frame-ancestors'], ["'none'"]);
    assert.deepEqual(directives['object-src'], ["'none'"]);
    assert.equal(headers.FrameOptions?.FrameOption, 'DENY');
    assert.equal(headers.ContentTypeOptions?.Override, true);
    assert.equal(headers.StrictTransportSecurity?.AccessControlMaxAgeSec, 31_536_000);
    assert.equal(headers.ReferrerPolicy?.ReferrerPolicy, 'strict-origin-when-cross-origin');
    full.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({
          ResponseHeadersPolicyId: { Ref: Match.stringLikeRegexp('Headers') },
        }),
      }),
    });
  });

  test('GIVEN the console WHEN a viewer asks for a path THEN client-side routes get index.html while files, a missing /assets/* included, go to S3 as asked', () => {
    const fn = onlyResourceIn(full.template, 'AWS::CloudFront::Function');
    const functionConfig = fn.Properties.FunctionConfig as { Runtime: string };
    assert.equal(functionConfig.Runtime, 'cloudfront-js-2.0');
    full.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({
          FunctionAssociations: [
            { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [Match.anyValue(), 'FunctionARN'] } },
          ],
        }),
      }),
    });
    // The function's own code, run as CloudFront runs it: handler(event) returns the request.
    const handler = new Function(`${String(fn.Properties.FunctionCode)}; return handler;`)() as (event: {
      request: { uri: string };
    }) => { uri: string };
    const routed = (uri: string) => handler({ request: { uri } }).uri;
    assert.equal(
      routed('/assets/index-0ld0ld.js'),
      '/assets/index-0ld0ld.js',
      'a stale chunk reaches S3: 404',
    );
    assert.equal(routed('/config.json'), '/config.json');
    assert.equal(routed('/index.html'), '/index.html');
    assert.equal(routed('/jobs'), '/index.html');
    assert.equal(routed('/runs/nightly@2026-12-07T05:00:00.000Z'), '/index.html', 'a run id holds dots');
    assert.equal(routed('/auth/callback'), '/index.html');
    assert.equal(routed('/favicon.ico'), '/index.html', 'not a file of this site');
  });

  test('GIVEN the console WHEN synthesized THEN config.json is deployed with the API URL, user pool, client id and hosted UI domain', () => {
    const deployment = onlyResourceIn(full.template, 'Custom::CDKBucketDeployment');
    const markers = JSON.stringify(deployment.Properties.SourceMarkers);
    for (const value of [api.httpApi.apiId, api.userPool.userPoolId, api.client.userPoolClientId]) {
      assert.ok(
        markers.includes(JSON.stringify(fref(value))),
        `${JSON.stringify(fref(value))} in ${markers}`,
      );
    }
    assert.match(JSON.stringify(deployment.Properties.SourceObjectKeys), /\.zip/);
  });

  test("GIVEN the console WHEN synthesized THEN its config.json names the stage's region, where the run page links traces", () => {
    const deployment = onlyResourceIn(full.template, 'Custom::CDKBucketDeployment');
    const keys = deployment.Properties.SourceObjectKeys as string[];
    const markers = deployment.Properties.SourceMarkers as Record<string, unknown>[];
    // The deployed file as staged in the assembly: deploy-time values stand as markers, which
    // SourceMarkers (one map per source) resolves when the deployment writes it.
    const outdir = (full.stack.node.root as App).outdir;
    const configs = keys
      .map((key, i) => ({
        dir: join(outdir, `asset.${key.replace(/\.zip$/, '')}`),
        markers: markers[i] ?? {},
      }))
      .filter(({ dir }) => existsSync(join(dir, 'config.json')));
    assert.equal(configs.length, 1, 'one config.json among the sources');
    const [config] = configs;
    const json = JSON.parse(readFileSync(join(config!.dir, 'config.json'), 'utf8')) as { region?: string };
    assert.ok(json.region, `a region in ${JSON.stringify(json)}`);
    assert.deepEqual(config!.markers[json.region], { Ref: 'AWS::Region' });
  });

  test('GIVEN no built console WHEN synthesized THEN synth says so; and without the API handler there is no API at all', () => {
    Annotations.fromStack(full.stack).hasWarning(
      '/Clover',
      Match.stringLikeRegexp('The console is not built'),
    );
    Annotations.fromStack(stack).hasWarning('/Clover', Match.stringLikeRegexp('no management API'));
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
    template.resourceCountIs('AWS::Cognito::UserPool', 0);
  });

  test('GIVEN the full stage WHEN synthesized THEN its outputs name the console, API, user pool, agent policy and queues', () => {
    const outputs = Object.keys(full.template.findOutputs('*'));
    for (const key of [
      'ConsoleUrl',
      'ApiUrl',
      'UserPoolId',
      'UserPoolClientId',
      'HostedUiUrl',
      'WorkerAgentPolicyArn',
      'QueueNames',
      'AlarmTopicArn',
      'DispatcherPublicKeyParameter',
    ]) {
      assert.ok(outputs.includes(key), key);
    }
    const names = String(full.template.findOutputs('QueueNames').QueueNames!.Value).split(',');
    assert.ok(
      names.includes(physicalName(PREFIX, 'worker-gpu-1')) &&
        names.includes(physicalName(PREFIX, 'fires-dlq')),
    );
  });
});

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

describe('every resource', () => {
  test('GIVEN the full stage WHEN synthesized THEN it holds exactly the resource types asserted in this file', () => {
    const types = new Set(
      Object.values(full.template.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type),
    );
    // A new kind of resource must be added here, and asserted above, on purpose.
    assert.deepEqual([...types].sort(), [
      'AWS::ApiGatewayV2::Api',
      'AWS::ApiGatewayV2::Authorizer',
      'AWS::ApiGatewayV2::Integration',
      'AWS::ApiGatewayV2::Route',
      'AWS::ApiGatewayV2::Stage',
      'AWS::CloudFront::Distribution',
      'AWS::CloudFront::Function',
      'AWS::CloudFront::OriginAccessControl',
      'AWS::CloudFront::ResponseHeadersPolicy',
      'AWS::CloudWatch::Alarm',
      'AWS::CloudWatch::Dashboard',
      'AWS::Cognito::UserPool',
      'AWS::Cognito::UserPoolClient',
      'AWS::Cognito::UserPoolDomain',
      'AWS::Cognito::UserPoolGroup',
      'AWS::DynamoDB::Table',
      'AWS::EC2::EIP',
      'AWS::EC2::FlowLog',
      'AWS::EC2::InternetGateway',
      'AWS::EC2::NatGateway',
      'AWS::EC2::Route',
      'AWS::EC2::RouteTable',
      'AWS::EC2::SecurityGroup',
      'AWS::EC2::Subnet',
      'AWS::EC2::SubnetRouteTableAssociation',
      'AWS::EC2::VPC',
      'AWS::EC2::VPCEndpoint',
      'AWS::EC2::VPCGatewayAttachment',
      'AWS::Events::Rule',
      'AWS::IAM::ManagedPolicy',
      'AWS::IAM::Policy',
      'AWS::IAM::Role',
      'AWS::Lambda::EventInvokeConfig',
      'AWS::Lambda::EventSourceMapping',
      'AWS::Lambda::Function',
      'AWS::Lambda::LayerVersion',
      'AWS::Lambda::Permission',
      'AWS::Logs::LogGroup',
      'AWS::S3::Bucket',
      'AWS::S3::BucketPolicy',
      'AWS::SNS::Subscription',
      'AWS::SNS::Topic',
      'AWS::SNS::TopicPolicy',
      'AWS::SQS::Queue',
      'AWS::SQS::QueuePolicy',
      'AWS::SSM::Parameter',
      'AWS::Scheduler::Schedule',
      'AWS::Scheduler::ScheduleGroup',
      'AWS::SecretsManager::Secret',
      'Custom::CDKBucketDeployment',
      'Custom::CloverCurveKeys',
      'Custom::S3AutoDeleteObjects',
      'Custom::VpcRestrictDefaultSG',
    ]);
  });

  test("GIVEN the full stage WHEN synthesized THEN every Lambda outside Clover's own is one of CDK's deploy-time helpers", () => {
    const clover = new Set(
      cloverFunctions(full).map((f) => full.stack.getLogicalId(f.fn.node.defaultChild as CfnFunction)),
    );
    const others = Object.entries(full.template.findResources('AWS::Lambda::Function'))
      .filter(([id]) => !clover.has(id))
      .map(([id]) => id);
    const helpers = [
      'CustomCDKBucketDeployment',
      'CustomS3AutoDeleteObjectsCustomResourceProviderHandler',
      'CustomVpcRestrictDefaultSGCustomResourceProviderHandler',
    ];
    assert.equal(others.length, helpers.length, others.join(', '));
    for (const helper of helpers)
      assert.ok(
        others.some((id) => id.startsWith(helper)),
        helper,
      );
    // The providers' own alarms would fire only during a deploy, which CloudFormation reports itself.
  });
});

describe('cdk-nag', () => {
  for (const [name, c] of Object.entries(CONFIGS)) {
    test(`GIVEN the ${name} stage WHEN the AWS Solutions checks run THEN nothing is reported`, () => {
      const report = new AwsSolutionsChecks(c.stack).validateScope(c.stack);
      assert.deepEqual(
        report.violations.map(
          (v) =>
            `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
        ),
        [],
      );
    });
  }

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
    for (const c of Object.values(CONFIGS)) walk(c.stack);
    assert.ok(acknowledged.length > 10);
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
