#!/usr/bin/env node
// Run by CDK after it installs zeromq beside a Lambda bundle (infra/constructs/node-function.ts,
// `commandHooks.afterBundling`): zeromq's npm package carries prebuilt addons for every platform
// (~33 MB); Lambda loads only the linux/arm64/glibc one. This keeps that addon and its manifest
// entry (cmake-ts's loader picks the addon through build/manifest.json) and deletes the rest.
//
//   node scripts/keep-lambda-zeromq.mjs <asset dir>
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, normalize, relative } from 'node:path';

const TARGET = { os: 'linux', arch: 'arm64', libc: 'glibc', runtime: 'node' };

const [assetDir] = process.argv.slice(2);
if (!assetDir) {
  console.error('usage: node scripts/keep-lambda-zeromq.mjs <asset dir>');
  process.exit(2);
}
const build = join(assetDir, 'node_modules', 'zeromq', 'build');
const manifestPath = join(build, 'manifest.json');
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const kept = Object.fromEntries(
  Object.entries(manifest).filter(([key]) => {
    const config = JSON.parse(key);
    return Object.entries(TARGET).every(([field, value]) => config[field] === value);
  }),
);
if (Object.keys(kept).length === 0) {
  console.error(`${manifestPath}: no prebuilt zeromq addon for ${JSON.stringify(TARGET)}`);
  process.exit(1);
}
writeFileSync(manifestPath, JSON.stringify(kept));

// Manifest paths use the separator of the machine that built them (win32 entries have backslashes).
const keep = new Set(['manifest.json', ...Object.values(kept).map((path) => normalize(path))]);
function prune(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      prune(path);
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
    } else if (!keep.has(relative(build, path))) {
      rmSync(path);
    }
  }
}
prune(build);
