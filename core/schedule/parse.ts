/**
 * `parseSchedule`: validates a `ScheduleSpec` by EventBridge Scheduler's rules (or LOCAL mode's
 * wider ones) and compiles it into a `Schedule` that computes fire times and describes itself.
 */
import { ScheduleError } from '../errors';
import { parseAt } from './at';
import { CronMatcher, daysInMonth } from './cron';
import { type CronFields, EXPRESSION_FIELD, parseCronFields } from './cron-fields';
import { describeAt, describeCron, describeRate } from './describe';
import { type ParsedRate, parseRate, rateNext, ratePrevious } from './rate';
import { expandMacro, translateQuartz, translateUnix } from './translate';
import type { Schedule, ScheduleKind, ScheduleMode, ScheduleSpec, ScheduleWindow } from './types';
import { isValidTimeZone, suggestTimeZone } from './zone';

const MAX_COUNT = 10_000;

function clampCount(count: number | undefined): number {
  if (count === undefined) return 1;
  if (!Number.isFinite(count) || count <= 0) return 0;
  return Math.min(Math.floor(count), MAX_COUNT);
}

abstract class BaseSchedule implements Schedule {
  abstract readonly kind: ScheduleKind;
  readonly timezone: string;
  readonly startDate: Date | null;
  readonly endDate: Date | null;
  readonly needsLocalMode: boolean;

  constructor(
    readonly source: string,
    readonly awsExpression: string | null,
    window: ScheduleWindow,
  ) {
    this.timezone = window.timezone;
    this.startDate = window.startDate;
    this.endDate = window.endDate;
    this.needsLocalMode = awsExpression === null;
  }

  protected get sinceMs(): number {
    return this.startDate?.getTime() ?? Number.NEGATIVE_INFINITY;
  }

  protected get untilMs(): number {
    return this.endDate?.getTime() ?? Number.POSITIVE_INFINITY;
  }

  abstract next(after: Date, count?: number, anchor?: Date): Date[];
  abstract previous(before: Date, anchor?: Date): Date | null;
  abstract describe(): string;
}

class CronSchedule extends BaseSchedule {
  readonly kind = 'cron' as const;
  private readonly matcher: CronMatcher;

  constructor(source: string, awsExpression: string | null, window: ScheduleWindow, fields: CronFields) {
    super(source, awsExpression, window);
    this.matcher = new CronMatcher(fields, window.timezone);
  }

  next(after: Date, count?: number): Date[] {
    const from = Math.max(after.getTime(), this.sinceMs - 1);
    return this.matcher.next(from, clampCount(count), this.untilMs).map((t) => new Date(t));
  }

  previous(before: Date): Date | null {
    const t = this.matcher.previous(Math.min(before.getTime(), this.untilMs + 1), this.sinceMs);
    return t === null ? null : new Date(t);
  }

  describe(): string {
    return describeCron(this.matcher.fields, this.timezone);
  }
}

class RateSchedule extends BaseSchedule {
  readonly kind = 'rate' as const;

  constructor(
    source: string,
    window: ScheduleWindow,
    private readonly rate: ParsedRate,
  ) {
    super(source, rate.awsExpression, window);
  }

  next(after: Date, count?: number, anchor?: Date): Date[] {
    const anchorMs = (anchor ?? this.startDate ?? after).getTime();
    return rateNext(
      this.rate.periodMs,
      anchorMs,
      after.getTime(),
      clampCount(count),
      this.sinceMs,
      this.untilMs,
    ).map((t) => new Date(t));
  }

  previous(before: Date, anchor?: Date): Date | null {
    const anchorMs = (anchor ?? this.startDate ?? before).getTime();
    const t = ratePrevious(this.rate.periodMs, anchorMs, before.getTime(), this.sinceMs, this.untilMs);
    return t === null ? null : new Date(t);
  }

  describe(): string {
    return describeRate(this.rate.value, this.rate.unit);
  }
}

/**
 * One-time schedule. EventBridge Scheduler ignores StartDate and EndDate for one-time schedules, so
 * the window is validated and kept but does not filter the single fire.
 */
class AtSchedule extends BaseSchedule {
  readonly kind = 'at' as const;

  constructor(
    source: string,
    window: ScheduleWindow,
    private readonly instantMs: number,
    private readonly local: string,
    awsExpression: string,
  ) {
    super(source, awsExpression, window);
  }

  next(after: Date, count?: number): Date[] {
    return clampCount(count) > 0 && this.instantMs > after.getTime() ? [new Date(this.instantMs)] : [];
  }

  previous(before: Date): Date | null {
    return this.instantMs < before.getTime() ? new Date(this.instantMs) : null;
  }

