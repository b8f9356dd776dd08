/**
 * `clover schedule check|next`: validate an expression the way Clover (and EventBridge Scheduler)
 * will, and preview its fire times. A thin argument parser over core/schedule.
 */
import { parseArgs } from 'node:util';
import { ValidationError } from '../core/errors';
import { parseSchedule, type Schedule, type ScheduleMode } from '../core/schedule';
import { type CliIo, type Command, EXIT_OK, EXIT_USAGE, UsageError, usage } from './io';

const SCHEDULE_HELP = `Usage: clover schedule <command> [options]

Validate schedule expressions and preview their fire times.

Commands:
  check <expr>   Validate an expression; print its EventBridge Scheduler form and a description
  next <expr>    Print the next fire times, in UTC

Expressions: cron(min hour dom month dow year), rate(5 minutes), at(2026-01-30T10:00:00),
a bare 5-field Unix cron ("0 9 * * 1-5") or a bare 6/7-field Quartz cron ("0 0 9 ? * MON-FRI").

Run 'clover schedule <command> --help' for the options of a command.`;

const CHECK_HELP = `Usage: clover schedule check '<expr>' [--tz ZONE] [--mode REMOTE|LOCAL]

Validate a schedule expression. Prints the normalized EventBridge Scheduler expression
(or "LOCAL only" when EventBridge cannot run it) and a description on the next line.
Exits 2 and names the field at fault when the expression is invalid.

Options:
  --tz ZONE       IANA time zone the expression is evaluated in (default UTC)
  --mode MODE     REMOTE (default): only what EventBridge Scheduler runs;
                  LOCAL: also seconds and sub-minute rates, fired by the agents
  -h, --help      Show this help

Examples:
  clover schedule check 'cron(0 10 L * ? *)' --tz Europe/London
  clover schedule check '0 9 * * 1-5'
  clover schedule check 'rate(30 seconds)' --mode LOCAL`;

const NEXT_HELP = `Usage: clover schedule next '<expr>' [--tz ZONE] [--from ISO] [--count N] [--json]

Print the next fire times of a schedule, one per line, as UTC ISO-8601 (2026-01-30T10:00:00Z).

Options:
  --tz ZONE       IANA time zone the expression is evaluated in (default UTC)
  --from ISO      Start after this instant (default now), e.g. 2026-01-01T00:00:00Z
  --count N       How many fire times, 1-1000 (default 5)
  --start ISO     The schedule's start date (fires before it are not shown)
  --end ISO       The schedule's end date (fires after it are not shown)
  --mode MODE     REMOTE (default) or LOCAL (allows seconds and sub-minute rates)
  --json          Print a JSON array of the same strings
  -h, --help      Show this help

Examples:
  clover schedule next 'cron(0 10 L * ? *)' --tz Europe/London --from 2026-01-01T00:00:00Z --count 3
  clover schedule next 'rate(15 minutes)' --start 2026-01-01T00:00:00Z --json`;

/** UTC ISO-8601 to the second: `2026-01-30T10:00:00Z`; milliseconds only when not zero. */
export function formatInstant(date: Date): string {
  const iso = date.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

const COMMON = {
  tz: { type: 'string' },
  mode: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const NEXT_OPTIONS = {
  ...COMMON,
  from: { type: 'string' },
  count: { type: 'string' },
  start: { type: 'string' },
  end: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function modeOf(value: string | undefined, command: string): ScheduleMode {
  if (value === undefined) return 'REMOTE';
  const mode = value.toUpperCase();
  if (mode !== 'REMOTE' && mode !== 'LOCAL')
    throw new UsageError(`--mode must be REMOTE or LOCAL, got "${value}"`, command);
  return mode;
}

function expressionOf(positionals: readonly string[], command: string): string {
  if (positionals.length === 0) throw new UsageError('missing the schedule expression', command);
  if (positionals.length > 1) {
    throw new UsageError(
      `expected one expression, got ${positionals.length} arguments; quote it: '${positionals.join(' ')}'`,
      command,
    );
  }
  return positionals[0] as string;
}

/** Prints a validation error as `error: <field>: <reason>`; returns the exit code. */
function reportInvalid(error: unknown, io: CliIo): number {
  if (error instanceof ValidationError) {
    for (const issue of error.issues) io.err(`error: ${issue.field}: ${issue.reason}`);
    return EXIT_USAGE;
  }
  throw error;
}

function check(argv: readonly string[], io: CliIo): number {
  const command = 'clover schedule check';
  const { values, positionals } = usage(command, () =>
    parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: COMMON }),
  );
  if (values.help) {
    io.out(CHECK_HELP);
    return EXIT_OK;
  }
  const expression = expressionOf(positionals, command);
  const mode = modeOf(values.mode, command);
  let schedule: Schedule;
  try {
    schedule = parseSchedule({ expression, timezone: values.tz }, mode);
  } catch (error) {
    return reportInvalid(error, io);
  }
  io.out(schedule.awsExpression ?? 'LOCAL only (EventBridge Scheduler cannot run this; use mode LOCAL)');
  io.out(schedule.describe());
  return EXIT_OK;
}

function next(argv: readonly string[], io: CliIo): number {
  const command = 'clover schedule next';
  const { values, positionals } = usage(command, () =>
    parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: NEXT_OPTIONS }),
  );
  if (values.help) {
    io.out(NEXT_HELP);
    return EXIT_OK;
  }
  const expression = expressionOf(positionals, command);
  const mode = modeOf(values.mode, command);
  const countText = values.count ?? '5';
  if (!/^\d+$/.test(countText) || Number(countText) < 1 || Number(countText) > 1000) {
    throw new UsageError(`--count must be an integer from 1 to 1000, got "${countText}"`, command);
  }
  let from = new Date();
  if (values.from !== undefined) {
    from = new Date(values.from);
    if (!/^\d{4}-\d{2}-\d{2}/.test(values.from) || Number.isNaN(from.getTime())) {
      throw new UsageError(
        `--from must be an ISO-8601 instant such as 2026-01-01T00:00:00Z, got "${values.from}"`,
        command,
      );
    }
  }
  let schedule: Schedule;
  try {
    schedule = parseSchedule(
      { expression, timezone: values.tz, startDate: values.start, endDate: values.end },
      mode,
    );
  } catch (error) {
    return reportInvalid(error, io);
  }
  const times = schedule.next(from, Number(countText)).map(formatInstant);
  if (values.json) io.out(JSON.stringify(times));
  else for (const t of times) io.out(t);
  return EXIT_OK;
}

const subcommands: Readonly<Record<string, Command>> = {
  check: { summary: 'validate an expression', run: check },
  next: { summary: 'print the next fire times', run: next },
};

export const scheduleCommand: Command = {
  summary: 'validate schedule expressions and preview fire times',
  run(argv, io) {
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.out(SCHEDULE_HELP);
      return name === undefined ? EXIT_USAGE : EXIT_OK;
    }
    const sub = subcommands[name];
    if (!sub) throw new UsageError(`unknown command "schedule ${name}"`, 'clover schedule');
    return sub.run(rest, io);
  },
};
