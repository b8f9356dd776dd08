import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import { Effect, ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, physicalName } from '../resources';
import { raiseAlertStatements } from './alert-grants';
import { type CloverTables, TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS } from './clover-tables';
import { monitorWake } from './monitor-function';
import { DISPATCH_QUEUE_PATTERNS, queueArnPattern, wildcardQueueFinding } from './queue-arns';

/**
 * The IAM principal tags that tell the agent policy who an agent is. Set them on the agent's role
 * (one role per host) or as session tags (IAM Roles Anywhere attribute mapping, AssumeRole with
 * TagSession); docs/deploy.md, "Worker agents", says how.
 */
export const AGENT_TAGS = {
  /** The agent's worker id: its queue `worker-<id>` and its lease item `workerId = <id>`. */
  workerId: 'clover-worker-id',
  /** The agent's pool: the shared queue `dispatch-<pool>` it consumes. */
  pool: 'clover-pool',
  /** The owner whose declared jobs the agent may sync (PUT /api/agents/<owner>/declared-jobs). */
  jobsOwner: 'clover-jobs-owner',
} as const;

const tag = (key: string) => `\${aws:PrincipalTag/${key}}`;

export interface WorkerAgentPolicyProps {
  /** The stage's resource prefix, e.g. `clover-dev`. The policy is named `${prefix}-worker-agent`. */
  readonly prefix: string;
  readonly tables: CloverTables;
  /** The `alerts` queue: a failed run (and the first success after failures) raises an alert. */
  readonly alertsQueue: IQueue;
  /** The poison-dispatch dead-letter queue: agents find it and send poison to it, and never read its messages. */
  readonly dispatchDeadLetterQueue: IQueue;
}

/** What consuming a queue takes; the agent also reads the queue's URL and attributes (ensureQueue). */
export const CONSUME_ACTIONS = [
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueUrl',
  'sqs:GetQueueAttributes',
] as const;

/** Queue administration no agent may do on any queue of the stage, whatever else its role holds. */
export const QUEUE_ADMIN_ACTIONS = [
  'sqs:CreateQueue',
  'sqs:DeleteQueue',
  'sqs:SetQueueAttributes',
  'sqs:AddPermission',
  'sqs:RemovePermission',
  'sqs:PurgeQueue',
  'sqs:TagQueue',
  'sqs:UntagQueue',
] as const;

/**
 * The IAM managed policy every worker agent's identity attaches (an EC2 instance profile role, or an
 * on-prem host's role through IAM Roles Anywhere). Who the agent is comes from its principal tags
 * ({@link AGENT_TAGS}), so one policy serves every agent and still confines each:
 *
 * - its profile and lease: item writes on `workers` and `leases` only where the partition key
 *   (`dynamodb:LeadingKeys`) is its own worker id; read on both (the live list LOCAL mode and
 *   routing read);
 * - its queues: consume only `worker-<its id>` and `dispatch-<its pool>` — never another worker's
 *   queue; the queues themselves are made by the stack (`-c agents=...`), so agents create none;
 * - an explicit deny of queue administration (create, delete, set attributes — the queue policy
 *   among them —, permissions, purge, tags) on every queue of the stage, and of consuming the
 *   poison-dispatch dead-letter queue (agents only send to it: a message that is not a valid
 *   envelope is moved there on its first receipt, with the reason);
 * - `lambda:InvokeFunction` on the stage's monitor: a LOCAL fire or a chained run wakes it when idle;
 * - runs and locks: read and item writes; jobs: read (claims and outcomes are fenced conditional
 *   writes: see docs/deploy.md, "What a compromised agent can still do");
 * - SendMessage to the stage's dispatch and worker queues: settling a run may dispatch the next
 *   one (QUEUE policy, chains) to any worker — a pointer that the receiver checks against the ledger;
 * - raising failure and recovery alerts (PutItem on `alerts`, SendMessage on the `alerts` queue);
 * - `cloudwatch:PutMetricData` in Clover's namespace only (start lateness, clock offset:
 *   worker-agent/agent-metrics.ts);
 * - with the API, `execute-api:Invoke` on `PUT /api/agents/<its jobs owner>/declared-jobs` only
 *   ({@link WorkerAgentPolicy.allowDeclaredJobSync}).
 *
 * @example
 * const agent = new WorkerAgentPolicy(this, 'WorkerAgentPolicy', { prefix, tables, alertsQueue, dispatchDeadLetterQueue });
 * new CfnOutput(this, 'WorkerAgentPolicyArn', { value: agent.policy.managedPolicyArn });
 */
