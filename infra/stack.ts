import { Annotations, CfnOutput, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { Construct } from 'constructs';
import { CloverQueues } from './constructs/clover-queues';
import { CloverTables } from './constructs/clover-tables';
import { DispatcherFunction } from './constructs/dispatcher-function';
import { MonitorFunction } from './constructs/monitor-function';
import { NotifierFunction } from './constructs/notifier-function';
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
  /**
   * The sender of alert mail (the notifier's `CLOVER_ALERT_FROM`): `alerts@example.com` or
   * `Clover <alerts@example.com>`. The address or its domain must be a verified SES identity in the
   * stack's region (and, while the account is in the SES sandbox, so must every recipient); the
   * notifier may send as this address only. Set it for every real stage: SES refuses the default,
   * and the notifier records each alert FAILED with SES's reason.
   * @default DEFAULT_ALERT_FROM ('clover-alerts@example.com')
   */
  readonly alertFrom?: string;
  /**
   * The console's base URL (the notifier's `CLOVER_CONSOLE_URL`): alert mail links to
   * `<consoleUrl>/runs/<runId>`. The console is not in this stack yet.
   * @default DEFAULT_CONSOLE_URL ('http://localhost:5173', the local console of `npm start`)
   */
  readonly consoleUrl?: string;
  /**
   * How often the monitor sweeps inside its one-minute invocation (`CLOVER_MONITOR_LOOP_SECONDS`);
   * a dead worker is noticed within its lease TTL plus this. 0 sweeps once a minute.
   * @default 5
   */
  readonly monitorLoopSeconds?: number;
  /** An SES configuration set for alert mail (`CLOVER_SES_CONFIGURATION_SET`). @default none */
  readonly sesConfigurationSet?: string;
}

/** The alert sender when none is given: a placeholder SES will refuse (see `CloverStackProps.alertFrom`). */
export const DEFAULT_ALERT_FROM = 'clover-alerts@example.com';
/** The console URL when none is given: the local console of `npm start`. */
export const DEFAULT_CONSOLE_URL = 'http://localhost:5173';

/**
 * One Clover stage in AWS, built from infra/resources.ts — the definitions the local runtime
 * provisions on an emulator — so the deployed stack and the tested one cannot drift:
 *
 * - a DynamoDB table per `tables` entry and an SQS queue per `queues` entry;
 * - the stage's EventBridge Scheduler group (`scheduleGroupName(prefix)`), where the job API puts
 *   one schedule per job;
 * - the dispatcher Lambda, and the role Scheduler assumes to invoke it (and to dead-letter fires
 *   to `fires-dlq`);
 * - the monitor Lambda, invoked every minute by an EventBridge rule and sweeping every
 *   `monitorLoopSeconds` inside the invocation;
 * - the notifier Lambda, fed by the `alerts` queue, mailing alerts through SES as `alertFrom`;
 * - the managed policy worker agents attach, exported as `WorkerAgentPolicyArn`.
 *
 * @example
 * new CloverStack(app, 'clover-prod', {
 *   prefix: 'clover-prod',
 *   alertFrom: 'Clover <clover@ops.example.com>',
 *   consoleUrl: 'https://clover.example.com',
 * });
 */
export class CloverStack extends Stack {
  readonly prefix: string;
  readonly tables: CloverTables;
  readonly queues: CloverQueues;
  readonly scheduleGroup: ScheduleGroup;
  readonly schedulerRole: SchedulerInvokeRole;
  readonly dispatcher: DispatcherFunction;
  readonly monitor: MonitorFunction;
  readonly notifier: NotifierFunction;
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
    const alertsQueue = this.queues.queue('alerts');
    this.schedulerRole = new SchedulerInvokeRole(this, 'SchedulerRole', {
      scheduleGroup: this.scheduleGroup,
    });
    this.dispatcher = new DispatcherFunction(this, 'Dispatcher', {
      prefix,
      tables: this.tables,
      schedulerRole: this.schedulerRole.role,
      firesDeadLetterQueue,
      alertsQueue,
      logRemovalPolicy: dataRemovalPolicy,
    });
    this.schedulerRole.allowInvoke(this.dispatcher.fn);
    this.schedulerRole.allowDeadLetter(firesDeadLetterQueue);
    Validations.of(firesDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'fires-dlq is itself a dead-letter queue: EventBridge Scheduler puts fires it could not deliver there (DeadLetterConfig), and the monitor drains it.',
    });

    this.monitor = new MonitorFunction(this, 'Monitor', {
      prefix,
      tables: this.tables,
      alertsQueue,
      firesDeadLetterQueue,
      schedulerRole: this.schedulerRole.role,
      dispatcherArn: this.dispatcher.functionArn,
      loopSeconds: props.monitorLoopSeconds ?? 5,
      logRemovalPolicy: dataRemovalPolicy,
    });

    if (props.alertFrom === undefined) {
      Annotations.of(this).addWarningV2(
        'clover:alertFrom',
        `No alertFrom given: alert mail is sent as ${DEFAULT_ALERT_FROM}, which SES refuses. Pass a verified sender (CloverStackProps.alertFrom, or -c alertFrom=... with infra/app.ts).`,
      );
    }
    this.notifier = new NotifierFunction(this, 'Notifier', {
      prefix,
      tables: this.tables,
      alertsQueue,
      alertFrom: props.alertFrom ?? DEFAULT_ALERT_FROM,
      consoleUrl: props.consoleUrl ?? DEFAULT_CONSOLE_URL,
      ...(props.sesConfigurationSet ? { sesConfigurationSet: props.sesConfigurationSet } : {}),
      logRemovalPolicy: dataRemovalPolicy,
    });

    // To come, beside these with its own role: the job API (HTTP API + Cognito;
    // scheduler:*Schedule on this group and iam:PassRole on the scheduler role).

    this.workerAgentPolicy = new WorkerAgentPolicy(this, 'WorkerAgentPolicy', {
      prefix,
      tables: this.tables,
      alertsQueue,
    });

    new CfnOutput(this, 'WorkerAgentPolicyArn', {
      description: 'Attach to the IAM role of every worker agent host of this stage',
      value: this.workerAgentPolicy.policy.managedPolicyArn,
      exportName: `${prefix}-worker-agent-policy-arn`,
    });
    new CfnOutput(this, 'DispatcherArn', { value: this.dispatcher.functionArn });
    new CfnOutput(this, 'MonitorFunctionName', { value: this.monitor.functionName });
    new CfnOutput(this, 'NotifierFunctionName', { value: this.notifier.functionName });
    new CfnOutput(this, 'SchedulerRoleArn', { value: this.schedulerRole.role.roleArn });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.scheduleGroup.scheduleGroupName });
  }
}
