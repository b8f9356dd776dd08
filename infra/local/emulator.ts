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
 * test runtime). What each emulator does and does not do like AWS is in docs/emulators.md.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { CloverError } from '../../core/errors';
import { type Logger, silentLogger } from '../../core/log';
import { startLinearizingProxy } from './linearizing-proxy';

/** The last LocalStack tag that starts without an auth token; later images require one. */
export const LOCALSTACK_IMAGE = 'localstack/localstack:4.14.0';
/** The moto release the docs and tests were checked against. */
export const MOTO_REQUIREMENT = 'moto[server]==5.2.1';
export const LOCALSTACK_URL = 'http://127.0.0.1:4566';

export type EmulatorKind = 'external' | 'localstack' | 'moto';

export interface Emulator {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly kind: EmulatorKind;
  /** True when this process started the emulator and `stop()` will end it. */
  readonly owned: boolean;
  /** The moto_server process id, when this process spawned one. */
  readonly pid?: number;
  /**
   * moto_server's own endpoint, behind the linearizing proxy that `endpoint` is. Only for measuring
   * the proxy's cost (bench/dispatch-throughput.ts): Clover's traffic must go through the proxy.
   */
  readonly unproxiedEndpoint?: string;
  /** Ends an emulator this process started (graceful, then forceful); a no-op for one found running. */
  stop(): Promise<void>;
}

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

const TEST_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

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

export interface SentEmail {
  readonly id: string;
  readonly source: string;
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly bcc: readonly string[];
  readonly subject: string;
  /** moto keeps one body: the HTML part when there is one, else the text part. */
  readonly body: string;
}

/**
 * The email the emulator has "sent" through SES, oldest first: moto's `/moto-api/data.json`, or
 * LocalStack's `/_aws/ses`. AWS itself keeps no such record; this throws for kind `external`
 * unless the endpoint turns out to be one of the two.
 */
export async function readSentEmails(emulator: Pick<Emulator, 'endpoint' | 'kind'>): Promise<SentEmail[]> {
  const localstack = await fetch(`${emulator.endpoint}/_aws/ses`).catch(() => undefined);
  if (localstack?.ok) {
    const data = (await localstack.json()) as { messages?: LocalStackEmail[] };
    return (data.messages ?? []).map((m) => ({
      id: m.Id,
      source: m.Source,
      to: m.Destination?.ToAddresses ?? [],
      cc: m.Destination?.CcAddresses ?? [],
      bcc: m.Destination?.BccAddresses ?? [],
      subject: m.Subject ?? '',
      body: m.Body?.html_part || m.Body?.text_part || '',
    }));
  }
  await localstack?.body?.cancel();
  const moto = await fetch(`${emulator.endpoint}/moto-api/data.json`);
  if (!moto.ok) {
    throw new CloverError(
      'unavailable',
      `${emulator.endpoint} keeps no readable SES outbox (kind ${emulator.kind})`,
    );
  }
  const data = (await moto.json()) as { ses?: { Message?: MotoEmail[] } };
  return (data.ses?.Message ?? []).map((m) => ({
    id: m.id,
    source: m.source,
    to: m.destinations?.ToAddresses ?? [],
    cc: m.destinations?.CcAddresses ?? [],
    bcc: m.destinations?.BccAddresses ?? [],
    subject: m.subject ?? '',
    body: m.body ?? '',
  }));
}