export class WorkerAgentPolicy extends Construct {
  readonly policy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: WorkerAgentPolicyProps) {
    super(scope, id);
    const { prefix, tables } = props;
    const queue = (name: string) => queueArnPattern(this, prefix, name);

    this.policy = new ManagedPolicy(this, 'Policy', {
      managedPolicyName: physicalName(prefix, 'worker-agent'),
      description: `Clover worker agents of ${prefix}: own lease and queues (by principal tag), runs, locks, dispatch`,
      statements: [
        new PolicyStatement({
          sid: 'ReadJobsAndWorkers',
          actions: [...TABLE_READ_ACTIONS],
          resources: tables.arns('jobs', 'workers', 'leases'),
        }),
        new PolicyStatement({
          sid: 'OwnLeaseOnly',
          actions: [...TABLE_WRITE_ACTIONS],
          resources: [tables.table('workers').tableArn, tables.table('leases').tableArn],
          conditions: {
            'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [tag(AGENT_TAGS.workerId)] },
          },
        }),
        // LOCAL fires and chained runs wake an idle monitor (core/monitor/watch.ts).
        monitorWake(this, prefix).statement,
        new PolicyStatement({
          sid: 'RunsAndLocks',
          actions: [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS],
          resources: tables.arns('runs', 'locks'),
        }),
        new PolicyStatement({
          sid: 'ConsumeOwnAndPoolQueue',
          actions: [...CONSUME_ACTIONS],
          resources: [queue(`worker-${tag(AGENT_TAGS.workerId)}`), queue(`dispatch-${tag(AGENT_TAGS.pool)}`)],
        }),
        new PolicyStatement({
          // Finding the dead-letter queue from a queue's redrive policy, and moving a message that is
          // not a valid envelope there on its first receipt (SqsInbox.deadLetter).
          sid: 'PoisonToDeadLetterQueue',
          actions: ['sqs:GetQueueUrl', 'sqs:GetQueueAttributes', 'sqs:SendMessage'],
          resources: [props.dispatchDeadLetterQueue.queueArn],
        }),
        new PolicyStatement({
          sid: 'DispatchNextRuns',
          actions: ['sqs:SendMessage', 'sqs:GetQueueUrl'],
          resources: DISPATCH_QUEUE_PATTERNS.map((pattern) => queue(pattern)),
        }),
        new PolicyStatement({
          sid: 'NeverAdministerQueues',
          effect: Effect.DENY,
          actions: [...QUEUE_ADMIN_ACTIONS],
          resources: [queue('*')],
        }),
        new PolicyStatement({
          sid: 'NeverTouchDeadLetters',
          effect: Effect.DENY,
          actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
          resources: [props.dispatchDeadLetterQueue.queueArn],
        }),
        ...raiseAlertStatements(tables, props.alertsQueue),
        new PolicyStatement({
          sid: 'PutCloverMetrics',
          actions: ['cloudwatch:PutMetricData'],
          // PutMetricData has no resource type: the namespace condition is its only scope.
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE } },
        }),
      ],
    });
    Validations.of(this.policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: `cloudwatch:PutMetricData supports no resource-level permissions (AWS documents \`*\` as its only resource); the statement holds that one action, limited by the cloudwatch:namespace condition to ${METRIC_NAMESPACE}.`,
    });
    Validations.of(this.policy).acknowledge(
      ...DISPATCH_QUEUE_PATTERNS.map((pattern) => ({
        id: wildcardQueueFinding(prefix, pattern),
        reason:
          "Settling a run may dispatch the next one (QUEUE policy, chained jobs) to whichever pool or worker routing picks, so agents may SendMessage (and only that) to the stage's dispatch and worker queues; a message is only a pointer the receiving agent checks against the run ledger.",
      })),
    );
  }

  /** Lets agents sync their declared jobs through the API: only under the owner their tag names. */
  allowDeclaredJobSync(apiId: string): void {
    this.policy.addStatements(
      new PolicyStatement({
        sid: 'SyncOwnDeclaredJobs',
        actions: ['execute-api:Invoke'],
        resources: [
          Stack.of(this).formatArn({
            service: 'execute-api',
            resource: apiId,
            arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
            // The API's one stage, so the ARN names one route for one owner: no wildcard at all.
            resourceName: `$default/PUT/api/agents/${tag(AGENT_TAGS.jobsOwner)}/declared-jobs`,
          }),
        ],
      }),
    );
  }
}
