/**
 * The worker agents' managed policy: the queues, items, metrics and declared jobs an agent may touch.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { METRIC_NAMESPACE } from '../../functions/metrics';
import { AGENT_TAGS, QUEUE_ADMIN_ACTIONS } from '../constructs/worker-agent-policy';
import { physicalName, queues } from '../resources';
import { CONFIGS, type Config } from './all-stages';
import { ref, stack, template } from './base-stage';
import { full } from './full-stage';
import { PREFIX } from './synth';
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