interface Destinations {
  ToAddresses?: string[];
  CcAddresses?: string[];
  BccAddresses?: string[];
}
interface LocalStackEmail {
  Id: string;
  Source: string;
  Destination?: Destinations;
  Subject?: string;
  Body?: { text_part?: string; html_part?: string };
}
interface MotoEmail {
  id: string;
  source: string;
  destinations?: Destinations;
  subject?: string;
  body?: string;
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

/** Ways to run moto, in order: its script, then its module (a pip install may not put the script on PATH). */
const MOTO_COMMANDS: readonly (readonly [string, ...string[]])[] = [
  ['moto_server'],
  ['python3', '-m', 'moto.server'],
];

interface MotoOptions {
  readonly startTimeoutMs: number;
  readonly install: boolean;
  readonly detached: boolean;
}

async function startMoto(region: string, log: Logger, options: MotoOptions): Promise<Emulator> {
  let installed = false;
  let commandIndex = 0;
  // A free port can be taken between our probe and moto's bind; a fresh port fixes that.
  for (let portAttempt = 1; ; ) {
    const port = await freePort();
    const [command, ...args] = MOTO_COMMANDS[commandIndex]!;
    const started = await spawnMoto(command, [...args, '-H', '127.0.0.1', '-p', String(port)], port, options);
    if (started.ok) {
      // moto loses concurrent writes when a transaction fails; see linearizing-proxy.ts.
      const proxy = await startLinearizingProxy(started.emulator.endpoint, { log });
      log.log('info', 'emulator: moto_server started', {
        endpoint: proxy.endpoint,
        moto: started.emulator.endpoint,
        pid: started.emulator.pid,
      });
      return {
        ...started.emulator,
        endpoint: proxy.endpoint,
        unproxiedEndpoint: started.emulator.endpoint,
        region,
        stop: () => proxy.close().finally(() => started.emulator.stop()),
      };
    }
    if (started.reason === 'missing') {
      if (commandIndex < MOTO_COMMANDS.length - 1) {
        commandIndex++;
        continue;
      }
      if (!installed && options.install) {
        installed = true;
        log.log('warn', 'emulator: moto is not installed; installing it with pip', {
          requirement: MOTO_REQUIREMENT,
        });
        if (await pipInstallMoto()) continue;
      }
      const python = await pythonVersion();
      const fix = python
        ? `install moto with \`python3 -m pip install '${MOTO_REQUIREMENT}'\``
        : `install Python 3, then \`python3 -m pip install '${MOTO_REQUIREMENT}'\``;
      throw new CloverError(
        'unavailable',
        `no AWS emulator: ${python ? `moto is not installed for ${python}` : 'Python 3 is not installed (python3 is not on PATH)'} and neither moto_server nor Docker is available. To fix: ${fix}, start Docker (LocalStack), or set AWS_ENDPOINT_URL to a running emulator`,
      );
    }
    if (started.reason === 'port-taken' && portAttempt++ < 3) continue;
    throw new CloverError('unavailable', `moto_server did not start on 127.0.0.1:${port}: ${started.detail}`);
  }
}

type SpawnResult =
  | { ok: true; emulator: Emulator }
  | { ok: false; reason: 'missing' | 'port-taken' | 'failed'; detail: string };

async function spawnMoto(
  command: string,
  args: readonly string[],
  port: number,
  { startTimeoutMs, detached }: MotoOptions,
): Promise<SpawnResult> {
  const lifeline = parentDeathSignal();
  const child = spawn(lifeline ? 'setpriv' : command, lifeline ? [...lifeline, command, ...args] : args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached,
  });
  let output = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    output = (output + chunk).slice(-4_000);
  });
  const exited = new Promise<{ code: number | null; error?: NodeJS.ErrnoException }>((resolve) => {
    child.once('exit', (code) => resolve({ code }));
    child.once('error', (error) => resolve({ code: null, error }));
  });
  const unguard = guardChild(child);

  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startTimeoutMs;
  let early: { code: number | null; error?: NodeJS.ErrnoException } | undefined;
  void exited.then((result) => {
    early = result;
  });
  while (early === undefined && Date.now() < deadline) {
    if (await answers(`${endpoint}/moto-api/`)) break;
    await Promise.race([sleep(100), exited]);
  }
  if (early !== undefined) {
    unguard();
    if (
      early.error?.code === 'ENOENT' ||
      /No module named '?moto|failed to execute .*No such file/.test(output)
    ) {
      return { ok: false, reason: 'missing', detail: early.error?.message ?? lastLines(output) };
    }
    const detail = `exited with code ${early.code}${output ? `: ${lastLines(output)}` : ''}`;
    return {
      ok: false,
      reason: /address already in use|port .* is in use/i.test(output) ? 'port-taken' : 'failed',
      detail,
    };
  }
  if (Date.now() >= deadline && !(await answers(`${endpoint}/moto-api/`))) {
    await terminate(child, exited);
    unguard();
    return {
      ok: false,
      reason: 'failed',
      detail: `no HTTP answer within ${startTimeoutMs} ms${output ? `: ${lastLines(output)}` : ''}`,
    };
  }
  // Keep draining stderr (moto logs every request there) without keeping the output.
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();

  let stopped: Promise<void> | undefined;
  return {
    ok: true,
    emulator: {
      endpoint,
      region: 'us-east-1',
      credentials: TEST_CREDENTIALS,
      kind: 'moto',
      owned: true,
      ...(child.pid === undefined ? {} : { pid: child.pid }),
      stop() {
        stopped ??= terminate(child, exited).finally(unguard);
        return stopped;
      },
    },
  };
}

