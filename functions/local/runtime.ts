import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { VerifyEmailIdentityCommand } from '@aws-sdk/client-ses';
import {
  DeleteMessageCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type AwsClients, awsClients } from '../../core/adapters/aws-clients';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { provision } from '../../core/adapters/provision';
import { SesMailer } from '../../core/adapters/ses-mailer';
import { parseAlertMessage } from '../../core/adapters/sqs-alert-queue';
import type { Logger } from '../../core/log';
import { parseOrThrow } from '../../core/model';
import { Monitor } from '../../core/monitor';
import { Notifier } from '../../core/notify';
import { Planner } from '../../core/planner';
import { privateDir, tightenTree, writePrivateFile } from '../../core/private-files';
import { SchedulerClock, schedulerLateness } from '../../core/scheduler-clock';
import { type Emulator, findRunningLocalStack, startEmulator } from '../../infra/local/emulator';
import { physicalName } from '../../infra/resources';
import { parseTrustedProxies } from '../api/client-address';
import { makeDispatcherHandler } from '../dispatcher/handler';
import { DEFAULT_MONITOR_LOOP_SECONDS } from '../monitor/handler';
import { NotifierTuningEnvSchema } from '../notifier/handler';
import { type LocalApi, type LocalCognito, startLocalApi } from './api-server';
import { OutboxMailer } from './mail-outbox';
import { startLocalMonitorLoop } from './monitor-loop';
import { RunWatcher } from './run-watcher';

export interface LocalRuntimeOptions {
  readonly log: Logger;
  /** Resource prefix of the local stage. @default 'clover-local' */
  readonly prefix?: string;
  /** Where the agent environment is written. @default '.clover/local.env' */
  readonly envFile?: string;
  /** How often the scheduler clock ticks and run transitions are polled. @default 1000 */
  readonly tickMs?: number;
  /**
   * How often the monitor sweeps (leases, deadlines, retries, misfires, availability) while runs are
   * in flight; with none, once a minute, as deployed (functions/local/monitor-loop.ts). @default 2000
   */
  readonly monitorMs?: number;
  /** Alert sender (verified on the emulator at start) and console URL for alert mail. */
  readonly alertFrom?: string;
  readonly consoleUrl?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The management API's port on 127.0.0.1 (0: any free port); `false` serves no API. @default PORT or 8080 */
  readonly apiPort?: number | false;
  /** Where the API's local key, users and api.json live. @default the env file's directory */
  readonly stateDir?: string;
  /** Users sign in through this Cognito-shaped issuer instead of the local form (api-server.ts). */
  readonly cognito?: LocalCognito;
  /** Also write each alert mail to this directory as an .eml file and print its path (mail-outbox.ts). */
  readonly mailDir?: string;
  /** Awaited just before the API starts (it serves console/dist as it is then): a console build, say. */
  readonly beforeApi?: Promise<unknown>;
  /**
   * Deliver each scheduler invocation (fires and the precise-jobs planner) at a random moment within
   * its minute, as EventBridge Scheduler does (core/scheduler-clock.ts `schedulerLateness`). Off by
   * default so that demos and tests see REMOTE fires at once; `CLOVER_SCHEDULER_LATENESS=minute`
   * turns it on for `npm start`. @default false
   */
  readonly schedulerLateness?: boolean;
  /** When moto is missing, try to pip-install it (infra/local/emulator.ts). @default true */
  readonly installMoto?: boolean;
}

