/**
 * Real `clover-agent` processes for integration tests: each runs `worker-agent/cli.ts` under tsx with
 * its own config file, working directory and journal, pointed at the test emulator (or at an
 * OutageProxy in front of it). Its JSON log lines are collected; `useAgents()` kills every agent a
 * test file started when the file ends, so nothing outlives the tests.
 *
 * @example
 * const aws = useEmulator();
 * const agents = useAgents();
 * const a = await agents.start({ aws, workerId: 'a1', config: 'capacity: 2\nhandlers: ...' });
 * await a.waitForLog(/agent started/);
 * a.signal('SIGTERM');
 * assert.equal((await a.exited).code, 0);
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after } from 'node:test';
import { emulatorEnv } from '../../infra/local/emulator';
import type { EmulatorHandle } from './index';

const REPO = resolve(import.meta.dirname, '../..');
const CLI = join(REPO, 'worker-agent/cli.ts');
/** The test handlers module (absolute path, for config files). */
export const TEST_HANDLERS = join(REPO, 'test/agent/fixtures/handlers.ts');

export interface StartAgentOptions {
  readonly aws: EmulatorHandle;
  readonly workerId: string;
  /** The YAML config body; `workerId` and `journalDir` are added unless it sets them. */
  readonly config: string;
  /** AWS_ENDPOINT_URL for the agent, e.g. an OutageProxy's. @default the emulator's */
  readonly endpoint?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly args?: readonly string[];
  /** Reuse a working directory (and so a journal) of an earlier agent. */
  readonly dir?: string;
  /**
   * How the agent is started: `node` (node --import tsx worker-agent/cli.ts, the default) or `npm`
   * (`npm run agent --`, as a user types it: npm → sh → node).
   */
  readonly via?: 'node' | 'npm';
  /** Start it as the leader of its own process group (for signals to the group). @default false */
  readonly detached?: boolean;
}

/** One parsed log line of an agent (non-JSON output is kept as `{ message: line }`). */
export type AgentLogLine = Record<string, unknown> & { message?: string };

export class AgentProcess {
  private output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly workerId: string,
    readonly dir: string,
    /** The file the test handlers append each run id they execute to. */
    readonly execFile: string,
    /** The file the test handlers append `<runId> <reason>` to when their run's signal aborts them. */
    readonly abortFile: string,
    private readonly child: ChildProcess,
    private readonly detached = false,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    this.exited = new Promise((resolveExit) =>
      child.once('exit', (code, signal) => resolveExit({ code, signal })),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Run ids of the outcomes waiting in the agent's outage journal on disk, sorted. */
  async journaledOutcomes(): Promise<string[]> {
    const journalDir = join(this.dir, 'journal');
    const names = await readdir(journalDir).catch(() => [] as string[]);
    const texts = await Promise.all(
      names.filter((name) => name.endsWith('.jsonl')).map((name) => readFile(join(journalDir, name), 'utf8')),
    );
    return texts
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { kind: string; runId: string })
      .filter((entry) => entry.kind === 'outcome')
      .map((entry) => entry.runId)
      .sort();
  }

  /** Everything the process wrote so far. */
  get text(): string {
    return this.output;
  }

  lines(): AgentLogLine[] {
    return this.output
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        try {
          return JSON.parse(line) as AgentLogLine;
        } catch {
          return { message: line };
        }
      });
  }

  /** Waits for a log line whose message matches (or a predicate over parsed lines). */
  async waitForLog(
    match: RegExp | ((line: AgentLogLine) => boolean),
    timeoutMs = 90_000,
  ): Promise<AgentLogLine> {
    const test =
      match instanceof RegExp ? (line: AgentLogLine) => match.test(String(line.message ?? '')) : match;
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines().find(test);
      if (found) return found;
      if (Date.now() > until) {
        throw new Error(`${this.workerId}: no log line matching ${String(match)}; output:\n${this.output}`);
      }
      if (!this.running) {
        throw new Error(`${this.workerId} exited before logging ${String(match)}; output:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Signals the agent's whole process group (it must have been started `detached`). */
  signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // ESRCH: the group is gone.
    }
  }

  /** SIGKILL (after SIGCONT, in case it was stopped) and wait for the exit. */
  async kill(): Promise<void> {
    if (this.running) {
      this.child.kill('SIGCONT');
      this.child.kill('SIGKILL');
    }
    // Started through npm: the agent is a grandchild; end the group it leads too.
    if (this.detached) this.signalGroup('SIGKILL');
    await this.exited;
  }

  /** Waits for the exit; kills the process if it takes longer than `timeoutMs`. */
  async waitForExit(timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      await this.kill();
      throw new Error(`${this.workerId} did not exit within ${timeoutMs} ms; output:\n${this.output}`);
    }
    return result;
  }
}

export interface AgentFleet {
  start(options: StartAgentOptions): Promise<AgentProcess>;
  readonly all: readonly AgentProcess[];
}

/** Registers an `after` hook that kills every agent started through the returned fleet. */
export function useAgents(): AgentFleet {
  const all: AgentProcess[] = [];
  after(async () => {
    await Promise.all(all.map((agent) => agent.kill()));
  });
  return {
    all,
    async start(options) {
      const agent = await startAgent(options);
      all.push(agent);
      return agent;
    },
  };
}

/** Spawns one agent process. Prefer `useAgents().start`, which also cleans up. */
export async function startAgent(options: StartAgentOptions): Promise<AgentProcess> {
  const { aws } = options;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `clover-agent-${options.workerId}-`)));
  const configPath = join(dir, 'agent.yaml');
  const header = [
    /^workerId:/m.test(options.config) ? '' : `workerId: ${options.workerId}`,
    /^journalDir:/m.test(options.config) ? '' : `journalDir: ${join(dir, 'journal')}`,
  ].filter(Boolean);
  await writeFile(configPath, `${header.join('\n')}\n${options.config}\n`);
  const execFile = join(dir, 'executed.log');
  const abortFile = join(dir, 'aborted.log');
  const agentArgs = ['--config', configPath, ...(options.args ?? [])];
  const [command, args] =
    options.via === 'npm'
      ? ['npm', ['run', '--silent', '--prefix', REPO, 'agent', '--', ...agentArgs]]
      : [process.execPath, ['--import', import.meta.resolve('tsx'), CLI, ...agentArgs]];
  const child = spawn(command, args, {
    cwd: dir,
    detached: options.detached === true,
    env: {
      ...process.env,
      ...emulatorEnv(aws.emulator, options.endpoint),
      CLOVER_PREFIX: aws.prefix,
      CLOVER_TEST_WORKER_ID: options.workerId,
      CLOVER_TEST_EXEC_FILE: execFile,
      CLOVER_TEST_ABORT_FILE: abortFile,
      NODE_OPTIONS: '',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new AgentProcess(options.workerId, dir, execFile, abortFile, child, options.detached === true);
}

/** The config lines that declare the test handlers module's handlers. */
export function testHandlersConfig(names: readonly string[] = ['work', 'fail']): string {
  return [
    'handlers:',
    ...names.flatMap((name) => [`  ${name}:`, `    module: ${TEST_HANDLERS}`, `    export: ${name}`]),
  ].join('\n');
}
