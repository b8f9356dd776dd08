/**
 * `at(yyyy-mm-ddThh:mm:ss)` one-time schedules, evaluated in the schedule's time zone. A local time
 * that does not exist (inside a spring-forward gap) is rejected, since it would never fire; one that
 * occurs twice (fall-back overlap) fires at its first occurrence, as recurring schedules do.
 */
import { ScheduleError } from '../errors';
import { offsetFn, wallToInstants } from './zone';

const FIELD = 'schedule.expression';

export interface ParsedAt {
  readonly instantMs: number;
  readonly local: string;
  readonly awsExpression: string;
}

export function parseAt(inner: string, timezone: string): ParsedAt {
  const text = inner.trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) {
    throw new ScheduleError(
      FIELD,
      `at expects "at(yyyy-mm-ddThh:mm:ss)", e.g. "at(2026-01-30T10:00:00)"; got "at(${inner})"`,
    );
  }
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(wall);
  if (
    month < 1 ||
    month > 12 ||
    check.getUTCDate() !== day ||
    check.getUTCMonth() !== month - 1 ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new ScheduleError(FIELD, `at date-time "${text}" is not a real calendar date and time`);
  }
  const instants = wallToInstants(wall, offsetFn(timezone));
  const first = instants[0];
  if (first === undefined) {
    throw new ScheduleError(
      FIELD,
      `at date-time "${text}" does not exist in ${timezone} (it falls in the daylight-saving gap), so it would never fire`,
    );
  }
  return { instantMs: first, local: text, awsExpression: `at(${text})` };
}
