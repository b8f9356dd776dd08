// One file on purpose (~880 lines): a table of expression vectors, one test() each, read as one table.
/**
 * Expression vectors: one `test()` per case. Sources: the EventBridge cron/rate reference and the
 * EventBridge Scheduler schedule-types page (documentation examples), Quartz's CronTrigger examples,
 * and hand-checked calendar/DST cases (verified independently with Python's zoneinfo).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ScheduleError } from '../errors';
import { isValidTimeZone, parseSchedule, type ScheduleMode } from './index';

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');

interface FireCase {
  readonly name: string;
  readonly expr: string;
  readonly tz?: string;
  readonly from: string;
  readonly expect: readonly string[];
  /** Defaults to expect.length; set higher to prove the list ends. */
  readonly count?: number;
  readonly mode?: ScheduleMode;
  readonly start?: string;
  readonly end?: string;
}

const fires: readonly FireCase[] = [
  // AWS documentation examples (EventBridge cron expressions reference)
  {
    name: 'doc: 10:00 every day',
    expr: 'cron(0 10 * * ? *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-01T10:00:00Z', '2026-01-02T10:00:00Z', '2026-01-03T10:00:00Z'],
  },
  {
    name: 'doc: 12:15 every day, strictly after',
    expr: 'cron(15 12 * * ? *)',
    from: '2026-01-01T12:15:00Z',
    expect: ['2026-01-02T12:15:00Z', '2026-01-03T12:15:00Z'],
  },
  {
    name: 'doc: 18:00 Mon-Fri skips the weekend',
    expr: 'cron(0 18 ? * MON-FRI *)',
    from: '2026-01-02T19:00:00Z',
    expect: ['2026-01-05T18:00:00Z', '2026-01-06T18:00:00Z'],
  },
  {
    name: 'doc: 08:00 on the 1st',
    expr: 'cron(0 8 1 * ? *)',
    from: '2026-01-01T08:00:00Z',
    expect: ['2026-02-01T08:00:00Z', '2026-03-01T08:00:00Z'],
  },
  {
    name: 'doc: every 15 minutes',
    expr: 'cron(0/15 * * * ? *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-01T00:15:00Z', '2026-01-01T00:30:00Z', '2026-01-01T00:45:00Z', '2026-01-01T01:00:00Z'],
  },
  {
    name: 'doc: every 10 minutes Mon-Fri',
    expr: 'cron(0/10 * ? * MON-FRI *)',
    from: '2026-01-02T23:55:00Z',
    expect: ['2026-01-05T00:00:00Z', '2026-01-05T00:10:00Z'],
  },
  {
    name: 'doc: every 5 minutes 08:00-17:55 Mon-Fri',
    expr: 'cron(0/5 8-17 ? * MON-FRI *)',
    from: '2026-01-05T17:50:00Z',
    expect: ['2026-01-05T17:55:00Z', '2026-01-06T08:00:00Z'],
  },
  {
    name: 'doc: 09:00 first Monday (2#1)',
    expr: 'cron(0 9 ? * 2#1 *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-05T09:00:00Z', '2026-02-02T09:00:00Z', '2026-03-02T09:00:00Z'],
  },
  {
    name: 'doc: last Friday in 2022-2023 then nothing',
    expr: 'cron(15 10 ? * 6L 2022-2023)',
    from: '2023-10-01T00:00:00Z',
    count: 5,
    expect: ['2023-10-27T10:15:00Z', '2023-11-24T10:15:00Z', '2023-12-29T10:15:00Z'],
  },
  {
    name: 'doc: 1/10 minutes starts at minute 1',
    expr: 'cron(1/10 * * * ? *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-01T00:01:00Z', '2026-01-01T00:11:00Z', '2026-01-01T00:21:00Z'],
  },
  {
    name: 'doc: 10:00 and 15:00 (list)',
    expr: 'cron(0 10,15 * * ? *)',
    from: '2026-01-01T11:00:00Z',
    expect: ['2026-01-01T15:00:00Z', '2026-01-02T10:00:00Z'],
  },
  {
    name: 'brief: last day of month in London across DST',
    expr: 'cron(0 10 L * ? *)',
    tz: 'Europe/London',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-31T10:00:00Z', '2026-02-28T10:00:00Z', '2026-03-31T09:00:00Z'],
  },
  // lists, ranges, steps, names
  {
    name: 'minutes 5-50/15',
    expr: 'cron(5-50/15 3 * * ? *)',
    from: '2026-01-01T00:00:00Z',
    expect: [
      '2026-01-01T03:05:00Z',
      '2026-01-01T03:20:00Z',
      '2026-01-01T03:35:00Z',
      '2026-01-01T03:50:00Z',
      '2026-01-02T03:05:00Z',
    ],
  },
  {
    name: 'day-of-month 1/10',
    expr: 'cron(0 0 1/10 * ? *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-11T00:00:00Z', '2026-01-21T00:00:00Z', '2026-01-31T00:00:00Z', '2026-02-01T00:00:00Z'],
  },
  {
    name: 'month */3',
    expr: 'cron(0 0 1 */3 ? *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-04-01T00:00:00Z', '2026-07-01T00:00:00Z', '2026-10-01T00:00:00Z', '2027-01-01T00:00:00Z'],
  },
  {
    name: 'month names list',
    expr: 'cron(0 9 1 JAN,JUL ? *)',
    from: '2026-01-02T00:00:00Z',
    expect: ['2026-07-01T09:00:00Z', '2027-01-01T09:00:00Z'],
  },
  {
    name: 'lower-case names',
    expr: 'cron(0 9 ? * sat,sun *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-03T09:00:00Z', '2026-01-04T09:00:00Z', '2026-01-10T09:00:00Z'],
  },
  {
    name: 'day-of-month list',
    expr: 'cron(0 9 1,15 * ? *)',
    from: '2026-01-02T00:00:00Z',
    expect: ['2026-01-15T09:00:00Z', '2026-02-01T09:00:00Z'],
  },
  {
    name: 'year step 2026/2',
    expr: 'cron(0 0 1 1 ? 2026/2)',
    from: '2025-06-01T00:00:00Z',
    expect: ['2026-01-01T00:00:00Z', '2028-01-01T00:00:00Z'],
  },
  {
    name: 'day-of-week L alone is Saturday',
    expr: 'cron(0 9 ? * L *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-03T09:00:00Z', '2026-01-10T09:00:00Z'],
  },
  {
    name: 'every minute',
    expr: 'cron(* * * * ? *)',
    from: '2026-01-01T00:00:30Z',
    expect: ['2026-01-01T00:01:00Z', '2026-01-01T00:02:00Z'],
  },
  // L / W / #
  {
    name: 'W: 1st is a Saturday -> Monday 3rd',
    expr: 'cron(0 9 1W * ? *)',
    from: '2026-07-15T00:00:00Z',
    expect: ['2026-08-03T09:00:00Z', '2026-09-01T09:00:00Z'],
  },
  {
    name: 'W: 1st is a Sunday -> Monday 2nd',
    expr: 'cron(0 9 1W * ? *)',
    from: '2026-01-15T00:00:00Z',
    expect: ['2026-02-02T09:00:00Z', '2026-03-02T09:00:00Z'],
  },
  {
    name: 'W: 15th Sunday -> 16th, Saturday -> 14th',
    expr: 'cron(0 9 15W * ? *)',
    from: '2026-07-20T00:00:00Z',
    expect: ['2026-08-14T09:00:00Z', '2026-09-15T09:00:00Z', '2026-10-15T09:00:00Z', '2026-11-16T09:00:00Z'],
  },
  {
    name: 'W: 31W skips 30-day months, last-day Sunday -> Friday',
    expr: 'cron(0 9 31W * ? *)',
    from: '2026-04-01T00:00:00Z',
    expect: ['2026-05-29T09:00:00Z', '2026-07-31T09:00:00Z', '2026-08-31T09:00:00Z'],
  },
  {
    name: 'W: 30W never fires in February',
    expr: 'cron(0 9 30W 2 ? 2026-2028)',
    from: '2026-01-01T00:00:00Z',
    count: 3,
    expect: [],
  },
  {
    name: '#: 5#5 skips months without a fifth Thursday',
    expr: 'cron(0 9 ? * 5#5 *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-29T09:00:00Z', '2026-04-30T09:00:00Z', '2026-07-30T09:00:00Z'],
  },
  {
    name: '#: THU#3 with a name',
    expr: 'cron(0 9 ? * THU#3 *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-15T09:00:00Z', '2026-02-19T09:00:00Z'],
  },
  {
    name: 'L: last Sunday (1L)',
    expr: 'cron(0 9 ? * 1L *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-25T09:00:00Z', '2026-02-22T09:00:00Z', '2026-03-29T09:00:00Z'],
  },
  {
    name: 'L: last Friday (6L)',
    expr: 'cron(0 9 ? * 6L *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-30T09:00:00Z', '2026-02-27T09:00:00Z', '2026-03-27T09:00:00Z'],
  },
  {
    name: 'L: last day of February, leap and not',
    expr: 'cron(0 12 L 2 ? *)',
    from: '2027-03-01T00:00:00Z',
    expect: ['2028-02-29T12:00:00Z', '2029-02-28T12:00:00Z'],
  },
  // leap years and year bounds
  {
    name: 'leap: Feb 29 only in leap years',
    expr: 'cron(0 0 29 2 ? *)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z'],
  },
  {
    name: 'leap: 2100 is not a leap year',
    expr: 'cron(0 0 29 2 ? 2096-2104)',
    from: '2097-01-01T00:00:00Z',
    count: 3,
    expect: ['2104-02-29T00:00:00Z'],
  },
  {
    name: 'leap: no Feb 29 in 2026-2027',
    expr: 'cron(0 0 29 2 ? 2026-2027)',
    from: '2026-01-01T00:00:00Z',
    count: 3,
    expect: [],
  },
  { name: 'never: Feb 30', expr: 'cron(0 0 30 2 ? *)', from: '2026-01-01T00:00:00Z', count: 3, expect: [] },
  {
    name: 'year: the last allowed year',
    expr: 'cron(0 0 1 1 ? 2199)',
    from: '2026-01-01T00:00:00Z',
    count: 2,
    expect: ['2199-01-01T00:00:00Z'],
  },
  {
    name: 'year: in the past gives nothing',
    expr: 'cron(0 12 ? * 1 1970)',
    from: '2026-01-01T00:00:00Z',
    count: 2,
    expect: [],
  },
  {
    name: 'year: end of 2199 is the end',
    expr: 'cron(59 23 31 12 ? *)',
    from: '2198-12-31T23:59:00Z',
    count: 3,
    expect: ['2199-12-31T23:59:00Z'],
  },
  {
    name: 'year: across New Year',
    expr: 'cron(59 23 31 12 ? *)',
    from: '2026-12-31T23:59:00Z',
    expect: ['2027-12-31T23:59:00Z'],
  },
  // DST: America/New_York (2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 -> 01:00)
  {
    name: 'NY gap: 02:30 skipped on Mar 8',
    expr: 'cron(30 2 * * ? *)',
    tz: 'America/New_York',
    from: '2026-03-07T00:00:00Z',
    expect: ['2026-03-07T07:30:00Z', '2026-03-09T06:30:00Z'],
  },
  {
    name: 'NY overlap: 01:30 fires once, at the first (EDT)',
    expr: 'cron(30 1 * * ? *)',
    tz: 'America/New_York',
    from: '2026-10-31T00:00:00Z',
    expect: ['2026-10-31T05:30:00Z', '2026-11-01T05:30:00Z', '2026-11-02T06:30:00Z'],
  },
  {
    // The decision for hourly crons in the repeated hour, with its reasoning: core/schedule/DST.md.
    name: 'NY overlap: hourly fires on each real instant',
    expr: 'cron(30 * * * ? *)',
    tz: 'America/New_York',
    from: '2026-11-01T04:00:00Z',
    expect: ['2026-11-01T04:30:00Z', '2026-11-01T05:30:00Z', '2026-11-01T06:30:00Z', '2026-11-01T07:30:00Z'],
  },
  {
    // The decision for minutely steps in the repeated hour, with its reasoning: core/schedule/DST.md.
    name: 'NY overlap: every 20 minutes fires on each real instant',
    expr: 'cron(0/20 * * * ? *)',
    tz: 'America/New_York',
    from: '2026-11-01T04:59:00Z',
    count: 6,
    expect: [
      '2026-11-01T05:00:00Z',
      '2026-11-01T05:20:00Z',
      '2026-11-01T05:40:00Z',
      '2026-11-01T06:00:00Z',
      '2026-11-01T06:20:00Z',
      '2026-11-01T06:40:00Z',
    ],
  },
  {
    name: 'NY gap: hourly has no fire in the gap',
    expr: 'cron(0 * * * ? *)',
    tz: 'America/New_York',
    from: '2026-03-08T05:30:00Z',
    expect: ['2026-03-08T06:00:00Z', '2026-03-08T07:00:00Z', '2026-03-08T08:00:00Z'],
  },
  {
    name: 'NY gap: every 30 min around the gap',
    expr: 'cron(0/30 * * * ? *)',
    tz: 'America/New_York',
    from: '2026-03-08T06:00:00Z',
    expect: ['2026-03-08T06:30:00Z', '2026-03-08T07:00:00Z', '2026-03-08T07:30:00Z'],
  },
  {
    name: 'NY overlap: 01:00-01:59 restricted hour fires once each minute',
    expr: 'cron(0/30 1 * * ? *)',
    tz: 'America/New_York',
    from: '2026-11-01T04:59:00Z',
    count: 3,
    expect: ['2026-11-01T05:00:00Z', '2026-11-01T05:30:00Z', '2026-11-02T06:00:00Z'],
  },
  {
    name: 'NY: 02:00 on fall-back day exists once (EST)',
    expr: 'cron(0 2 * * ? *)',
    tz: 'America/New_York',
    from: '2026-11-01T00:00:00Z',
    expect: ['2026-11-01T07:00:00Z', '2026-11-02T07:00:00Z'],
  },
  {
    name: 'NY: weekday cron keeps local 09:00 across DST',
    expr: 'cron(0 9 ? * MON *)',
    tz: 'America/New_York',
    from: '2026-03-01T00:00:00Z',
    expect: ['2026-03-02T14:00:00Z', '2026-03-09T13:00:00Z'],
  },
  // DST: Europe/London (2026-03-29 01:00 -> 02:00, 2026-10-25 02:00 -> 01:00)
  {
    name: 'London gap: 01:30 skipped on Mar 29',
    expr: 'cron(30 1 * * ? *)',
    tz: 'Europe/London',
    from: '2026-03-28T00:00:00Z',
    expect: ['2026-03-28T01:30:00Z', '2026-03-30T00:30:00Z'],
  },
  {
    name: 'London overlap: 01:30 at the first (BST)',
    expr: 'cron(30 1 * * ? *)',
    tz: 'Europe/London',
    from: '2026-10-24T12:00:00Z',
    expect: ['2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z'],
  },
  {
    name: 'London overlap: hourly on each real instant',
    expr: 'cron(15 * * * ? *)',
    tz: 'Europe/London',
    from: '2026-10-24T23:30:00Z',
    expect: ['2026-10-25T00:15:00Z', '2026-10-25T01:15:00Z', '2026-10-25T02:15:00Z'],
  },
  {
    name: 'London gap: hourly skips 01:xx',
    expr: 'cron(15 * * * ? *)',
    tz: 'Europe/London',
    from: '2026-03-29T00:00:00Z',
    expect: ['2026-03-29T00:15:00Z', '2026-03-29T01:15:00Z', '2026-03-29T02:15:00Z'],
  },
  // DST: Australia/Lord_Howe (30-minute shift; 2026-04-05 02:00 -> 01:30, 2026-10-04 02:00 -> 02:30)
  {
    name: 'Lord Howe gap: 02:15 skipped on Oct 4',
    expr: 'cron(15 2 * * ? *)',
    tz: 'Australia/Lord_Howe',
    from: '2026-10-02T00:00:00Z',
    expect: ['2026-10-02T15:45:00Z', '2026-10-04T15:15:00Z'],
  },
  {
    name: 'Lord Howe: 02:45 exists on Oct 4',
    expr: 'cron(45 2 * * ? *)',
    tz: 'Australia/Lord_Howe',
    from: '2026-10-03T00:00:00Z',
    expect: ['2026-10-03T15:45:00Z', '2026-10-04T15:45:00Z'],
  },
  {
    name: 'Lord Howe overlap: 01:45 once at the first',
    expr: 'cron(45 1 * * ? *)',
    tz: 'Australia/Lord_Howe',
    from: '2026-04-03T00:00:00Z',
    expect: ['2026-04-03T14:45:00Z', '2026-04-04T14:45:00Z', '2026-04-05T15:15:00Z'],
  },
  {
    name: 'Lord Howe overlap: hourly on each real instant',
    expr: 'cron(45 * * * ? *)',
    tz: 'Australia/Lord_Howe',
    from: '2026-04-04T14:00:00Z',
    expect: ['2026-04-04T14:45:00Z', '2026-04-04T15:15:00Z', '2026-04-04T16:15:00Z'],
  },
  // start / end window
  {
    name: 'window: start and inclusive end',
    expr: 'cron(0 10 * * ? *)',
    from: '2026-01-01T00:00:00Z',
    start: '2026-01-05T00:00:00Z',
    end: '2026-01-07T10:00:00Z',
    count: 5,
    expect: ['2026-01-05T10:00:00Z', '2026-01-06T10:00:00Z', '2026-01-07T10:00:00Z'],
  },
  {
    name: 'window: start with an offset',
    expr: 'cron(0 * * * ? *)',
    from: '2026-01-01T00:00:00Z',
    start: '2026-01-01T05:00:00+02:00',
    expect: ['2026-01-01T03:00:00Z'],
  },
  // Unix and Quartz fire times
  {
    name: 'Unix: weekdays 09:30',
    expr: '30 9 * * 1-5',
    from: '2026-01-02T10:00:00Z',
    expect: ['2026-01-05T09:30:00Z'],
  },
  {
    name: 'Unix: Sunday as 7',
    expr: '0 2 * * 7',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-04T02:00:00Z'],
  },
  {
    name: 'Quartz LOCAL: every 20 seconds',
    expr: '*/20 * * * * ?',
    mode: 'LOCAL',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-01T00:00:20Z', '2026-01-01T00:00:40Z', '2026-01-01T00:01:00Z'],
  },
  {
    name: 'Quartz LOCAL: 09:00:30 daily',
    expr: '30 0 9 * * ?',
    mode: 'LOCAL',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-01T09:00:30Z', '2026-01-02T09:00:30Z'],
  },
  {
    name: 'Quartz LOCAL: seconds in NY overlap, hourly',
    expr: '0,30 0 * * * ?',
    tz: 'America/New_York',
    mode: 'LOCAL',
    from: '2026-11-01T05:00:00Z',
    expect: ['2026-11-01T05:00:30Z', '2026-11-01T06:00:00Z', '2026-11-01T06:00:30Z'],
  },
  // rate: fixed UTC periods
  {
    name: 'rate: 5 minutes from after',
    expr: 'rate(5 minutes)',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-01T00:05:00Z', '2026-01-01T00:10:00Z', '2026-01-01T00:15:00Z'],
  },
  {
    name: 'rate: anchored at startDate',
    expr: 'rate(1 hour)',
    from: '2026-01-01T02:00:00Z',
    start: '2026-01-01T00:30:00Z',
    expect: ['2026-01-01T02:30:00Z', '2026-01-01T03:30:00Z'],
  },
  {
    name: 'rate: first fire at startDate',
    expr: 'rate(1 hour)',
    from: '2025-12-31T00:00:00Z',
    start: '2026-01-01T00:30:00Z',
    expect: ['2026-01-01T00:30:00Z', '2026-01-01T01:30:00Z'],
  },
  {
    name: 'rate: days ignore DST',
    expr: 'rate(1 day)',
    tz: 'America/New_York',
    from: '2026-03-07T00:00:00Z',
    start: '2026-03-07T12:00:00Z',
    expect: ['2026-03-07T12:00:00Z', '2026-03-08T12:00:00Z', '2026-03-09T12:00:00Z'],
  },
  {
    name: 'rate: stops at endDate',
    expr: 'rate(2 hours)',
    from: '2026-01-01T00:00:00Z',
    start: '2026-01-01T00:00:00Z',
    end: '2026-01-01T06:00:00Z',
    count: 5,
    expect: ['2026-01-01T02:00:00Z', '2026-01-01T04:00:00Z', '2026-01-01T06:00:00Z'],
  },
  {
    name: 'rate: 30 seconds in LOCAL',
    expr: 'rate(30 seconds)',
    mode: 'LOCAL',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-01-01T00:00:30Z', '2026-01-01T00:01:00Z'],
  },
  // at: one-time, in the zone
  {
    name: 'at: London winter',
    expr: 'at(2026-01-30T10:00:00)',
    tz: 'Europe/London',
    from: '2026-01-01T00:00:00Z',
    count: 3,
    expect: ['2026-01-30T10:00:00Z'],
  },
  {
    name: 'at: London summer',
    expr: 'at(2026-07-30T10:00:00)',
    tz: 'Europe/London',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-07-30T09:00:00Z'],
  },
  {
    name: 'at: NY overlap fires at the first',
    expr: 'at(2026-11-01T01:30:00)',
    tz: 'America/New_York',
    from: '2026-01-01T00:00:00Z',
    expect: ['2026-11-01T05:30:00Z'],
  },
  {
    name: 'at: already past gives nothing',
    expr: 'at(2026-01-30T10:00:00)',
    from: '2026-01-30T10:00:00Z',
    count: 1,
    expect: [],
  },
];

