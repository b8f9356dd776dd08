/**
 * Start-up times of what a user starts, as wall time from spawning the process to the line that says
 * it is up (median of `runs`):
 *
 * - `npm start` (the whole local product: its own moto_server, provisioning, control plane, API and
 *   console, and with the demo, two demo agents and their jobs) to its `ready` line, with and without
 *   `--no-demo`. The console is built first, so no run pays for the build;
 * - the agent to its `agent started` line (lease registered, intake running) against an emulator
 *   already provisioned: from the TypeScript source under tsx (`npm run agent`) and from the bundle
 *   `npm run build:agent` writes (what production hosts run).
 *
 * Each process is stopped with SIGINT (then SIGKILL after 30 s) before the next starts. On a busy
 * machine wall time mostly measures the wait for a core: compare within a run.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../core/log';
import { ensureConsoleBuilt } from '../functions/local/console-build';
import { emulatorEnv } from '../infra/local/emulator';
import { withBenchStack } from './harness';
import { median, round } from './stats';

const root = fileURLToPath(new URL('..', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

/** Ends a process group this bench started: SIGINT, then SIGKILL if it lingers. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), sig);
    } catch {
      // ESRCH: already gone.
    }
  };
  signal('SIGINT');
  const timer = setTimeout(() => signal('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** Milliseconds from spawn to the first output line matching `ready`; the process is stopped after. */
async function timeToLine(
  command: string,
  args: readonly string[],
  options: { readonly env?: Record<string, string>; readonly cwd?: string; readonly ready: RegExp },
  timeoutMs = 180_000,
): Promise<number> {
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: options.cwd ?? root,
    env: { ...process.env, NODE_OPTIONS: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own group, so the stop reaches npm's children too
  });
  let output = '';
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${options.ready} line within ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (options.ready.test(output)) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new Error(`${command} ${args.join(' ')} exited ${code} before ready:\n${output.slice(-2000)}`),
        );
      });
    });
  } finally {
    await stopGroup(child);
  }
}

async function medianOf(
  runs: number,
  once: () => Promise<number>,
): Promise<{ medianMs: number; runsMs: number[] }> {
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) times.push(await once());
  return { medianMs: round(median(times)), runsMs: times.map((ms) => Math.round(ms)) };
}

export async function startupTimes(runs = 3): Promise<Record<string, unknown>> {
  await ensureConsoleBuilt(silentLogger);
  const npmStart = (demo: boolean) =>
    medianOf(runs, async () =>
      timeToLine('npm', ['start', '--silent', '--', ...(demo ? [] : ['--no-demo'])], {
        env: { PORT: String(await freePort()), CLOVER_PREFIX: `bench-start-${process.pid}` },
        ready: /\bready\b/,
      }),
    );
  const withDemo = await npmStart(true);
  const noDemo = await npmStart(false);

  // The agent bundle, as `npm run build:agent` writes it (dist/ is git-ignored).
  const build = spawnSync('npm', ['run', '--silent', 'build:agent'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error(`npm run build:agent exited ${build.status}`);
  const agents = await withBenchStack({ name: 'startup' }, async ({ emulator, prefix }) => {
    const dir = await mkdtemp(join(tmpdir(), 'clover-bench-agent-'));
    try {
      let n = 0;
      const agentOnce = async (entry: readonly string[]) => {
        n += 1;
        const config = join(dir, `agent-${n}.yaml`);
        await writeFile(
          config,
          [
            `workerId: bench-start-${n}`,
            `journalDir: ${join(dir, `journal-${n}`)}`,
            'handlers:',
            '  noop:',
            '    command: "true"',
          ].join('\n'),
        );
        return timeToLine(process.execPath, [...entry, '--config', config], {
          cwd: dir,
          env: {
            ...emulatorEnv(emulator),
            CLOVER_PREFIX: prefix,
          },
          ready: /agent started/,
        });
      };
      return {
        source: await medianOf(runs, () =>
          agentOnce(['--import', import.meta.resolve('tsx'), join(root, 'worker-agent/cli.ts')]),
        ),
        bundle: await medianOf(runs, () => agentOnce([join(root, 'dist/clover-agent.mjs')])),
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  return {
    runs,
    npmStartToReadyMs: { withDemo, noDemo },
    agentToStartedMs: { fromSourceViaTsx: agents.source, fromBundle: agents.bundle },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await startupTimes(Number(process.argv[2] ?? 3)), null, 2));
}
