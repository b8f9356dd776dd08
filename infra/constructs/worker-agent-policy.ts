import { Validations } from 'aws-cdk-lib';
import { Effect, ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { physicalName } from '../resources';
import { raiseAlertStatements } from './alert-grants';
import { type CloverTables, TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS } from './clover-tables';
import { DISPATCH_QUEUE_PATTERNS, queueArnPattern, wildcardQueueFinding } from './queue-arns';

export interface WorkerAgentPolicyProps {
  /** The stage's resource prefix, e.g. `clover-dev`. The policy is named `${prefix}-worker-agent`. */
  readonly prefix: string;
  readonly tables: CloverTables;
  /** The `alerts` queue: a failed run (and the first success after failures) raises an alert. */
  readonly alertsQueue: IQueue;
}

const CONSUME = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'];

/**
 * The IAM managed policy a worker agent's identity needs (an EC2 instance profile role, or an
 * on-prem host's role via IAM Roles Anywhere): attach it, nothing more.
 *
 * - workers: read and write (lease heartbeats, registration, the live list); runs and locks: read
 *   and write (claim, progress, outcome, lock release and hand-over, LOCAL-mode fires); jobs: read.
 * - the stage's dispatch queues (`${prefix}-dispatch-*`, `${prefix}-worker-*`): receive, delete,
 *   change visibility; send and look up, because settling a run may re-dispatch the next one.
 * - its own queue (`${prefix}-worker-*`): create, set attributes and delete (`ensureWorkerQueue`).
 * - never consume or send to the poison-dispatch dead-letter queue, which `dispatch-*` would
 *   otherwise match: the monitor and the console own it. Agents still read its ARN to give their queue a redrive policy.
 * - raising failure and recovery alerts: PutItem on `alerts`, SendMessage and GetQueueUrl on the
 *   `alerts` queue (core/alerts.ts); the notifier mails them.
 *
 * @example
 * const agent = new WorkerAgentPolicy(this, 'WorkerAgentPolicy', { prefix, tables, alertsQueue });
 * new CfnOutput(this, 'WorkerAgentPolicyArn', { value: agent.policy.managedPolicyArn });
 */
export class WorkerAgentPolicy extends Construct {
  readonly policy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: WorkerAgentPolicyProps) {
    super(scope, id);
    const { prefix, tables } = props;
    const dispatchQueues = DISPATCH_QUEUE_PATTERNS.map((pattern) => queueArnPattern(this, prefix, pattern));
    const workerQueues = queueArnPattern(this, prefix, 'worker-*');
    const deadLetterQueue = queueArnPattern(this, prefix, 'dispatch-default-dlq');

    this.policy = new ManagedPolicy(this, 'Policy', {
      managedPolicyName: physicalName(prefix, 'worker-agent'),
      description: `Clover worker agents of ${prefix}: leases, runs, locks and the stage's dispatch queues`,
      statements: [
        new PolicyStatement({
          sid: 'ReadJobs',
          actions: [...TABLE_READ_ACTIONS],
          resources: tables.arns('jobs'),
        }),
        new PolicyStatement({
          sid: 'LeasesRunsLocks',
          actions: [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS],
          resources: tables.arns('workers', 'runs', 'locks'),
        }),
        new PolicyStatement({
          sid: 'ConsumeAndDispatch',
          actions: [...CONSUME, 'sqs:SendMessage', 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes'],
          resources: dispatchQueues,
        }),
        new PolicyStatement({
          sid: 'OwnWorkerQueue',
          actions: ['sqs:CreateQueue', 'sqs:SetQueueAttributes', 'sqs:DeleteQueue'],
          resources: [workerQueues],
        }),
        new PolicyStatement({
          sid: 'NeverTouchDeadLetters',
          effect: Effect.DENY,
          actions: [...CONSUME, 'sqs:SendMessage'],
          resources: [deadLetterQueue],
        }),
        ...raiseAlertStatements(tables, props.alertsQueue),
      ],
    });
    Validations.of(this.policy).acknowledge(
      {
        id: wildcardQueueFinding(prefix, 'dispatch-*'),
        reason:
          "Agents consume pool queues (dispatch-<pool>) that are created at runtime and cannot be listed in advance; the pattern is scoped to this stage's prefix, and the stage's dead-letter queue is denied explicitly.",
      },
      {
        id: wildcardQueueFinding(prefix, 'worker-*'),
        reason:
          "Each agent creates, consumes and deletes its own queue (worker-<id>), named at runtime from its worker id; the pattern is scoped to this stage's prefix.",
      },
    );
  }
}
