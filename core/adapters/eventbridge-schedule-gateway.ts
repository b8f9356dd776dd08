import { createHash } from 'node:crypto';
import {
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  ListSchedulesCommand,
  type RetryPolicy,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { RESERVED_SCHEDULE_PREFIX } from '../../infra/resources';
import { ScheduleError } from '../errors';
import type { ScheduleEntry, ScheduleGateway } from '../ports';
import { awsFailure, errorName } from './aws-errors';

export interface EventBridgeScheduleGatewayOptions {
  readonly client: SchedulerClient;
  /** The stage's schedule group (`scheduleGroupName(prefix)` in infra/resources.ts). */
  readonly groupName: string;
  /** ARN of the dispatcher Lambda every schedule invokes. */
  readonly dispatcherArn: string;
  /** Role EventBridge Scheduler assumes to invoke the dispatcher. */
  readonly roleArn: string;
  /** ARN of the fires-dlq queue: fires Scheduler could not deliver land there for the monitor. */
  readonly deadLetterArn?: string;
  /**
   * How long Scheduler keeps retrying a fire the dispatcher did not accept. A fire older than the
   * job's misfire window is handled as a misfire by the dispatcher anyway.
   * @default { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 }
   */
  readonly retryPolicy?: RetryPolicy;
}

/** The schedule's target input: Scheduler replaces the context attribute with the fire's instant (e.g. 2022-03-22T18:59:43Z). */
export const SCHEDULED_TIME_ATTRIBUTE = '<aws.scheduler.scheduled-time>';

const DEFAULT_RETRY: RetryPolicy = { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 };
const NAME_PATTERN = /^[0-9a-zA-Z_.-]{1,64}$/;
const AWS_EXPRESSION = /^(cron|rate|at)\(.+\)$/;
const GET_CONCURRENCY = 8;

/**
 * Job schedules in EventBridge Scheduler: one schedule per job, named by the job id, in the
 * stage's group, with FlexibleTimeWindow OFF, invoking the dispatcher with
 * `{"jobId": ..., "scheduledTime": "<aws.scheduler.scheduled-time>"}`.
 *
 * `entry.expression` must already be the EventBridge form (`cron(...)`, `rate(...)`, `at(...)`,
 * i.e. `Schedule.awsExpression` from core/schedule): Clover validates expressions itself because
 * emulators accept what AWS rejects. `upsert` updates and falls back to creating (and back to
 * updating if a concurrent create won), so it is idempotent. `list` pages ListSchedules and reads
 * each schedule (ListSchedules carries no expression): 1 + n requests, for the local scheduler clock.
 * Names starting with `RESERVED_SCHEDULE_PREFIX` (`_clover-planner`) are the stage's own schedules:
 * `list` skips them, and no job's name can be one (`scheduleName`), so nothing here changes them.
 *
 * @example
 * const schedules = new EventBridgeScheduleGateway({ client, groupName: scheduleGroupName(prefix), dispatcherArn, roleArn });
 * await schedules.upsert({ jobId: 'report', expression: 'cron(0 10 * * ? *)', timezone: 'Europe/London', enabled: true });
 */
export class EventBridgeScheduleGateway implements ScheduleGateway {
  private readonly client: SchedulerClient;
  private readonly options: EventBridgeScheduleGatewayOptions;

  constructor(options: EventBridgeScheduleGatewayOptions) {
    this.client = options.client;
    this.options = options;
  }

  async upsert(entry: ScheduleEntry): Promise<void> {
    if (!AWS_EXPRESSION.test(entry.expression)) {
      throw new ScheduleError(
        'schedule.expression',
        `${JSON.stringify(entry.expression)} is not an EventBridge Scheduler expression (cron(...), rate(...) or at(...))`,
      );
    }
    const input = this.scheduleInput(entry);
    const what = `schedule ${input.Name} in group ${this.options.groupName}`;
    try {
      await this.client.send(new UpdateScheduleCommand(input));
      return;
    } catch (error) {
      if (errorName(error) !== 'ResourceNotFoundException') throw awsFailure(what, error);
    }
    try {
      await this.client.send(new CreateScheduleCommand(input));
    } catch (error) {
      if (errorName(error) !== 'ConflictException') throw awsFailure(what, error);
      // Created concurrently since our update: make ours the last write.
      await this.client.send(new UpdateScheduleCommand(input)).catch((e: unknown) => {
        throw awsFailure(what, e);
      });
    }
  }

  async remove(jobId: string): Promise<void> {
    const name = scheduleName(jobId);
    try {
      await this.client.send(new DeleteScheduleCommand({ Name: name, GroupName: this.options.groupName }));
    } catch (error) {
      if (errorName(error) !== 'ResourceNotFoundException') {
        throw awsFailure(`schedule ${name} in group ${this.options.groupName}`, error);
      }
    }
  }

  async get(jobId: string): Promise<ScheduleEntry | null> {
    return this.getByName(scheduleName(jobId));
  }

  async list(): Promise<ScheduleEntry[]> {
    const names: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client
        .send(new ListSchedulesCommand({ GroupName: this.options.groupName, NextToken: nextToken }))
        .catch((error: unknown) => {
          throw awsFailure(`schedule group ${this.options.groupName}`, error);
        });
      for (const summary of page.Schedules ?? []) {
        // The stage's own schedules (the planner's) share the group: they are not jobs' to list.
        if (summary.Name && !summary.Name.startsWith(RESERVED_SCHEDULE_PREFIX)) names.push(summary.Name);
      }
      nextToken = page.NextToken;
    } while (nextToken);

    const entries: ScheduleEntry[] = [];
    for (let i = 0; i < names.length; i += GET_CONCURRENCY) {
      const batch = await Promise.all(
        names.slice(i, i + GET_CONCURRENCY).map((name) => this.getByName(name)),
      );
      for (const entry of batch) if (entry) entries.push(entry); // deleted between list and get: gone
    }
    return entries.sort((a, b) => a.jobId.localeCompare(b.jobId));
  }

  private async getByName(name: string): Promise<ScheduleEntry | null> {
    let out: GetScheduleCommandOutput;
    try {
      out = await this.client.send(new GetScheduleCommand({ Name: name, GroupName: this.options.groupName }));
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return null;
      throw awsFailure(`schedule ${name} in group ${this.options.groupName}`, error);
    }
    return {
      jobId: jobIdOf(out.Target?.Input) ?? out.Name ?? name,
      expression: out.ScheduleExpression ?? '',
      timezone: out.ScheduleExpressionTimezone ?? 'UTC',
      ...(out.StartDate ? { startDate: instant(out.StartDate) } : {}),
      ...(out.EndDate ? { endDate: instant(out.EndDate) } : {}),
      enabled: out.State !== 'DISABLED',
    };
  }

  private scheduleInput(entry: ScheduleEntry): CreateScheduleCommandInput {
    return {
      Name: scheduleName(entry.jobId),
      GroupName: this.options.groupName,
      ScheduleExpression: entry.expression,
      ScheduleExpressionTimezone: entry.timezone,
      ...(entry.startDate ? { StartDate: date('startDate', entry.startDate) } : {}),
      ...(entry.endDate ? { EndDate: date('endDate', entry.endDate) } : {}),
      State: entry.enabled ? 'ENABLED' : 'DISABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: this.options.dispatcherArn,
        RoleArn: this.options.roleArn,
        Input: JSON.stringify({ jobId: entry.jobId, scheduledTime: SCHEDULED_TIME_ATTRIBUTE }),
        RetryPolicy: this.options.retryPolicy ?? DEFAULT_RETRY,
        ...(this.options.deadLetterArn ? { DeadLetterConfig: { Arn: this.options.deadLetterArn } } : {}),
      },
    };
  }
}

