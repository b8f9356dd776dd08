/**
 * The schedule contract: what callers hand in (`ScheduleSpec`) and what they get back (`Schedule`).
 * Every other file in core/schedule implements one part of it.
 */

/** REMOTE: fired by EventBridge Scheduler. LOCAL: fired by the agents' own timers (allows seconds). */
export type ScheduleMode = 'REMOTE' | 'LOCAL';

export interface ScheduleSpec {
  /** `cron(...)`, `rate(...)`, `at(...)`, a bare 5-field Unix cron, or a bare 6/7-field Quartz cron. */
  readonly expression: string;
  /** IANA time zone the expression is evaluated in. @default 'UTC' */
  readonly timezone?: string;
  /** ISO-8601 instant (with `Z` or an offset) before which the schedule does not fire. */
  readonly startDate?: string;
  /** ISO-8601 instant after which the schedule does not fire. Must be after `startDate`. */
  readonly endDate?: string;
}

export type ScheduleKind = 'cron' | 'rate' | 'at';

export interface Schedule {
  readonly kind: ScheduleKind;
  /** What the user wrote. */
  readonly source: string;
  /**
   * The normalized EventBridge Scheduler form, e.g. `cron(0 10 L * ? *)`, `rate(5 minutes)`,
   * `at(2026-01-30T10:00:00)`; `null` when it cannot be expressed exactly (seconds, sub-minute rate).
   */
  readonly awsExpression: string | null;
  readonly timezone: string;
  readonly startDate: Date | null;
  readonly endDate: Date | null;
  /** True when `awsExpression` is null: only LOCAL mode can fire this schedule. */
  readonly needsLocalMode: boolean;
  /**
   * Up to `count` (default 1) fire instants strictly after `after`, within start/end, ascending.
   * For rate schedules the fires are `anchor + k × period` (anchor defaults to startDate, else `after`).
   */
  next(after: Date, count?: number, anchor?: Date): Date[];
  /** The latest fire instant strictly before `before`, within start/end, or null. */
  previous(before: Date, anchor?: Date): Date | null;
  /** Human readable, e.g. `At 10:00, on the last day of the month (Europe/London)`. */
  describe(): string;
}

/** The start/end window and zone every schedule kind shares. */
export interface ScheduleWindow {
  readonly timezone: string;
  readonly startDate: Date | null;
  readonly endDate: Date | null;
}
