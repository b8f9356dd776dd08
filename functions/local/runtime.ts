import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type AwsClients, awsClients } from '../../core/adapters/aws-clients';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { provision } from '../../core/adapters/provision';
import type { Logger } from '../../core/log';
import { SchedulerClock } from '../../core/scheduler-clock';
import { type Emulator, findRunningLocalStack, startEmulator } from '../../infra/local/emulator';
import { makeDispatcherHandler } from '../dispatcher/handler';
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
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface LocalRuntime {
  readonly emulator: Emulator;
  readonly clients: AwsClients;
  readonly plane: ControlPlane;
  readonly envFile: string;
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

  const loops = [
    every(options.tickMs ?? 1000, async () => {
      await clock.tick(Date.now());
      await watcher.poll();
    }),
    every(options.retryMs ?? 5000, () => plane.dispatcher.retryDue()),
  ].map((start) => start(log));

  let stopped: Promise<void> | undefined;
  return {
    emulator,
    clients,
    plane,
    envFile,
    stop: () => {
      stopped ??= (async () => {
        await Promise.all(loops.map((stop) => stop()));
        clients.destroy();
        await emulator.stop();
      })();
      return stopped;
    },
  };
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
