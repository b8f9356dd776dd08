import type { FireRequest } from './dispatch';
import type { Logger } from './log';
import { isoSeconds } from './model';
import type { ScheduleEntry, ScheduleGateway } from './ports';
import { parseSchedule, type Schedule } from './schedule';

export interface SchedulerClockDeps {
  readonly schedules: ScheduleGateway;
  /** Invokes the dispatcher with the input EventBridge Scheduler would send. */
  readonly fire: (request: FireRequest) => Promise<unknown>;
  readonly log: Logger;
  /** At most this many fires per schedule per tick, so a long pause does not become a storm. */
  readonly maxFiresPerTick?: number;
  /**
   * The stage's planner schedule (`rate(1 minute)`, core/planner.ts): invoked once per whole minute
   * with that minute as its `scheduledTime`, through the same lateness as every fire.
   */
  readonly planner?: (scheduledTime: string) => Promise<unknown>;
  /**
   * How long after its instant each invocation is delivered, in ms. EventBridge Scheduler invokes
   * targets "with 60 second precision": a schedule set for 1:00 runs between 1:00:00 and 1:00:59
   * (Schedule types in EventBridge Scheduler, docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html);
   * `schedulerLateness` plays that. @default none: delivered at the tick
   */
  readonly lateness?: () => number;
}

/** A delay uniformly within the invocation's minute, as EventBridge Scheduler delivers (SchedulerClockDeps.lateness). */
export function schedulerLateness(random: () => number = Math.random): number {
  return Math.floor(random() * 60_000);
}

interface Tracked {
  readonly key: string;
  readonly schedule: Schedule;
  /** Rate schedules count their periods from here: the start date, or when the clock first saw them. */
  readonly anchor: Date;
  /** Fires at or before this instant have been handled. */
  since: number;
}

/**
 * Plays EventBridge Scheduler where it does not fire (LocalStack and moto store schedules but never
 * invoke targets): reads the schedules back through the Scheduler API and fires the dispatcher at
 * their times with `{jobId, scheduledTime}`. `tick(now)` is a pure step — fire everything due in
 * (previous tick, now] — so the local runtime drives it from a real timer and tests from an
 * injected clock. A schedule deleted through the API is dropped at the next tick and stops firing;
 * a changed one starts afresh from the moment the change is seen.
 */
export class SchedulerClock {
  private readonly tracked = new Map<string, Tracked>();
  private readonly maxFiresPerTick: number;
  private lastTick: number | undefined;
  /** Invocations waiting out their lateness: stop() cancels them. */
  private readonly delayed = new Set<NodeJS.Timeout>();

  constructor(private readonly deps: SchedulerClockDeps) {
    this.maxFiresPerTick = deps.maxFiresPerTick ?? 100;
  }

  /** Fires every schedule's instants in (last tick, now]; returns the requests it sent. */
  async tick(now: number): Promise<FireRequest[]> {
    const entries = await this.deps.schedules.list();
    const seen = new Set<string>();
    const due: FireRequest[] = [];
    for (const entry of entries) {
      seen.add(entry.jobId);
      if (!entry.enabled) continue;
      const tracked = this.track(entry, now);
      if (!tracked) continue;
      const instants = tracked.schedule
        .next(new Date(tracked.since), this.maxFiresPerTick, tracked.anchor)
        .filter((instant) => instant.getTime() <= now);
      for (const instant of instants)
        due.push({ jobId: entry.jobId, scheduledTime: isoSeconds(instant.getTime()) });
      tracked.since = now;
    }
    for (const jobId of this.tracked.keys()) if (!seen.has(jobId)) this.tracked.delete(jobId);
    const invocations = due.map(
      (request) => () =>
        this.deps.fire(request).catch((error: unknown) => {
          this.deps.log.log('error', 'dispatcher invocation failed', { ...request, error });
        }),
    );
    const { planner } = this.deps;
    if (planner) {
      // The first tick plans the current minute too: a stage just started has nothing planned yet.
      const from = this.lastTick ?? Math.floor(now / 60_000) * 60_000 - 1;
      for (let minute = Math.floor(from / 60_000 + 1) * 60_000; minute <= now; minute += 60_000) {
        const scheduledTime = isoSeconds(minute);
        invocations.push(() =>
          planner(scheduledTime).catch((error: unknown) => {
            this.deps.log.log('error', 'planner invocation failed', { scheduledTime, error });
          }),
        );
      }
    }
    this.lastTick = now;
    const { lateness } = this.deps;
    if (!lateness) {
      await Promise.all(invocations.map((invoke) => invoke()));
      return due;
    }
    for (const invoke of invocations) {
      const timer = setTimeout(() => {
        this.delayed.delete(timer);
        void invoke();
      }, lateness());
      this.delayed.add(timer);
    }
    return due;
  }

  /** Cancels invocations still waiting out their lateness. */
  stop(): void {
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
  }

  private track(entry: ScheduleEntry, now: number): Tracked | null {
    const key = JSON.stringify([entry.expression, entry.timezone, entry.startDate, entry.endDate]);
    const known = this.tracked.get(entry.jobId);
    if (known?.key === key) return known;
    try {
      const schedule = parseSchedule(
        {
          expression: entry.expression,
          timezone: entry.timezone,
          ...(entry.startDate ? { startDate: entry.startDate } : {}),
          ...(entry.endDate ? { endDate: entry.endDate } : {}),
        },
        'REMOTE',
      );
      // A schedule that appeared since the last tick may already be due: start from that tick.
      const since = this.lastTick ?? now;
      const tracked: Tracked = { key, schedule, anchor: schedule.startDate ?? new Date(since), since };
      this.tracked.set(entry.jobId, tracked);
      return tracked;
    } catch (error) {
      this.deps.log.log('error', 'schedule cannot be evaluated; it will not fire', {
        jobId: entry.jobId,
        error,
      });
      this.tracked.delete(entry.jobId);
      return null;
    }
  }
}
