import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  Annotations,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { EmailIdentity, Identity } from 'aws-cdk-lib/aws-ses';
import type { Construct } from 'constructs';
import { ValidationError } from '../core/errors';
import { CloverApi } from './constructs/clover-api';
import { CloverQueues } from './constructs/clover-queues';
import { CloverTables } from './constructs/clover-tables';
import { ConsoleSite } from './constructs/console-site';
import { CurveKeys } from './constructs/curve-keys';
import { DispatcherFunction } from './constructs/dispatcher-function';
import { DispatcherNetwork } from './constructs/dispatcher-network';
import { MonitorFunction, monitorWake } from './constructs/monitor-function';
import { NotifierFunction, senderAddress } from './constructs/notifier-function';
import { CloverObservability } from './constructs/observability';
import { PlannerSchedule } from './constructs/planner-schedule';
import { SchedulerInvokeRole } from './constructs/scheduler-invoke-role';
import { WorkerAgentPolicy } from './constructs/worker-agent-policy';
import {
  physicalName,
  poolQueueName,
  type QueueDefinition,
  queues,
  runtimeDispatchQueue,
  scheduleGroupName,
  type TableDefinition,
  tables,
  validatePrefix,
  workerQueueName,
} from './resources';
import type { AgentSetting, VpcSetting } from './settings';

/** The API Lambda's handler (issue #12), relative to the repository root. */
export const API_ENTRY = 'functions/api/handler.ts';
/** The built console (issue #13), relative to the repository root. */
export const CONSOLE_DIST = 'console/dist';
const fromRoot = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

export interface CloverStackProps extends StackProps {
  /**
   * The stage's resource prefix: every table, queue, function and the schedule group are named from
   * it (infra/resources.ts). Letters, digits, `_` and `-`, at most 40 characters.
   * @default 'clover-dev'
   */
  readonly prefix?: string;
  /**
   * What CloudFormation does with the tables, the user pool and the logs when they leave the stack
   * (including `cdk destroy`). DESTROY suits throwaway stages only.
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /** Tables refuse DeleteTable (a production stage). @default false */
  readonly deletionProtection?: boolean;
  /** The tables to build. Tests may narrow them; the app never does. @default tables (infra/resources.ts) */
  readonly tableDefinitions?: readonly TableDefinition[];
  /** The queues to build. @default queues (infra/resources.ts) and the `agents`' queues */
  readonly queueDefinitions?: readonly QueueDefinition[];
  /**
   * Whether alert mail is sent. On, `alertFrom` is required; off (a stage nobody is paged for),
   * alerts are still recorded and shown, and the notifier sends as a placeholder SES refuses.
   * @default true
   */
  readonly alerts?: boolean;
  /**
   * The sender of alert mail (the notifier's `CLOVER_ALERT_FROM`): `alerts@example.com` or
   * `Clover <alerts@example.com>`. The stack creates its SES identity (`sesIdentity`); while the
   * account is in the SES sandbox every recipient must be verified too.
   */
  readonly alertFrom?: string;
  /** `create` makes the SES email identity of `alertFrom`; `import` uses one verified outside the stack (the address or its domain). @default 'create' */
  readonly sesIdentity?: 'create' | 'import';
  /** Who the CloudWatch alarms mail (an SNS email subscription). @default nobody: the topic only */
  readonly alarmEmail?: string;
  /**
   * The console's base URL in alert mail (`<consoleUrl>/runs/<runId>`).
   * @default the stack's console (custom domain or CloudFront's), else http://localhost:5173
   */
  readonly consoleUrl?: string;
  /** How often the monitor sweeps while runs are in flight (once a minute otherwise). 0 sweeps once a minute always. @default 2 */
  readonly monitorLoopSeconds?: number;
  /** An SES configuration set for alert mail (`CLOVER_SES_CONFIGURATION_SET`). @default none */
  readonly sesConfigurationSet?: string;
  /** A VPC for the dispatcher, so it reaches agents' ZeroMQ ports. @default none: ZeroMQ jobs go over SQS */
  readonly vpc?: VpcSetting;
  /** The agents' address range (the dispatcher's ZeroMQ egress). @default the new VPC's CIDR */
  readonly agentCidr?: string;
  /** The agents' ZeroMQ port. @default 5555 */
  readonly zmqPort?: number;
  /** The console's custom domain and its us-east-1 ACM certificate. @default CloudFront's domain */
  readonly domain?: { readonly name: string; readonly certificateArn: string };
  /** The worker agents whose queues (and pools' queues) the stack makes. @default none */
  readonly agents?: readonly AgentSetting[];
  /** Raise to generate a new dispatcher CURVE key pair. @default 1 */
  readonly curveKeyVersion?: number;
  /** The API Lambda's handler module; null leaves the API (and console) out. @default API_ENTRY when it exists */
  readonly apiEntry?: string | null;
  /** The built console; null deploys the "not built" page. @default CONSOLE_DIST when it holds index.html */
  readonly consoleAssets?: string | null;
}

