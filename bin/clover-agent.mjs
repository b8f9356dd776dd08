#!/usr/bin/env node
// Launcher for the worker agent CLI from a checkout: runs worker-agent/cli.ts through tsx.
// A host without the checkout runs the bundled dist/clover-agent.mjs instead (docs/agent-deploy.md).
import { tsImport } from 'tsx/esm/api';

const { runAgentCli } = await tsImport('../worker-agent/cli.ts', import.meta.url);
process.exit(await runAgentCli(process.argv.slice(2)));
