/**
 * How long a `clover` command takes from `node` starting to the process exiting: the built bundle
 * (what `npm run build:cli` writes and bin/clover.mjs prefers) against the TypeScript source under
 * tsx, beside a bare `node -e ''` (the floor no CLI can go under). Medians of repeated runs, as wall
 * time and, on Linux, as the CPU time the process used (user + system, from /proc: 10 ms ticks),
 * which is what the wall time is on an idle core — on a busy machine the wall time mostly measures
 * the wait for a core. `jobs list` is pointed at a closed port, so it measures loading the API
 * client and failing fast (exit 6) without a server. `npx clover --help` is what the docs type: npx
 * finds the package's bin (bin/clover.mjs, which runs the bundle dist/clover.mjs, built first if
 * missing or stale) and adds its own start to the bundle's.
 *
 *   npx tsx bench/cli-startup.ts
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain ES module script without types
import { buildCli } from '../scripts/build-cli.mjs';
import { percentile } from './stats';

const root = fileURLToPath(new URL('..', import.meta.url));

/** CPU ms used by this process's waited-for children so far (Linux /proc), or undefined elsewhere. */
function childrenCpuMs(): number | undefined {
  try {
    // After the command name: state ppid ... utime stime cutime cstime (cutime is the 14th field).
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[13]) + Number(fields[14]);
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

/** `wall W, cpu C` (ms, medians of `runs`) of `command args` (node by default): cpu only where /proc tells it. */
function median(args: readonly string[], runs: number, command = process.execPath): string {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const cpuBefore = childrenCpuMs();
    const started = performance.now();
    spawnSync(command, args, {
      cwd: root,
      stdio: 'ignore',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    wall.push(performance.now() - started);
    const cpuAfter = childrenCpuMs();
    if (cpuBefore !== undefined && cpuAfter !== undefined) cpu.push(cpuAfter - cpuBefore);
  }
  const w = Math.round(percentile(wall, 50));
  return cpu.length ? `wall ${w}, cpu ${Math.round(percentile(cpu, 50))}` : `wall ${w}`;
}

export async function cliStartup(runs = 10): Promise<Record<string, string>> {
  const bundle = join(await mkdtemp(join(tmpdir(), 'clover-bench-cli-')), 'clover.mjs');
  await buildCli(bundle);
  const source = ['--import', 'tsx', 'cli/clover.ts'];
  const next = ['schedule', 'next', 'rate(5 minutes)', '--count', '3'];
  const list = ['jobs', 'list', '--endpoint', 'http://127.0.0.1:1'];
  // Warm: the first call builds dist/clover.mjs when a source changed since the last build.
  spawnSync('npx', ['clover', '--help'], { cwd: root, stdio: 'ignore' });
  return {
    'bare node (floor), ms': median(['-e', ''], runs),
    'npx clover --help (warm), ms': median(['clover', '--help'], runs, 'npx'),
    'node bin/clover.mjs --help (warm), ms': median(['bin/clover.mjs', '--help'], runs),
    'bundle: clover --help, ms': median([bundle, '--help'], runs),
    'bundle: clover schedule next, ms': median([bundle, ...next], runs),
    'bundle: clover jobs list (API unreachable, exit 6), ms': median([bundle, ...list], runs),
    'source via tsx: clover --help, ms': median([...source, '--help'], Math.min(runs, 3)),
    'source via tsx: clover jobs list (API unreachable), ms': median([...source, ...list], Math.min(runs, 3)),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(JSON.stringify(await cliStartup(), null, 2));
}
