import { fileURLToPath } from 'node:url';
import { ArnFormat, type Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ISecurityGroup, ISubnet, IVpc } from 'aws-cdk-lib/aws-ec2';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, SystemLogLevel, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { physicalName } from '../resources';

/** What every Clover Lambda may be told about its logs (the function-specific constructs pass these on). */
export interface CloverFunctionLogProps {
  /** @default 'info' */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** What happens to the log group when it leaves the stack. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * The share of invocations that log at debug whatever `logLevel` says (Powertools' Logger sampling,
   * `POWERTOOLS_LOGGER_SAMPLE_RATE`), so a stage keeps a little detail without paying for it all.
   * @default 0.01
   */
  readonly logSampleRate?: number;
}

export interface CloverNodeFunctionProps extends CloverFunctionLogProps {
  /** The stage's resource prefix, e.g. `clover-dev`. The function is named `${prefix}-${name}`. */
  readonly prefix: string;
  /** The function's logical name: `dispatcher`, `monitor`, `notifier`. */
  readonly name: string;
  /** The handler module, relative to the repository root, e.g. `functions/monitor/handler.ts`. */
  readonly entry: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  /** Added to `CLOVER_PREFIX`, `CLOVER_LOG_LEVEL` and `NODE_OPTIONS`, which every function gets. */
  readonly environment?: Readonly<Record<string, string>>;
  /** The role's description. @default `${functionName}: ${description}` */
  readonly roleDescription?: string;
  /** Private subnets and security group to run in. @default outside any VPC */
  readonly network?: {
    readonly vpc: IVpc;
    readonly subnets: readonly ISubnet[];
    readonly securityGroups: readonly ISecurityGroup[];
  };
  /**
   * Concurrent executions set aside for (and capping) the function. Only where a runaway would hurt:
   * reserving takes from the account's unreserved pool, which must keep 100.
   * @default none (the account's pool)
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Ship zeromq beside the bundle, with its linux/arm64/glibc addon only: for the dispatcher of a stage
   * with ZeroMQ delivery, the one function that loads it (lazily, core/adapters/zmq-delivery.ts).
   * @default false: zeromq is neither bundled nor shipped
   */
  readonly zeromq?: boolean;
  /**
   * The least severe of Lambda's own log lines kept. `WARN` drops the START and REPORT lines of every
   * invocation (AWS Lambda's "Log-level filtering"): for the dispatcher, invoked once per fire, where
   * they would be most of a fire's log bytes; its duration, errors and throttles stay Lambda metrics.
   * @default 'INFO'
   */
  readonly systemLogLevel?: 'INFO' | 'WARN';
}

/**
 * AWS's managed policy for a Lambda's network interfaces in a VPC. CDK attaches it only to roles it
 * creates itself; every Clover function brings its own role, so the construct attaches it.
 */
export const VPC_ACCESS_POLICY = 'service-role/AWSLambdaVPCAccessExecutionRole';

/**
 * What one function's asset (bundle, source map and node_modules, unzipped) may weigh; the bundle
 * test (test/bundles/) holds every asset `cdk synth` builds to it (docs/deploy.md, "Lambda bundles").
 */
export const BUNDLE_BUDGET_BYTES = {
  /** A function with snappy beside its bundle. */
  base: 10 * 2 ** 20,
  /** The dispatcher with zeromq beside it too. */
  zeromq: 20 * 2 ** 20,
} as const;

/** The repository root: bundling runs esbuild from here, with the root package-lock.json. */
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LOCK_FILE = fileURLToPath(new URL('../../package-lock.json', import.meta.url));

/**
 * One Clover Lambda the way every one of them is built (the dispatcher, monitor and notifier
 * constructs extend it, so their children keep the ids `Logs`, `Role` and `Function`): Node.js 22 on ARM64, bundled by esbuild
 * (locally when installed, so no Docker) into CommonJS with source maps, JSON logs into its own log
 * group, and its own role with nothing attached yet — the function-specific construct adds exactly
 * the statements its handler needs (no AWSLambdaBasicExecutionRole, which may write to any log group);
 * a function with a `network` also gets AWS's VPC access policy for its network interfaces.
 *
 * `snappy` (the envelope codec) is a native module: it is not bundled but installed beside the
 * bundle for linux/arm64 with npm during synth, so synth needs the npm registry (or its cache).
 * `zeromq` (native too) is installed beside the dispatcher's bundle only when that stage delivers
 * over ZeroMQ (`zeromq: true`), with its linux/arm64/glibc addon alone; no other bundle contains it.
 * The AWS SDK is bundled at the versions package-lock.json pins, not taken from the runtime.
 *
 * @example
 * const monitor = new CloverNodeFunction(this, 'Fn', {
 *   prefix, name: 'monitor', entry: 'functions/monitor/handler.ts', description: '...',
 *   memorySize: 512, timeout: Duration.seconds(60),
 * });
 * monitor.role.addToPrincipalPolicy(statement);
 */
