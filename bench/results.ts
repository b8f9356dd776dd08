/**
 * The machine-readable results of `npm run bench`: `bench/results/latest.json` (every bench's figures,
 * each with when, where and on which commit it was measured), the markdown table rendered from it
 * (`bench/results/latest.md`), and the README's copy of that table between two markers.
 * Pure functions here; bench/run.ts does the measuring and bench/results-files.ts the file writes.
 */

/** A bench's figures: whatever JSON it measured. */
export type Figures = Record<string, unknown>;

/**
 * One line of the headline table. `compare` names what the value is held against — the emulator
 * floor (the sum of the AWS calls on that path, measured in the same run), a peer (BullMQ), a budget
 * or a target — and the table shows the ratio value / compare.value.
 */
export interface HeadlineRow {
  readonly figure: string;
  readonly value: number;
  readonly unit: string;
  readonly compare?: { readonly against: string; readonly value: number };
}

export interface Bench {
  /** Short and stable: the `npm run bench -- <name>` filter and the key in latest.json. */
  readonly name: string;
  /** What it measures, at which size; one line. */
  readonly description: string;
  readonly run: () => Promise<Figures>;
  /** The rows this bench adds to the headline table; none when absent. */
  readonly headline?: (figures: Figures) => readonly HeadlineRow[];
}

/** A number at `path` (dots) in a bench's figures; NaN when absent. */
export function at(figures: Figures, path: string): number {
  let value: unknown = figures;
  for (const key of path.split('.')) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  }
  return typeof value === 'number' ? value : Number.NaN;
}

/**
 * A figure that could not be measured, kept in the bench's figures in its place: a bench of several
 * figures keeps the ones it measured when one call fails (an emulator timeout under load).
 */
export interface FailedFigure {
  readonly failed: string;
}

/** One figure's measurement; its failure becomes a {@link FailedFigure} instead of failing the bench. */
export async function tryFigure<T>(measure: () => Promise<T>): Promise<T | FailedFigure> {
  try {
    return await measure();
  } catch (error) {
    return { failed: errorText(error) };
  }
}

/** The paths (dots) of every failed figure in a bench's figures, with their errors. */
export function failedFigures(figures: Figures): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (value: unknown, path: string) => {
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    if (typeof record.failed === 'string' && Object.keys(record).length === 1) {
      found[path] = record.failed;
      return;
    }
    for (const [key, inner] of Object.entries(record)) walk(inner, path ? `${path}.${key}` : key);
  };
  walk(figures, '');
  return found;
}

/**
 * An error as one line, with its causes: Clover's errors wrap the SDK's (`index … is unavailable`
 * says which call; its cause, `TimeoutError: … requestTimeout`, says why).
 */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth += 1) {
    const text = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
    if (!parts.includes(text)) parts.push(text);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(' (cause: ') + ')'.repeat(Math.max(0, parts.length - 1));
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  /** 1, 5 and 15 minute load averages when the run (or the bench) started. */
  readonly loadAverage: readonly number[];
}

export interface RunMeta {
  readonly date: string;
  readonly machine: Machine;
  readonly node: string;
  /** Short hash, `+dirty` when the tree had uncommitted changes. */
  readonly commit: string;
  /** e.g. `moto_server 5.2.1`, `LocalStack 4.14.0`, `external http://…`. */
  readonly emulator: string;
  /** Present when a bench ran the Redis peer: its version and `hz`. */
  readonly redis?: { readonly version: string; readonly hz: number };
}

export interface BenchResult {
  readonly description: string;
  readonly measuredAt: string;
  readonly commit: string;
  readonly loadAverageAtStart: readonly number[];
  readonly seconds: number;
  readonly ok: boolean;
  /** Why it failed, when it did: a failed bench is recorded, never dropped. */
  readonly error?: string;
  /** Figures of an otherwise measured bench that failed, by path, with their errors (FailedFigure). */
  readonly failedFigures?: Readonly<Record<string, string>>;
  readonly figures?: Figures;
  readonly headline?: readonly HeadlineRow[];
}

export interface Results {
  /** The run that last wrote the file; each bench carries its own date and commit. */
  readonly meta: RunMeta;
  readonly benches: Readonly<Record<string, BenchResult>>;
}

/** The previous results with the new run's benches replaced and its meta on top; other benches keep theirs. */
export function mergeResults(
  previous: Results | undefined,
  meta: RunMeta,
  fresh: Readonly<Record<string, BenchResult>>,
): Results {
  const redis = Object.values(fresh)
    .map((result) => result.figures?.redis)
    .find(isRedisMeta);
  return {
    meta: { ...meta, ...(redis ? { redis } : previous?.meta.redis ? { redis: previous.meta.redis } : {}) },
    benches: { ...previous?.benches, ...fresh },
  };
}

