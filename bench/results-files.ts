/**
 * The files `npm run bench` keeps its results in: bench/results/latest.json (read back, so a run of
 * some benches keeps the others' figures and a bench can price an earlier one's, as costs does
 * requests-per-fire's), bench/results/latest.md and README.md's table, rendered by bench/results.ts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type BenchResult,
  mergeResults,
  type Results,
  type RunMeta,
  renderMarkdown,
  replaceReadmeTable,
} from './results';

const root = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = `${root}bench/results/latest.json`;

export function readResults(): Results | undefined {
  return existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Results) : undefined;
}

/** Merges `fresh` into latest.json and writes it, latest.md and README.md's table from the merge. */
export function writeResults(meta: RunMeta, fresh: Readonly<Record<string, BenchResult>>): void {
  const results = mergeResults(readResults(), meta, fresh);
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${root}bench/results/latest.md`, renderMarkdown(results));
  const readme = `${root}README.md`;
  writeFileSync(readme, replaceReadmeTable(readFileSync(readme, 'utf8'), results));
}
