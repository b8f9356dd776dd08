/**
 * The `clover` CLI against the real API for integration tests: the local runtime (`npm start`'s
 * control plane: scheduler clock, dispatcher, monitor, and the management API on a free port) on this
 * file's emulator, in a temp working directory whose `.clover/api.json` the runtime writes; and the
 * CLI as shipped — the esbuild bundle, built once per file — run as a real process in that directory
 * with no endpoint or token flags, exactly as a user would after `npm start`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { CloverApiClient } from '../../core/api/client';
import { silentLogger } from '../../core/log';
import { type LocalRuntime, startLocalRuntime } from '../../functions/local/runtime';
import { emulatorEnv } from '../../infra/local/emulator';
// @ts-expect-error: a plain ES module script without types
import { buildCli } from '../../scripts/build-cli.mjs';
import { type EmulatorHandle, useEmulator } from '../harness';

export interface CliResult {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

export interface CliStack {
  readonly aws: EmulatorHandle;
  readonly runtime: LocalRuntime;
  /** The working directory: `.clover/api.json` is here; files the CLI reads go here too. */
  readonly dir: string;
  /** An admin client of the same API, for checks the CLI does not make. */
  readonly api: CloverApiClient;
  /** Runs `clover ...args` as a process in `dir` (no CLOVER_* variables: it must find .clover/ itself). */
  clover(...args: string[]): Promise<CliResult>;
  /**
   * Runs `clover ...args | reader` through bash: `code` is clover's own exit status, `out` what the
   * reader printed, `err` clover's stderr.
   */
  pipe(reader: string, ...args: string[]): Promise<CliResult>;
  /**
   * A setup step through the CLI: runs `clover ...args`, again while it exits 6 ("retrying later may
   * help", docs/cli.md) — a loaded emulator's transient answers exhaust the API's own retries — up to
   * five tries with a growing pause, as a script following the exit codes would.
   */
  cloverSetup(...args: string[]): Promise<CliResult>;
  /** Starts `clover ...args` and returns the running process's result promise (for --wait and --follow). */
  spawnClover(...args: string[]): { readonly done: Promise<CliResult>; readonly output: () => string };
  writeFile(name: string, text: string): Promise<string>;
}

export function useCliStack(): { readonly aws: EmulatorHandle; ready(): Promise<CliStack> } {
  const aws = useEmulator();
  let runtime: LocalRuntime | undefined;
  let stack: Promise<CliStack> | undefined;
  after(async () => {
    await runtime?.stop();
  });
  const start = async (): Promise<CliStack> => {
    const dir = await mkdtemp(join(tmpdir(), 'clover-cli-it-'));
    const bundle = join(dir, 'clover.mjs');
    await buildCli(bundle);
    runtime = await startLocalRuntime({
      log: silentLogger,
      prefix: aws.prefix,
      envFile: join(dir, '.clover', 'local.env'),
      apiPort: 0,
      // Faster than npm start's defaults, so waits are short; nothing here depends on exact timing.
      tickMs: 250,
      monitorMs: 1000,
      env: {
        ...emulatorEnv(aws.emulator),
      },
    });
    const server = runtime.api;
    if (!server) throw new Error('the local runtime serves no API');
    const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: '' };
    delete env.CLOVER_API_URL;
    delete env.CLOVER_TOKEN;
    const spawnClover = (...args: string[]) => {
      const child = spawn(process.execPath, [bundle, ...args], {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
      });
      const done = new Promise<CliResult>((resolve) =>
        child.on('close', (code) => resolve({ code, out, err })),
      );
      return { done, output: () => out };
    };
    const pipe = (reader: string, ...args: string[]) => {
      const script = `"${process.execPath}" "$0" "$@" 2>clover.err | ${reader}; status=\${PIPESTATUS[0]}; cat clover.err >&2; exit $status`;
      const child = spawn('bash', ['-c', script, bundle, ...args], { cwd: dir, env, stdio: 'pipe' });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
      });
      return new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, out, err })));
    };
    return {
      aws,
      runtime,
      dir,
      pipe,
      api: new CloverApiClient({ baseUrl: server.url, token: server.adminToken }),
      clover: (...args) => spawnClover(...args).done,
      cloverSetup: async (...args) => {
        for (let tries = 1; ; tries++) {
          const result = await spawnClover(...args).done;
          // A create whose UNAVAILABLE came after its job was written (the schedule or audit step
          // failed; the monitor repairs the schedule) finds it on the next try: that is the job set up.
          if (tries > 1 && result.code === 5 && /ALREADY_EXISTS/.test(result.err))
            return { ...result, code: 0 };
          if (result.code !== 6 || tries === 5) return result;
          await new Promise((resolve) => setTimeout(resolve, tries * 1000));
        }
      },
      spawnClover,
      writeFile: async (name, text) => {
        const path = join(dir, name);
        await writeFile(path, text);
        return path;
      },
    };
  };
  return {
    aws,
    ready: () => {
      stack ??= start();
      return stack;
    },
  };
}

/**
 * Polls `check` until it returns a value (not undefined), or fails after `timeoutMs` with `what`
 * and, when given, what `seen` returns then (for example a process's output so far). The default
 * wait is long because it only matters when the test fails: on a loaded CI machine a run can take
 * more than 30 s to start (it did once, at load ~30).
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  { timeoutMs = 120_000, seen }: { timeoutMs?: number; seen?: () => string } = {},
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${seen ? `; seen so far:\n${seen()}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
