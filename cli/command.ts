/**
 * The shape every API command shares: `clover <group> <action> [args] [options]`, parsed strictly
 * (unknown flags are usage errors), with generated help, the connection options, `--json`, and
 * cursor pagination. A command is a definition here plus a `run` that calls the API through
 * ApiClient and prints; the exit code of an API error is decided once, in clover.ts.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { CloverApiClient } from '../core/api/client';
import type { RouteId } from '../core/api/routes';
import { apiClient, type ResponseOf } from './client';
import { type Connection, resolveConnection } from './connection';
import { type CliIo, type Command, EXIT_OK, EXIT_USAGE, UsageError, usage } from './io';
import { type Column, formatTable, json, printable, TABLE_WIDTH } from './table';

type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

/** Every API command takes these. */
const CONNECTION_OPTIONS = {
  endpoint: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  wide: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

const CONNECTION_HELP = `  --json          Print the API's answer as JSON instead of a table
  --wide          Tables: every column, nothing cut (default: fit 120 columns)
  --endpoint URL  The API (default: CLOVER_API_URL, else the local runtime from .clover/api.json)
  --token JWT     Bearer token (default: CLOVER_TOKEN, else the local runtime's admin token)
  -h, --help      Show this help`;

/** Pagination options of list commands. */
export const PAGE_OPTIONS = {
  limit: { type: 'string' },
  cursor: { type: 'string' },
  all: { type: 'boolean' },
} as const satisfies Options;
export const PAGE_HELP = `  --limit N       Items per page, 1-200 (default 50)
  --cursor C      Continue from the cursor a previous page printed
  --all           Follow every page`;

export interface Ctx {
  readonly io: CliIo;
  /** `clover jobs get`: for usage errors. */
  readonly command: string;
  readonly values: Values;
  readonly positionals: readonly string[];
  readonly json: boolean;
  readonly client: CloverApiClient;
  readonly connection: Connection;
  string(name: string): string | undefined;
  flag(name: string): boolean;
  /** An integer option within [min, max]; a usage error naming the option otherwise. */
  int(name: string, min: number, max: number): number | undefined;
  /** The positional argument at `index` (present: the parser checked `args`). */
  arg(index: number): string;
  print(value: unknown, human: () => readonly string[]): void;
  /** A table that fits TABLE_WIDTH columns, or whole with `--wide`. */
  table<T>(columns: readonly Column<T>[], rows: readonly T[]): string[];
  sleep(ms: number): Promise<void>;
}

export interface ActionDef {
  readonly name: string;
  readonly summary: string;
  /** After `clover <group> <name>`: `JOB [--wait]`. */
  readonly synopsis: string;
  readonly description: string;
  readonly options?: Options;
  /** Lines describing `options`, aligned like CONNECTION_HELP. */
  readonly optionHelp?: string;
  readonly examples?: readonly string[];
  /** Names of its positional arguments, all required: `['JOB']`. */
  readonly args: readonly string[];
  /** Names of optional positional arguments after those. */
  readonly optionalArgs?: readonly string[];
  run(ctx: Ctx): Promise<number> | number;
}

/**
 * Option lines (`  --flag ARG   What it does`) with their descriptions in one column, whatever
 * width each command's own lines were written with. Lines without a flag continue the one above.
 */
export function alignOptions(text: string): string {
  const rows = text.split('\n').map((line) => /^ {2}(-\S.*?)\s{2,}(\S.*)$/.exec(line));
  const width = Math.max(...rows.map((m) => (m ? m[1]!.length : 0)));
  return text
    .split('\n')
    .map((line, i) => {
      const m = rows[i];
      return m ? `  ${m[1]!.padEnd(width)}  ${m[2]}` : `  ${' '.repeat(width)}  ${line.trim()}`;
    })
    .join('\n');
}

/** `group` is empty for a top-level command (`clover stats`). */
function actionHelp(group: string, def: ActionDef): string {
  const options = alignOptions([def.optionHelp, CONNECTION_HELP].filter(Boolean).join('\n'));
  const examples = def.examples?.length
    ? `\n\nExamples:\n${def.examples.map((e) => `  ${e}`).join('\n')}`
    : '';
  return `Usage: ${commandName(group, def)} ${def.synopsis}\n\n${def.description}\n\nOptions:\n${options}${examples}`;
}

function commandName(group: string, def: ActionDef): string {
  return group ? `clover ${group} ${def.name}` : `clover ${def.name}`;
}

/** Parses and runs one action: help, usage checks, then `def.run`. */
async function runAction(group: string, def: ActionDef, argv: readonly string[], io: CliIo): Promise<number> {
  const ctx = context(group, def, argv, io);
  if (ctx === 'help') {
    io.out(actionHelp(group, def));
    return EXIT_OK;
  }
  return def.run(ctx);
}

/** A top-level command with no actions of its own: `clover stats`, `clover audit`. */
export function single(def: ActionDef): Command {
  return { summary: def.summary, run: (argv, io) => runAction('', def, argv, io) };
}

function context(group: string, def: ActionDef, argv: readonly string[], io: CliIo): Ctx | 'help' {
  const command = commandName(group, def);
  const { values, positionals } = usage(command, () =>
    parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: { ...CONNECTION_OPTIONS, ...def.options },
    }),
  );
  const v = values as Values;
  if (v.help) return 'help';
  const missing = def.args[positionals.length];
  if (missing !== undefined) throw new UsageError(`missing argument ${missing}`, command);
  const most = def.args.length + (def.optionalArgs?.length ?? 0);
  if (positionals.length > most) {
    throw new UsageError(`unexpected argument "${positionals[most]}"`, command);
  }
  const str = (name: string) => (typeof v[name] === 'string' ? (v[name] as string) : undefined);
  const connection = resolveConnection({
    endpoint: str('endpoint'),
    token: str('token'),
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  });
  const client = apiClient(connection, io.fetch ?? fetch);
  const jsonOut = v.json === true;
  return {
    io,
    command,
    values: v,
    positionals,
    json: jsonOut,
    client,
    connection,
    string: str,
    flag: (name) => v[name] === true,
    int(name, lo, hi) {
      const text = str(name);
      if (text === undefined) return undefined;
      if (!/^-?\d+$/.test(text) || Number(text) < lo || Number(text) > hi) {
        throw new UsageError(`--${name} must be an integer from ${lo} to ${hi}, got "${text}"`, command);
      }
      return Number(text);
    },
    arg: (index) => positionals[index] ?? '',
    print(value, human) {
      if (jsonOut) io.out(json(value));
      else for (const line of human()) io.out(printable(line));
    },
    table: (columns, rows) => formatTable(columns, rows, v.wide === true ? {} : { maxWidth: TABLE_WIDTH }),
    sleep: io.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
  };
}

