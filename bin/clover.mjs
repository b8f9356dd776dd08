#!/usr/bin/env node
// Launcher for the `clover` command: loads the TypeScript CLI through tsx, so `npx clover ...`
// works from a checkout without a build step.
import { tsImport } from 'tsx/esm/api';

const { runClover } = await tsImport('../cli/clover.ts', import.meta.url);
process.exitCode = await runClover(process.argv.slice(2));
