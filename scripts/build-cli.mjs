#!/usr/bin/env node
// `npm run build:cli`: bundles the `clover` CLI into one minified ES module, dist/clover.mjs, which
// bin/clover.mjs prefers over the TypeScript source (no tsx at start: a command starts in a fraction
// of the time; figure in `npm run bench -- cli`). The integration tests build the same bundle into a
// temp dir through `buildCli`, so they test what ships.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Builds the CLI bundle to `outfile` (relative to the repo root, or absolute). */
export async function buildCli(outfile = 'dist/clover.mjs') {
  await build({
    absWorkingDir: root,
    entryPoints: ['cli/clover.ts'],
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    outfile,
    // Some dependencies are CommonJS and call require() for node built-ins.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
}

// Compared by real path: run through a symlinked checkout, argv[1] is the link and import.meta.url the file.
if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  await buildCli(process.argv[2]);
}
