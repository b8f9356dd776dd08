/**
 * The `clover` command. Each top-level command is one entry in `commands`: `schedule` works offline;
 * the others are a thin layer over the management API (cli/client.ts). Run with `npx clover` (the
 * built bundle dist/clover.mjs when present, see bin/clover.mjs), `npm run clover --` or
 * `node --import tsx cli/clover.ts`.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '../core/errors';
import { ApiTimeoutError, ApiUnreachableError, CloverApiError } from './client';
import { single } from './command';
import { contactsCommand } from './contacts';
import {
  type CliIo,
  type Command,
  EXIT_AUTH,
  EXIT_CONFLICT,
  EXIT_FAILURE,
  EXIT_NOT_FOUND,
  EXIT_OK,
  EXIT_UNAVAILABLE,
  EXIT_USAGE,
  processIo,
  UsageError,
} from './io';
import { jobsCommand } from './jobs';
import { alertsCommand, auditCommand, searchCommand, statsCommand } from './observe';
import { runsCommand } from './runs';
import { scheduleCommand } from './schedule';
import { formatFields, printable } from './table';
import { workersCommand } from './workers';

const whoamiCommand = single({
  name: 'whoami',
  summary: 'show the API endpoint, who the token belongs to and its role',
  synopsis: '',
  description:
    'Show which API the CLI talks to, who the token belongs to, and its role (viewer, operator, admin).',
  args: [],
  async run(ctx) {
    const me = await ctx.client.call('me', {});
    const { endpoint, endpointFrom } = ctx.connection;
    ctx.print({ ...me, endpoint }, () =>
      formatFields([
        ['endpoint', `${endpoint} (from ${endpointFrom})`],
        ['subject', me.subject],
        ['role', me.role],
      ]),
    );
    return EXIT_OK;
  },
});

const commands: Readonly<Record<string, Command>> = {
  jobs: jobsCommand,
  runs: runsCommand,
  workers: workersCommand,
  contacts: contactsCommand,
  alerts: alertsCommand,
  search: searchCommand,
  audit: auditCommand,
  stats: statsCommand,
  whoami: whoamiCommand,
  schedule: scheduleCommand,
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const list = Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(width)}   ${c.summary}`)
    .join('\n');
  return `Usage: clover <command> [options]

Commands:
${list}

Against the local runtime (npm start) no flags are needed: the endpoint and an admin token are
read from .clover/api.json. Elsewhere: --endpoint URL or CLOVER_API_URL, and --token JWT or CLOVER_TOKEN.

Examples:
  clover jobs list
  clover jobs apply -f jobs.yaml --prune
  clover jobs trigger nightly-report --wait
  clover runs log 'nightly-report@2026-01-30T02:00:00Z' --follow
  clover schedule next 'rate(5 minutes)' --count 3 --json

Exit codes: 0 ok, 1 unexpected failure, 2 bad usage or input, 3 not signed in or not allowed,
4 not found, 5 conflict, 6 API unreachable or unavailable; jobs trigger --wait: see its --help.

Run 'clover <command> --help' for more.`;
}

/** The exit code for an API error code (docs/cli.md, "Exit codes"). */
export function exitCodeOf(code: string): number {
  switch (code) {
    case 'VALIDATION_FAILED':
    case 'INVALID_SCHEDULE':
    case 'INVALID_CURSOR':
    case 'PAYLOAD_TOO_LARGE':
    case 'UNSUPPORTED_MEDIA_TYPE':
      return EXIT_USAGE;
    case 'UNAUTHENTICATED':
    case 'TOKEN_EXPIRED':
    case 'FORBIDDEN':
      return EXIT_AUTH;
    case 'NOT_FOUND':
      return EXIT_NOT_FOUND;
    case 'ALREADY_EXISTS':
    case 'VERSION_CONFLICT':
    case 'RUN_NOT_IN_STATE':
    case 'ALREADY_ACKNOWLEDGED':
      return EXIT_CONFLICT;
    case 'THROTTLED':
    case 'UNAVAILABLE':
      return EXIT_UNAVAILABLE;
    default:
      return EXIT_FAILURE;
  }
}

const AUTH_HINT =
  'Against the local runtime the token comes from .clover/api.json (npm start writes it); elsewhere pass --token or set CLOVER_TOKEN.';

function report(error: unknown, cliIo: CliIo): number {
  // Messages and field reasons may carry server text: printable only.
  const io = { err: (line: string) => cliIo.err(printable(line)) };
  if (error instanceof UsageError) {
    io.err(`error: ${error.message}`);
    io.err(`Run '${error.helpCommand} --help' for usage.`);
    return EXIT_USAGE;
  }
  if (error instanceof CloverApiError) {
    // Validation messages are the field list joined; print it once, a field per line.
    const joined = error.fields.map((f) => `${f.path}: ${f.message}`).join('; ');
    io.err(error.message === joined ? `error: ${error.code}` : `error: ${error.code}: ${error.message}`);
    for (const field of error.fields) io.err(`  ${field.path}: ${field.message}`);
    if (error.code === 'UNAUTHENTICATED' || error.code === 'TOKEN_EXPIRED') io.err(AUTH_HINT);
    return exitCodeOf(error.code);
  }
  if (error instanceof ApiUnreachableError) {
    io.err(`error: ${error.message}`);
    io.err(
      error.endpointFrom === 'default' || error.endpointFrom.endsWith('api.json')
        ? 'Is the local runtime running (npm start)? Elsewhere, pass --endpoint or set CLOVER_API_URL.'
        : `The endpoint came from ${error.endpointFrom}.`,
    );
    return EXIT_UNAVAILABLE;
  }
  if (error instanceof ApiTimeoutError) {
    io.err(`error: ${error.message}`);
    return EXIT_UNAVAILABLE;
  }
  if (error instanceof ValidationError) {
    // Input the CLI checks itself before sending (a jobs file): same shape as the API's field errors.
    io.err('error: VALIDATION_FAILED: the input is invalid');
    for (const issue of error.issues) io.err(`  ${issue.field}: ${issue.reason}`);
    return EXIT_USAGE;
  }
  io.err(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return EXIT_FAILURE;
}

/** Runs the CLI with the given arguments (without `node` and the script); returns the exit code. */
export async function runClover(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.out(mainHelp());
      return name === undefined ? EXIT_USAGE : EXIT_OK;
    }
    const command = commands[name];
    if (!command) throw new UsageError(`unknown command "${name}"`, 'clover');
    return await command.run(rest, io);
  } catch (error) {
    return report(error, io);
  }
}

/**
 * Output to a reader that went away (`clover runs list | head -1`) ends the command quietly with
 * exit 0, as it would have had the reader read everything; no stack trace, no further requests.
 */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(EXIT_OK);
      throw error;
    });
  }
}

/** The `clover` process (bin/clover.mjs runs this from the bundle). */
export async function main(argv: readonly string[]): Promise<void> {
  quietOnClosedPipe();
  process.exitCode = await runClover(argv);
}

function isEntry(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntry()) await main(process.argv.slice(2));
