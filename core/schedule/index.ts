/**
 * Schedule expressions, validated by EventBridge Scheduler's rules, with DST-aware fire times.
 * See parse.ts for the entry point and cron.ts for the fire-time rules.
 */
export { parseAt } from './at';
export { CronMatcher, daysInMonth, nearestWeekday } from './cron';
export type { CronFields, DomRule, DowRule } from './cron-fields';
export { parseCronFields } from './cron-fields';
export { parseSchedule } from './parse';
export { parseRate } from './rate';
export type { Schedule, ScheduleKind, ScheduleMode, ScheduleSpec, ScheduleWindow } from './types';
export { isValidTimeZone, suggestTimeZone } from './zone';
