import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { CloverQueues } from './constructs/clover-queues';
import { CloverTables } from './constructs/clover-tables';
import { stagePrefix } from './constructs/stage';
import { physicalName, type QueueDefinition, queues, scheduleGroupName, tables } from './resources';
import { CloverStack, type CloverStackProps } from './stack';

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

  test('GIVEN the dispatcher role WHEN synthesized THEN it writes runs and locks only, and touches no other table', () => {
    const policy = onlyResource('AWS::IAM::Policy', { Roles: [ref(stack.dispatcher.role.roleName)] });
    const statements = (
      policy.Properties.PolicyDocument as {
        Statement: Array<{ Action: string | string[]; Resource: unknown }>;
      }
    ).Statement;
    const tablesIn = (resource: unknown) =>
      new Set(
        (Array.isArray(resource) ? resource : [resource])
          .map(render)
          .flatMap((arn) => arn.match(/^<Tables([a-z]+)/)?.[1] ?? []),
      );
    const written = new Set<string>();
    const reached = new Set<string>();
    for (const statement of statements) {
      const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
      for (const table of tablesIn(statement.Resource)) {
        reached.add(table);
        if (actions.some((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a))) written.add(table);
      }
    }
    assert.deepEqual([...written].sort(), ['locks', 'runs']);
    assert.deepEqual([...reached].sort(), ['jobs', 'locks', 'runs', 'workers']);
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

describe('worker agent policy', () => {
  const policy = onlyResource('AWS::IAM::ManagedPolicy', {
    ManagedPolicyName: physicalName(PREFIX, 'worker-agent'),
  });
  type Statement = { Sid: string; Effect: string; Action: string | string[]; Resource: unknown };
  const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
  const sqsArns = (s: Statement) => queueNames(s.Resource);
  const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

  test('GIVEN the agent policy WHEN synthesized THEN every queue it names is scoped to the stage prefix', () => {
    const sqsStatements = statements.filter((s) => actions(s).some((a) => a.startsWith('sqs:')));
    assert.ok(sqsStatements.length >= 2);
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

  test('GIVEN the agent policy WHEN synthesized THEN it reaches jobs read-only and runs, locks, workers read-write, and no other table', () => {
    const tableIds = (s: Statement) => JSON.stringify(s.Resource).match(/Tables(\w+?)[0-9A-F]{8}/g) ?? [];
    const readJobs = statements.find((s) => s.Sid === 'ReadJobs')!;
    assert.ok(!actions(readJobs).some((a) => /Put|Update|Delete/.test(a)));
    assert.ok(tableIds(readJobs).every((id) => id.startsWith('Tablesjobs')));
    const dynamoIds = new Set(statements.flatMap(tableIds).map((id) => id.replace(/[0-9A-F]{8}$/, '')));
    assert.deepEqual([...dynamoIds].sort(), ['Tablesjobs', 'Tableslocks', 'Tablesruns', 'Tablesworkers']);
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
