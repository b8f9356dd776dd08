/**
 * The demo `npm start` runs unless told `--no-demo`: a contact who receives the demo jobs' alerts,
 * and two real `clover-agent` processes (demo-1, demo-2) with functions/local/demo/agent.yaml, which
 * declares the demo jobs and their handlers. Agents are children of `npm start` in its process group:
 * a Ctrl-C at the terminal reaches them too and they drain; `stop()` also asks them (SIGTERM) and
 * waits, so the control plane stays up until their runs are written. Each agent's JSON log goes to
 * `<dir>/demo-N.log`. An agent that exits on its own after it started is restarted with a backoff
 * (supervise(), below), with one line when it exits and one when it is back.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import type { ContactService } from '../../core/contacts';
import { AlreadyExistsError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { PRIVATE_FILE_MODE, privateDir } from '../../core/private-files';
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

interface AgentExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One process of a demo agent. */
interface AgentProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<AgentExit>;
  /** Settles at its `agent started` line, or rejects when it exits first. */
  readonly started: Promise<void>;
}

/** A demo agent: its current process, and how to start another one under the same worker id. */
interface DemoAgent {
  readonly workerId: string;
  readonly logFile: string;
  current: AgentProcess;
  readonly restart: () => AgentProcess;
}

export interface Demo {
  readonly workerIds: readonly string[];
  /** Resolves once every agent logged `agent started`; rejects (one line) if one exits first. From then on each is restarted when it exits on its own. */
  readonly started: Promise<void>;
  /**
   * Stops restarting agents: their exits are expected from now on (a Ctrl-C at the terminal reaches
   * them before `stop()` does). `stop()` and `kill()` do it too.
   */
  release(): void;
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
  await privateDir(dir);
  const agents: DemoAgent[] = [];
  const logs: WriteStream[] = [];
  /** Set by stop(): exits are expected from then on and nothing is restarted. */
  const stopped = new AbortController();
  const spawnAgent = (workerId: string, out: WriteStream): AgentProcess => {
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
    const exited = new Promise<AgentExit>((done) => {
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', () => done({ code: null, signal: null }));
    });
    return { child, exited, started: whenStarted(child, exited) };
  };
  for (let i = 1; i <= (options.agents ?? 2); i += 1) {
    const workerId = `demo-${i}`;
    const logFile = join(dir, `${workerId}.log`);
    // Owner-only (the agents' logs carry run output); a log from before that rule is tightened.
    await chmod(logFile, PRIVATE_FILE_MODE).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    const out = createWriteStream(logFile, { flags: 'a', mode: PRIVATE_FILE_MODE });
    logs.push(out);
    agents.push({
      workerId,
      logFile,
      current: spawnAgent(workerId, out),
      restart: () => spawnAgent(workerId, out),
    });
  }

  const started = Promise.all(
    agents.map((agent) =>
      agent.current.started.then(
        () => {
          options.log.log('info', 'demo agent started', {
            workerId: agent.workerId,
            pid: agent.current.child.pid,
            log: agent.logFile,
          });
          // Supervised from its first start on; a failed first start fails `npm start` instead.
          void supervise(agent, options.log, stopped.signal);
        },
        (error: unknown) => {
          throw new Error(
            `demo agent ${agent.workerId} ${error instanceof Error ? error.message : String(error)} (its log: ${agent.logFile})`,
          );
        },
      ),
    ),
  ).then(() => undefined);
  // Callers await `started`; this keeps an early rejection from counting as unhandled meanwhile.
  started.catch(() => undefined);

  const running = () =>
    agents
      .map((a) => ({ agent: a, process: a.current }))
      .filter(({ process: p }) => p.child.exitCode === null && p.child.signalCode === null);
  let stopping: Promise<void> | undefined;
  return {
    workerIds: agents.map((a) => a.workerId),
    started,
    release() {
      stopped.abort();
    },
    stop() {
      stopped.abort();
      stopping ??= (async () => {
        const timeoutMs = options.stopTimeoutMs ?? 20_000;
        await Promise.all(
          running().map(async ({ agent, process: p }) => {
            p.child.kill('SIGTERM');
            const timer = new Promise<'timeout'>((done) => setTimeout(done, timeoutMs, 'timeout').unref());
            if ((await Promise.race([p.exited, timer])) === 'timeout') {
              options.log.log('warn', 'demo agent did not drain in time; killing it', {
                workerId: agent.workerId,
              });
              p.child.kill('SIGKILL');
              await p.exited;
            }
          }),
        );
        await Promise.all(logs.map((out) => new Promise((done) => out.end(done))));
      })();
      return stopping;
    },
    kill() {
      stopped.abort();
      for (const { process: p } of running()) p.child.kill('SIGKILL');
    },
  };
}

/** Restart backoff of a demo agent: doubling from 1 s to 30 s, back to 1 s after a minute up. */
const RESTART = { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 } as const;

/**
 * Keeps one demo agent running: when it exits on its own (a crash, kill -9, or a lost lease it could
 * not regain: exit 1, 3 or a signal) it is started again after a backoff. One line when it exits,
 * one when it is back (`agent started` again). Exit 0 (drained, e.g. through the console) and 2 (bad
 * config) are left as they are, as `Restart=on-failure` would.
 */
async function supervise(agent: DemoAgent, log: Logger, stopped: AbortSignal): Promise<void> {
  let delayMs: number = RESTART.initialMs;
  for (let restarts = 0; ; ) {
    const upSince = Date.now();
    const { code, signal } = await agent.current.exited;
    if (stopped.aborted) return;
    const fields = { workerId: agent.workerId, code, signal: signal ?? undefined, log: agent.logFile };
    if (code === 0 || code === 2) {
      log.log(
        'warn',
        `demo agent exited; not restarted (${code === 0 ? 'it drained' : 'bad config'})`,
        fields,
      );
      return;
    }
    if (Date.now() - upSince >= RESTART.resetAfterMs) delayMs = RESTART.initialMs;
    log.log('warn', 'demo agent exited; restarting it', { ...fields, inMs: delayMs });
    await wait(delayMs, undefined, { signal: stopped }).catch(() => {});
    if (stopped.aborted) return;
    delayMs = Math.min(delayMs * 2, RESTART.maxMs);
    agent.current = agent.restart();
    // A restart that dies before `agent started` is noticed by the next turn (its exit).
    const back = await agent.current.started.then(
      () => true,
      () => false,
    );
    if (back && !stopped.aborted) {
      restarts += 1;
      log.log('info', 'demo agent restarted', {
        workerId: agent.workerId,
        pid: agent.current.child.pid,
        restarts,
      });
    }
  }
}

/** Resolves when the agent logs `agent started`; rejects, with its last log line, if it exits first. */
function whenStarted(child: ChildProcess, exited: Promise<AgentExit>): Promise<void> {
  return new Promise<void>((ready, fail) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-8_000);
      if (seen.includes('"agent started"')) {
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        ready();
      }
    };
    // The agent logs JSON lines to stderr (core/log.ts); stdout is watched too, to be safe.
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(({ code }) => {
      const last = seen.trim().split('\n').at(-1) ?? '';
      let reason = last;
      try {
        reason = String((JSON.parse(last) as { message?: unknown }).message ?? last);
      } catch {
        // not a JSON log line: quote it as it is
      }
      fail(new Error(`exited (code ${code}) before it started${reason ? `: ${reason}` : ''}`));
    });
  });
}
