#!/usr/bin/env node
// Launcher for the `clover` command. Prefers the built bundle (dist/clover.mjs, `npm run build:cli`):
// one file, no TypeScript compile, so a command starts in a fraction of the time. Without a bundle
// (a fresh checkout) it loads the TypeScript CLI through tsx. CLOVER_CLI_SOURCE=1 forces the source,
// for working on cli/ after a build without rebuilding each time.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/clover.mjs', import.meta.url);
const { runClover } =
  existsSync(bundle) && process.env.CLOVER_CLI_SOURCE !== '1'
    ? await import(bundle.href)
    : await (await import('tsx/esm/api')).tsImport('../cli/clover.ts', import.meta.url);
process.exitCode = await runClover(process.argv.slice(2));
