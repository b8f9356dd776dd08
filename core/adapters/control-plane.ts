import { physicalName, scheduleGroupName } from '../../infra/resources';
import { RecordingAlertHook } from '../alerts';
import { ContactService } from '../contacts';
import { DependentFires } from '../dependents';
import { Dispatcher } from '../dispatch';
import { EndpointGuard, type EndpointPolicy } from '../endpoints';
import { RunExecution } from '../execution';
import { JobService } from '../jobs';
import { type Logger, silentLogger } from '../log';
import type { TraceId } from '../model';
import { MonitorWaker } from '../monitor';
import type { AlertHook, Clock, HostResolver, MonitorInvoker } from '../ports';
import { systemClock } from '../ports';
import { WorkerDirectory } from '../worker-directory';
import type { AwsClients } from './aws-clients';
import { DnsHostResolver } from './dns-host-resolver';
import { DynamoAlertStore } from './dynamo-alert-store';
import { DynamoApiReads } from './dynamo-api-reads';
import { DynamoContactStore } from './dynamo-contact-store';
import { DynamoDependencyJoins } from './dynamo-dependency-joins';
import { DynamoJobStore } from './dynamo-job-store';
import { DynamoLockStore } from './dynamo-lock-store';
import { DynamoRunLedger } from './dynamo-run-ledger';
import { DynamoWatchStore } from './dynamo-watch-store';
import { DynamoWorkerRegistry } from './dynamo-worker-registry';
import { EventBridgeScheduleGateway } from './eventbridge-schedule-gateway';
import { HttpChannelSender } from './http-channel-sender';
import { LambdaMonitorInvoker } from './lambda-monitor-invoker';
import { SqsAlertQueue } from './sqs-alert-queue';
import { SqsDelivery } from './sqs-delivery';
import { SqsFireDeadLetters } from './sqs-fire-dead-letters';
import { ZmqDelivery } from './zmq-delivery';
import type { CurveKeyPair } from './zmq-protocol';

export interface ControlPlaneOptions {
  readonly clients: AwsClients;
  /** The stage's resource prefix (infra/resources.ts), e.g. `clover-dev`. */
  readonly prefix: string;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Where alerts go. @default a record in the alerts table plus a message on the alerts queue (RecordingAlertHook) */
  readonly alerts?: AlertHook;
  /** The dispatcher Lambda and the role Scheduler assumes; local stacks get placeholders the emulators accept. */
  readonly dispatcherArn?: string;
  readonly schedulerRoleArn?: string;
  readonly firesDeadLetterArn?: string;
  /** How long the dispatcher keeps a worker list. @default 1000 */
  readonly workerCacheMs?: number;
  /** How many jobs the dispatcher keeps between fires, each checked by the fire's write (DispatcherDeps.jobCacheSize). @default 1000 */
  readonly jobCacheSize?: number;
  readonly random?: () => number;
  /** The current invocation's trace for the runs the dispatcher makes (DispatcherDeps.traceId). @default a new id per fire */
  readonly traceId?: () => TraceId | undefined;
  /**
   * Direct ZeroMQ delivery for jobs with `delivery: 'ZMQ'` (docs/zeromq.md): the dispatcher's CURVE
   * key pair (agents allow-list its public key) and the acknowledgement deadline. Without it, ZMQ jobs
   * go over SQS. Its sockets live as long as the plane: build the plane once per process (module
   * scope in a Lambda, so warm invocations reuse them) and `close()` it at shutdown.
   */
  readonly zmq?: { readonly keys: CurveKeyPair; readonly deadlineMs?: number };
  /**
   * What contacts' webhook and chat channel URLs may reach (core/endpoints.ts). Loopback (and http to
   * it) only where the local product or a test turns it on. @default { allowLoopback: false }
   */
  readonly endpointPolicy?: EndpointPolicy;
  /** @default DnsHostResolver (the system resolver) */
  readonly hostResolver?: HostResolver;
  /**
   * How the dispatcher wakes an idle monitor when it puts a run in flight (core/monitor/watch.ts): a
   * function name or ARN (`CLOVER_MONITOR_FUNCTION`; Lambda Invoke), or an invoker of the caller's
   * (the local runtime's loop). Neither: no wake, the monitor's next scheduled sweep watches the run.
   */
  readonly monitor?: { readonly functionName: string } | { readonly invoker: MonitorInvoker };
}

/**
 * Every adapter and use case of one stage, wired once: the Lambda handlers build one per warm
 * container, the local runtime and the agent one per process, each test file one per emulator.
 *
 * @example
 * const plane = controlPlane({ clients: awsClients(), prefix: 'clover-dev' });
 * await plane.dispatcher.fire({ jobId: 'nightly-report', scheduledTime: '2026-01-30T10:00:00Z' });
 */
