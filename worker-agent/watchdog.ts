/**
 * Binds a shell command's life to the agent's (issue 9, ARCHITECTURE invariant 6: a run's work dies
 * with its agent, so a recovered run never doubles it).
 *
 * A command runs in its own session (so a Ctrl-C at the agent's terminal or a signal to the agent's
 * process group does not stop it mid-drain), which is also why it would outlive an agent killed by
 * `kill -9` or the OOM killer. So each command is started by a small watchdog process — plain node,
 * source below, ~40 ms to start — that leads the command's process group and holds the read end of
 * a pipe whose only write end is in the agent:
 *
 *   agent ──lifeline pipe (watchdog's stdin)──► watchdog  (session + group leader, ignores SIGTERM)
 *         ◄──status pipe (fd 3): exit code/signal──┘   └─► command (+ its children), same group
 *
 * - The agent dies, by any signal: the kernel closes its end, the watchdog reads EOF at once,
 *   sends SIGTERM to the whole group, and SIGKILL after the kill grace (itself included), so a
 *   command that ignores SIGTERM is gone too. It leaves as soon as nothing else is left in its group
 *   (read from /proc; elsewhere it waits out the grace).
 * - The command exits: the watchdog writes `{code, signal}` (or `{error}` if it could not start)
 *   on fd 3 and exits; the agent reports that, not the watchdog's own exit.
 * - The agent stops the command (cancel, deadline, drain): it signals the group as before;
 *   the watchdog survives SIGTERM and the agent's own SIGKILL escalation ends everything.
 *
 * What it cannot do: stop a command on a host that is alive but cut off from AWS (the agent lives, so
 * the lifeline holds). That window is bounded by the lease and the fence (docs/agent-deploy.md).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/** The watchdog program, run as `node -e WATCHDOG -- <killGraceMs> <file> <args...>`. CommonJS, no deps. */
const WATCHDOG = `'use strict';
const { spawn } = require('node:child_process');
const { readdirSync, readFileSync, writeSync } = require('node:fs');
const [grace, file, ...args] = process.argv.slice(1);
// Signals meant for the command's group must not end the watchdog before it can escalate.
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {});
let agentGone = false;
const report = (status) => {
  try { writeSync(3, JSON.stringify(status) + '\\n'); } catch {}
};
const child = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit'] });
child.on('error', (error) => {
  report({ error: error.code || String(error) });
  if (!agentGone) process.exit(0);
});
child.on('exit', (code, signal) => {
  report({ code, signal });
  // After the agent died, stay until the group is empty or the grace is over (then SIGKILL).
  if (!agentGone) process.exit(0);
});
// Linux: is any other live process still in this group? Elsewhere (no /proc) assume so.
const othersInGroup = () => {
  let pids;
  try { pids = readdirSync('/proc'); } catch { return true; }
  return pids.some((pid) => {
    if (!/^[0-9]+$/.test(pid) || Number(pid) === process.pid) return false;
    try {
      const stat = readFileSync('/proc/' + pid + '/stat', 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[2]) === process.pid && fields[0] !== 'Z';
    } catch { return false; }
  });
};
const onAgentGone = () => {
  if (agentGone) return;
  agentGone = true;
  try { process.kill(-process.pid, 'SIGTERM'); } catch {}
  const killAt = Date.now() + Number(grace);
  const check = setInterval(() => {
    if (Date.now() < killAt && othersInGroup()) return;
    clearInterval(check);
    try { process.kill(-process.pid, 'SIGKILL'); } catch {}
    process.exit(1);
  }, 100);
};
process.stdin.on('end', onAgentGone);
process.stdin.on('error', onAgentGone);
process.stdin.on('close', onAgentGone);
process.stdin.resume();
`;

/** How the command ended, as the watchdog saw it. */
export type WatchedExit =
  | { readonly code: number | null; readonly signal: NodeJS.Signals | null }
  | { readonly error: string };

export interface WatchedCommand {
  /** The watchdog: leader of the command's process group (signal `-child.pid`). */
  readonly child: ChildProcess;
  /** Settles when the watchdog has exited: the command's exit as reported, else the watchdog's own. */
  readonly exit: Promise<WatchedExit>;
  /** Call once the run is over: closes the lifeline (the watchdog has exited by then, or must go). */
  release(): void;
}

/**
 * Starts `file args` under a watchdog bound to this process's life. The command's stdout and stderr
 * are `child.stdout` / `child.stderr`; its stdin is /dev/null.
 */
export function spawnWatched(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; killGraceMs: number },
): WatchedCommand {
  const child = spawn(process.execPath, ['-e', WATCHDOG, '--', String(options.killGraceMs), file, ...args], {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  // The lifeline: never written, only held. Its end closing is the message.
  child.stdin?.on('error', () => {});
  let reported: WatchedExit | undefined;
  const status = child.stdio[3] as Readable | null;
  let text = '';
  status?.setEncoding('utf8');
  status?.on('data', (chunk: string) => {
    text += chunk;
    const line = text.split('\n')[0];
    if (text.includes('\n') && line !== undefined && reported === undefined) {
      try {
        reported = JSON.parse(line) as WatchedExit;
      } catch {
        // Not ours to fail on: fall back to the watchdog's own exit.
      }
    }
  });
  status?.on('error', () => {});
  const exit = new Promise<WatchedExit>((resolve) => {
    child.once('error', (error) =>
      resolve({ error: (error as NodeJS.ErrnoException).code ?? String(error) }),
    );
    child.once('close', (code, signal) => resolve(reported ?? { code, signal }));
  });
  return {
    child,
    exit,
    release: () => child.stdin?.destroy(),
  };
}
