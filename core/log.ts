/**
 * Structured logging. Library code logs through this port, never console.log: one JSON object per
 * line with a message and scope fields (jobId, runId, workerId), so logs can be searched and joined.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` too. */
  child(fields: LogFields): Logger;
}

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface JsonLoggerOptions {
  readonly level?: LogLevel;
  readonly write?: (line: string) => void;
  readonly fields?: LogFields;
}

export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const threshold = levelRank[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const scope = options.fields ?? {};
  return {
    log(level, message, fields) {
      if (levelRank[level] < threshold) return;
      write(
        JSON.stringify(
          { time: new Date().toISOString(), level, message, ...scope, ...fields },
          errorReplacer,
        ),
      );
    },
    child(fields) {
      return jsonLogger({ ...options, fields: { ...scope, ...fields } });
    },
  };
}

export const silentLogger: Logger = { log() {}, child: () => silentLogger };

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const coded = value as Error & { code?: unknown };
    return { name: value.name, message: value.message, code: coded.code };
  }
  return value;
}

/**
 * Logs a repeating failure once per episode: the first failure of a kind at `warn`, the next ones at
 * `debug` until that kind succeeds again, then one `info` line saying how many failed meanwhile. A
 * hung endpoint retried every second so costs two lines per call kind, not a flood (issue 9).
 *
 * @example
 * const failures = new FailureLog(logger);
 * try { await renew(); failures.succeeded('lease renewal'); }
 * catch (error) { failures.failed('lease renewal', 'lease renewal failed; retrying', { error }); }
 */
export class FailureLog {
  private readonly failing = new Map<string, { since: number; count: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  failed(kind: string, message: string, fields?: LogFields): void {
    const episode = this.failing.get(kind);
    if (episode) {
      episode.count += 1;
      this.logger.log('debug', message, { ...fields, failures: episode.count });
      return;
    }
    this.failing.set(kind, { since: this.now(), count: 1 });
    this.logger.log('warn', message, {
      ...fields,
      note: `further ${kind} failures are logged at debug until one succeeds`,
    });
  }

  succeeded(kind: string): void {
    const episode = this.failing.get(kind);
    if (!episode) return;
    this.failing.delete(kind);
    this.logger.log('info', `${kind} works again`, {
      failures: episode.count,
      failingMs: this.now() - episode.since,
    });
  }
}

/**
 * The scope of a run's log lines: its job, its id and its fire's trace id when it has one, so one
 * trace id finds the agent's lines for the fire as well as the dispatcher's (docs/architecture.md).
 */
export function runLogScope(run: {
  readonly jobId: string;
  readonly runId: string;
  readonly traceId?: string;
}) {
  return { jobId: run.jobId, runId: run.runId, ...(run.traceId ? { traceId: run.traceId } : {}) };
}