interface InvalidCase {
  readonly expr: string;
  readonly field?: string;
  readonly reason: string;
  readonly tz?: string;
  readonly mode?: ScheduleMode;
  readonly start?: string;
  readonly end?: string;
}

const invalid: readonly InvalidCase[] = [
  // day-of-month / day-of-week "?" rule (AWS: exactly one must be "?")
  { expr: 'cron(0 10 * * * *)', reason: 'exactly one of day-of-month and day-of-week must be "?"' },
  { expr: 'cron(0 10 ? * ? *)', reason: 'exactly one of day-of-month and day-of-week must be "?"' },
  { expr: 'cron(0 10 1 * 2 *)', reason: 'exactly one of day-of-month and day-of-week must be "?"' },
  { expr: '0 0 0 1 * MON', reason: 'exactly one of day-of-month and day-of-week must be "?"', mode: 'LOCAL' },
  // ranges
  { expr: 'cron(0 10 ? * 8 *)', reason: 'day-of-week field "8" is out of range 1-7 (1 = SUN)' },
  { expr: 'cron(0 10 ? * 0 *)', reason: 'day-of-week field "0" is out of range 1-7 (1 = SUN)' },
  { expr: 'cron(0 10 ? * 2,8 *)', reason: 'day-of-week field "2,8": 8 is out of range 1-7' },
  { expr: 'cron(60 10 * * ? *)', reason: 'minutes field "60" is out of range 0-59' },
  { expr: 'cron(0 24 * * ? *)', reason: 'hours field "24" is out of range 0-23' },
  { expr: 'cron(0 0 0 * ? *)', reason: 'day-of-month field "0" is out of range 1-31' },
  { expr: 'cron(0 0 32 * ? *)', reason: 'day-of-month field "32" is out of range 1-31' },
  { expr: 'cron(0 0 1 13 ? *)', reason: 'month field "13" is out of range 1-12' },
  { expr: 'cron(0 0 1 0 ? *)', reason: 'month field "0" is out of range 1-12' },
  { expr: 'cron(0 0 1 * ? 1969)', reason: 'year field "1969" is out of range 1970-2199' },
  { expr: 'cron(0 0 1 * ? 2200)', reason: 'year field "2200" is out of range 1970-2199' },
  { expr: 'cron(0 0 1 * ? 2020-2200)', reason: 'year field "2020-2200": 2200 is out of range' },
  // names
  { expr: 'cron(0 0 1 FOO ? *)', reason: 'month field "FOO" is not a number or a name (JAN-DEC)' },
  { expr: 'cron(0 0 ? * FUN *)', reason: 'day-of-week field "FUN" is not a number or a name (SUN-SAT)' },
  { expr: 'cron(0 0 ? * MONDAY *)', reason: 'day-of-week field "MONDAY" is not' },
  { expr: 'cron(0 L * * ? *)', reason: 'hours field "L" is not a number' },
  { expr: 'cron(x 0 * * ? *)', reason: 'minutes field "x" is not a number' },
  // field count and wrapper
  { expr: 'cron(0 10 * * ?)', reason: 'cron(...) needs exactly 6 fields' },
  { expr: 'cron(0 0 10 * * ? *)', reason: 'got 7; a bare 7-field expression' },
  { expr: 'cron()', reason: 'got 0' },
  { expr: 'cron(0 10 * * ? *', reason: 'missing the closing ")"' },
  { expr: '0 0 *', reason: 'it has 3 fields' },
  { expr: 'every 5 minutes please', reason: 'is not cron(...), rate(...) or at(...)' },
  { expr: '', reason: 'expression is empty' },
  { expr: '   ', reason: 'expression is empty' },
  // steps, lists, ranges
  { expr: 'cron(*/0 * * * ? *)', reason: 'the increment after "/" must be a positive integer' },
  { expr: 'cron(0/-5 * * * ? *)', reason: 'the increment after "/" must be a positive integer' },
  {
    expr: 'cron(0 0 1 * ? */0)',
    reason: 'year field "*/0": the increment after "/" must be a positive integer',
  },
  { expr: 'cron(0/90 * * * ? *)', reason: 'the increment 90 is larger than' },
  { expr: 'cron(/5 * * * ? *)', reason: 'missing a value before "/"' },
  { expr: 'cron(0/5/2 * * * ? *)', reason: 'more than one "/"' },
  { expr: 'cron(1,,2 * * * ? *)', reason: 'minutes field "1,,2" has an empty list element' },
  { expr: 'cron(1, * * * ? *)', reason: 'has an empty list element' },
  { expr: 'cron(30-10 * * * ? *)', reason: 'minutes field "30-10" is a reversed range' },
  { expr: 'cron(0 22-2 * * ? *)', reason: 'hours field "22-2" is a reversed range' },
  { expr: 'cron(0 0 ? * FRI-MON *)', reason: 'day-of-week field "FRI-MON" is a reversed range' },
  { expr: 'cron(1-2-3 * * * ? *)', reason: 'is not a valid range' },
  { expr: 'cron(? 0 * * ? *)', reason: '"?" is allowed only alone in day-of-month or day-of-week' },
  { expr: 'cron(0 0 ? * */2 *)', reason: 'day-of-week does not accept "/" increments' },
  // L, W, #
  { expr: 'cron(0 0 L-3 * ? *)', reason: 'offsets from the last day ("L-n") are not documented' },
  { expr: 'cron(0 0 LW * ? *)', reason: '"LW" is not documented' },
  { expr: 'cron(0 0 1,L * ? *)', reason: '"L" (last day of the month) must be used alone' },
  { expr: 'cron(0 0 1-5W * ? *)', reason: '"W" needs a single day before it' },
  { expr: 'cron(0 0 W * ? *)', reason: '"W" needs a single day before it' },
  { expr: 'cron(0 0 32W * ? *)', reason: 'day-of-month field "32W": 32 is out of range 1-31' },
  { expr: 'cron(0 0 ? * 3#1,6#3 *)', reason: '"#" must be the only expression in the field' },
  { expr: 'cron(0 0 ? * 3#6 *)', reason: 'the occurrence after "#" must be 1-5' },
  { expr: 'cron(0 0 ? * 3#0 *)', reason: 'the occurrence after "#" must be 1-5' },
  { expr: 'cron(0 0 ? * 8#1 *)', reason: 'day-of-week field "8#1": 8 is out of range 1-7' },
  { expr: 'cron(0 0 ? * #2 *)', reason: '"#" takes a day and an occurrence' },
  { expr: 'cron(0 0 ? * 6L,2 *)', reason: '"L" takes one day before it' },
  { expr: 'cron(0 0 ? * 9L *)', reason: 'day-of-week field "9L": 9 is out of range 1-7' },
  // rate
  { expr: 'rate(0 minutes)', reason: 'rate value "0" must be a positive integer' },
  { expr: 'rate(-5 minutes)', reason: 'rate value "-5" must be a positive integer' },
  { expr: 'rate(1.5 hours)', reason: 'rate value "1.5" must be a positive integer' },
  { expr: 'rate(5 minute)', reason: 'rate unit must be plural when the value is not 1' },
  { expr: 'rate(1 minutes)', reason: 'rate unit must be singular when the value is 1' },
  { expr: 'rate(1 days)', reason: 'write "rate(1 day)"' },
  { expr: 'rate(5 weeks)', reason: 'rate unit "weeks" must be one of minute|minutes|hour|hours|day|days' },
  { expr: 'rate(5 Minutes)', reason: 'rate unit "Minutes"' },
  { expr: 'rate(5)', reason: 'rate expects "rate(value unit)"' },
  { expr: 'rate(30 seconds)', reason: 'rate must be at least 1 minute' },
  { expr: 'rate(1 second)', reason: 'use LOCAL mode, or precision SECOND for a REMOTE job' },
  { expr: 'rate(90 seconds)', reason: 'needs sub-minute firing' },
  // seconds (Quartz) in REMOTE mode
  {
    expr: '*/10 * * * * ?',
    reason:
      'seconds field "*/10" needs sub-minute firing, which EventBridge Scheduler cannot do; use mode LOCAL, or precision SECOND for a REMOTE job',
  },
  { expr: '30 0 9 * * ?', reason: 'seconds field "30" fires at a second other than 0' },
  { expr: '60 0 9 * * ?', reason: 'seconds field "60" is out of range 0-59', mode: 'LOCAL' },
  // at
  { expr: 'at(2026-01-30 10:00:00)', reason: 'at expects "at(yyyy-mm-ddThh:mm:ss)"' },
  { expr: 'at(2026-01-30T10:00)', reason: 'at expects "at(yyyy-mm-ddThh:mm:ss)"' },
  { expr: 'at(2026-01-30T10:00:00Z)', reason: 'at expects "at(yyyy-mm-ddThh:mm:ss)"' },
  { expr: 'at(2026-02-30T10:00:00)', reason: 'is not a real calendar date and time' },
  { expr: 'at(2026-01-30T24:00:00)', reason: 'is not a real calendar date and time' },
  { expr: 'at(2026-03-08T02:30:00)', tz: 'America/New_York', reason: 'does not exist in America/New_York' },
  { expr: 'at(2026-10-04T02:15:00)', tz: 'Australia/Lord_Howe', reason: 'daylight-saving gap' },
  // Unix
  { expr: '0 0 1 * 1', reason: 'fires when EITHER matches; EventBridge Scheduler cannot express that OR' },
  { expr: '0 0 */2 * MON', reason: 'cannot express that OR' },
  { expr: '0 0 * * 8', reason: 'Unix day-of-week field "8" has 8, out of range 0-7' },
  { expr: '0 0 * * 5-1', reason: 'reversed range' },
  { expr: '0 0 * * ?', reason: 'Unix cron has no "?"' },
  { expr: '0 0 * * FUNDAY', reason: 'not a number 0-7 or a name SUN-SAT' },
  { expr: '@reboot', reason: 'unknown macro "@reboot"' },
  { expr: '60 0 * * *', reason: 'minutes field "60" is out of range 0-59' },
  // time zone and dates
  {
    expr: 'cron(0 10 * * ? *)',
    tz: 'Mars/Olympus',
    field: 'schedule.timezone',
    reason: '"Mars/Olympus" is not an IANA time zone name',
  },
  {
    expr: 'cron(0 10 * * ? *)',
    tz: 'europe/london',
    field: 'schedule.timezone',
    reason: 'did you mean "Europe/London"?',
  },
  {
    expr: 'cron(0 10 * * ? *)',
    tz: '+05:00',
    field: 'schedule.timezone',
    reason: 'not an IANA time zone name',
  },
  { expr: 'cron(0 10 * * ? *)', tz: '', field: 'schedule.timezone', reason: 'not an IANA time zone name' },
  {
    expr: 'cron(0 10 * * ? *)',
    start: 'yesterday',
    field: 'schedule.startDate',
    reason: 'is not an ISO-8601 instant',
  },
  {
    expr: 'cron(0 10 * * ? *)',
    start: '2026-01-01',
    field: 'schedule.startDate',
    reason: 'is not an ISO-8601 instant',
  },
  {
    expr: 'cron(0 10 * * ? *)',
    start: '2026-01-01T00:00:00',
    field: 'schedule.startDate',
    reason: 'zone designator',
  },
  {
    expr: 'cron(0 10 * * ? *)',
    end: '2026-13-01T00:00:00Z',
    field: 'schedule.endDate',
    reason: 'is not a real date and time',
  },
  {
    expr: 'cron(0 10 * * ? *)',
    start: '2026-02-01T00:00:00Z',
    end: '2026-01-01T00:00:00Z',
    field: 'schedule.endDate',
    reason: 'must be after startDate',
  },
  {
    expr: 'rate(5 minutes)',
    start: '2026-01-01T00:00:00Z',
    end: '2026-01-01T00:00:00Z',
    field: 'schedule.endDate',
    reason: 'must be after startDate',
  },
];

