/**
 * `npm run bench`: every benchmark, one after another; each returns its figures as JSON, which are
 * written to bench/results/latest.json (with the date, machine, node, commit and emulator), rendered
 * to bench/results/latest.md, and copied into README.md's table. Figures are measurements of one run
 * on this machine, never pass/fail limits; compare ratios within a run (ZeroMQ against its floor on
 * the same emulator), not absolute numbers across machines. docs/benchmarks.md explains each figure.
 *
 *   npm run bench                    # all of them (about 12 minutes on 2 quiet cores, 25 busy)
 *   npm run bench -- requests zmq    # only those whose name contains "requests" or "zmq"; the other
 *                                    # benches' figures in latest.json are kept, each with its own date
 *   npm run bench -- --list          # the names
 *
 * The benches and the README rows each adds are listed in bench/benchmarks.ts (how to add one is
 * there); the results files are written by bench/results-files.ts.
 *
 * A bench that throws is recorded as failed (with its error) and the others still run; the exit code
 * is then 1.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LOCALSTACK_IMAGE } from '../infra/local/emulator';
import { benchmarks } from './benchmarks';
import {
  type BenchResult,
  errorText,
  failedFigures,
  type HeadlineRow,
  type Machine,
  type RunMeta,
} from './results';
import { writeResults } from './results-files';

const root = fileURLToPath(new URL('..', import.meta.url));

function git(...args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

function commit(): string {
  const hash = git('rev-parse', '--short', 'HEAD') || 'unknown';
  // The results and the README table are what a run rewrites: not a reason to call the tree dirty.
  const dirty = git('status', '--porcelain', '--', '.', ':!bench/results', ':!README.md');
  return dirty ? `${hash}+dirty` : hash;
}

function machine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

/** The emulator the benches will find (infra/local/emulator.ts picks the same way), with its version. */
function emulator(): string {
  if (process.env.AWS_ENDPOINT_URL) return `external endpoint ${process.env.AWS_ENDPOINT_URL}`;
  if (process.env.CLOVER_EMULATOR === 'localstack') return `LocalStack (${LOCALSTACK_IMAGE})`;
  try {
    const version = execFileSync('python3', ['-c', 'import moto; print(moto.__version__)'], {
      encoding: 'utf8',
    }).trim();
    return `moto_server ${version}`;
  } catch {
    return 'moto_server (version unknown) or LocalStack';
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--list')) {
    for (const bench of benchmarks) console.log(`${bench.name.padEnd(20)} ${bench.description}`);
    return;
  }
  // A word that is a bench's whole name picks that bench alone (`startup`, not `cli-startup` too).
  const picks = (b: { name: string }, f: string) =>
    benchmarks.some((other) => other.name === f) ? b.name === f : b.name.includes(f);
  const chosen = benchmarks.filter((b) => args.length === 0 || args.some((f) => picks(b, f)));
  if (chosen.length === 0) {
    console.error(`no bench matches ${args.join(' ')}; npm run bench -- --list names them`);
    process.exit(2);
  }
  const meta: RunMeta = {
    date: new Date().toISOString(),
    machine: machine(),
    node: process.version,
    commit: commit(),
    emulator: emulator(),
  };
  const fresh: Record<string, BenchResult> = {};
  for (const bench of chosen) {
    console.log(`\n== ${bench.name}: ${bench.description}`);
    const measuredAt = new Date().toISOString();
    const loadAverageAtStart = machine().loadAverage;
    const started = performance.now();
    const base = { description: bench.description, measuredAt, commit: meta.commit, loadAverageAtStart };
    try {
      const figures = await bench.run();
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      const headline: readonly HeadlineRow[] = bench.headline?.(figures) ?? [];
      // Measured, but some figures failed (tryFigure): the rest are kept, the run still exits 1.
      const failed = failedFigures(figures);
      const partial = Object.keys(failed).length > 0;
      fresh[bench.name] = {
        ...base,
        seconds,
        ok: true,
        figures,
        headline,
        ...(partial ? { failedFigures: failed } : {}),
      };
      console.log(JSON.stringify(figures, null, 2));
      console.log(`(${seconds} s)`);
      if (partial) console.error(`${bench.name}: ${Object.keys(failed).length} figure(s) failed:`, failed);
    } catch (error) {
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      fresh[bench.name] = { ...base, seconds, ok: false, error: errorText(error) };
      console.error(`${bench.name} failed after ${seconds} s:`, error);
    }
    // Written after every bench, so a run cut short keeps what it measured, and a bench can read an
    // earlier one's figures (costs reads requests-per-fire's).
    writeResults(meta, fresh);
  }
  console.log(`\nwrote bench/results/latest.json, bench/results/latest.md and README.md's table`);
  if (Object.values(fresh).some((r) => !r.ok || r.failedFigures)) process.exitCode = 1;
}

await main();
