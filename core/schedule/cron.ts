/**
 * Fire-time calculation for cron schedules.
 *
 * Why not a cron library: the well-kept ones (cron-parser, croner) have no year field, and none
 * implements EventBridge Scheduler's daylight-saving rules — a local time inside a spring-forward gap
 * does not fire that day; a local time inside a fall-back overlap fires once, at its first
 * occurrence, except that expressions running every hour keep firing on every real instant. So the
 * matcher is written here on top of the zone offsets luxon provides.
 *
 * Efficiency: the search walks the year list, then matching months, then the days that match the
 * day rule, and only then the times of that day — never minute by minute — so sparse expressions
 * (`cron(0 0 29 2 ? *)`, year-bounded ones, ones that never fire again) answer at once.
 */
import type { CronFields, DomRule, DowRule } from './cron-fields';
import { YEAR } from './cron-fields';
import { localFields, type OffsetFn, offsetFn, steadyOffset, wallToInstants } from './zone';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** 1 = SUN … 7 = SAT. */
export function dayOfWeek(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

/** The weekday (Mon-Fri) nearest `target` within the same month; never crosses into another month. */
export function nearestWeekday(year: number, month: number, target: number): number | null {
  const last = daysInMonth(year, month);
  if (target > last) return null; // `31W` does not fire in a 30-day month, as `31` does not.
  const dow = dayOfWeek(year, month, target);
  if (dow === 7) return target === 1 ? 3 : target - 1; // Saturday → Friday, or Monday the 3rd
  if (dow === 1) return target === last ? target - 2 : target + 1; // Sunday → Monday, or Friday
  return target;
}

function domMatches(rule: DomRule, year: number, month: number, day: number, last: number): boolean {
  switch (rule.kind) {
    case 'any':
      return true;
    case 'days':
      return rule.days.includes(day);
    case 'last':
      return day === last;
    case 'weekday':
      return nearestWeekday(year, month, rule.day) === day;
  }
}

function dowMatches(rule: DowRule, year: number, month: number, day: number, last: number): boolean {
  if (rule.kind === 'any') return true;
  const dow = dayOfWeek(year, month, day);
  switch (rule.kind) {
    case 'days':
      return rule.days.includes(dow);
    case 'last':
      return dow === rule.dow && day + 7 > last;
    case 'nth':
      return dow === rule.dow && Math.ceil(day / 7) === rule.nth;
  }
}

/** The days of a month that the day-of-month and day-of-week rules select, ascending. */
export function matchingDays(fields: CronFields, year: number, month: number): number[] {
  const last = daysInMonth(year, month);
  const out: number[] = [];
  for (let day = 1; day <= last; day++) {
    if (domMatches(fields.dom, year, month, day, last) && dowMatches(fields.dow, year, month, day, last)) {
      out.push(day);
    }
  }
  return out;
}

/**
 * A compiled cron matcher in one time zone. `fireInstantsOfDay` is the DST-aware core; `next` and
 * `previous` walk calendar days forwards or backwards around it.
 */
export class CronMatcher {
  private readonly offset: OffsetFn;
  private readonly everyHour: boolean;
  private readonly years: readonly number[];

  constructor(
    readonly fields: CronFields,
    readonly timezone: string,
  ) {
    this.offset = offsetFn(timezone);
    this.everyHour = fields.hours.length === 24;
    this.years = fields.years ?? Array.from({ length: YEAR.max - YEAR.min + 1 }, (_, i) => YEAR.min + i);
  }

  /** Every fire instant (epoch ms) of one local calendar day, ascending, with the DST rules applied. */
  fireInstantsOfDay(year: number, month: number, day: number): number[] {
    const { seconds, minutes, hours } = this.fields;
    const dayWall = Date.UTC(year, month - 1, day);
    const steady = steadyOffset(dayWall, this.offset);
    const out: number[] = [];
    if (steady !== null) {
      const base = dayWall - steady * MINUTE;
      for (const h of hours) {
        for (const m of minutes) {
          for (const s of seconds) out.push(base + h * HOUR + m * MINUTE + s * SECOND);
        }
      }
      return out;
    }
    // A day with an offset change: map each wall time; gaps give no instant, overlaps two.
    for (const h of hours) {
      for (const m of minutes) {
        const instants = wallToInstants(dayWall + h * HOUR + m * MINUTE, this.offset);
        const chosen = this.everyHour ? instants : instants.slice(0, 1);
        for (const t of chosen) {
          for (const s of seconds) out.push(t + s * SECOND);
        }
      }
    }
    return [...new Set(out)].sort((a, b) => a - b);
  }

  /** Up to `count` instants strictly after `afterMs` and at or before `untilMs`. */
  next(afterMs: number, count: number, untilMs: number): number[] {
    const out: number[] = [];
    if (count <= 0 || afterMs >= untilMs) return out;
    const start = localFields(afterMs, this.offset);
    const lastYear = Math.min(YEAR.max, localFields(Math.min(untilMs, 8e15), this.offset).year + 1);
    for (const year of this.years) {
      if (year < start.year) continue;
      if (year > lastYear) break;
      for (const month of this.fields.months) {
        if (year === start.year && month < start.month) continue;
        for (const day of matchingDays(this.fields, year, month)) {
          if (year === start.year && month === start.month && day < start.day - 1) continue;
          const dayWall = Date.UTC(year, month - 1, day);
          if (dayWall - 15 * HOUR > untilMs) return out;
          for (const t of this.fireInstantsOfDay(year, month, day)) {
            if (t <= afterMs) continue;
            if (t > untilMs) return out;
            out.push(t);
            if (out.length >= count) return out;
          }
        }
      }
    }
    return out;
  }

  /** The latest instant strictly before `beforeMs` and at or after `sinceMs`, or null. */
  previous(beforeMs: number, sinceMs: number): number | null {
    if (beforeMs <= sinceMs) return null;
    const start = localFields(beforeMs, this.offset);
    const firstYear = Math.max(YEAR.min, localFields(Math.max(sinceMs, -8e15), this.offset).year - 1);
    for (let yi = this.years.length - 1; yi >= 0; yi--) {
      const year = this.years[yi] as number;
      if (year > start.year) continue;
      if (year < firstYear) break;
      for (let mi = this.fields.months.length - 1; mi >= 0; mi--) {
        const month = this.fields.months[mi] as number;
        if (year === start.year && month > start.month) continue;
        const days = matchingDays(this.fields, year, month);
        for (let di = days.length - 1; di >= 0; di--) {
          const day = days[di] as number;
          if (year === start.year && month === start.month && day > start.day + 1) continue;
          const dayWall = Date.UTC(year, month - 1, day);
          if (dayWall + DAY + 15 * HOUR < sinceMs) return null;
          const instants = this.fireInstantsOfDay(year, month, day);
          for (let i = instants.length - 1; i >= 0; i--) {
            const t = instants[i] as number;
            if (t >= beforeMs) continue;
            return t >= sinceMs ? t : null;
          }
        }
      }
    }
    return null;
  }
}
