/**
 * moto_server as a child process of this one (emulator.ts picks it when there is no Docker): found on
 * PATH or as a Python module, installed with pip once when missing, on a free loopback port behind the
 * linearizing proxy, and ended with this process even when it dies by a signal.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { CloverError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { type Emulator, TEST_CREDENTIALS } from './emulator-types';
import { startLinearizingProxy } from './linearizing-proxy';

/** The moto release the docs and tests were checked against. */
export const MOTO_REQUIREMENT = 'moto[server]==5.2.1';

/** Ways to run moto, in order: its script, then its module (a pip install may not put the script on PATH). */
const MOTO_COMMANDS: readonly (readonly [string, ...string[]])[] = [
  ['moto_server'],
  ['python3', '-m', 'moto.server'],
];

export interface MotoOptions {
  readonly startTimeoutMs: number;
  readonly install: boolean;
  readonly detached: boolean;
}

export async function startMoto(region: string, log: Logger, options: MotoOptions): Promise<Emulator> {
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