function isRedisMeta(value: unknown): value is { version: string; hz: number } {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.version === 'string' && typeof record.hz === 'number';
}

/** A number as a reader wants it: no more than 3 significant decimals, thousands unseparated. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return String(Number(value.toFixed(digits)));
}

/** `12 ms`, `$15.8`, `10` (no unit). */
function withUnit(value: number, unit: string): string {
  if (unit === '$') return `$${formatNumber(value)}`;
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

export function machineLine(meta: RunMeta): string {
  const { machine } = meta;
  return (
    `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, load average ` +
    `${machine.loadAverage.map((n) => n.toFixed(1)).join(' / ')} at start; node ${meta.node}; ` +
    `${meta.emulator}${meta.redis ? `; Redis ${meta.redis.version} (hz ${meta.redis.hz})` : ''}`
  );
}

/** The headline table: one row per headline figure of every bench, failures included. */
export function renderTable(results: Results): string {
  const lines = [
    '| bench | figure | value | compared with | ratio | measured |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, result] of Object.entries(results.benches)) {
    const when = `${result.measuredAt.slice(0, 16).replace('T', ' ')} (${result.commit})`;
    if (!result.ok) {
      lines.push(`| ${name} | **failed** | ${escapeCell(result.error ?? 'unknown error')} | | | ${when} |`);
      continue;
    }
    const failed = Object.entries(result.failedFigures ?? {});
    for (const [path, error] of failed)
      lines.push(`| ${name} | **failed**: ${escapeCell(path)} | ${escapeCell(error)} | | | ${when} |`);
    for (const row of result.headline ?? []) {
      // A headline row whose figure failed is the failure row above, not a NaN.
      if (failed.length > 0 && !(Number.isFinite(row.value) && Number.isFinite(row.compare?.value ?? 0)))
        continue;
      const compared = row.compare ? `${row.compare.against}: ${withUnit(row.compare.value, row.unit)}` : '';
      const ratio =
        row.compare && row.compare.value !== 0 ? `${(row.value / row.compare.value).toFixed(2)}x` : '';
      lines.push(
        `| ${name} | ${escapeCell(row.figure)} | ${withUnit(row.value, row.unit)} | ${escapeCell(compared)} | ${ratio} | ${when} |`,
      );
    }
  }
  return lines.join('\n');
}

/** bench/results/latest.md: the table, then every figure of every bench as a flat list. */
export function renderMarkdown(results: Results): string {
  const out = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` from \`bench/results/latest.json\` on ${results.meta.date.slice(0, 16).replace('T', ' ')} UTC ` +
      `(commit ${results.meta.commit}). Machine: ${machineLine(results.meta)}. What each figure means and how ` +
      'to reproduce it: [docs/benchmarks.md](../../docs/benchmarks.md). One run on one machine: compare ' +
      'ratios within a run, not absolute numbers across machines.',
    '',
    renderTable(results),
    '',
    '## Every figure',
  ];
  for (const [name, result] of Object.entries(results.benches)) {
    out.push(
      '',
      `### ${name}`,
      '',
      `${result.description}. Measured ${result.measuredAt} on ${result.commit} in ${formatNumber(result.seconds)} s ` +
        `(load average ${result.loadAverageAtStart.map((n) => n.toFixed(1)).join(' / ')} at start).`,
      '',
    );
    if (!result.ok) out.push(`**Failed**: ${result.error ?? 'unknown error'}`);
    else for (const [path, value] of flatten(result.figures ?? {})) out.push(`- ${path}: ${value}`);
  }
  return `${out.join('\n')}\n`;
}

/** `a.b.c: value` pairs of a JSON value, arrays of scalars kept on one line. */
export function flatten(value: unknown, path = ''): [string, string][] {
  if (typeof value !== 'object' || value === null) {
    return [[path, typeof value === 'number' ? formatNumber(value) : String(value)]];
  }
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) {
    return [[path, value.join(', ')]];
  }
  return Object.entries(value).flatMap(([key, inner]) => flatten(inner, path ? `${path}.${key}` : key));
}

export const README_START = '<!-- bench:start (written by npm run bench) -->';
export const README_END = '<!-- bench:end -->';

/** The README with the text between its bench markers replaced; throws when the markers are missing. */
export function replaceReadmeTable(readme: string, results: Results): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start)
    throw new Error(`README.md lacks the markers ${README_START} … ${README_END}`);
  const body = [
    '',
    `Last \`npm run bench\`: ${results.meta.date.slice(0, 10)}, commit ${results.meta.commit}, on ${machineLine(results.meta)}. ` +
      'Every figure: [bench/results/latest.md](bench/results/latest.md); what they mean: ' +
      '[docs/benchmarks.md](docs/benchmarks.md).',
    '',
    renderTable(results),
    '',
  ].join('\n');
  return readme.slice(0, start + README_START.length) + body + readme.slice(end);
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
