import { mkdir, writeFile } from 'node:fs/promises';
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
import { Monitor } from '../../core/monitor';
import { Notifier } from '../../core/notify';
import { SchedulerClock } from '../../core/scheduler-clock';
import { type Emulator, findRunningLocalStack, startEmulator } from '../../infra/local/emulator';
import { physicalName } from '../../infra/resources';
import { makeDispatcherHandler } from '../dispatcher/handler';
import { type LocalApi, startLocalApi } from './api-server';
import { RunWatcher } from './run-watcher';

export interface LocalRuntimeOptions {
  readonly log: Logger;
  /** Resource prefix of the local stage. @default 'clover-local' */
  readonly prefix?: string;
  /** Where the agent environment is written. @default '.clover/local.env' */
  readonly envFile?: string;
  /** How often the scheduler clock ticks and run transitions are polled. @default 1000 */
  readonly tickMs?: number;
  /** How often due retries are dispatched. @default 5000 */
  readonly retryMs?: number;
  /** How often the monitor sweeps (leases, deadlines, misfires, availability). @default 5000 */
  readonly monitorMs?: number;
  /** Alert sender (verified on the emulator at start) and console URL for alert mail (default: the API's origin, which serves the console). */
  readonly alertFrom?: string;
  readonly consoleUrl?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The management API's port on 127.0.0.1 (0: any free port); `false` serves no API. @default PORT or 8080 */
  readonly apiPort?: number | false;
  /** Where the API's local key, users and api.json live. @default the env file's directory */
  readonly stateDir?: string;
}

export interface LocalRuntime {
  readonly emulator: Emulator;
  readonly clients: AwsClients;
  readonly plane: ControlPlane;
  readonly envFile: string;
  /** The management API, unless `apiPort: false`. */
  readonly api?: LocalApi;
  /** Stops the loops, closes the clients and stops an emulator this runtime started. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The local control plane (`npm start`): finds or starts an AWS emulator, provisions the stage's
 * tables, queues and schedule group from infra/resources.ts, then plays EventBridge Scheduler
 * (SchedulerClock → dispatcher) and sweeps due retries, printing every fire and run transition.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const { log } = options;
  const prefix = options.prefix ?? 'clover-local';
  const env = options.env ?? process.env;
  log.log('info', 'looking for an AWS emulator (AWS_ENDPOINT_URL, LocalStack on :4566, Docker, moto_server)');
  const emulator =
    (env.AWS_ENDPOINT_URL ? undefined : await findRunningLocalStack()) ?? (await startEmulator({ log, env }));
  log.log('info', 'emulator ready', { kind: emulator.kind, endpoint: emulator.endpoint });
  const clients = awsClients({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: emulator.credentials,
  });
  try {
    await provision(clients, prefix, {
      onProgress: (p) => log.log('info', `${p.resource} ${p.action}`, { name: p.name, detail: p.detail }),
    });
  } catch (error) {
    clients.destroy();
    await emulator.stop();
    throw error;
  }
  const plane = controlPlane({ clients, prefix, log });
  const dispatch = makeDispatcherHandler({ dispatcher: plane.dispatcher, log });
  const clock = new SchedulerClock({ schedules: plane.schedules, fire: dispatch, log });
  const watcher = new RunWatcher(plane.runs, log.child({ source: 'ledger' }));
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
  const alertsUrl =
    (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: physicalName(prefix, 'alerts') })))
      .QueueUrl ?? '';

  const envFile = options.envFile ?? '.clover/local.env';
  await mkdir(dirname(envFile), { recursive: true });
  await writeFile(
    envFile,
    [
      '# Written by `npm start`: the environment an agent or CLI needs to join the local stack.',
      `AWS_ENDPOINT_URL=${emulator.endpoint}`,
      `AWS_REGION=${emulator.region}`,
      `AWS_ACCESS_KEY_ID=${emulator.credentials.accessKeyId}`,
      `AWS_SECRET_ACCESS_KEY=${emulator.credentials.secretAccessKey}`,
      `CLOVER_PREFIX=${prefix}`,
      '',
    ].join('\n'),
  );

  const apiPort = options.apiPort ?? Number(env.PORT ?? 8080);
  const api =
    apiPort === false
      ? undefined
      : await startLocalApi({
          plane,
          log: log.child({ source: 'api' }),
          port: apiPort,
          stateDir: options.stateDir ?? dirname(envFile),
        });
  if (api) {
    // Agents that source this file sync their declared jobs through the API with the admin token.
    await writeFile(envFile, `CLOVER_API_URL=${api.url}\nCLOVER_API_TOKEN=${api.adminToken}\n`, {
      flag: 'a',
    });
  }

  // Alert mail links to the console's /runs/:runId and /jobs/:jobId, which the API's origin serves.
  const notifier = new Notifier({
    alerts: plane.alertStore,
    queue: plane.alertQueue,
    contacts: plane.contacts,
    jobs: plane.jobs,
    mailer: new SesMailer({ client: clients.ses }),
    clock: plane.clock,
    log: log.child({ source: 'notifier' }),
    config: { from: alertFrom, consoleUrl: options.consoleUrl ?? api?.url ?? 'http://localhost:5173' },
  });

  const loops = [
    every(options.tickMs ?? 1000, async () => {
      await clock.tick(Date.now());
      await watcher.poll();
    }),
    every(options.retryMs ?? 5000, () => plane.dispatcher.retryDue()),
    every(options.monitorMs ?? 5000, () => monitor.sweep()),
    every(1000, () => notifyOnce(clients.sqs, alertsUrl, notifier, log)),
  ].map((start) => start(log));

  let stopped: Promise<void> | undefined;
  return {
    emulator,
    clients,
    plane,
    envFile,
    ...(api ? { api } : {}),
    stop: () => {
      stopped ??= (async () => {
        await api?.close();
        await Promise.all(loops.map((stop) => stop()));
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
