/**
 * Runs a command declared in the agent's own config file as a handler.
 *
 * - Environment: built, never the agent's own (handler-env.ts): the run's `ctx.env` (the base, the
 *   config's pass-through names, the job's `env`), then the command's `env` from the config, then the
 *   run's CLOVER_* context, which nothing can override.
 * - Output: every stdout line goes to `ctx.log`, every stderr line too, prefixed `[stderr] `.
 * - Result: exit code 0 resolves `{ exitCode: 0 }`; anything else throws a ShellCommandError carrying
 *   the exit code (or signal) and the tail of stderr.
 * - Stopping: when `ctx.signal` aborts (cancel, deadline, lease lost) or `timeoutSeconds` passes, the
 *   whole process group gets SIGTERM, then SIGKILL after `killGraceSeconds` (default 5). The command
 *   runs in a session and group of its own, so children it started are stopped too.
 * - Dying with the agent: the group is led by a watchdog (watchdog.ts) that holds a pipe from the
 *   agent; when the agent dies by any signal, the group gets the same SIGTERM, then SIGKILL.
 *
 * @example
 * const run = shellHandler({ argv: ['/usr/bin/env', 'bash', '-c', './backup.sh'], cwd: '/opt/jobs' });
 * await run(ctx); // { exitCode: 0 }
 */
import type { ChildProcess } from 'node:child_process';
import { DEFAULT_KILL_GRACE_SECONDS } from './config';
import type { Handler, HandlerContext } from './handler';
import { contextEnv } from './handler-env';
import { spawnWatched, type WatchedCommand } from './watchdog';

export interface ShellCommandSpec {
  /** Executable and arguments, run without a shell (a string command is `['/bin/sh', '-c', cmd]`). */
  readonly argv: readonly [string, ...string[]];
  readonly cwd?: string;
  /** Added to the run's environment (`ctx.env`); CLOVER_* context variables win over these. */
  readonly env?: Readonly<Record<string, string>>;
  /** Stops the command (as a cancel does) after this long. No limit beyond the run's deadline if absent. */
  readonly timeoutSeconds?: number;
  /** Time between SIGTERM and SIGKILL. @default 5 */
  readonly killGraceSeconds?: number;
}

/** Result of a command that exited 0. */
export interface ShellResult {
  readonly exitCode: 0;
}

/** Lines of stderr kept for the error, and the most characters of them. */
const STDERR_TAIL_LINES = 20;
const STDERR_TAIL_CHARS = 4096;
/** A line longer than this is passed on in pieces, so one endless line cannot exhaust memory. */
const MAX_LINE_CHARS = 64 * 1024;
/** After the command exits, how long to wait for descendants still holding its stdout/stderr open. */
const STDIO_DRAIN_MS = 2000;

export type ShellFailure = 'exit' | 'aborted' | 'timeout' | 'spawn';

/** The command did not succeed: a non-zero exit, a signal, a stop (abort or timeout), or it did not start. */
export class ShellCommandError extends Error {
  /** Stable code for the run's error record. */
  readonly code = 'command_failed';

  constructor(
    message: string,
    readonly failure: ShellFailure,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ShellCommandError';
  }
}

/** Builds a handler that runs `spec` once per call. */
export function shellHandler(spec: ShellCommandSpec): Handler {
  return (ctx) => runCommand(spec, ctx);
}

function runCommand(spec: ShellCommandSpec, ctx: HandlerContext): Promise<ShellResult> {
  const [file, ...args] = spec.argv;
  const killGraceMs = Math.round((spec.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS) * 1000);
  const stderrTail: string[] = [];
  const tail = () => stderrTail.join('\n').slice(-STDERR_TAIL_CHARS);

  return new Promise<ShellResult>((resolve, reject) => {
    if (ctx.signal.aborted) {
      reject(
        new ShellCommandError(
          `command not started: ${reasonText(ctx.signal.reason)}`,
          'aborted',
          null,
          null,
          '',
        ),
      );
      return;
    }
    const env = { ...ctx.env, ...spec.env, ...contextEnv(ctx) };
    let watched: WatchedCommand;
    try {
      watched = spawnWatched(file, args, { cwd: spec.cwd, env, killGraceMs });
    } catch (error) {
      reject(spawnFailure(file, error));
      return;
    }
    const { child } = watched;

    let stopped: { failure: 'aborted' | 'timeout'; why: string } | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const stop = (failure: 'aborted' | 'timeout', why: string) => {
      if (stopped || settled) return;
      stopped = { failure, why };
      signalGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), killGraceMs);
    };
    const onAbort = () => stop('aborted', reasonText(ctx.signal.reason));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const timeoutTimer =
      spec.timeoutSeconds === undefined
        ? undefined
        : setTimeout(
            () => stop('timeout', `timed out after ${spec.timeoutSeconds} s`),
            spec.timeoutSeconds * 1000,
          );

    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      ctx.signal.removeEventListener('abort', onAbort);
      clearTimeout(timeoutTimer);
      clearTimeout(drainTimer);
      watched.release();
      if (killTimer !== undefined) {
        // Descendants that ignored SIGTERM may outlive the leader: keep the SIGKILL for them.
        if (groupAlive(child)) killTimer.unref();
        else clearTimeout(killTimer);
      }
      outcome();
    };

    if (child.stdout) splitLines(child.stdout, (line) => ctx.log(line));
    if (child.stderr) {
      splitLines(child.stderr, (line) => {
        stderrTail.push(line);
        if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
        ctx.log(`[stderr] ${line}`);
      });
    }

    child.once('exit', () => {
      // A background descendant may keep the pipes open; do not wait for it forever.
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, STDIO_DRAIN_MS);
      drainTimer.unref();
    });
    void watched.exit.then((exit) => {
      if ('error' in exit) {
        finish(() => reject(spawnFailure(file, Object.assign(new Error(exit.error), { code: exit.error }))));
        return;
      }
      const { code, signal } = exit;
      finish(() => {
        const stderr = tail();
        if (stopped) {
          const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
          reject(
            new ShellCommandError(
              withTail(`command stopped (${stopped.why}); it ${how}`, stderr),
              stopped.failure,
              code,
              signal,
              stderr,
            ),
          );
        } else if (code === 0) {
          resolve({ exitCode: 0 });
        } else {
          const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          reject(new ShellCommandError(withTail(`command ${how}`, stderr), 'exit', code, signal, stderr));
        }
      });
    });
  });
}

function withTail(message: string, stderr: string): string {
  return stderr === '' ? message : `${message}\n${stderr}`;
}

function spawnFailure(file: string, error: unknown): ShellCommandError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  return new ShellCommandError(`command ${file} could not be started (${code})`, 'spawn', null, null, '', {
    cause: error,
  });
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? 'aborted' : String(reason);
}

/** Signals the command's whole process group (it leads one: spawned detached). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function groupAlive(child: ChildProcess): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Calls `onLine` for each line of a text stream (without the newline; CRLF tolerated), flushing the last at end. */
function splitLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      onLine(buffer.slice(0, newline).replace(/\r$/, ''));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    }
    while (buffer.length > MAX_LINE_CHARS) {
      onLine(buffer.slice(0, MAX_LINE_CHARS));
      buffer = buffer.slice(MAX_LINE_CHARS);
    }
  });
  const flush = () => {
    if (buffer !== '') onLine(buffer.replace(/\r$/, ''));
    buffer = '';
  };
  stream.on('end', flush);
  stream.on('close', flush);
}