let deathSignal: readonly string[] | null | undefined;

/**
 * The prefix that makes moto_server die with this process however it ends, SIGKILL included (the exit
 * and signal guards below cannot run then, and a moto left behind holds a port and memory for good):
 * util-linux's `setpriv --pdeathsig KILL`, which asks the kernel to SIGKILL the child when its parent
 * dies, then execs moto_server (same pid). These are setpriv's arguments; null where it is missing
 * (not Linux): the guards remain.
 */
function parentDeathSignal(): readonly string[] | null {
  deathSignal ??=
    spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true']).status === 0
      ? ['--pdeathsig', 'KILL', '--']
      : null;
  return deathSignal;
}

/** Children to kill when this process ends, with the listeners that do it (installed while any live). */
const guarded = new Set<ChildProcess>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function killGuarded(): void {
  for (const child of guarded) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

function onSignal(signal: NodeJS.Signals): void {
  // Someone else handles this signal (a graceful shutdown): let them, and clean up on 'exit'.
  if (process.listenerCount(signal) > 1) return;
  killGuarded();
  guarded.clear();
  uninstallGuards();
  // Nothing else handles it: die of it, as the process would have without our listener.
  process.kill(process.pid, signal);
}

function uninstallGuards(): void {
  process.removeListener('exit', killGuarded);
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
}

/**
 * Kills the child when this process ends: on exit, and on SIGINT/SIGTERM/SIGHUP when nothing else
 * handles them. (A SIGKILL of this process cannot be caught; the child then outlives it.) Returns the undo.
 */
function guardChild(child: ChildProcess): () => void {
  if (guarded.size === 0) {
    process.on('exit', killGuarded);
    for (const signal of SIGNALS) process.on(signal, onSignal);
  }
  guarded.add(child);
  return () => {
    if (guarded.delete(child) && guarded.size === 0) uninstallGuards();
  };
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited. */
async function terminate(child: ChildProcess, exited: Promise<unknown>, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, graceMs, 'timeout').unref());
  if ((await Promise.race([exited, timer])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.status < 500;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new CloverError('internal', 'could not find a free loopback port'));
      });
    });
  });
}

function pipInstallMoto(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('python3', ['-m', 'pip', 'install', MOTO_REQUIREMENT], { timeout: 180_000 }, (error) =>
      resolve(error === null),
    );
  });
}

/** `Python 3.11.2`, or undefined when python3 is not on PATH. */
function pythonVersion(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('python3', ['--version'], { timeout: 5_000 }, (error, stdout) =>
      resolve(error === null ? stdout.trim() || 'python3' : undefined),
    );
  });
}

function lastLines(text: string, count = 5): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
