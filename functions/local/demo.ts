/**
 * The demo `npm start` runs unless told `--no-demo`: a contact who receives the demo jobs' alerts,
 * and two real `clover-agent` processes (demo-1, demo-2) with functions/local/demo/agent.yaml, which
 * declares the demo jobs and their handlers. Agents are children of `npm start` in its process group:
 * a Ctrl-C at the terminal reaches them too and they drain; `stop()` also asks them (SIGTERM) and
 * waits, so the control plane stays up until their runs are written. Each agent's JSON log goes to
 * `<dir>/demo-N.log`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ContactService } from '../../core/contacts';
import { AlreadyExistsError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { type Emulator, emulatorEnv } from '../../infra/local/emulator';

const REPO = resolve(import.meta.dirname, '../..');
export const DEMO_CONFIG = join(REPO, 'functions/local/demo/agent.yaml');
export const DEMO_CONTACT = {
  contactId: 'demo-oncall',
  name: 'Demo on-call',
  email: 'oncall@example.com',
  alertKinds: ['failure', 'recovery', 'timeout', 'lost', 'no_worker'],
  groups: ['demo'],
} as const;

export interface DemoOptions {
  readonly emulator: Pick<Emulator, 'endpoint' | 'region' | 'credentials'>;
  readonly prefix: string;
  readonly contacts: ContactService;
  readonly log: Logger;
  /** Where the agents' logs and journals go. */
  readonly dir: string;
  /** @default 2 */
  readonly agents?: number;
  /** How long `stop()` waits for a draining agent before SIGKILL. @default 20000 */
  readonly stopTimeoutMs?: number;
  /** Extra environment for the agents (e.g. CLOVER_API_URL). */
  readonly env?: Readonly<Record<string, string>>;
}

interface DemoAgent {
  readonly workerId: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
}

export interface Demo {
  readonly workerIds: readonly string[];
  /** Resolves once every agent logged `agent started`; rejects (one line) if one exits first. */
  readonly started: Promise<void>;
  /** Drains every agent (SIGTERM), SIGKILL after the timeout; resolves once all have exited. */
  stop(): Promise<void>;
  /** SIGKILL every agent now, synchronously (for process exit). */
  kill(): void;
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  await options.contacts.create(DEMO_CONTACT).catch((error: unknown) => {
    // A second start on an emulator that kept its state: the contact is already there.
    if (!(error instanceof AlreadyExistsError)) throw error;
  });
  // Absolute: the agents run from the repository, whatever directory `npm start` runs in.
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const agents: DemoAgent[] = [];
  const logs: WriteStream[] = [];
  for (let i = 1; i <= (options.agents ?? 2); i += 1) {
    const workerId = `demo-${i}`;
    const logFile = join(dir, `${workerId}.log`);
    const out = createWriteStream(logFile, { flags: 'a' });
    logs.push(out);
    const child = spawn(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        join(REPO, 'worker-agent/cli.ts'),
        '--config',
        DEMO_CONFIG,
        '--worker-id',
        workerId,
        '--journal-dir',
        join(dir, `${workerId}-journal`),
      ],
      {
        cwd: REPO,
        env: {
          ...process.env,
          ...emulatorEnv(options.emulator),
          CLOVER_PREFIX: options.prefix,
          NODE_OPTIONS: '',
          ...options.env,
        },
        // A pipe, not the file: if `npm start` dies, the agent's next log write fails and it ends too.
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    const exited = new Promise<number | null>((done) => {
      child.once('exit', (code) => done(code));
      child.once('error', () => done(null));
    });
    agents.push({ workerId, child, logFile, exited });
  }

  const started = Promise.all(
    agents.map(
      (agent) =>
        new Promise<void>((ready, fail) => {
          let seen = '';
          const onData = (chunk: Buffer) => {
            seen = (seen + chunk.toString()).slice(-8_000);
            if (seen.includes('"agent started"')) {
              agent.child.stdout?.off('data', onData);
              agent.child.stderr?.off('data', onData);
              options.log.log('info', 'demo agent started', { workerId: agent.workerId, log: agent.logFile });
              ready();
            }
          };
          // The agent logs JSON lines to stderr (core/log.ts); stdout is watched too, to be safe.
          agent.child.stdout?.on('data', onData);
          agent.child.stderr?.on('data', onData);
          void agent.exited.then((code) => {
            const last = seen.trim().split('\n').at(-1) ?? '';
            let reason = last;
            try {
              reason = String((JSON.parse(last) as { message?: unknown }).message ?? last);
            } catch {
              // not a JSON log line: quote it as it is
            }
            fail(
              new Error(
                `demo agent ${agent.workerId} exited (code ${code}) before it started${reason ? `: ${reason}` : ''} (its log: ${agent.logFile})`,
              ),
            );
          });
        }),
    ),
  ).then(() => undefined);
  // Callers await `started`; this keeps an early rejection from counting as unhandled meanwhile.
  started.catch(() => undefined);

  const running = () => agents.filter((a) => a.child.exitCode === null && a.child.signalCode === null);
  let stopping: Promise<void> | undefined;
  return {
    workerIds: agents.map((a) => a.workerId),
    started,
    stop() {
      stopping ??= (async () => {
        const timeoutMs = options.stopTimeoutMs ?? 20_000;
        await Promise.all(
          running().map(async (agent) => {
            agent.child.kill('SIGTERM');
            const timer = new Promise<'timeout'>((done) => setTimeout(done, timeoutMs, 'timeout').unref());
            if ((await Promise.race([agent.exited, timer])) === 'timeout') {
              options.log.log('warn', 'demo agent did not drain in time; killing it', {
                workerId: agent.workerId,
              });
              agent.child.kill('SIGKILL');
              await agent.exited;
            }
          }),
        );
        await Promise.all(logs.map((out) => new Promise((done) => out.end(done))));
      })();
      return stopping;
    },
    kill() {
      for (const agent of running()) agent.child.kill('SIGKILL');
    },
  };
}
