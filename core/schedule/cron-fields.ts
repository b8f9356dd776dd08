/**
 * Parser and validator for the fields of an EventBridge Scheduler cron expression
 * (`minutes hours day-of-month month day-of-week year`), plus the seconds field Quartz adds for
 * LOCAL mode. Rules follow the EventBridge cron reference; where it is silent, Clover chooses the
 * stricter reading and says so in the reason (see the notes on each rule below).
 */
import { ScheduleError } from '../errors';

export const EXPRESSION_FIELD = 'schedule.expression';

export const MONTH_NAMES = [
  'JAN',
  'FEB',
  'MAR',
  'APR',
  'MAY',
  'JUN',
  'JUL',
  'AUG',
  'SEP',
  'OCT',
  'NOV',
  'DEC',
];
export const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

export interface FieldDef {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  /** Names accepted in place of numbers, index 0 = `min`. */
  readonly names?: readonly string[];
  readonly rangeHint?: string;
  /** Whether `/` increments are accepted (EventBridge does not list `/` for day-of-week). */
  readonly steps: boolean;
}

export const SECONDS: FieldDef = { label: 'seconds', min: 0, max: 59, steps: true };
export const MINUTES: FieldDef = { label: 'minutes', min: 0, max: 59, steps: true };
export const HOURS: FieldDef = { label: 'hours', min: 0, max: 23, steps: true };
export const DAY_OF_MONTH: FieldDef = { label: 'day-of-month', min: 1, max: 31, steps: true };
export const MONTH: FieldDef = {
  label: 'month',
  min: 1,
  max: 12,
  names: MONTH_NAMES,
  rangeHint: ' (or JAN-DEC)',
  steps: true,
};
export const DAY_OF_WEEK: FieldDef = {
  label: 'day-of-week',
  min: 1,
  max: 7,
  names: DAY_NAMES,
  rangeHint: ' (1 = SUN)',
  steps: false,
};
export const YEAR: FieldDef = { label: 'year', min: 1970, max: 2199, steps: true };

/** Day-of-month rule. `any` is `*` or `?`. */
export type DomRule =
  | { readonly kind: 'any' }
  | { readonly kind: 'days'; readonly days: readonly number[] }
  | { readonly kind: 'last' }
  | { readonly kind: 'weekday'; readonly day: number };

/** Day-of-week rule, days numbered 1 = SUN … 7 = SAT. */
export type DowRule =
  | { readonly kind: 'any' }
  | { readonly kind: 'days'; readonly days: readonly number[] }
  | { readonly kind: 'last'; readonly dow: number }
  | { readonly kind: 'nth'; readonly dow: number; readonly nth: number };

/** A parsed cron expression; every value list is sorted ascending and duplicate-free. */
export interface CronFields {
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly dom: DomRule;
  readonly months: readonly number[];
  readonly dow: DowRule;
  /** null = every year 1970-2199. */
  readonly years: readonly number[] | null;
  /** The field texts as normalized for the AWS form (upper-case names), seconds first. */
  readonly text: {
    readonly seconds: string;
    readonly minutes: string;
    readonly hours: string;
    readonly dom: string;
    readonly month: string;
    readonly dow: string;
    readonly year: string;
  };
}

function fail(reason: string): never {
  throw new ScheduleError(EXPRESSION_FIELD, reason);
}

function where(def: FieldDef, field: string, element: string): string {
  return field === element ? `${def.label} field "${field}"` : `${def.label} field "${field}": "${element}"`;
}

function parseValue(def: FieldDef, field: string, token: string): number {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    if (n < def.min || n > def.max) {
      const subject =
        field === token ? `${def.label} field "${field}"` : `${def.label} field "${field}": ${n}`;
      fail(`${subject} is out of range ${def.min}-${def.max}${def.rangeHint ?? ''}`);
    }
    return n;
  }
  const index = def.names?.indexOf(token.toUpperCase()) ?? -1;
  if (index >= 0) return def.min + index;
  const kind = def.names
    ? `a number or a name (${def.names[0]}-${def.names[def.names.length - 1]})`
    : 'a number';
  return fail(`${where(def, field, token)} is not ${kind}`);
}