interface TranslationCase {
  readonly expr: string;
  readonly aws: string | null;
  readonly mode?: ScheduleMode;
}

const translations: readonly TranslationCase[] = [
  // AWS form is normalized (spacing, upper-case names) but otherwise kept
  { expr: 'cron(0 10 L * ? *)', aws: 'cron(0 10 L * ? *)' },
  { expr: '  cron( 0  10 *  * ? * )  ', aws: 'cron(0 10 * * ? *)' },
  { expr: 'cron(0 9 ? * mon-fri *)', aws: 'cron(0 9 ? * MON-FRI *)' },
  { expr: 'cron(0 9 1 jan,jul ? *)', aws: 'cron(0 9 1 JAN,JUL ? *)' },
  { expr: 'cron(0 0 15w * ? *)', aws: 'cron(0 0 15W * ? *)' },
  // Unix 5-field
  { expr: '0 12 * * *', aws: 'cron(0 12 * * ? *)' },
  { expr: '30 9 * * 1-5', aws: 'cron(30 9 ? * MON-FRI *)' },
  { expr: '0 2 * * 0', aws: 'cron(0 2 ? * SUN *)' },
  { expr: '0 2 * * 7', aws: 'cron(0 2 ? * SUN *)' },
  { expr: '0 0 1 * *', aws: 'cron(0 0 1 * ? *)' },
  { expr: '*/5 * * * *', aws: 'cron(*/5 * * * ? *)' },
  { expr: '0 0 * * 5-7', aws: 'cron(0 0 ? * SUN,FRI,SAT *)' },
  { expr: '0 0 * * */2', aws: 'cron(0 0 ? * SUN,TUE,THU,SAT *)' },
  { expr: '0 0 * * 0-6', aws: 'cron(0 0 * * ? *)' },
  { expr: '0 0 * * MON,WED', aws: 'cron(0 0 ? * MON,WED *)' },
  { expr: '0 0 * * 1,2', aws: 'cron(0 0 ? * MON,TUE *)' },
  { expr: '0 9 1 jan *', aws: 'cron(0 9 1 JAN ? *)' },
  { expr: '@daily', aws: 'cron(0 0 * * ? *)' },
  { expr: '@weekly', aws: 'cron(0 0 ? * SUN *)' },
  { expr: '@hourly', aws: 'cron(0 * * * ? *)' },
  { expr: '@yearly', aws: 'cron(0 0 1 1 ? *)' },
  // Quartz 6/7-field (seconds first; dow 1-7 = SUN-SAT as in AWS)
  { expr: '0 0 12 * * ?', aws: 'cron(0 12 * * ? *)' },
  { expr: '0 15 10 ? * MON-FRI', aws: 'cron(15 10 ? * MON-FRI *)' },
  { expr: '0 15 10 ? * 6L 2002-2005', aws: 'cron(15 10 ? * 6L 2002-2005)' },
  { expr: '0 0/5 14,18 * * ?', aws: 'cron(0/5 14,18 * * ? *)' },
  { expr: '0 15 10 ? * 6#3', aws: 'cron(15 10 ? * 6#3 *)' },
  { expr: '0 15 10 L * ?', aws: 'cron(15 10 L * ? *)' },
  { expr: '*/10 * * * * ?', aws: null, mode: 'LOCAL' },
  { expr: '30 0 9 * * ?', aws: null, mode: 'LOCAL' },
  { expr: '0 0 12 * * ?', aws: 'cron(0 12 * * ? *)', mode: 'LOCAL' },
  // rate and at
  { expr: 'rate(5 minutes)', aws: 'rate(5 minutes)' },
  { expr: 'rate(1 minute)', aws: 'rate(1 minute)' },
  { expr: 'rate( 12  hours )', aws: 'rate(12 hours)' },
  { expr: 'rate(1 day)', aws: 'rate(1 day)' },
  { expr: 'rate(120 seconds)', aws: 'rate(2 minutes)' },
  { expr: 'rate(60 seconds)', aws: 'rate(1 minute)' },
  { expr: 'rate(30 seconds)', aws: null, mode: 'LOCAL' },
  { expr: 'at(2026-01-30T10:00:00)', aws: 'at(2026-01-30T10:00:00)' },
];

