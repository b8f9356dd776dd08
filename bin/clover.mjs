#!/usr/bin/env node
// Launcher for the `clover` command. Runs the built bundle (dist/clover.mjs, `npm run build:cli`):
// one file, no TypeScript compile, so a command starts in a fraction of the time. When the bundle is
// missing (a fresh clone after `npm ci`) or older than a source file it was built from (listed in
// dist/clover.inputs.json), it is built first (once, about a second) and then run. Where it cannot
// be built (no esbuild, a read-only install) the TypeScript CLI runs through tsx, with a note.
// CLOVER_CLI_SOURCE=1 always runs the sources, for working on cli/.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
const bundle = new URL('dist/clover.mjs', root);

/** The bundle exists and no file it was built from changed since (a few dozen stats). */
function fresh() {
  try {
    const built = statSync(bundle).mtimeMs;
    const inputs = JSON.parse(readFileSync(new URL('dist/clover.inputs.json', root), 'utf8'));
    return inputs.every((path) => statSync(new URL(path, root)).mtimeMs <= built);
  } catch {
    return false;
  }
}

async function load() {
  if (process.env.CLOVER_CLI_SOURCE !== '1') {
    if (fresh()) return import(bundle.href);
    try {
      const { buildCli } = await import('../scripts/build-cli.mjs');
      await buildCli(fileURLToPath(bundle));
      return import(bundle.href);
    } catch (error) {
      process.stderr.write(
        `clover: could not build ${fileURLToPath(bundle)} (${error instanceof Error ? error.message : error}); running the sources, which starts slower\n`,
      );
    }
  }
  return (await import('tsx/esm/api')).tsImport('../cli/clover.ts', import.meta.url);
}

await (await load()).main(process.argv.slice(2));