export interface LocalRuntime {
  readonly emulator: Emulator;
  readonly clients: AwsClients;
  readonly plane: ControlPlane;
  readonly envFile: string;
  /** The management API, unless `apiPort: false`. */
  readonly api?: LocalApi;
  /** Stops making new work (scheduler clock, retries, monitor); run reports and mail go on. */
  quiesce(): Promise<void>;
  /** Stops the API and the loops, closes the clients and stops an emulator this runtime started. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The local control plane (`npm start`): finds or starts an AWS emulator, provisions the stage's
 * tables, queues and schedule group from infra/resources.ts, then plays EventBridge Scheduler
 * (SchedulerClock → dispatcher) and sweeps due retries, printing every fire and run transition.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const { log } = options;
  const env = options.env ?? process.env;
  log.log('info', 'looking for an AWS emulator (AWS_ENDPOINT_URL, LocalStack on :4566, Docker, moto_server)');
  const emulator =
    // A LocalStack already running on :4566 (docker compose up) is used unless told otherwise.
    (env.AWS_ENDPOINT_URL || env.CLOVER_EMULATOR === 'moto' ? undefined : await findRunningLocalStack()) ??
    // Own process group: a terminal's Ctrl-C must not end moto before the loops and agents are done.
    (await startEmulator({ log, env, ownProcessGroup: true, installMoto: options.installMoto ?? true }));
  log.log('info', 'emulator up', { kind: emulator.kind, endpoint: emulator.endpoint });
  const clients = awsClients({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: emulator.credentials,
  });
  try {
    return await startOnEmulator(options, emulator, clients);
  } catch (error) {
    clients.destroy();
    await emulator.stop();
    throw error;
  }
}

async function startOnEmulator(
  options: LocalRuntimeOptions,
  emulator: Emulator,
  clients: AwsClients,
): Promise<LocalRuntime> {
  const { log } = options;
  const env = options.env ?? process.env;
  const prefix = options.prefix ?? 'clover-local';
  await provision(clients, prefix, {
    onProgress: (p) => log.log('info', `${p.resource} ${p.action}`, { name: p.name, detail: p.detail }),
  });
  // The dispatcher wakes the local monitor loop (started later) when it puts a run in flight.
  const monitorWake = { wake: () => {} };
  // Loopback channels (http://127.0.0.1:...) are allowed locally, where test receivers listen.
  const plane = controlPlane({
    clients,
    prefix,
    log,
    endpointPolicy: { allowLoopback: true },
    monitor: { invoker: { invoke: async () => monitorWake.wake() } },
  });
  const envFile = options.envFile ?? '.clover/local.env';
  const stateDir = options.stateDir ?? dirname(envFile);
  // Owner-only, and so is everything an older install left there with 0644 (mail, logs, env file).
  await privateDir(stateDir);
  await tightenTree(stateDir);
  await mkdir(dirname(envFile), { recursive: true });
  const apiPort = options.apiPort ?? Number(env.PORT ?? 8080);
  await options.beforeApi;
  const api =
    apiPort === false
      ? undefined
      : await startLocalApi({
          plane,
          log: log.child({ source: 'api' }),
          port: apiPort,
          stateDir,
          trustedProxies: parseTrustedProxies(env.CLOVER_API_TRUSTED_PROXIES),
          ...(options.cognito ? { cognito: options.cognito } : {}),
        });
  try {
    return await startLoops(
      options,
      { emulator, clients, plane, envFile, ...(api ? { api } : {}) },
      monitorWake,
    );
  } catch (error) {
    await api?.close();
    throw error;
  }
}

async function startLoops(
  options: LocalRuntimeOptions,
  parts: Omit<LocalRuntime, 'stop' | 'quiesce'>,
  monitorWake: { wake: () => void },
): Promise<LocalRuntime> {
  const { log } = options;
  const { emulator, clients, plane, envFile, api } = parts;
  const prefix = plane.prefix;
  const dispatch = makeDispatcherHandler({ dispatcher: plane.dispatcher, log });
  const planner = new Planner({ ...plane, log: log.child({ source: 'planner' }) });
  const clock = new SchedulerClock({
    schedules: plane.schedules,
    fire: dispatch,
    planner: (scheduledTime) => planner.plan({ scheduledTime }),
    log,
    ...(options.schedulerLateness ? { lateness: () => schedulerLateness() } : {}),
  });
  const watcher = new RunWatcher(plane.runs, plane.apiReads, log.child({ source: 'ledger' }));
  const monitor = new Monitor({
    ...plane,
    deadLetters: plane.fireDeadLetters,
    log: log.child({ source: 'monitor' }),
  });
  const alertFrom = options.alertFrom ?? 'clover@localhost.localdomain';
  await clients.ses
    .send(new VerifyEmailIdentityCommand({ EmailAddress: alertFrom }))
    .catch((error: unknown) =>
      log.log('warn', 'could not verify the alert sender on the emulator', { error }),
    );
  // The notifier Lambda's settings, read as it reads them (a bad value names the variable).
  const tuning = parseOrThrow(NotifierTuningEnvSchema, options.env ?? process.env, 'environment');
  const notifier = new Notifier({
    alerts: plane.alertStore,
    queue: plane.alertQueue,
    contacts: plane.contacts,
    jobs: plane.jobs,
    mailer: options.mailDir
      ? new OutboxMailer(new SesMailer({ client: clients.ses }), {
          dir: options.mailDir,
          log: log.child({ source: 'mail' }),
        })
      : new SesMailer({ client: clients.ses }),
    channels: plane.channelSender,
    clock: plane.clock,
    log: log.child({ source: 'notifier' }),
    // Links in alert mail point at this runtime's console when it serves one.
    config: {
      from: alertFrom,
      consoleUrl: options.consoleUrl ?? api?.url ?? 'http://localhost:5173',
      windowMs: tuning.CLOVER_ALERT_WINDOW_SECONDS * 1000,
      maxAttempts: tuning.CLOVER_ALERT_MAX_ATTEMPTS,
    },
  });
  const alertsUrl =
    (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: physicalName(prefix, 'alerts') })))
      .QueueUrl ?? '';

  // Credentials and the admin token: owner-only (writePrivateFile), whole or not at all.
  await writePrivateFile(
    envFile,
    [
      '# Written by `npm start`: the environment an agent or CLI needs to join the local stack.',
      `AWS_ENDPOINT_URL=${emulator.endpoint}`,
      `AWS_REGION=${emulator.region}`,
      `AWS_ACCESS_KEY_ID=${emulator.credentials.accessKeyId}`,
      `AWS_SECRET_ACCESS_KEY=${emulator.credentials.secretAccessKey}`,
      `CLOVER_PREFIX=${prefix}`,
      // Agents that source this file sync their declared jobs through the API with the admin token.
      ...(api ? [`CLOVER_API_URL=${api.url}`, `CLOVER_API_TOKEN=${api.adminToken}`] : []),
      '',
    ].join('\n'),
  );

  const tickMs = options.tickMs ?? 1000;
  // What makes new work: fires, retries, the monitor's recoveries and alerts. `quiesce()` stops these
  // first, so agents draining at shutdown are not handed new runs (nor reported missing meanwhile).
  const monitorLoop = startLocalMonitorLoop({
    sweep: (signal) => monitor.sweep(undefined, { signal }),
    log,
    watchMs: options.monitorMs ?? DEFAULT_MONITOR_LOOP_SECONDS * 1000,
  });
  monitorWake.wake = () => monitorLoop.wake();
  const workLoops = [every(tickMs, () => clock.tick(Date.now()))(log), () => monitorLoop.stop()];
  // What reports: run transitions and alert mail, kept until the very end.
  const reportLoops = [
    // Runs in flight that the local dispatcher did not start (agents' LOCAL fires) wake the monitor too.
    every(tickMs, async () => {
      if ((await watcher.poll()) > 0) monitorLoop.wake();
    }),
    every(1000, () => notifyOnce(clients.sqs, alertsUrl, notifier, log)),
  ].map((start) => start(log));

  let quiesced: Promise<void> | undefined;
  const quiesce = () => {
    quiesced ??= Promise.all(workLoops.map((stop) => stop())).then(() => clock.stop());
    return quiesced;
  };
  let stopped: Promise<void> | undefined;
  return {
    emulator,
    clients,
    plane,
    envFile,
    ...(api ? { api } : {}),
    quiesce,
    stop: () => {
      stopped ??= (async () => {
        await api?.close();
        await quiesce();
        await Promise.all(reportLoops.map((stop) => stop()));
        clients.destroy();
        await emulator.stop();
      })();
      return stopped;
    },
  };
}

/**
 * The notifier Lambda's work, locally: short-poll the alerts queue, process each message, delete it
 * unless it asks for redelivery (then it reappears after the visibility timeout, as in AWS).
 */
async function notifyOnce(sqs: SQSClient, queueUrl: string, notifier: Notifier, log: Logger): Promise<void> {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
  );
  for (const message of out.Messages ?? []) {
    try {
      const redelivered = Number(message.Attributes?.ApproximateReceiveCount ?? '1') > 1;
      const result = await notifier.process(parseAlertMessage(message.Body ?? ''), { redelivered });
      if (result.retry) continue;
    } catch (error) {
      log.log('error', 'alert message failed; it will be delivered again', { error });
      continue;
    }
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
  }
}

/** Runs `task` every `ms`, never overlapping itself; the returned function stops it after the current run. */
function every(ms: number, task: () => Promise<unknown>) {
  return (log: Logger) => {
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> = Promise.resolve();
    let active = true;
    const run = () => {
      running = task()
        .then(
          () => undefined,
          (error: unknown) => log.log('error', 'local loop failed; retrying next tick', { error }),
        )
        .finally(() => {
          if (active) timer = setTimeout(run, ms);
        });
    };
    timer = setTimeout(run, 0);
    return async () => {
      active = false;
      clearTimeout(timer);
      await running;
    };
  };
}
