import { ArnFormat, Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { DEFAULT_MONITOR_LOOP_SECONDS } from '../../functions/monitor/handler';
import { physicalName, scheduleGroupName } from '../resources';
import { raiseAlertStatements } from './alert-grants';
import { type CloverTables, TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS } from './clover-tables';
import { DISPATCH_QUEUE_REASON } from './dispatcher-function';
import { type CloverFunctionLogProps, CloverNodeFunction, logPropsOf } from './node-function';
import { DISPATCH_QUEUE_PATTERNS, queueArnPattern, wildcardQueueFinding } from './queue-arns';

export interface MonitorFunctionProps extends CloverFunctionLogProps {
  /** The stage's resource prefix, e.g. `clover-dev`. The function is named `${prefix}-monitor`. */
  readonly prefix: string;
  readonly tables: CloverTables;
  /** The `alerts` queue: lost, timeout, misfire and job_unavailable alerts go there. */
  readonly alertsQueue: IQueue;
  /** Scheduler's dead-letter queue, which the monitor drains as missed fires; also what repaired schedules dead-letter to. */
  readonly firesDeadLetterQueue: IQueue;
  /** The role repaired schedules run as (passed to Scheduler with iam:PassRole). */
  readonly schedulerRole: IRole;
  /** The dispatcher's ARN: the target of every repaired schedule. */
  readonly dispatcherArn: string;
  /** Where failed invocations are recorded (its on-failure destination). */
  readonly failureQueue: IQueue;
  /**
   * Sweep again every this many seconds while work is in flight (core/monitor/watch.ts), so a dead
   * worker is noticed within lease TTL + this instead of lease TTL + a minute (ARCHITECTURE.md,
   * "Budgets"). With nothing in flight an invocation sweeps once. 0 sweeps once a minute always.
   * @default 2
   */
  readonly loopSeconds?: number;
  /**
   * How long one invocation keeps looping (`CLOVER_MONITOR_RUN_SECONDS`). With a one-minute rule
   * and the default timeout, 55 leaves no gap longer than one loop between invocations.
   * @default 55
   */
  readonly runSeconds?: number;
  /** A scheduled fire without a run this long after its instant counts as missed. @default 60 */
  readonly misfireGraceSeconds?: number;
  /** @default 256 */
  readonly memorySize?: number;
  /**
   * Upper bound of one invocation. The handler stops looping once less than one loop plus 5 s is
   * left, so the timeout must exceed `runSeconds` by that much for the loop to reach `runSeconds`.
   * @default Duration.seconds(70)
   */
  readonly timeout?: Duration;
}

const SCHEDULE_REASON =
  "Job schedules are created at runtime by the job API (one per job, named by its id), so the monitor's schedule repair names them by pattern; the pattern is this stage's schedule group only and the actions are Create, Update and Delete.";

/**
 * The monitor Lambda (functions/monitor/handler.ts, core/monitor/), invoked every minute by an
 * EventBridge rule and looping inside the invocation every `loopSeconds`: expired leases, lost and
 * timed-out runs, due retries, missed fires (drains `fires-dlq`), unavailable jobs, schedules out of
 * sync, stale locks. Built as every Clover Lambda is ({@link CloverNodeFunction}); its role holds:
 *
 * - jobs: read, and UpdateItem (a repaired job is marked IN_SYNC); workers, leases: read and
 *   UpdateItem (expired leases and their profiles become GONE); runs, locks: read and write (recovery, LOST, TIMED_OUT, skip
 *   records, catch-up fires, stale-lock release);
 * - alerts: PutItem and SendMessage to raise alerts, GetItem and UpdateItem for the job_unavailable flags;
 * - `fires-dlq`: receive and delete; the dispatch queues: SendMessage and GetQueueUrl (re-dispatch);
 * - scheduler:Create/Update/DeleteSchedule in the stage's schedule group, and iam:PassRole of the
 *   scheduler role to scheduler.amazonaws.com only (schedule repair);
 * - its own log group.
 *
 * Async invocations are not retried: the next minute's invocation does the same work.
 *
 * @example
 * new MonitorFunction(this, 'Monitor', { prefix, tables, alertsQueue, firesDeadLetterQueue, schedulerRole, dispatcherArn });
 */
export class MonitorFunction extends CloverNodeFunction {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: MonitorFunctionProps) {
    const loopSeconds = props.loopSeconds ?? DEFAULT_MONITOR_LOOP_SECONDS;
    const runSeconds = props.runSeconds ?? 55;
    const timeout = props.timeout ?? Duration.seconds(70);
    if (!Number.isInteger(loopSeconds) || loopSeconds < 0 || loopSeconds > 60) {
      throw new Error(`monitor loopSeconds must be an integer 0-60, got ${loopSeconds}`);
    }
    if (!Number.isInteger(runSeconds) || runSeconds < 1 || runSeconds > 900) {
      throw new Error(`monitor runSeconds must be an integer 1-900, got ${runSeconds}`);
    }
    const misfireGraceSeconds = props.misfireGraceSeconds ?? 60;
    super(scope, id, {
      prefix: props.prefix,
      name: 'monitor',
      entry: 'functions/monitor/handler.ts',
      description: `Clover monitor: leases, lost and timed-out runs, misfires, availability, schedule drift (every minute; every ${loopSeconds || 60} s while runs are in flight)`,
      memorySize: props.memorySize ?? 256,
      timeout,
      ...logPropsOf(props),
      environment: {
        CLOVER_DISPATCHER_ARN: props.dispatcherArn,
        CLOVER_SCHEDULER_ROLE_ARN: props.schedulerRole.roleArn,
        CLOVER_FIRES_DLQ_ARN: props.firesDeadLetterQueue.queueArn,
        CLOVER_MONITOR_LOOP_SECONDS: String(loopSeconds),
        CLOVER_MONITOR_RUN_SECONDS: String(runSeconds),
        CLOVER_MISFIRE_GRACE_SECONDS: String(misfireGraceSeconds),
      },
    });
    // A failed or late sweep is not worth a retry: the next minute's invocation sweeps again.
    // A failed invocation is recorded on the failure queue (alarmed), for a person to read.
    this.fn.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
      onFailure: new SqsDestination(props.failureQueue),
    });
    this.rule = new Rule(this, 'EveryMinute', {
      description: `Invokes ${this.functionName} every minute`,
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.fn, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
    });

    const { tables, prefix } = props;
    const statements = [
      new PolicyStatement({
        sid: 'JobsReadAndMarkSynced',
        actions: [...TABLE_READ_ACTIONS, 'dynamodb:UpdateItem'],
        resources: tables.arns('jobs'),
      }),
      new PolicyStatement({
        sid: 'WorkersReadAndExpire',
        actions: [...TABLE_READ_ACTIONS, 'dynamodb:UpdateItem'],
        resources: tables.arns('workers', 'leases'),
      }),
      new PolicyStatement({
        sid: 'RunsAndLocks',
        actions: [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS],
        resources: tables.arns('runs', 'locks'),
      }),
      ...raiseAlertStatements(tables, props.alertsQueue),
      new PolicyStatement({
        sid: 'JobUnavailableFlags',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [tables.table('alerts').tableArn],
      }),
      new PolicyStatement({
        sid: 'DrainFiresDeadLetters',
        actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueUrl'],
        resources: [props.firesDeadLetterQueue.queueArn],
      }),
      new PolicyStatement({
        sid: 'RedispatchToDispatchQueues',
        actions: ['sqs:SendMessage', 'sqs:GetQueueUrl'],
        resources: DISPATCH_QUEUE_PATTERNS.map((pattern) => queueArnPattern(this, prefix, pattern)),
      }),
      new PolicyStatement({
        sid: 'RepairSchedules',
        actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule'],
        resources: [scheduleArnPattern(this, prefix)],
      }),
      new PolicyStatement({
        sid: 'PassSchedulerRole',
        actions: ['iam:PassRole'],
        resources: [props.schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    ];
    for (const statement of statements) this.role.addToPrincipalPolicy(statement);

    Validations.of(this.role).acknowledge(
      ...DISPATCH_QUEUE_PATTERNS.map((pattern) => ({
        id: wildcardQueueFinding(prefix, pattern),
        reason: DISPATCH_QUEUE_REASON,
      })),
      { id: scheduleFinding(prefix), reason: SCHEDULE_REASON },
    );
  }
}

/**
 * Every schedule of the stage's group: `arn:<partition>:scheduler:<region>:<account>:schedule/<group>/*`,
 * with the pseudo parameters always, so the cdk-nag finding's text does not depend on the stack's env.
 */
export function scheduleArnPattern(scope: Construct, prefix: string): string {
  return Stack.of(scope).formatArn({
    service: 'scheduler',
    resource: 'schedule',
    resourceName: `${scheduleGroupName(prefix)}/*`,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    partition: Aws.PARTITION,
    region: Aws.REGION,
    account: Aws.ACCOUNT_ID,
  });
}

/** The cdk-nag AwsSolutions-IAM5 finding for a policy naming `scheduleArnPattern(_, prefix)`. */
export function scheduleFinding(prefix: string): string {
  return `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${scheduleGroupName(prefix)}/*]`;
}

/**
 * What lets a function or an agent wake the monitor when it puts a run in flight
 * (core/monitor/watch.ts): `CLOVER_MONITOR_FUNCTION` and `lambda:InvokeFunction` on the monitor,
 * named by its physical name — the monitor refers to the dispatcher's ARN, so a reference back from
 * the dispatcher's policy would be a dependency cycle.
 */
export function monitorWake(scope: Construct, prefix: string) {
  const functionName = physicalName(prefix, 'monitor');
  return {
    functionName,
    statement: new PolicyStatement({
      sid: 'WakeMonitor',
      actions: ['lambda:InvokeFunction'],
      resources: [
        Stack.of(scope).formatArn({
          service: 'lambda',
          resource: 'function',
          resourceName: functionName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          partition: Aws.PARTITION,
          region: Aws.REGION,
          account: Aws.ACCOUNT_ID,
        }),
      ],
    }),
  };
}