/** The alert sender of a stage with alerts off: a placeholder SES will refuse. */
export const DEFAULT_ALERT_FROM = 'clover-alerts@example.com';
/** The console URL when the stack has no console and none is given: the local console of `npm start`. */
export const DEFAULT_CONSOLE_URL = 'http://localhost:5173';

/** The queues the stack makes for the `agents`: each worker's own, and each pool's other than default. */
export function agentQueueDefinitions(agents: readonly AgentSetting[]): QueueDefinition[] {
  const pools = [...new Set(agents.map((a) => a.pool))].filter((pool) => pool !== 'default');
  return [
    ...pools.map((pool) => runtimeDispatchQueue(poolQueueName(pool))),
    ...agents.map((agent) => runtimeDispatchQueue(workerQueueName(agent.workerId))),
  ];
}

/**
 * One Clover stage in AWS (docs/deploy.md), built from infra/resources.ts — the definitions the
 * local runtime provisions on an emulator — so the deployed stack and the tested one cannot drift:
 *
 * - tables (point-in-time recovery; deletion protection on production stages) and queues, with a
 *   queue per declared agent and pool;
 * - the schedule group, the scheduler role (invokes only the dispatcher), the dispatcher (on-failure
 *   destination fires-dlq; in a VPC with its CURVE keys from Secrets Manager when `vpc` is set), the
 *   precise-jobs planner's `rate(1 minute)` schedule invoking the dispatcher's planner,
 *   the monitor (every minute; on-failure destination monitor-failures) and the notifier (SES);
 * - the management API (HTTP API, Cognito, JWT and IAM authorizers, throttling) and the console
 *   (S3 + CloudFront, runtime config.json) when the API handler exists;
 * - the managed policy agents attach, confined by principal tags to their own lease and queues;
 * - alarms on every dead-letter queue and Lambda, the scheduler, alert sends and worker-less jobs,
 *   mailed through an SNS topic, and a dashboard.
 */
export class CloverStack extends Stack {
  readonly prefix: string;
  readonly tables: CloverTables;
  readonly queues: CloverQueues;
  readonly scheduleGroup: ScheduleGroup;
  readonly schedulerRole: SchedulerInvokeRole;
  readonly curveKeys: CurveKeys;
  readonly network: DispatcherNetwork | undefined;
  readonly dispatcher: DispatcherFunction;
  readonly monitor: MonitorFunction;
  readonly planner: PlannerSchedule;
  readonly notifier: NotifierFunction;
  readonly api: CloverApi | undefined;
  readonly console: ConsoleSite | undefined;
  readonly workerAgentPolicy: WorkerAgentPolicy;
  readonly observability: CloverObservability;

