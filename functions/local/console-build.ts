/**
 * `npm start` serves the built console (console/dist), and `cdk synth`/`cdk deploy` (infra/app.ts)
 * upload it. A fresh clone has no build, and a checkout whose console sources changed has a stale
 * one: either way the console is built here, in process, before the API answers or the stack is
 * synthesized (a second or two when nothing changed: only a stat walk).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../../core/log';
import { StartError } from './startup';

const CONSOLE = resolve(import.meta.dirname, '../../console');
const CONFIG = join(CONSOLE, 'vite.config.ts');
const BUILT = join(CONSOLE, 'dist/index.html');

/** Newest modification time under `path` (files), skipping the build output. */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) {
    if (entry === 'dist' || entry === 'node_modules') continue;
    latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

/** Whether this checkout has a console to serve (console/ with its Vite config). */
export function consoleServed(): boolean {
  return existsSync(CONFIG);
}

/** Whether console/dist is missing or older than a console source file. */
export function consoleNeedsBuild(): boolean {
  if (!consoleServed()) return false;
  return !existsSync(BUILT) || newest(CONSOLE) > statSync(BUILT).mtimeMs;
}

/** Builds the console with Vite when it needs it; a StartError when the build fails. */
export async function ensureConsoleBuilt(log: Logger): Promise<void> {
  if (!consoleNeedsBuild()) return;
  log.log(
    'info',
    existsSync(BUILT)
      ? 'console sources changed: rebuilding it'
      : 'building the console (console/dist is missing)',
  );
  const started = performance.now();
  try {
    const { build } = await import('vite');
    await build({ configFile: CONFIG, logLevel: 'warn' });
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new StartError(
      `the console did not build (${reason}); \`npm run build:console\` shows the whole error`,
    );
  }
  log.log('info', 'console built', { seconds: ((performance.now() - started) / 1000).toFixed(1) });
}
