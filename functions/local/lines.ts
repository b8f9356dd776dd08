import type { LogFields, Logger, LogLevel } from '../../core/log';

/**
 * The local runtime's log: one readable line per event instead of JSON, for a person watching a
 * terminal. `12:00:01.204 INFO  run dispatched  jobId=report runId=report@2026-... workerId=w1`.
 */
export function lineLogger(
  write: (line: string) => void,
  fields: LogFields = {},
  level: LogLevel = 'info',
): Logger {
  const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
  return {
    log(at, message, extra) {
      if (rank[at] < rank[level]) return;
      const time = new Date().toISOString().slice(11, 23);
      const pairs = Object.entries({ ...fields, ...extra })
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => `${key}=${render(value)}`)
        .join(' ');
      write(`${time} ${at.toUpperCase().padEnd(5)} ${message}${pairs ? `  ${pairs}` : ''}`);
    },
    child(more) {
      return lineLogger(write, { ...fields, ...more }, level);
    },
  };
}

function render(value: unknown): string {
  if (value instanceof Error) {
    const code = (value as Error & { code?: unknown }).code;
    return JSON.stringify(code ? `${String(code)}: ${value.message}` : value.message);
  }
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}
