/**
 * `npm start`: the whole Clover control plane on this machine, against an AWS emulator.
 * Ctrl-C stops it cleanly (loops, clients, and the emulator if it started one).
 */
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
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.log('info', `${signal}: stopping`);
    runtime.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.log('error', 'stop failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
} catch (error) {
  log.log('error', 'the local control plane could not start', { error });
  process.exit(1);
}
