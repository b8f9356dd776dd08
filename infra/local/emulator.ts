/**
 * Finds or starts an AWS emulator for the local runtime (`npm start`) and the integration tests.
 *
 * `startEmulator` picks, in order:
 *   1. `AWS_ENDPOINT_URL`, when set: an emulator (or AWS) someone else runs; `stop()` leaves it alone.
 *   2. LocalStack in Docker (testcontainers), when a Docker engine answers within 3 s.
 *   3. `moto_server` as a child process on a free loopback port.
 * `CLOVER_EMULATOR=moto|localstack` skips the search and insists on one of them.
 *
 * Neither emulator fires EventBridge schedules; the local runtime does (ARCHITECTURE.md, Local and
 * test runtime). What each emulator does and does not do like AWS is in docs/emulators.md. moto_server
 * is started by moto.ts; what the emulators' SES sent is read by sent-emails.ts.
 */
import { execFile } from 'node:child_process';
import { CloverError } from '../../core/errors';
import { type Logger, silentLogger } from '../../core/log';
import { type Emulator, TEST_CREDENTIALS } from './emulator-types';
import { startMoto } from './moto';

export type { Emulator, EmulatorKind } from './emulator-types';

export { MOTO_REQUIREMENT } from './moto';
export { readSentEmails, type SentEmail } from './sent-emails';

/** The last LocalStack tag that starts without an auth token; later images require one. */
export const LOCALSTACK_IMAGE = 'localstack/localstack:4.14.0';
export const LOCALSTACK_URL = 'http://127.0.0.1:4566';

/**
 * The environment a child process (an agent, the local runtime, a dispatcher) needs to reach the
 * emulator: the AWS SDK reads its endpoint, region and credentials from these variables.
 */
export function emulatorEnv(
  emulator: Pick<Emulator, 'endpoint' | 'region' | 'credentials'>,
  endpoint = emulator.endpoint,
): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: emulator.region,
    AWS_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
  };
}

export interface StartEmulatorOptions {
  readonly log?: Logger;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** How long moto_server may take to answer HTTP. @default 20000 */
  readonly startTimeoutMs?: number;
  /** When moto is missing, try `python3 -m pip install` it once before giving up. @default true */
  readonly installMoto?: boolean;
  /**
   * Start moto_server in its own process group, so a Ctrl-C at the terminal (which signals the whole
   * foreground group) does not end it before the runtime's own ordered stop. @default false
   */
  readonly ownProcessGroup?: boolean;
}

/**
 * @example
 * const emulator = await startEmulator({ log });
 * const clients = awsClients({ endpoint: emulator.endpoint, region: emulator.region, credentials: emulator.credentials });
 * try { ... } finally { clients.destroy(); await emulator.stop(); }
 */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const env = options.env ?? process.env;
  const log = options.log ?? silentLogger;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';

  const external = env.AWS_ENDPOINT_URL;
  if (external) {
    log.log('info', 'emulator: using AWS_ENDPOINT_URL', { endpoint: external });
    return {
      endpoint: external,
      region,
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID || TEST_CREDENTIALS.accessKeyId,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY || TEST_CREDENTIALS.secretAccessKey,
      },
      kind: 'external',
      owned: false,
      stop: async () => {},
    };
  }

  const wanted = env.CLOVER_EMULATOR ?? 'auto';
  if (!['auto', 'moto', 'localstack'].includes(wanted)) {
    throw new CloverError(
      'validation_failed',
      `CLOVER_EMULATOR must be auto, moto or localstack, not ${wanted}`,
    );
  }
  if (wanted === 'localstack' || (wanted === 'auto' && (await dockerAnswers()))) {
    return startLocalStack(region, log);
  }
  return startMoto(region, log, {
    startTimeoutMs: options.startTimeoutMs ?? 20_000,
    install: options.installMoto ?? true,
    detached: options.ownProcessGroup ?? false,
  });
}

/**
 * A LocalStack already listening (on :4566 unless `url` says otherwise), for `npm start` to reuse;
 * undefined when nothing healthy answers within `timeoutMs`.
 */
export async function findRunningLocalStack(
  options: { readonly url?: string; readonly timeoutMs?: number; readonly region?: string } = {},
): Promise<Emulator | undefined> {
  const url = options.url ?? LOCALSTACK_URL;
  try {
    const response = await fetch(`${url}/_localstack/health`, {
      signal: AbortSignal.timeout(options.timeoutMs ?? 1_000),
    });
    await response.body?.cancel();
    if (!response.ok) return undefined;
  } catch {
    return undefined;
  }
  return {
    endpoint: url,
    region: options.region ?? (process.env.AWS_REGION || 'us-east-1'),
    credentials: TEST_CREDENTIALS,
    kind: 'localstack',
    owned: false,
    stop: async () => {},
  };
}

/** `docker info` succeeds only when a daemon answers; a client alone (or none) fails fast. */
function dockerAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 3_000 }, (error, stdout) => {
      resolve(error === null && stdout.trim().length > 0);
    });
  });
}

async function startLocalStack(region: string, log: Logger): Promise<Emulator> {
  log.log('info', 'emulator: starting LocalStack in Docker', { image: LOCALSTACK_IMAGE });
  // Imported here so that nothing of testcontainers loads on machines without Docker.
  const { LocalstackContainer } = await import('@testcontainers/localstack');
  const container = await new LocalstackContainer(LOCALSTACK_IMAGE)
    .withEnvironment({ SERVICES: 'dynamodb,sqs,scheduler,ses' })
    .start();
  const endpoint = container.getConnectionUri();
  log.log('info', 'emulator: LocalStack started', { endpoint });
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    region,
    credentials: TEST_CREDENTIALS,
    kind: 'localstack',
    owned: true,
    stop() {
      stopped ??= container.stop().then(() => undefined);
      return stopped;
    },
  };
}
