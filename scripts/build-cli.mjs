#!/usr/bin/env node
// `npm run build:cli`: bundles the `clover` CLI into one minified ES module, dist/clover.mjs, which
// bin/clover.mjs runs (no tsx at start: a command starts in a fraction of the time; figure in
// `npm run bench -- cli`). Beside it, clover.inputs.json lists the repository files it was built
// from, so the launcher rebuilds it when one of them is newer. The integration tests build the same
// bundle into a temp dir through `buildCli`, so they test what ships.
import { realpathSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Builds the CLI bundle to `outfile` (relative to the repo root, or absolute), and its inputs list. */
export async function buildCli(outfile = 'dist/clover.mjs') {
  const target = isAbsolute(outfile) ? outfile : join(root, outfile);
  // Written beside the target and renamed into place: a concurrent `clover` never loads half a file.
  const partial = `${target}.${process.pid}.tmp`;
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['cli/clover.ts'],
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    outfile: partial,
    metafile: true,
    // Some dependencies are CommonJS and call require() for node built-ins.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  // The repository's own sources (dependencies change only with package-lock.json, listed too).
  const inputs = Object.keys(result.metafile.inputs)
    .filter((path) => !path.startsWith('node_modules/'))
    .concat('package-lock.json');
  await writeFile(join(dirname(target), 'clover.inputs.json'), `${JSON.stringify(inputs)}\n`);
  await rename(partial, target);
}

// Compared by real path: run through a symlinked checkout, argv[1] is the link and import.meta.url the file.
if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  await buildCli(process.argv[2]);
}
