/**
 * `rate(value unit)` schedules: a fixed period in real (UTC) time from an anchor — time zones and
 * daylight saving do not move them. Units minute(s)/hour(s)/day(s) are EventBridge's; second(s) is
 * LOCAL-only, unless the value is a whole number of minutes (then it is translated exactly).
 */
import { ScheduleError } from '../errors';
import type { ScheduleMode } from './types';

const FIELD = 'schedule.expression';

const UNIT_MS = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type RateUnit = keyof typeof UNIT_MS;

export interface ParsedRate {
  readonly value: number;
  readonly unit: RateUnit;
  readonly periodMs: number;
  /** EventBridge form, or null when only LOCAL mode can run it. */
  readonly awsExpression: string | null;
}

function unitText(value: number, unit: RateUnit): string {
  return value === 1 ? unit : `${unit}s`;
}

/** Parses the inside of `rate(...)`. Throws `ScheduleError` with the part at fault. */
export function parseRate(inner: string, mode: ScheduleMode): ParsedRate {
  const parts = inner.trim().split(/\s+/);
  if (parts.length !== 2) {
    throw new ScheduleError(
      FIELD,
      `rate expects "rate(value unit)", e.g. "rate(5 minutes)"; got "rate(${inner})"`,
    );
  }
  const [valueText = '', unitWord = ''] = parts;
  if (!/^[1-9]\d*$/.test(valueText) || !Number.isSafeInteger(Number(valueText))) {
    throw new ScheduleError(FIELD, `rate value "${valueText}" must be a positive integer`);
  }
  const value = Number(valueText);
  const m = /^(second|minute|hour|day)(s?)$/.exec(unitWord);
  if (!m) {
    throw new ScheduleError(
      FIELD,
      `rate unit "${unitWord}" must be one of minute|minutes|hour|hours|day|days`,
    );
  }
  const unit = m[1] as RateUnit;
  const plural = m[2] === 's';
  if (value === 1 && plural) {
    throw new ScheduleError(FIELD, `rate unit must be singular when the value is 1: write "rate(1 ${unit})"`);
  }
  if (value !== 1 && !plural) {
    throw new ScheduleError(
      FIELD,
      `rate unit must be plural when the value is not 1: write "rate(${value} ${unit}s)"`,
    );
  }
  const periodMs = value * UNIT_MS[unit];
  if (unit !== 'second') {
    return { value, unit, periodMs, awsExpression: `rate(${value} ${unitText(value, unit)})` };
  }
  if (value % 60 === 0) {
    const minutes = value / 60;
    return { value, unit, periodMs, awsExpression: `rate(${minutes} ${unitText(minutes, 'minute')})` };
  }
  if (mode === 'REMOTE') {
    throw new ScheduleError(
      FIELD,
      `rate must be at least 1 minute; "rate(${inner.trim()})" needs sub-minute firing, which EventBridge Scheduler cannot do; use LOCAL mode, or precision SECOND for a REMOTE job`,
    );
  }
  return { value, unit, periodMs, awsExpression: null };
}

/** Fires are `anchor + k × period` for every integer k, kept within [since, until]. */
export function rateNext(
  periodMs: number,
  anchorMs: number,
  afterMs: number,
  count: number,
  sinceMs: number,
  untilMs: number,
): number[] {
  const out: number[] = [];
  const from = Math.max(afterMs + 1, sinceMs); // first allowed instant
  let k = Math.ceil((from - anchorMs) / periodMs);
  for (
    let t = anchorMs + k * periodMs;
    out.length < count && t <= untilMs;
    k++, t = anchorMs + k * periodMs
  ) {
    out.push(t);
  }
  return out;
}

export function ratePrevious(
  periodMs: number,
  anchorMs: number,
  beforeMs: number,
  sinceMs: number,
  untilMs: number,
): number | null {
  const to = Math.min(beforeMs - 1, untilMs); // last allowed instant
  const t = anchorMs + Math.floor((to - anchorMs) / periodMs) * periodMs;
  return t >= sinceMs ? t : null;
}
