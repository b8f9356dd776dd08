/**
 * `npm start`: the whole Clover control plane on this machine, against an AWS emulator.
 * Ctrl-C stops it cleanly (loops, clients, and the emulator if it started one).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { onStopSignals } from '../../core/stop-signals';
import { CONSOLE_DIST } from './api-server';
import { lineLogger } from './lines';
import { startLocalRuntime } from './runtime';

const log = lineLogger((line) => process.stdout.write(`${line}\n`));

try {
  const runtime = await startLocalRuntime({ log, prefix: process.env.CLOVER_PREFIX ?? 'clover-local' });
  console.log(`
Clover local control plane is running (${runtime.emulator.kind} at ${runtime.emulator.endpoint}, prefix ${runtime.plane.prefix}).
  Environment for agents and the CLI: ${runtime.envFile}
    set -a; . ${runtime.envFile}; set +a
  Every fire and run transition is printed below. Ctrl-C stops everything.
`);
  if (runtime.api) {
    const users = runtime.api.auth.users;
    const built = existsSync(join(CONSOLE_DIST, 'index.html'));
    console.log(`Management API: ${runtime.api.url}/api (OpenAPI: ${runtime.api.url}/api/openapi.json)
  Web console: ${built ? `${runtime.api.url}/` : 'not built: run `npm run build:console`, then restart'}
  Console sign-in (local users; passwords kept in .clover/local-users.json):
    admin    ${users.admin}
    operator ${users.operator}
    viewer   ${users.viewer}
  The CLI reads the endpoint and an admin token from ${runtime.api.apiFile}.
`);
  }
  // One Ctrl-C reaches this process more than once (group signal plus npm's relay): stop-signals.ts.
  onStopSignals((signal, count) => {
    if (count > 1) {
      log.log('warn', `${signal} again: exiting without finishing the stop`);
      process.exit(1);
    }
    log.log('info', `${signal}: stopping (again, a second or more later, to exit at once)`);
    runtime.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.log('error', 'stop failed', { error });
        process.exit(1);
      },
    );
  });
} catch (error) {
  log.log('error', 'the local control plane could not start', { error });
  process.exit(1);
}
