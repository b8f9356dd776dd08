import { Duration, Validations } from 'aws-cdk-lib';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { raiseAlertStatements } from './alert-grants';
import { type CloverTables, TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS } from './clover-tables';
import type { CurveKeys } from './curve-keys';
import type { DispatcherNetwork } from './dispatcher-network';
import { type CloverFunctionLogProps, CloverNodeFunction, logPropsOf } from './node-function';
import { DISPATCH_QUEUE_PATTERNS, queueArnPattern, wildcardQueueFinding } from './queue-arns';

export interface DispatcherFunctionProps extends CloverFunctionLogProps {
  /** The stage's resource prefix, e.g. `clover-dev`. The function is named `${prefix}-dispatcher`. */
  readonly prefix: string;
  readonly tables: CloverTables;
  /** The role EventBridge Scheduler assumes to invoke the dispatcher; its ARN goes into the environment. */
  readonly schedulerRole: IRole;
  /** Scheduler's dead-letter queue for fires it could not deliver; its ARN goes into the environment. */
  readonly firesDeadLetterQueue: IQueue;
  /** The `alerts` queue: a fire that finds no worker raises a no_worker alert. */
  readonly alertsQueue: IQueue;
  /**
   * Where the dispatcher runs to reach agents' ZeroMQ ports, and the secret holding its CURVE key
   * pair (read at cold start). Without it ZeroMQ jobs are delivered over SQS.
   * @default none
   */
  readonly zmq?: {
    readonly network: DispatcherNetwork;
    readonly keys: CurveKeys;
  };
  /**
   * Memory in MB. Lambda scales CPU with memory, and a fire's cost is dominated by its AWS requests,
   * not its milliseconds: 512 MB keeps cold starts and the dispatch path short.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Upper bound of one fire. The dispatch path is a handful of sequential requests; a stalled fire
   * should fail and let Scheduler retry it.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
}

/** Why a role that delivers dispatches names the stage's queues by pattern (cdk-nag AwsSolutions-IAM5). */
export const DISPATCH_QUEUE_REASON =
  "Pool and worker queues are created at runtime by agents (infra/resources.ts poolQueueName/workerQueueName), so no stack can list them; the pattern is scoped to this stage's prefix and the actions are SendMessage and GetQueueUrl only.";

/**
 * The dispatcher Lambda (functions/dispatcher/handler.ts), invoked by EventBridge Scheduler with
 * `{jobId, scheduledTime}`; built as every Clover Lambda is ({@link CloverNodeFunction}: Node.js
 * 22, ARM64, esbuild, snappy — and with `zmq`, zeromq — installed beside the bundle), with its own role holding only what the
 * dispatch path uses:
 *
 * - jobs, workers, leases: read (the job, the live workers by pool and their leases); runs, locks: read and write (run + lock
 *   transaction, fenced transitions, the byJob and byStatus indexes) — tables and indexes named
 *   one by one;
 * - SendMessage and GetQueueUrl on the stage's dispatch queues, including the pool and worker
 *   queues agents create at runtime (`${prefix}-dispatch-*`, `${prefix}-worker-*`);
 * - raising no_worker alerts: PutItem on `alerts`, SendMessage and GetQueueUrl on the `alerts` queue;
 * - with `zmq`: GetSecretValue on its CURVE key secret, and network interfaces in the VPC;
 * - SendMessage on `fires-dlq`, its on-failure destination;
 * - its own log group.
 *
 * @example
 * const dispatcher = new DispatcherFunction(this, 'Dispatcher', { prefix, tables, schedulerRole, firesDeadLetterQueue, alertsQueue });
 * schedulerRole.allowInvoke(dispatcher.fn);
 */
export class DispatcherFunction extends CloverNodeFunction {
  constructor(scope: Construct, id: string, props: DispatcherFunctionProps) {
    super(scope, id, {
      prefix: props.prefix,
      name: 'dispatcher',
      entry: 'functions/dispatcher/handler.ts',
      description: 'Clover dispatcher: one EventBridge Scheduler fire -> one run on one live worker',
      roleDescription: 'EventBridge Scheduler fires to worker dispatches',
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      ...logPropsOf(props),
      // Invoked once per fire: Lambda's START and REPORT lines would outweigh the fire's own line.
      systemLogLevel: 'WARN',
      environment: {
        CLOVER_SCHEDULER_ROLE_ARN: props.schedulerRole.roleArn,
        CLOVER_FIRES_DLQ_ARN: props.firesDeadLetterQueue.queueArn,
        ...(props.zmq ? { CLOVER_DISPATCHER_ZMQ_SECRET_ARN: props.zmq.keys.secret.secretArn } : {}),
      },
      zeromq: props.zmq !== undefined,
      ...(props.zmq
        ? {
            network: {
              vpc: props.zmq.network.vpc,
              subnets: props.zmq.network.subnets,
              securityGroups: [props.zmq.network.securityGroup],
            },
          }
        : {}),
    });
    this.fn.addEnvironment('CLOVER_DISPATCHER_ARN', this.functionArn);
    props.zmq?.keys.grantRead(this.role);
    // Scheduler invokes asynchronously: a fire that still fails after Lambda's two retries (or waits
    // longer than 10 minutes) goes to fires-dlq, where the monitor applies the job's misfire policy.
    this.fn.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.minutes(10),
      onFailure: new SqsDestination(props.firesDeadLetterQueue),
    });

    const { tables } = props;
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ReadJobsAndWorkers',
        actions: [...TABLE_READ_ACTIONS],
        resources: tables.arns('jobs', 'workers', 'leases'),
      }),
    );
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'RunsAndLocks',
        actions: [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS],
        resources: tables.arns('runs', 'locks'),
      }),
    );
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'DeliverToDispatchQueues',
        actions: ['sqs:SendMessage', 'sqs:GetQueueUrl'],
        resources: DISPATCH_QUEUE_PATTERNS.map((pattern) => queueArnPattern(this, props.prefix, pattern)),
      }),
    );
    for (const statement of raiseAlertStatements(tables, props.alertsQueue)) {
      this.role.addToPrincipalPolicy(statement);
    }
    for (const pattern of DISPATCH_QUEUE_PATTERNS) {
      Validations.of(this.role).acknowledge({
        id: wildcardQueueFinding(props.prefix, pattern),
        reason: DISPATCH_QUEUE_REASON,
      });
    }
  }
}
