/** Where CLI commands write, injectable so tests can capture output without spawning. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

export const processIo: CliIo = {
  out: (line) => {
    process.stdout.write(`${line}\n`);
  },
  err: (line) => {
    process.stderr.write(`${line}\n`);
  },
};

/** Exit codes: 0 done, 1 unexpected failure, 2 bad usage or invalid input. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

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
