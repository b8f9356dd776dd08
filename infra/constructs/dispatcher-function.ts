import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { type IRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { physicalName } from '../resources';
import { type CloverTables, TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS } from './clover-tables';
import { DISPATCH_QUEUE_PATTERNS, queueArnPattern, wildcardQueueFinding } from './queue-arns';

export interface DispatcherFunctionProps {
  /** The stage's resource prefix, e.g. `clover-dev`. The function is named `${prefix}-dispatcher`. */
  readonly prefix: string;
  readonly tables: CloverTables;
  /** The role EventBridge Scheduler assumes to invoke the dispatcher; its ARN goes into the environment. */
  readonly schedulerRole: IRole;
  /** Scheduler's dead-letter queue for fires it could not deliver; its ARN goes into the environment. */
  readonly firesDeadLetterQueue: IQueue;
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
  /** @default 'info' */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** What happens to the log group when it leaves the stack. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** The repository root: bundling runs esbuild from here, with the root package-lock.json. */
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../functions/dispatcher/handler.ts', import.meta.url));
const LOCK_FILE = fileURLToPath(new URL('../../package-lock.json', import.meta.url));

/**
 * The dispatcher Lambda (functions/dispatcher/handler.ts), invoked by EventBridge Scheduler with
 * `{jobId, scheduledTime}`: Node.js 22 on ARM64, bundled by esbuild (locally when installed, so no
 * Docker), with its own role holding only what the dispatch path uses:
 *
 * - jobs, workers: read (the job, the live leases by pool); runs, locks: read and write (run + lock
 *   transaction, fenced transitions, the byJob and byStatus indexes) — tables and indexes named
 *   one by one;
 * - SendMessage and GetQueueUrl on the stage's dispatch queues, including the pool and worker
 *   queues agents create at runtime (`${prefix}-dispatch-*`, `${prefix}-worker-*`);
 * - its own log group.
 *
 * `snappy` (the envelope codec) is a native module: it is not bundled but installed beside the
 * bundle for linux/arm64 with npm during synth, so synth needs the npm registry (or its cache).
 * The AWS SDK is bundled at the versions package-lock.json pins, not taken from the runtime.
 *
 * @example
 * const dispatcher = new DispatcherFunction(this, 'Dispatcher', { prefix, tables, schedulerRole, firesDeadLetterQueue });
 * dispatcher.fn.grantInvoke(schedulerRole);
 */
export class DispatcherFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  /** The function's ARN, built from its name so it can sit in the function's own environment. */
  readonly functionArn: string;

  constructor(scope: Construct, id: string, props: DispatcherFunctionProps) {
    super(scope, id);
    const functionName = physicalName(props.prefix, 'dispatcher');
    // Lambda names allow 64 characters; the prefix allows 40, so this holds for every valid prefix.
    if (functionName.length > 64) {
      throw new Error(`dispatcher function name ${JSON.stringify(functionName)} is over 64 characters`);
    }
    this.functionArn = Stack.of(this).formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: functionName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // An explicit role instead of the default one with the AWSLambdaBasicExecutionRole managed
    // policy: that policy lets the function write to any log group in the account.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${functionName}: EventBridge Scheduler fires to worker dispatches`,
    });
    this.logGroup.grantWrite(this.role);

    this.fn = new NodejsFunction(this, 'Function', {
      functionName,
      entry: ENTRY,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: LOCK_FILE,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      role: this.role,
      logGroup: this.logGroup,
      // The handler already writes one JSON object per line (core/log.ts).
      loggingFormat: LoggingFormat.JSON,
      description: 'Clover dispatcher: one EventBridge Scheduler fire -> one run on one live worker',
      environment: {
        CLOVER_PREFIX: props.prefix,
        CLOVER_LOG_LEVEL: props.logLevel ?? 'info',
        CLOVER_DISPATCHER_ARN: this.functionArn,
        CLOVER_SCHEDULER_ROLE_ARN: props.schedulerRole.roleArn,
        CLOVER_FIRES_DLQ_ARN: props.firesDeadLetterQueue.queueArn,
        // Stack traces point into the TypeScript sources through the bundle's source map.
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: OutputFormat.CJS,
        target: 'node22',
        minify: true,
        sourceMap: true,
        // Bundle the pinned AWS SDK rather than use the runtime's (the default externalises @aws-sdk/*).
        externalModules: [],
        nodeModules: ['snappy'],
        // npm installs the optional native package that matches these, not the synth host's.
        environment: { npm_config_os: 'linux', npm_config_cpu: 'arm64', npm_config_libc: 'glibc' },
      },
    });

    const { tables } = props;
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ReadJobsAndWorkers',
        actions: [...TABLE_READ_ACTIONS],
        resources: tables.arns('jobs', 'workers'),
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
    for (const pattern of DISPATCH_QUEUE_PATTERNS) {
      Validations.of(this.role).acknowledge({
        id: wildcardQueueFinding(props.prefix, pattern),
        reason: `Pool and worker queues are created at runtime by agents (infra/resources.ts poolQueueName/workerQueueName), so no stack can list them; the pattern is scoped to this stage's prefix and the actions are SendMessage and GetQueueUrl only.`,
      });
    }
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime Clover is built and tested for (a deliberate pin, not drift); moving to a newer LTS is a separate change made together with the engines field and CI.',
    });
    // The monitor, notifier and API Lambdas will sit beside this one, each with its own role.
  }
}