/** `clover <group> ...`: dispatches to its actions, with `clover <group> --help` listing them. */
export function group(
  name: string,
  summary: string,
  description: string,
  actions: readonly ActionDef[],
): Command {
  const width = Math.max(...actions.map((a) => a.name.length));
  const help = `Usage: clover ${name} <command> [options]

${description}

Commands:
${actions.map((a) => `  ${a.name.padEnd(width)}   ${a.summary}`).join('\n')}

Run 'clover ${name} <command> --help' for the options of a command.`;
  return {
    summary,
    async run(argv, io) {
      const [actionName, ...rest] = argv;
      if (
        actionName === undefined ||
        actionName === '--help' ||
        actionName === '-h' ||
        actionName === 'help'
      ) {
        io.out(help);
        return actionName === undefined ? EXIT_USAGE : EXIT_OK;
      }
      const def = actions.find((a) => a.name === actionName);
      if (!def) throw new UsageError(`unknown command "${name} ${actionName}"`, `clover ${name}`);
      return runAction(name, def, rest, io);
    },
  };
}

/** Routes that answer `{items, nextCursor?}`. */
type PagedRoute = {
  [Id in RouteId]: ResponseOf<Id> extends { items: unknown[]; nextCursor?: string } ? Id : never;
}[RouteId];
export type ItemOf<Id extends PagedRoute> = ResponseOf<Id> extends { items: Array<infer T> } ? T : never;

/**
 * One page (`--limit`, `--cursor`) or, with `--all`, every page of a list route. When more pages
 * remain and the output is a table, says on stderr how to get the next one.
 */
export async function listPages<Id extends PagedRoute>(
  ctx: Ctx,
  id: Id,
  query: Readonly<Record<string, string | number | boolean | undefined>>,
): Promise<{ items: ItemOf<Id>[]; nextCursor?: string }> {
  const limit = ctx.int('limit', 1, 200);
  let cursor = ctx.string('cursor');
  const items: ItemOf<Id>[] = [];
  for (;;) {
    // The route's own query type is checked where each command builds `query`; here it is generic.
    const call = ctx.client.call.bind(ctx.client) as (
      id: PagedRoute,
      input: { query: Record<string, unknown> },
    ) => Promise<{ items: ItemOf<Id>[]; nextCursor?: string }>;
    const page = await call(id, { query: { ...query, limit, cursor } });
    items.push(...page.items);
    cursor = page.nextCursor;
    if (!ctx.flag('all') || cursor === undefined) break;
  }
  if (cursor !== undefined && !ctx.json) {
    ctx.io.err(`(more: add --cursor ${cursor}, or --all)`);
  }
  return { items, ...(cursor === undefined ? {} : { nextCursor: cursor }) };
}
