import { CfnOutput, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { Construct } from 'constructs';
import { CloverQueues } from './constructs/clover-queues';
import { CloverTables } from './constructs/clover-tables';
import { DispatcherFunction } from './constructs/dispatcher-function';
import { SchedulerInvokeRole } from './constructs/scheduler-invoke-role';
import { WorkerAgentPolicy } from './constructs/worker-agent-policy';
import {
  type QueueDefinition,
  queues,
  scheduleGroupName,
  type TableDefinition,
  tables,
  validatePrefix,
} from './resources';

export interface CloverStackProps extends StackProps {
  /**
   * The stage's resource prefix: every table, queue, function and the schedule group are named from
   * it (infra/resources.ts). Letters, digits, `_` and `-`, at most 40 characters.
   * @default 'clover-dev'
   */
  readonly prefix?: string;
  /**
   * What CloudFormation does with the tables and the dispatcher's logs when they leave the stack
   * (including `cdk destroy`). DESTROY suits throwaway stages only.
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /** The tables to build. Tests may narrow them; the app never does. @default tables (infra/resources.ts) */
  readonly tableDefinitions?: readonly TableDefinition[];
  /** The queues to build. @default queues (infra/resources.ts) */
  readonly queueDefinitions?: readonly QueueDefinition[];
}

/**
 * One Clover stage in AWS, built from infra/resources.ts — the definitions the local runtime
 * provisions on an emulator — so the deployed stack and the tested one cannot drift:
 *
 * - a DynamoDB table per `tables` entry and an SQS queue per `queues` entry;
 * - the stage's EventBridge Scheduler group (`scheduleGroupName(prefix)`), where the job API puts
 *   one schedule per job;
 * - the dispatcher Lambda, and the role Scheduler assumes to invoke it (and to dead-letter fires
 *   to `fires-dlq`);
 * - the managed policy worker agents attach, exported as `WorkerAgentPolicyArn`.
 *
 * @example
 * new CloverStack(app, 'clover-prod', { prefix: 'clover-prod' });
 */
export class CloverStack extends Stack {
  readonly prefix: string;
  readonly tables: CloverTables;
  readonly queues: CloverQueues;
  readonly scheduleGroup: ScheduleGroup;
  readonly schedulerRole: SchedulerInvokeRole;
  readonly dispatcher: DispatcherFunction;
  readonly workerAgentPolicy: WorkerAgentPolicy;

  constructor(scope: Construct, id: string, props: CloverStackProps = {}) {
    super(scope, id, props);
    const prefix = validatePrefix(props.prefix ?? 'clover-dev');
    const dataRemovalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN;
    this.prefix = prefix;

    this.tables = new CloverTables(this, 'Tables', {
      prefix,
      definitions: props.tableDefinitions ?? tables,
      removalPolicy: dataRemovalPolicy,
    });
    this.queues = new CloverQueues(this, 'Queues', { prefix, definitions: props.queueDefinitions ?? queues });

    // Schedules are derived from the jobs table (the monitor re-creates missing ones), so the group
    // goes with the stack: a retained group would block the next deploy of a stage of the same name.
    this.scheduleGroup = new ScheduleGroup(this, 'ScheduleGroup', {
      scheduleGroupName: scheduleGroupName(prefix),
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const firesDeadLetterQueue = this.queues.queue('fires-dlq');
    this.schedulerRole = new SchedulerInvokeRole(this, 'SchedulerRole', {
      scheduleGroup: this.scheduleGroup,
    });
    this.dispatcher = new DispatcherFunction(this, 'Dispatcher', {
      prefix,
      tables: this.tables,
      schedulerRole: this.schedulerRole.role,
      firesDeadLetterQueue,
      logRemovalPolicy: dataRemovalPolicy,
    });
    this.schedulerRole.allowInvoke(this.dispatcher.fn);
    this.schedulerRole.allowDeadLetter(firesDeadLetterQueue);
    Validations.of(firesDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'fires-dlq is itself a dead-letter queue: EventBridge Scheduler puts fires it could not deliver there (DeadLetterConfig), and the monitor drains it.',
    });

    // To come, each beside the dispatcher with its own role: the monitor Lambda (one-minute
    // schedule; drains fires-dlq), the notifier Lambda (alerts queue → SES) and the job API
    // (HTTP API + Cognito; scheduler:*Schedule on this group and iam:PassRole on the scheduler role).

    this.workerAgentPolicy = new WorkerAgentPolicy(this, 'WorkerAgentPolicy', {
      prefix,
      tables: this.tables,
    });

    new CfnOutput(this, 'WorkerAgentPolicyArn', {
      description: 'Attach to the IAM role of every worker agent host of this stage',
      value: this.workerAgentPolicy.policy.managedPolicyArn,
      exportName: `${prefix}-worker-agent-policy-arn`,
    });
    new CfnOutput(this, 'DispatcherArn', { value: this.dispatcher.functionArn });
    new CfnOutput(this, 'SchedulerRoleArn', { value: this.schedulerRole.role.roleArn });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.scheduleGroup.scheduleGroupName });
  }
}