/** Parses one list-and-range field (`,` `-` `*` `/`) into the sorted set of values it selects. */
export function parseList(def: FieldDef, field: string): number[] {
  if (field === '') fail(`${def.label} field is empty`);
  const values = new Set<number>();
  for (const element of field.split(',')) {
    if (element === '') fail(`${def.label} field "${field}" has an empty list element`);
    if (element === '?')
      fail(`${where(def, field, element)}: "?" is allowed only alone in day-of-month or day-of-week`);
    const slash = element.split('/');
    if (slash.length > 2) fail(`${where(def, field, element)} has more than one "/"`);
    const [base = '', stepText] = slash;
    let step = 1;
    if (stepText !== undefined) {
      if (!def.steps) fail(`${where(def, field, element)}: ${def.label} does not accept "/" increments`);
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) {
        fail(`${where(def, field, element)}: the increment after "/" must be a positive integer`);
      }
      step = Number(stepText);
      if (step > def.max - def.min + 1) {
        fail(
          `${where(def, field, element)}: the increment ${step} is larger than the field's range ${def.min}-${def.max}`,
        );
      }
    }
    let from: number;
    let to: number;
    if (base === '*') {
      from = def.min;
      to = def.max;
    } else if (base === '') {
      return fail(`${where(def, field, element)} is missing a value before "/"`);
    } else {
      const dash = base.split('-');
      if (dash.length > 2 || dash.some((p) => p === ''))
        fail(`${where(def, field, element)} is not a valid range`);
      from = parseValue(def, field, dash[0] ?? '');
      // `5/15` means "from 5 to the end of the field, every 15" (Quartz and EventBridge).
      to =
        dash.length === 2 ? parseValue(def, field, dash[1] ?? '') : stepText === undefined ? from : def.max;
      if (to < from) {
        // EventBridge documents no wrap-around ranges; Clover rejects them rather than guess.
        fail(
          `${where(def, field, element)} is a reversed range; ranges do not wrap around, split it into a list`,
        );
      }
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

function normalizeNames(def: FieldDef, field: string): string {
  return def.names ? field.toUpperCase() : field;
}

function parseDom(field: string): DomRule {
  if (field === '*' || field === '?') return { kind: 'any' };
  if (field === 'L') return { kind: 'last' };
  if (/L/i.test(field)) {
    if (/^L-\d+$/i.test(field)) {
      fail(
        `day-of-month field "${field}": offsets from the last day ("L-n") are not documented for EventBridge Scheduler; Clover rejects them`,
      );
    }
    if (/^LW$/i.test(field)) {
      fail(
        `day-of-month field "${field}": "LW" is not documented for EventBridge Scheduler; Clover rejects it`,
      );
    }
    fail(`day-of-month field "${field}": "L" (last day of the month) must be used alone`);
  }
  if (/W/i.test(field)) {
    const m = /^(\d+)W$/i.exec(field);
    if (!m) fail(`day-of-month field "${field}": "W" needs a single day before it, e.g. "15W"`);
    return { kind: 'weekday', day: parseValue(DAY_OF_MONTH, field, m[1] ?? '') };
  }
  return { kind: 'days', days: parseList(DAY_OF_MONTH, field) };
}

function parseDow(field: string): DowRule {
  if (field === '*' || field === '?') return { kind: 'any' };
  // `L` alone in day-of-week is the last day of the week: Saturday (Quartz, which EventBridge follows).
  if (field.toUpperCase() === 'L') return { kind: 'days', days: [7] };
  if (field.includes('#')) {
    if (field.includes(',')) {
      fail(
        `day-of-week field "${field}": "#" must be the only expression in the field (EventBridge rejects "3#1,6#3")`,
      );
    }
    const m = /^([^#]+)#(\d+)$/.exec(field);
    if (!m)
      fail(`day-of-week field "${field}": "#" takes a day and an occurrence, e.g. "3#2" (second Tuesday)`);
    const dow = parseValue(DAY_OF_WEEK, field, m[1] ?? '');
    const nth = Number(m[2]);
    if (nth < 1 || nth > 5) fail(`day-of-week field "${field}": the occurrence after "#" must be 1-5`);
    return { kind: 'nth', dow, nth };
  }
  if (/L/i.test(field)) {
    const m = /^([^,\-/]+)L$/i.exec(field);
    if (!m) {
      fail(
        `day-of-week field "${field}": "L" takes one day before it, e.g. "6L" (last Friday), and must be alone`,
      );
    }
    return { kind: 'last', dow: parseValue(DAY_OF_WEEK, field, m[1] ?? '') };
  }
  return { kind: 'days', days: parseList(DAY_OF_WEEK, field) };
}

const ALL_YEARS = YEAR.max - YEAR.min + 1;

/**
 * Parses the six EventBridge fields (and an optional seconds field, `'0'` for AWS forms).
 * Throws `ScheduleError` naming the field at fault.
 */
export function parseCronFields(fields: readonly string[], seconds = '0'): CronFields {
  const [minute = '', hour = '', dom = '', month = '', dow = '', year = ''] = fields;
  const domQ = dom === '?';
  const dowQ = dow === '?';
  if (domQ === dowQ) {
    fail(
      `exactly one of day-of-month and day-of-week must be "?" (got "${dom}" and "${dow}"); use "?" in the one you do not restrict`,
    );
  }
  const years = parseList(YEAR, year);
  return {
    seconds: parseList(SECONDS, seconds),
    minutes: parseList(MINUTES, minute),
    hours: parseList(HOURS, hour),
    dom: parseDom(dom),
    months: parseList(MONTH, month),
    dow: parseDow(dow),
    years: years.length === ALL_YEARS ? null : years,
    text: {
      seconds,
      minutes: minute,
      hours: hour,
      dom: dom.toUpperCase(),
      month: normalizeNames(MONTH, month),
      dow: normalizeNames(DAY_OF_WEEK, dow),
      year,
    },
  };
}
