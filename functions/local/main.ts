/**
 * `npm start`: the whole Clover product on this machine — an AWS emulator, the control plane, the
 * management API and the console on http://127.0.0.1:$PORT, and two demo agents running example jobs.
 *
 * It prints one line containing `ready` once the API, the console and the demo agents answer. A start
 * that cannot succeed (port taken, no emulator, ...) prints one `clover: ...` line saying what is wrong
 * and how to fix it, stops whatever it had started, and exits 1. Ctrl-C (or SIGTERM) stops in order:
 * demo agents (they drain), then the API, loops and emulator; a second Ctrl-C a second later forces.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Role, Roles } from '../../core/api/schemas';
import { writePrivateFile } from '../../core/private-files';
import { onStopSignals } from '../../core/stop-signals';
import { LOCAL_USERS_FILE } from '../api/auth';
import { consoleServed, ensureConsoleBuilt } from './console-build';
import { DEMO_CONTACT, type Demo, startDemo } from './demo';
import { lineLogger } from './lines';
import { type LocalRuntime, startLocalRuntime } from './runtime';
import {
  checkEndpointAnswers,
  checkPortFree,
  describe,
  launchedAgoMs,
  parsePort,
  StartError,
  waitUntilAnswering,
} from './startup';

const USAGE = `Usage: npm start [-- --no-demo]

Runs Clover locally: an AWS emulator (LocalStack on :4566 if running, else moto_server), the control
plane, the management API and the web console on http://127.0.0.1:$PORT (default 8080), and two demo
agents with example jobs. Ctrl-C stops everything.

Options:
  --no-demo   start without the demo agents and their jobs
  -h, --help  this text

Environment: PORT (default 8080), CLOVER_PREFIX (resource prefix, default clover-local),
AWS_ENDPOINT_URL (use this emulator), CLOVER_EMULATOR=moto|localstack (insist on one),
CLOVER_SCHEDULER_LATENESS=minute (deliver each scheduler invocation within its minute, as AWS does).
`;

const STATE_DIR = '.clover';
const USERS_FILE = join(STATE_DIR, LOCAL_USERS_FILE);

/**
 * The sign-in line: passwords exist in plain text only when this start generated them (the users file
 * keeps scrypt hashes), so they are shown then and never again; otherwise, where they were shown.
 */
function signIn(created: Partial<Record<Role, string>>): string {
  const reset = `for new ones, delete ${USERS_FILE} (or one user's entry) and start again`;
  const { admin, operator, viewer } = created;
  if (admin && operator && viewer)
    return `Sign in as admin with password ${admin}   (operator ${operator}, viewer ${viewer}; shown this once: ${USERS_FILE} keeps only their hashes; ${reset})`;
  const fresh = Roles.filter((role) => created[role]).map((role) => `${role} ${created[role]}`);
  return `Sign in as admin, operator or viewer with the passwords printed when ${USERS_FILE} was made${
    fresh.length > 0 ? `; new, shown this once: ${fresh.join(', ')}` : ''
  } (${USERS_FILE} keeps only hashes; ${reset})`;
}
const log = lineLogger((line) => process.stdout.write(`${line}\n`));

