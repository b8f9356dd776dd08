/**
 * The ScheduleGateway fake: schedules by name, expressions and instants checked as EventBridge Scheduler checks them.
 * One fake per port (memory-stores.ts lists them); it passes the port's contract suite.
 */
import { ScheduleError } from '../errors';
import type { ScheduleEntry, ScheduleGateway } from '../ports';
import { copiesById, copyOf } from './memory-copies';

const AWS_EXPRESSION = /^(cron|rate|at)\(.+\)$/;

export class MemoryScheduleGateway implements ScheduleGateway {
  readonly schedules = new Map<string, ScheduleEntry>();

  async upsert(entry: ScheduleEntry): Promise<void> {
    if (!AWS_EXPRESSION.test(entry.expression)) {
      throw new ScheduleError(
        'schedule.expression',
        `${JSON.stringify(entry.expression)} is not an EventBridge Scheduler expression (cron(...), rate(...) or at(...))`,
      );
    }
    const stored: ScheduleEntry = {
      jobId: entry.jobId,
      expression: entry.expression,
      timezone: entry.timezone,
      ...(entry.startDate ? { startDate: instant('startDate', entry.startDate) } : {}),
      ...(entry.endDate ? { endDate: instant('endDate', entry.endDate) } : {}),
      enabled: entry.enabled,
    };
    this.schedules.set(entry.jobId, stored);
  }

  async remove(jobId: string): Promise<void> {
    this.schedules.delete(jobId);
  }

  async get(jobId: string): Promise<ScheduleEntry | null> {
    return copyOf(this.schedules, jobId);
  }

  async list(): Promise<ScheduleEntry[]> {
    return copiesById(this.schedules.values(), (entry) => entry.jobId);
  }
}

/** Renders an instant the way the Scheduler adapter reads one back: UTC, to the second when whole. */
function instant(field: string, value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new ScheduleError(`schedule.${field}`, `${JSON.stringify(value)} is not an ISO-8601 instant`);
  }
  return date.toISOString().replace(/\.000Z$/, 'Z');
}
