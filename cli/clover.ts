/**
 * The `clover` command. Each top-level command is one entry in `commands`; later features add
 * theirs (`clover job ...`) beside `schedule`. Run with `npx clover`, `npm run clover --` or
 * `node --import tsx cli/clover.ts`.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, processIo, UsageError } from './io';
import { scheduleCommand } from './schedule';

const commands: Readonly<Record<string, Command>> = {
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

Examples:
  clover schedule check 'cron(0 10 L * ? *)' --tz Europe/London
  clover schedule next 'rate(5 minutes)' --count 3 --json

Run 'clover <command> --help' for more.`;
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
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      io.err(`Run '${error.helpCommand} --help' for usage.`);
      return EXIT_USAGE;
    }
    io.err(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return EXIT_FAILURE;
  }
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

if (isEntry()) {
  process.exitCode = await runClover(process.argv.slice(2));
}