/** The one line a failed start prints, then exit 1 (2 for bad arguments). */
function fail(error: unknown, code = 1): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`clover: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(code);
}

let options: { demo: boolean };
try {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { 'no-demo': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  options = { demo: !values['no-demo'] };
} catch (error) {
  fail(
    `${error instanceof Error ? error.message : String(error)} (npm start -- --help lists the options)`,
    2,
  );
}

let runtime: Promise<LocalRuntime> | undefined;
let demo: Demo | undefined;
let stopping: Promise<void> | undefined;
let started = false;

/** A signal during the start: every start step awaited through `step()` gives up at once. */
class Cancelled extends Error {}
let cancel: (error: Cancelled) => void = () => {};
const cancelled = new Promise<never>((_, reject) => {
  cancel = reject;
});
cancelled.catch(() => undefined);
const step = <T>(work: Promise<T>): Promise<T> => Promise.race([work, cancelled]);

/**
 * In order: stop making new work (so draining agents get no new runs), let the demo agents drain
 * (their outcomes are written while the control plane is still up), then API, loops and emulator.
 */
function stopAll(): Promise<void> {
  // At once: the signal that brought us here reached the demo agents too, and their exits are no crash.
  demo?.release();
  stopping ??= (async () => {
    // A runtime still starting is waited for, so its emulator is stopped too.
    const plane = await runtime?.catch(() => undefined);
    await plane?.quiesce();
    await demo?.stop();
    await plane?.stop();
  })();
  return stopping;
}

// A forced exit (second Ctrl-C, crash) must not leave agents behind; the emulator guards its own child.
process.on('exit', () => demo?.kill());

// One Ctrl-C reaches this process more than once (group signal plus npm's relay): stop-signals.ts.
onStopSignals((signal, count) => {
  if (count > 1) {
    log.log('warn', `${signal} again: exiting without finishing the stop`);
    process.exit(1);
  }
  log.log('info', `${signal}: stopping (again, a second or more later, to exit at once)`);
  if (!started) {
    cancel(new Cancelled());
    return;
  }
  stopAll().then(
    () => {
      log.log('info', 'stopped');
      process.exit(0);
    },
    (error: unknown) => fail(`stop failed: ${error instanceof Error ? error.message : String(error)}`),
  );
});

// The AWS SDK warns on Node 20 in nine lines; the README says which Node versions are supported.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let port: number | undefined;
try {
  port = parsePort(process.env.PORT);
  // Before anything starts: a taken port is the commonest failure, and it should cost nothing.
  await checkPortFree(port);
  if (process.env.AWS_ENDPOINT_URL) await step(checkEndpointAnswers(process.env.AWS_ENDPOINT_URL));
  // Built (when missing or stale) while the emulator starts; the API, which serves console/dist as
  // it is when it starts, waits for it.
  const consoleBuilt = ensureConsoleBuilt(log);
  consoleBuilt.catch(() => undefined);
  runtime = startLocalRuntime({
    beforeApi: consoleBuilt,
    log,
    prefix: process.env.CLOVER_PREFIX ?? 'clover-local',
    mailDir: join(STATE_DIR, 'mail'),
    // Installing Python packages is the user's call; the error says how.
    installMoto: false,
    apiPort: port,
    stateDir: STATE_DIR,
    schedulerLateness: process.env.CLOVER_SCHEDULER_LATENESS === 'minute',
  });
  const local = await step(runtime);
  const api = local.api;
  if (!api) throw new StartError('the management API did not start');
  await writePrivateFile(join(STATE_DIR, 'local-token'), `${api.adminToken}\n`);
  if (options.demo) {
    demo = await step(
      startDemo({
        emulator: local.emulator,
        prefix: local.plane.prefix,
        contacts: local.plane.contacts,
        log,
        dir: join(STATE_DIR, 'demo'),
        // As an agent that sources .clover/local.env: declared jobs go through the API.
        env: { CLOVER_API_URL: api.url, CLOVER_API_TOKEN: api.adminToken },
      }),
    );
    await step(demo.started);
  }
  await step(waitUntilAnswering([`${api.url}/api/health`, ...(consoleServed() ? [`${api.url}/`] : [])]));
  started = true;

  // From the launch of `npm start`, not from here: npm, Node and the imports took their part already.
  const seconds = (launchedAgoMs() / 1000).toFixed(1);
  process.stdout.write(`
  Clover console and API: ${api.url}   (API ${api.url}/api, OpenAPI ${api.url}/api/openapi.json)
  ${signIn(api.auth.newPasswords)}
  Token: an admin token for the API is in ${STATE_DIR}/local-token (and in ${api.apiFile}, where the clover CLI finds it).
  Agents: set -a; . ${local.envFile}; set +a; npx clover-agent --config your-agent.yaml
  Emulator: ${local.emulator.kind} at ${local.emulator.endpoint}. Alert mail is written to ${STATE_DIR}/mail/ (one .eml per message).
${
  demo
    ? `  Demo: agents ${demo.workerIds.join(', ')} run the jobs in functions/local/demo/agent.yaml; failures mail ${DEMO_CONTACT.email}. (--no-demo: none)\n`
    : '  No demo agents (--no-demo).\n'
}  Ctrl-C stops everything.

`);
  log.log('info', `Clover is ready in ${seconds} s at ${api.url}`);
} catch (error) {
  // Nothing may outlive a failed start: agents, API, loops, emulator.
  await stopAll().catch(() => undefined);
  if (error instanceof Cancelled) {
    log.log('info', 'stopped');
    process.exit(0);
  }
  fail(describe(error, port));
}
