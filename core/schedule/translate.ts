/**
 * Translates the cron dialects users already write into EventBridge's six fields, only when the
 * translation is exact:
 * - Unix 5-field `m h dom mon dow` (dow 0-7, 0 and 7 = Sunday) and `@daily`-style macros;
 * - Quartz 6/7-field `sec min hour dom mon dow [year]` (dow 1-7 = SUN-SAT, as in EventBridge).
 * Which dialect is meant is decided by the wrapper: `cron(...)` is the AWS form, bare 5 fields are
 * Unix, bare 6 or 7 fields are Quartz.
 */
import { ScheduleError } from '../errors';
import { DAY_NAMES, EXPRESSION_FIELD } from './cron-fields';

export interface Translated {
  /** minutes hours day-of-month month day-of-week year */
  readonly fields: readonly string[];
  readonly seconds: string;
}

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export function expandMacro(expression: string): string {
  const fields = MACROS[expression.toLowerCase()];
  if (fields === undefined) {
    throw new ScheduleError(
      EXPRESSION_FIELD,
      `unknown macro "${expression}"; known: ${Object.keys(MACROS).join(', ')} (@reboot has no schedule)`,
    );
  }
  return fields;
}

/** The set of Unix days (0 = SUN … 6 = SAT) a Unix day-of-week field selects. */
function unixDays(field: string): Set<number> {
  const out = new Set<number>();
  const bad = (reason: string): never => {
    throw new ScheduleError(EXPRESSION_FIELD, `Unix day-of-week field "${field}" ${reason}`);
  };
  const value = (token: string): number => {
    if (/^\d+$/.test(token)) {
      const n = Number(token);
      if (n > 7) bad(`has ${n}, out of range 0-7 (0 and 7 = SUN)`);
      return n;
    }
    const i = DAY_NAMES.indexOf(token.toUpperCase());
    if (i < 0) bad(`has "${token}", which is not a number 0-7 or a name SUN-SAT`);
    return i;
  };
  for (const element of field.split(',')) {
    if (element === '') bad('has an empty list element');
    const [base = '', stepText, extra] = element.split('/');
    if (extra !== undefined) bad(`has more than one "/" in "${element}"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0)
        bad(`needs a positive increment after "/" in "${element}"`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (base === '*') {
      from = 0;
      to = 6;
    } else {
      const dash = base.split('-');
      if (dash.length > 2 || dash.some((p) => p === '')) bad(`has "${element}", which is not a valid range`);
      from = value(dash[0] ?? '');
      to = dash.length === 2 ? value(dash[1] ?? '') : stepText === undefined ? from : 7;
      if (to < from) bad(`has a reversed range "${element}"; split it into a list`);
    }
    for (let d = from; d <= to; d += step) out.add(d % 7);
  }
  return out;
}

/** EventBridge day-of-week text (names, runs as ranges) for a set of Unix days. */
function awsDays(days: Set<number>): string {
  const aws = [...days].map((d) => d + 1).sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < aws.length; ) {
    let j = i;
    while (j + 1 < aws.length && (aws[j + 1] as number) === (aws[j] as number) + 1) j++;
    const a = DAY_NAMES[(aws[i] as number) - 1];
    const b = DAY_NAMES[(aws[j] as number) - 1];
    parts.push(j - i >= 2 ? `${a}-${b}` : j === i ? `${a}` : `${a},${b}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Unix `m h dom mon dow` → EventBridge fields, with `?` placed and day-of-week renumbered. */
export function translateUnix(parts: readonly string[]): Translated {
  const [minute = '', hour = '', dom = '', month = '', dow = ''] = parts;
  for (const [label, text] of [
    ['day-of-month', dom],
    ['day-of-week', dow],
  ] as const) {
    if (text === '?') {
      throw new ScheduleError(
        EXPRESSION_FIELD,
        `Unix cron has no "?" (${label} field); write the AWS form "cron(min hour dom month dow year)" instead`,
      );
    }
  }
  const days = unixDays(dow);
  const dowAll = dow === '*' || days.size === 7;
  const domAll = dom === '*';
  if (!domAll && !dowAll) {
    throw new ScheduleError(
      EXPRESSION_FIELD,
      `Unix cron with both day-of-month "${dom}" and day-of-week "${dow}" restricted fires when EITHER matches; EventBridge Scheduler cannot express that OR — restrict only one of them, or use two schedules`,
    );
  }
  const awsDom = dowAll ? dom : '?';
  const awsDow = dowAll ? '?' : awsDays(days);
  return { fields: [minute, hour, awsDom, month, awsDow, '*'], seconds: '0' };
}

/** Quartz `sec min hour dom mon dow [year]` → EventBridge fields plus the seconds field. */
export function translateQuartz(parts: readonly string[]): Translated {
  const [seconds = '', minute = '', hour = '', dom = '', month = '', dow = '', year = '*'] = parts;
  return { fields: [minute, hour, dom, month, dow, year], seconds };
}