/**
 * The schedule's name: the job id itself when Scheduler accepts it and it is not reserved (job ids are
 * `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`, so always), else a safe shortened form with a hash that never
 * starts with the reserved `_`. The job id is read back from the target input.
 */
export function scheduleName(jobId: string): string {
  if (NAME_PATTERN.test(jobId) && !jobId.startsWith(RESERVED_SCHEDULE_PREFIX)) return jobId;
  const hash = createHash('sha256').update(jobId).digest('hex').slice(0, 8);
  return `${jobId.replace(/[^0-9a-zA-Z_.-]|^_/g, '-').slice(0, 55)}-${hash}`;
}

function jobIdOf(input: string | undefined): string | undefined {
  if (!input) return undefined;
  try {
    const parsed: unknown = JSON.parse(input);
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'jobId' in parsed &&
      typeof parsed.jobId === 'string'
    ) {
      return parsed.jobId;
    }
  } catch {
    // Not ours: fall back to the schedule name.
  }
  return undefined;
}

function date(field: 'startDate' | 'endDate', value: string): Date {
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) {
    throw new ScheduleError(`schedule.${field}`, `${JSON.stringify(value)} is not an ISO-8601 instant`);
  }
  return parsed;
}

/** ISO-8601 UTC, to the second when there are no milliseconds (how Clover writes instants). */
function instant(value: Date): string {
  return value.toISOString().replace(/\.000Z$/, 'Z');
}