export class CloverNodeFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly functionName: string;
  /** The function's ARN, built from its name so it can sit in the function's own environment. */
  readonly functionArn: string;

  constructor(scope: Construct, id: string, props: CloverNodeFunctionProps) {
    super(scope, id);
    const functionName = physicalName(props.prefix, props.name);
    // Lambda names allow 64 characters; the prefix allows 40, so this holds for Clover's names.
    if (functionName.length > 64) {
      throw new Error(`function name ${JSON.stringify(functionName)} is over 64 characters`);
    }
    this.functionName = functionName;
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
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${functionName}: ${props.roleDescription ?? props.description}`.slice(0, 1000),
    });
    this.logGroup.grantWrite(this.role);

    this.fn = new NodejsFunction(this, 'Function', {
      functionName,
      entry: fileURLToPath(new URL(`../../${props.entry}`, import.meta.url)),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: LOCK_FILE,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      ...(props.network
        ? {
            vpc: props.network.vpc,
            vpcSubnets: { subnets: [...props.network.subnets] },
            securityGroups: [...props.network.securityGroups],
          }
        : {}),
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      // The handlers already write one JSON object per line (Powertools' Logger, functions/telemetry.ts).
      loggingFormat: LoggingFormat.JSON,
      ...(props.systemLogLevel === 'WARN' ? { systemLogLevelV2: SystemLogLevel.WARN } : {}),
      // X-Ray active tracing: Lambda samples invocations and starts their traces; Powertools' Tracer adds
      // the handler's subsegment and one per AWS SDK call. The dispatcher's trace id is the fire's.
      tracing: Tracing.ACTIVE,
      description: props.description,
      environment: {
        CLOVER_PREFIX: props.prefix,
        CLOVER_LOG_LEVEL: props.logLevel ?? 'info',
        POWERTOOLS_LOGGER_SAMPLE_RATE: String(props.logSampleRate ?? 0.01),
        ...props.environment,
        // Stack traces point into the TypeScript sources through the bundle's source map.
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: OutputFormat.CJS,
        target: 'node22',
        minify: true,
        sourceMap: true,
        // Bundle the pinned AWS SDK rather than use the runtime's (the default externalises @aws-sdk/*).
        // zeromq is never bundled: its loader finds its addon relative to its own files.
        externalModules: ['zeromq'],
        nodeModules: props.zeromq ? ['snappy', 'zeromq'] : ['snappy'],
        // npm installs the optional native package that matches these, not the synth host's.
        environment: { npm_config_os: 'linux', npm_config_cpu: 'arm64', npm_config_libc: 'glibc' },
        ...(props.zeromq
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                // zeromq's package carries every platform's addon; keep Lambda's alone.
                afterBundling: (inputDir: string, outputDir: string) => [
                  `node "${inputDir}/scripts/keep-lambda-zeromq.mjs" "${outputDir}"`,
                ],
              },
            }
          : {}),
      },
    });
    if (props.network) {
      // Without it Lambda cannot create the function's network interfaces and the deploy rolls back.
      this.role.addManagedPolicy(ManagedPolicy.fromAwsManagedPolicyName(VPC_ACCESS_POLICY));
      Validations.of(this.role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason:
          "A Lambda in a VPC must create, describe and delete its network interfaces; those EC2 actions cannot be scoped to resources, and AWS's own minimal managed policy for exactly them is clearer than a hand-copied wildcard statement.",
      });
    }
    // Tracing.ACTIVE adds xray:PutTraceSegments and xray:PutTelemetryRecords on `*` to the role.
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray trace uploads (xray:PutTraceSegments, xray:PutTelemetryRecords) support no resource-level permissions: AWS documents `*` as their only resource. The statement holds those two actions alone.',
    });
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime Clover is built and tested for (a deliberate pin, not drift); moving to a newer LTS is a separate change made together with the engines field and CI.',
    });
  }
}

/** The log settings of `props` alone, to pass on to {@link CloverNodeFunction}. */
export function logPropsOf(props: CloverFunctionLogProps): CloverFunctionLogProps {
  return {
    logLevel: props.logLevel,
    logSampleRate: props.logSampleRate,
    logRetention: props.logRetention,
    logRemovalPolicy: props.logRemovalPolicy,
  };
}