  constructor(scope: Construct, id: string, props: CloverStackProps = {}) {
    super(scope, id, props);
    const prefix = validatePrefix(props.prefix ?? 'clover-dev');
    const dataRemovalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN;
    const alerts = props.alerts ?? true;
    if (alerts && props.alertFrom === undefined) {
      throw ValidationError.field(
        'alertFrom',
        'is required while alerts are on: the SES sender of alert mail (or alerts: false)',
      );
    }
    this.prefix = prefix;
    const warn = (id: string, message: string) => Annotations.of(this).addWarningV2(`clover:${id}`, message);

    this.tables = new CloverTables(this, 'Tables', {
      prefix,
      definitions: props.tableDefinitions ?? tables,
      removalPolicy: dataRemovalPolicy,
      deletionProtection: props.deletionProtection ?? false,
    });
    const agents = props.agents ?? [];
    const queueDefinitions = props.queueDefinitions ?? [...queues, ...agentQueueDefinitions(agents)];
    this.queues = new CloverQueues(this, 'Queues', { prefix, definitions: queueDefinitions });

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

    this.curveKeys = new CurveKeys(this, 'CurveKeys', {
      prefix,
      version: props.curveKeyVersion ?? 1,
      logRemovalPolicy: dataRemovalPolicy,
    });
    const vpc = props.vpc ?? { kind: 'none' };
    this.network =
      vpc.kind === 'none'
        ? undefined
        : new DispatcherNetwork(this, 'Network', {
            vpc,
            ...(props.agentCidr ? { agentCidr: props.agentCidr } : {}),
            ...(props.zmqPort ? { zmqPort: props.zmqPort } : {}),
          });
    if (!this.network) {
      warn(
        'zmq',
        "No VPC (-c vpc=new or -c vpc=vpc-...): the dispatcher runs outside any VPC, cannot reach agents' ZeroMQ ports, and delivers delivery: ZMQ jobs over SQS.",
      );
    }
    this.dispatcher = new DispatcherFunction(this, 'Dispatcher', {
      prefix,
      tables: this.tables,
      schedulerRole: this.schedulerRole.role,
      firesDeadLetterQueue,
      alertsQueue,
      ...(this.network ? { zmq: { network: this.network, keys: this.curveKeys } } : {}),
      logRemovalPolicy: dataRemovalPolicy,
    });
    this.schedulerRole.allowInvoke(this.dispatcher.fn);
    this.schedulerRole.allowDeadLetter(firesDeadLetterQueue);
    this.planner = new PlannerSchedule(this, 'Planner', {
      scheduleGroup: this.scheduleGroup,
      schedulerRole: this.schedulerRole.role,
      dispatcher: this.dispatcher.fn,
    });
    Validations.of(firesDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "fires-dlq is itself a dead-letter queue: EventBridge Scheduler and the dispatcher's on-failure destination put fires there, and the monitor drains it.",
    });
    Validations.of(this.queues.queue('monitor-failures')).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "monitor-failures is itself a dead-letter queue: the monitor's on-failure destination, alarmed when not empty.",
    });

    this.monitor = new MonitorFunction(this, 'Monitor', {
      prefix,
      tables: this.tables,
      alertsQueue,
      firesDeadLetterQueue,
      failureQueue: this.queues.queue('monitor-failures'),
      schedulerRole: this.schedulerRole.role,
      dispatcherArn: this.dispatcher.functionArn,
      ...(props.monitorLoopSeconds === undefined ? {} : { loopSeconds: props.monitorLoopSeconds }),
      logRemovalPolicy: dataRemovalPolicy,
    });
    // The dispatcher wakes the monitor when it puts a run in flight while the monitor idles.
    const wake = monitorWake(this, prefix);
    this.dispatcher.role.addToPrincipalPolicy(wake.statement);
    this.dispatcher.fn.addEnvironment('CLOVER_MONITOR_FUNCTION', wake.functionName);

    const apiEntry =
      props.apiEntry === undefined ? (existsSync(fromRoot(API_ENTRY)) ? API_ENTRY : null) : props.apiEntry;
    if (apiEntry === null) {
      warn(
        'api',
        `${API_ENTRY} does not exist yet: this stage has no management API, Cognito user pool or console. Agents' declared-job sync and the console come with the API.`,
      );
    } else {
      const assets =
        props.consoleAssets === undefined
          ? existsSync(fromRoot(`${CONSOLE_DIST}/index.html`))
            ? fromRoot(CONSOLE_DIST)
            : null
          : props.consoleAssets;
      if (assets === null) {
        warn(
          'console',
          `The console is not built (${CONSOLE_DIST}/index.html is missing): the site serves a page saying so. Build it and deploy again.`,
        );
      }
      this.console = new ConsoleSite(this, 'Console', {
        ...(assets ? { assets } : {}),
        ...(props.domain ? { domain: props.domain } : {}),
      });
      this.api = new CloverApi(this, 'Api', {
        prefix,
        entry: apiEntry,
        tables: this.tables,
        schedulerRole: this.schedulerRole.role,
        dispatcherArn: this.dispatcher.functionArn,
        firesDeadLetterQueue,
        alertsQueue,
        consoleOrigins: [this.console.url],
        userPoolRemovalPolicy: dataRemovalPolicy,
        logRemovalPolicy: dataRemovalPolicy,
      });
      this.console.deploy({
        apiUrl: this.api.url,
        auth: {
          mode: 'cognito',
          region: this.region,
          userPoolId: this.api.userPool.userPoolId,
          clientId: this.api.client.userPoolClientId,
          domain: this.api.hostedUiUrl,
        },
        // The stage's region: the run page links each run's trace to X-Ray here (console/src/trace-link.ts).
        region: this.region,
      });
    }

    const alertFrom = props.alertFrom ?? DEFAULT_ALERT_FROM;
    if (!alerts) {
      warn(
        'alertFrom',
        `Alerts are off: alert mail is sent as ${DEFAULT_ALERT_FROM}, which SES refuses; alerts stay recorded.`,
      );
    } else if ((props.sesIdentity ?? 'create') === 'create') {
      new EmailIdentity(this, 'AlertSender', { identity: Identity.email(senderAddress(alertFrom).address) });
    }
    this.notifier = new NotifierFunction(this, 'Notifier', {
      prefix,
      tables: this.tables,
      alertsQueue,
      alertFrom,
      consoleUrl: props.consoleUrl ?? this.console?.url ?? DEFAULT_CONSOLE_URL,
      ...(props.sesConfigurationSet ? { sesConfigurationSet: props.sesConfigurationSet } : {}),
      logRemovalPolicy: dataRemovalPolicy,
    });

    this.workerAgentPolicy = new WorkerAgentPolicy(this, 'WorkerAgentPolicy', {
      prefix,
      tables: this.tables,
      alertsQueue,
      dispatchDeadLetterQueue: this.queues.queue('dispatch-default-dlq'),
    });
    if (this.api) {
      this.workerAgentPolicy.allowDeclaredJobSync(this.api.httpApi.apiId);
      // Manual triggers put runs in flight too.
      this.api.fn.role.addToPrincipalPolicy(wake.statement);
      this.api.fn.fn.addEnvironment('CLOVER_MONITOR_FUNCTION', wake.functionName);
    }

    const functions = [this.dispatcher, this.monitor, this.notifier, this.curveKeys.generator];
    if (this.api) functions.push(this.api.fn);
    this.observability = new CloverObservability(this, 'Observability', {
      prefix,
      deadLetterQueues: this.queues.all().filter(([name]) => isDeadLetterQueue(queueDefinitions, name)),
      functions,
      tables: this.tables.all(),
      queueAges: this.queues
        .all()
        .flatMap(([name, queue]) =>
          name === 'alerts'
            ? [{ name, queue, maxAge: ALERT_MAX_AGE }]
            : name.startsWith('dispatch-') && !isDeadLetterQueue(queueDefinitions, name)
              ? [{ name, queue, maxAge: DISPATCH_MAX_AGE }]
              : [],
        ),
      ...(this.api ? { api: this.api.httpApi } : {}),
      scheduleGroup: this.scheduleGroup,
      ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
    });

    const output = (id: string, value: string, description: string, exportName?: string) =>
      new CfnOutput(this, id, { value, description, ...(exportName ? { exportName } : {}) });
    output(
      'WorkerAgentPolicyArn',
      this.workerAgentPolicy.policy.managedPolicyArn,
      'Attach to the IAM role of every worker agent host of this stage (tag it clover-worker-id, clover-pool)',
      `${prefix}-worker-agent-policy-arn`,
    );
    output(
      'QueueNames',
      this.queues
        .all()
        .map(([name]) => physicalName(prefix, name))
        .join(','),
      "The stage's SQS queues",
    );
    output(
      'DispatcherPublicKeyParameter',
      this.curveKeys.publicKeyParameter.parameterName,
      "SSM parameter holding the dispatcher's CURVE public key (agents' zmq.dispatcherPublicKeys)",
    );
    output('AlarmTopicArn', this.observability.topic.topicArn, 'SNS topic every alarm notifies');
    output('DispatcherArn', this.dispatcher.functionArn, 'The dispatcher Lambda');
    output('MonitorFunctionName', this.monitor.functionName, 'The monitor Lambda');
    output('NotifierFunctionName', this.notifier.functionName, 'The notifier Lambda');
    output('SchedulerRoleArn', this.schedulerRole.role.roleArn, 'The role job schedules run as');
    output('ScheduleGroupName', this.scheduleGroup.scheduleGroupName, "The stage's schedule group");
    if (this.api && this.console) {
      output('ConsoleUrl', this.console.url, 'The web console');
      output('ApiUrl', this.api.url, 'The management API (routes under /api)');
      output(
        'UserPoolId',
        this.api.userPool.userPoolId,
        'Cognito user pool: add users and put them in admin, operator or viewer',
      );
      output('UserPoolClientId', this.api.client.userPoolClientId, "The console's app client");
      output('HostedUiUrl', this.api.hostedUiUrl, 'Cognito hosted sign-in');
    }
  }
}

/**
 * How long a fire may wait on a pool's dispatch queue before it alarms: agents long-poll it at once,
 * so a message this old means no live agent of the pool consumes it. Worker queues are not watched:
 * a gone worker's queue keeps pointers the monitor has already dispatched again.
 */
export const DISPATCH_MAX_AGE = Duration.minutes(15);
/** How long an alert may wait: covers its redeliveries (six visibility timeouts) and delayed digests (15 min). */
export const ALERT_MAX_AGE = Duration.minutes(30);

/** A queue no other definition dead-letters into, because it is the end of the line: `*-dlq`, `monitor-failures`. */
function isDeadLetterQueue(definitions: readonly QueueDefinition[], name: string): boolean {
  return definitions.find((d) => d.logicalName === name)?.deadLetter === undefined;
}