export function controlPlane(options: ControlPlaneOptions) {
  const { clients, prefix } = options;
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger;
  const account = '000000000000';
  const alertStore = new DynamoAlertStore({
    client: clients.dynamodb,
    table: physicalName(prefix, 'alerts'),
    clock,
  });
  const contactStore = new DynamoContactStore({
    client: clients.dynamodb,
    table: physicalName(prefix, 'contacts'),
  });
  const alertQueue = new SqsAlertQueue({
    client: clients.sqs,
    queueUrl: { name: physicalName(prefix, 'alerts') },
  });
  const fireDeadLetters = new SqsFireDeadLetters({
    client: clients.sqs,
    queueUrl: { name: physicalName(prefix, 'fires-dlq') },
  });
  const alerts: AlertHook =
    options.alerts ?? new RecordingAlertHook({ alerts: alertStore, queue: alertQueue, log });
  const jobs = new DynamoJobStore({
    client: clients.dynamodb,
    table: physicalName(prefix, 'jobs'),
    locksTable: physicalName(prefix, 'locks'),
  });
  const runs = new DynamoRunLedger({
    client: clients.dynamodb,
    runsTable: physicalName(prefix, 'runs'),
    locksTable: physicalName(prefix, 'locks'),
    clock,
  });
  const locks = new DynamoLockStore({
    client: clients.dynamodb,
    table: physicalName(prefix, 'locks'),
    clock,
  });
  const workers = new DynamoWorkerRegistry({
    client: clients.dynamodb,
    table: physicalName(prefix, 'workers'),
    leasesTable: physicalName(prefix, 'leases'),
    clock,
  });
  const directory = new WorkerDirectory(workers, options.workerCacheMs ?? 1000);
  const delivery = new SqsDelivery({ client: clients.sqs, prefix });
  const zmqDelivery = options.zmq
    ? new ZmqDelivery({
        keys: options.zmq.keys,
        fallback: delivery,
        log: log.child({ component: 'zmq-delivery' }),
        ...(options.zmq.deadlineMs === undefined ? {} : { deadlineMs: options.zmq.deadlineMs }),
      })
    : undefined;
  const schedules = new EventBridgeScheduleGateway({
    client: clients.scheduler,
    groupName: scheduleGroupName(prefix),
    dispatcherArn:
      options.dispatcherArn ?? `arn:aws:lambda:${clients.region}:${account}:function:${prefix}-dispatcher`,
    roleArn: options.schedulerRoleArn ?? `arn:aws:iam::${account}:role/${prefix}-scheduler`,
    ...(options.firesDeadLetterArn ? { deadLetterArn: options.firesDeadLetterArn } : {}),
  });
  // The monitor's watch: one item of the locks table (core/monitor/watch.ts).
  const watch = new DynamoWatchStore({
    client: clients.dynamodb,
    table: physicalName(prefix, 'locks'),
    clock,
  });
  const monitor = options.monitor;
  const invoker =
    monitor && 'invoker' in monitor
      ? monitor.invoker
      : monitor && new LambdaMonitorInvoker({ client: clients.lambda, functionName: monitor.functionName });
  const waker = invoker ? new MonitorWaker({ watch, invoker, clock, log }) : undefined;
  const dispatcher = new Dispatcher({
    jobs,
    runs,
    locks,
    workers: directory,
    delivery,
    ...(zmqDelivery ? { directDelivery: zmqDelivery } : {}),
    clock,
    log,
    alerts,
    jobCacheSize: options.jobCacheSize ?? 1000,
    ...(options.random ? { random: options.random } : {}),
    ...(options.traceId ? { traceId: options.traceId } : {}),
    ...(waker ? { waker } : {}),
  });
  const joins = new DynamoDependencyJoins({
    client: clients.dynamodb,
    table: physicalName(prefix, 'locks'),
    clock,
  });
  const dependents = new DependentFires({ jobs, runs, joins, dispatcher, clock, log });
  const execution = new RunExecution({ jobs, runs, dispatcher, clock, log, alerts, dependents });
  const jobService = new JobService({ jobs, schedules, workers, clock, log });
  const endpointPolicy = options.endpointPolicy ?? { allowLoopback: false };
  const contacts = new ContactService({
    contacts: contactStore,
    log,
    endpoints: new EndpointGuard({
      resolver: options.hostResolver ?? new DnsHostResolver(),
      policy: endpointPolicy,
    }),
  });
  /** The management API's paged reads and its audit log (core/api/ports.ts). */
  const apiReads = new DynamoApiReads({ client: clients.dynamodb, prefix, runs, alerts: alertStore, clock });
  return {
    prefix,
    clock,
    log,
    jobs,
    runs,
    locks,
    workers,
    directory,
    delivery,
    /** The ZeroMQ delivery of ZMQ jobs, when `zmq` was given. */
    zmqDelivery,
    schedules,
    dispatcher,
    /** Which monitor invocation watches, and until when (core/monitor/watch.ts). */
    watch,
    /** Fires dependent jobs; the monitor, built from the plane, takes it too. */
    dependents,
    execution,
    jobService,
    alerts,
    alertStore,
    alertQueue,
    contactStore,
    contacts,
    /** Posts alerts to webhook and chat channels under the same endpoint policy (the notifier's). */
    channelSender: new HttpChannelSender({ policy: endpointPolicy }),
    fireDeadLetters,
    apiReads,
    /** Closes what the plane holds open (the ZeroMQ sockets); the AWS clients are the caller's. Idempotent. */
    close: async (): Promise<void> => {
      await zmqDelivery?.close();
    },
  };
}

export type ControlPlane = ReturnType<typeof controlPlane>;