  describe(): string {
    return describeAt(this.local, this.timezone);
  }
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

function parseInstant(field: string, text: string | undefined): Date | null {
  if (text === undefined) return null;
  if (typeof text !== 'string' || !INSTANT.test(text.trim())) {
    throw new ScheduleError(
      field,
      `"${String(text)}" is not an ISO-8601 instant with a time and a zone designator, e.g. "2026-01-01T00:00:00Z"`,
    );
  }
  const date = new Date(text.trim());
  const [, year = 0, month = 0, day = 0, hour = 0, minute = 0] = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/
    .exec(text.trim())!
    .map(Number);
  if (
    Number.isNaN(date.getTime()) ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    // JavaScript rolls 2026-02-30 over to March 2; EventBridge would get a date nobody wrote.
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59
  ) {
    throw new ScheduleError(field, `"${text}" is not a real date and time`);
  }
  return date;
}

function parseWindow(spec: ScheduleSpec): ScheduleWindow {
  const timezone = spec.timezone ?? 'UTC';
  if (!isValidTimeZone(timezone)) {
    const hint = suggestTimeZone(timezone);
    throw new ScheduleError(
      'schedule.timezone',
      `"${timezone}" is not an IANA time zone name${hint ? `; did you mean "${hint}"?` : ', e.g. "Europe/London" or "UTC"'}`,
    );
  }
  const startDate = parseInstant('schedule.startDate', spec.startDate);
  const endDate = parseInstant('schedule.endDate', spec.endDate);
  if (startDate && endDate && endDate.getTime() <= startDate.getTime()) {
    throw new ScheduleError(
      'schedule.endDate',
      `endDate ${endDate.toISOString()} must be after startDate ${startDate.toISOString()}`,
    );
  }
  return { timezone, startDate, endDate };
}

function unwrap(expression: string, name: string): string | null {
  if (!expression.startsWith(`${name}(`)) return null;
  if (!expression.endsWith(')')) {
    throw new ScheduleError(EXPRESSION_FIELD, `"${expression}" is missing the closing ")" of ${name}(...)`);
  }
  return expression.slice(name.length + 1, -1).trim();
}

function cronSchedule(
  source: string,
  window: ScheduleWindow,
  mode: ScheduleMode,
  fields: readonly string[],
  seconds: string,
): CronSchedule {
  const parsed = parseCronFields(fields, seconds);
  const t = parsed.text;
  const exact = parsed.seconds.length === 1 && parsed.seconds[0] === 0;
  if (!exact && mode === 'REMOTE') {
    const why =
      parsed.seconds.length > 1
        ? 'needs sub-minute firing, which EventBridge Scheduler cannot do'
        : 'fires at a second other than 0, and EventBridge Scheduler fires on whole minutes';
    throw new ScheduleError(
      EXPRESSION_FIELD,
      `seconds field "${seconds}" ${why}; use mode LOCAL, or precision SECOND for a REMOTE job`,
    );
  }
  const aws = exact ? `cron(${[t.minutes, t.hours, t.dom, t.month, t.dow, t.year].join(' ')})` : null;
  return new CronSchedule(source, aws, window, parsed);
}

/**
 * Validates and compiles a schedule.
 *
 * @param mode REMOTE (default) accepts only what EventBridge Scheduler can run; LOCAL also accepts
 *   seconds (Quartz) and sub-minute rates, which the agents fire themselves.
 * @throws ScheduleError naming `schedule.expression`, `schedule.timezone`, `schedule.startDate` or
 *   `schedule.endDate` and the exact part at fault.
 * @example
 * parseSchedule({ expression: 'cron(0 10 L * ? *)', timezone: 'Europe/London' })
 *   .next(new Date('2026-01-01T00:00:00Z'), 3); // Jan 31 10:00Z, Feb 28 10:00Z, Mar 31 09:00Z
 */
export function parseSchedule(spec: ScheduleSpec, mode: ScheduleMode = 'REMOTE'): Schedule {
  if (mode !== 'REMOTE' && mode !== 'LOCAL') {
    throw new ScheduleError('schedule.mode', `mode "${String(mode)}" must be REMOTE or LOCAL`);
  }
  if (typeof spec?.expression !== 'string' || spec.expression.trim() === '') {
    throw new ScheduleError(EXPRESSION_FIELD, 'expression is empty');
  }
  const source = spec.expression;
  const expression = source.trim();
  const window = parseWindow(spec);

  const cronInner = unwrap(expression, 'cron');
  if (cronInner !== null) {
    const fields = cronInner.split(/\s+/).filter((f) => f !== '');
    if (fields.length !== 6) {
      const hint =
        fields.length === 7 ? '; a bare 7-field expression (without cron(...)) is read as Quartz' : '';
      throw new ScheduleError(
        EXPRESSION_FIELD,
        `cron(...) needs exactly 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}${hint}`,
      );
    }
    return cronSchedule(source, window, mode, fields, '0');
  }
  const rateInner = unwrap(expression, 'rate');
  if (rateInner !== null) return new RateSchedule(source, window, parseRate(rateInner, mode));
  const atInner = unwrap(expression, 'at');
  if (atInner !== null) {
    const at = parseAt(atInner, window.timezone);
    return new AtSchedule(source, window, at.instantMs, at.local, at.awsExpression);
  }

  const bare = (expression.startsWith('@') ? expandMacro(expression) : expression).split(/\s+/);
  if (bare.length === 5) {
    const t = translateUnix(bare);
    return cronSchedule(source, window, mode, t.fields, t.seconds);
  }
  if (bare.length === 6 || bare.length === 7) {
    const t = translateQuartz(bare);
    return cronSchedule(source, window, mode, t.fields, t.seconds);
  }
  throw new ScheduleError(
    EXPRESSION_FIELD,
    `"${expression}" is not cron(...), rate(...) or at(...), nor a bare 5-field Unix or 6/7-field Quartz cron (it has ${bare.length} field${bare.length === 1 ? '' : 's'})`,
  );
}