const descriptions: readonly { expr: string; tz?: string; mode?: ScheduleMode; text: string }[] = [
  {
    expr: 'cron(0 10 L * ? *)',
    tz: 'Europe/London',
    text: 'At 10:00, on the last day of the month (Europe/London)',
  },
  { expr: 'cron(0 18 ? * MON-FRI *)', text: 'At 18:00, on Monday through Friday (UTC)' },
  { expr: 'cron(0/15 * * * ? *)', text: 'Every 15 minutes (UTC)' },
  { expr: 'cron(0 9 ? * 2#1 *)', text: 'At 09:00, on the first Monday of the month (UTC)' },
  {
    expr: 'cron(15 10 ? * 6L 2022-2023)',
    text: 'At 10:15, on the last Friday of the month, in 2022 through 2023 (UTC)',
  },
  {
    expr: 'cron(0/5 8-17 ? * MON-FRI *)',
    text: 'Every 5 minutes between 08:00 and 17:59, on Monday through Friday (UTC)',
  },
  {
    expr: 'cron(0 9 15W JAN,JUL ? *)',
    text: 'At 09:00, on the weekday nearest day 15 of the month, in January and July (UTC)',
  },
  { expr: '*/10 * * * * ?', mode: 'LOCAL', text: 'Every 10 seconds (UTC)' },
  { expr: 'rate(5 minutes)', text: 'Every 5 minutes (fixed interval, not shifted by daylight saving)' },
  {
    expr: 'at(2026-01-30T10:00:00)',
    tz: 'Europe/London',
    text: 'Once, at 2026-01-30 10:00:00 (Europe/London)',
  },
];

