/**
 * Where CLI commands write and what they read from their surroundings, injectable so tests can
 * capture output and answer requests without spawning. Absent members default to the process's own.
 */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly fetch?: typeof fetch;
  /** Waits between polls (`runs log --follow`, `jobs trigger --wait`). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export const processIo: CliIo = {
  out: (line) => {
    process.stdout.write(`${line}\n`);
  },
  err: (line) => {
    process.stderr.write(`${line}\n`);
  },
};

/**
 * Exit codes (docs/cli.md, "Exit codes"). Scripts branch on these, so they never change meaning:
 * 0 done; 1 unexpected failure; 2 bad usage or input rejected (locally or by the API, 400/413);
 * 3 not signed in or not allowed (401/403); 4 not found (404); 5 conflict (409: version, exists,
 * run not in that state; or a `jobs apply` conflict); 6 the API could not be reached, was throttled
 * or unavailable (429/503). `jobs trigger --wait` exits with the run's outcome: 0 SUCCEEDED, 10 FAILED,
 * 11 TIMED_OUT, 12 CANCELLED, 13 LOST, 14 SKIPPED, 15 NO_WORKER, 16 still running when --timeout ran out.
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_AUTH = 3;
export const EXIT_NOT_FOUND = 4;
export const EXIT_CONFLICT = 5;
export const EXIT_UNAVAILABLE = 6;

/** A usage mistake (unknown flag, missing argument): printed with a pointer to --help, exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly helpCommand: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Command {
  readonly summary: string;
  run(argv: readonly string[], io: CliIo): Promise<number> | number;
}

/** Runs node's parseArgs (or any parse step), turning its errors into usage errors for `command`. */
export function usage<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), command);
  }
}
