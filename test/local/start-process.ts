/**
 * `npm start` as a real process for tests: `node --import tsx functions/local/main.ts` (what the npm
 * script execs) in its own process group, as a terminal runs it, so `interrupt()` is a Ctrl-C that
 * reaches every process of the group. Output is kept per stream; every descendant seen while it runs
 * is remembered, so a test can check that none outlives it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
const MAIN = join(REPO, 'functions/local/main.ts');

/** Pid → parent pid of every process now running (Linux /proc). */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat, after the parenthesised command name (which may hold spaces).
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      map.set(Number(entry), Number(fields[1]));
    } catch {
      // gone meanwhile
    }
  }
  return map;
}

/** Whether `pid` still exists (a zombie counts as gone: it runs nothing). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export class StartProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every descendant pid seen while the process ran. */
  readonly descendants = new Set<number>();
  private readonly child: ChildProcess;
  private readonly watcher: NodeJS.Timeout;

  /** `env` is added to this process's environment; an `undefined` value removes that variable. */
  constructor(options: {
    args?: readonly string[];
    env?: Readonly<Record<string, string | undefined>>;
    cwd: string;
  }) {
    const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: '', ...options.env };
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
    this.child = spawn(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), MAIN, ...(options.args ?? [])],
      {
        cwd: options.cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.exited = new Promise((done) => this.child.once('exit', (code, signal) => done({ code, signal })));
    this.watcher = setInterval(() => this.collect(), 300);
    void this.exited.then(() => clearInterval(this.watcher));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get output(): string {
    return `--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`;
  }

  private collect(): void {
    const map = parents();
    const ours = new Set([this.pid]);
    // Parents are listed before children often but not always: repeat until nothing new joins.
    for (let grew = true; grew; ) {
      grew = false;
      for (const [pid, ppid] of map) {
        if (ours.has(ppid) && !ours.has(pid)) {
          ours.add(pid);
          this.descendants.add(pid);
          grew = true;
        }
      }
    }
  }

  /** Waits until stdout matches; throws with the output when it exits first or time runs out. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const match = this.stdout.match(pattern);
      if (match) return match;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`npm start exited before printing ${pattern}:\n${this.output}`);
      }
      if (Date.now() > until) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Ctrl-C at a terminal: SIGINT to the whole process group. */
  interrupt(): void {
    this.collect();
    try {
      process.kill(-this.pid, 'SIGINT');
    } catch {
      // the group is gone
    }
  }

  /** For cleanup after a failed assertion: SIGKILL the group and every descendant seen. */
  kill(): void {
    clearInterval(this.watcher);
    for (const pid of [this.pid, ...this.descendants]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}