const zones: readonly [string, boolean][] = [
  ['UTC', true],
  ['Etc/UTC', true],
  ['Etc/GMT+5', true],
  ['Europe/London', true],
  ['America/New_York', true],
  ['Australia/Lord_Howe', true],
  ['America/Argentina/Buenos_Aires', true],
  ['US/Eastern', true],
  ['utc', false],
  ['europe/london', false],
  ['America/New York', false],
  ['Foo/Bar', false],
  ['+05:00', false],
  ['', false],
];

describe('fire-time vectors', () => {
  for (const c of fires) {
    test(`${c.name}: ${c.expr}${c.tz ? ` in ${c.tz}` : ''}`, () => {
      const schedule = parseSchedule(
        { expression: c.expr, timezone: c.tz, startDate: c.start, endDate: c.end },
        c.mode ?? 'REMOTE',
      );
      const got = schedule.next(new Date(c.from), c.count ?? c.expect.length).map(iso);
      assert.deepEqual(got, c.expect);
    });
  }
});

describe('invalid expressions', () => {
  for (const c of invalid) {
    const label = [
      c.expr,
      c.tz && `tz=${c.tz}`,
      c.start && `start=${c.start}`,
      c.end && `end=${c.end}`,
    ].filter(Boolean);
    test(`rejects ${label.join(' ')}${c.mode ? ` (${c.mode})` : ''}`, () => {
      assert.throws(
        () =>
          parseSchedule(
            { expression: c.expr, timezone: c.tz, startDate: c.start, endDate: c.end },
            c.mode ?? 'REMOTE',
          ),
        (error: unknown) => {
          assert.ok(error instanceof ScheduleError, `expected ScheduleError, got ${String(error)}`);
          assert.equal(error.code, 'invalid_schedule');
          const [issue] = error.issues;
          assert.equal(issue?.field, c.field ?? 'schedule.expression');
          assert.ok(
            issue?.reason.includes(c.reason),
            `reason ${JSON.stringify(issue?.reason)} lacks ${JSON.stringify(c.reason)}`,
          );
          return true;
        },
      );
    });
  }
});

describe('translations to the EventBridge form', () => {
  for (const c of translations) {
    test(`${c.expr} -> ${c.aws ?? 'LOCAL only'}${c.mode ? ` (${c.mode})` : ''}`, () => {
      const schedule = parseSchedule({ expression: c.expr }, c.mode ?? 'REMOTE');
      assert.equal(schedule.awsExpression, c.aws);
      assert.equal(schedule.needsLocalMode, c.aws === null);
      assert.equal(schedule.source, c.expr);
    });
  }
});

describe('describe()', () => {
  for (const c of descriptions) {
    test(`${c.expr} -> ${c.text}`, () => {
      assert.equal(
        parseSchedule({ expression: c.expr, timezone: c.tz }, c.mode ?? 'REMOTE').describe(),
        c.text,
      );
    });
  }
});

describe('isValidTimeZone', () => {
  for (const [tz, valid] of zones) {
    test(`${JSON.stringify(tz)} is ${valid ? 'valid' : 'invalid'}`, () => {
      assert.equal(isValidTimeZone(tz), valid);
    });
  }
});

export const VECTOR_COUNT =
  fires.length + invalid.length + translations.length + descriptions.length + zones.length;
