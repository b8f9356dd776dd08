/**
 * Precise REMOTE jobs (docs/precise-jobs.md): plan ahead, start on time.
 *
 * EventBridge Scheduler invokes a target within the minute of its instant, and only on whole minutes.
 * A precise job (precision SECOND) therefore has no schedule of its own there: one planner schedule,
 * `rate(1 minute)`, invokes `plan()` with its nominal `scheduledTime`, and each pass plans every fire
 * of every precise job due in the next `leadSeconds` (Clover's own schedule engine, seconds included):
 *
 *   plan       Dispatcher.plan writes the fire's placeholder run (PENDING, `planned`, its worker) by
 *              the one-run-per-fire conditional write and delivers a plan envelope (`startAt`) to the
 *              chosen worker at once — ZeroMQ or SQS — so it arrives long before the instant.
 *   hold       The worker keeps the plan in memory (worker-agent/local-fires.ts `hold`).
 *   decide     At the instant (less the agent's lead of a few hundred ms) the worker writes the fire's
 *              run over the placeholder with Dispatcher.fireLocal(…, { plan: fence }) — the same write
 *              and the same decisions as a LOCAL fire: the job as it is then (paused, deleted, edited,
 *              concurrency FORBID/QUEUE/REPLACE against the job's lock), so a pause 10 s before the
 *              second stops that second's run and a run that ended just before it does not block it.
 *   start      The handler starts at the instant by the worker's clock; the run records how late.
 *
 * Each pass plans the instants in (now, nominal + lead] that entered the window since about two passes
 * ago (a pass that came late or not at all is covered by the next) — the whole window for a job new to
 * the planner or changed since its last pass — and looks at every placeholder:
 *   - held by a worker that is no longer live, instant ahead: re-planned to a live worker (new fence);
 *   - instant passed `missedAfterMs` ago and still undecided (its worker died or restarted, or no pass
 *     reached a live worker in time): the job's misfire policy — the latest missed fire of a job is
 *     planned again to start at once (FIRE_ONCE_NOW, within `misfire.windowSeconds`), the others are
 *     SKIPPED(misfire).
 * Duplicate or overlapping invocations write nothing for a placeholder they list whose worker is live;
 * one they miss in the listing meets the conditional write, which finds it.
 *
 * Quiet passes: a pass that planned nothing and found no placeholder of a precise job records, in the
 * precise mark (JobStore.preciseMark), the nominal instant before which no pass has anything to do —
 * one period before the first pass whose window reaches a precise job's next instant; never, with no
 * precise job. The passes before it read the mark and nothing else (one GetItem a minute for an idle
 * stage, instead of the jobs and the placeholders). Every put of a precise job (a new one, an edit, a
 * resume) moves the mark on in the same write, and the quiet instant is recorded only if the mark has
 * not moved since the pass read it, before its jobs: so a job turned precise is planned at the next
 * pass, as before.
 */
import { z } from 'zod';
import type { Dispatcher, FireOutcome } from './dispatch';
import type { Logger } from './log';
import {
  IsoInstantSchema,
  isoSeconds,
  isPlaceholder,
  isPrecise,
  type Job,
  leadMsOf,
  parseOrThrow,
  type Run,
  scheduleModeOf,
} from './model';
import type { Clock, JobStore, PreciseMark, RunLedger } from './ports';
import { parseSchedule, type Schedule } from './schedule';

/** The planner's period: EventBridge Scheduler invokes it every minute. */
export const PLANNER_PERIOD_MS = 60_000;
/** A placeholder still undecided this long after its instant is a missed fire. */
export const DEFAULT_MISSED_AFTER_MS = 30_000;
/** Most placeholders one pass reads (oldest first). */
const PLACEHOLDER_READ_LIMIT = 500;
/** A quiet instant for a stage with no precise job to plan: no pass reads until a precise job is put. */
const NEVER = Number.MAX_SAFE_INTEGER;

/**
 * The planner schedule's target input (infra/stack.ts): `planner: true` routes the dispatcher's
 * invocation to `Planner.plan` instead of a job's fire; Scheduler puts the invocation's nominal
 * instant in `scheduledTime` (its `<aws.scheduler.scheduled-time>` context attribute).
 */
export const PlannerRequestSchema = z.strictObject({
  planner: z.literal(true),
  scheduledTime: IsoInstantSchema,
});
export type PlannerRequest = z.infer<typeof PlannerRequestSchema>;

/** The planner schedule's input, with `scheduledTime` as given (the context attribute in the stack). */
export function plannerInput(scheduledTime: string): PlannerRequest {
  return { planner: true, scheduledTime };
}

/** An invocation meant for the planner (it names `planner`), valid or not: the dispatcher routes on it. */
export function isPlannerRequest(event: unknown): boolean {
  return typeof event === 'object' && event !== null && 'planner' in event;
}

/** The planner request in `event`, or a ValidationError naming `event.<field>`. */
export function parsePlannerRequest(event: unknown): PlannerRequest {
  return parseOrThrow(PlannerRequestSchema, event, 'event');
}

export interface PlannerDeps {
  readonly jobs: Pick<JobStore, 'list' | 'preciseMark' | 'quietPrecise'>;
  readonly runs: Pick<RunLedger, 'listByStatus' | 'transition'>;
  readonly dispatcher: Pick<Dispatcher, 'plan'>;
  readonly clock: Clock;
  readonly log: Logger;
  /** @default DEFAULT_MISSED_AFTER_MS */
  readonly missedAfterMs?: number;
}

export interface PlanReport {
  /** Fires whose placeholder this pass wrote or moved, and sent. */
  readonly planned: number;
  /** Fires already planned to a live worker (repeated passes). */
  readonly alreadyPlanned: number;
  /** Missed fires started at once (FIRE_ONCE_NOW) or skipped (SKIP, or not the latest missed). */
  readonly missedFired: number;
  readonly missedSkipped: number;
  /** Fires that found no live precise worker (recorded NO_WORKER) or could not be written or sent. */
  readonly failed: number;
}

export class Planner {
  /** Compiled schedules by `jobId@version`. */
  private readonly schedules = new Map<string, Schedule>();
  /** The job version each job's window was last planned at: a new or changed job gets its whole window. */
  private readonly plannedVersion = new Map<string, number>();

  constructor(private readonly deps: PlannerDeps) {}

  /**
   * One pass. `scheduledTime` is the invocation's nominal instant (Scheduler's
   * `<aws.scheduler.scheduled-time>`); absent, now.
   */
  async plan(input: { readonly scheduledTime?: string | undefined } = {}): Promise<PlanReport> {
    const now = this.deps.clock.now();
    const nominal = input.scheduledTime === undefined ? now : Date.parse(input.scheduledTime);
    const report = { planned: 0, alreadyPlanned: 0, missedFired: 0, missedSkipped: 0, failed: 0 };
    // Read before the jobs: a precise put after this read moves the mark, and the quiet write refuses.
    const mark = await this.deps.jobs.preciseMark();
    if (mark.quietUntil !== undefined && nominal < mark.quietUntil) {
      this.deps.log.log('debug', 'planner pass: quiet', {
        scheduledTime: isoSeconds(nominal),
        quietUntil: mark.quietUntil === NEVER ? 'no precise job' : isoSeconds(mark.quietUntil),
      });
      return report;
    }
    const jobs = (await this.deps.jobs.list()).filter(
      (job) => isPrecise(job.spec) && !job.spec.paused && job.spec.schedule !== null,
    );
    const byId = new Map(jobs.map((job) => [job.spec.jobId, job]));
    const placeholders = (
      await this.deps.runs.listByStatus('PENDING', { order: 'oldest', limit: PLACEHOLDER_READ_LIMIT })
    ).filter(isPlaceholder);
    const missed = new Map<string, Run[]>();
    const seen = new Set<string>();
    let watched = 0;
    for (const run of placeholders) {
      seen.add(run.runId);
      const job = byId.get(run.jobId);
      const at = Date.parse(run.scheduledTime);
      if (!job) continue; // paused or deleted: its worker records that at the instant
      watched += 1;
      if (at <= now - (this.deps.missedAfterMs ?? DEFAULT_MISSED_AFTER_MS)) {
        missed.set(run.jobId, [...(missed.get(run.jobId) ?? []), run]);
      } else if (at > now) {
        // Dispatcher.plan writes nothing while its worker is live, and re-plans it when that worker is gone.
        this.count(report, await this.planOne(job, run.scheduledTime, run));
      }
    }
    for (const job of jobs) {
      const whole = this.plannedVersion.get(job.spec.jobId) !== job.version;
      this.plannedVersion.set(job.spec.jobId, job.version);
      for (const at of this.instants(job, now, nominal, whole)) {
        const scheduledTime = isoSeconds(at);
        if (seen.has(`${job.spec.jobId}@${scheduledTime}`)) continue;
        this.count(report, await this.planOne(job, scheduledTime));
      }
    }
    for (const [jobId, runs] of missed) await this.misfire(byId.get(jobId) as Job, runs, now, report);
    const acted = Object.values(report).some((count) => count > 0);
    if (!acted && watched === 0) await this.quiet(mark, jobs, nominal);
    // A pass with nothing to plan is the idle case every minute: debug, so a quiet stage stays quiet.
    this.deps.log.log(report.failed > 0 ? 'warn' : acted ? 'info' : 'debug', 'planner pass', {
      scheduledTime: isoSeconds(nominal),
      lateMs: now - nominal,
      ...report,
    });
    return report;
  }

  /**
   * After a pass with nothing to do: records that passes before the first whose window reaches a
   * job's next instant, less a period, have nothing to do either (the pass a period before still reads,
   * so no instant ever enters a window unread). A failed write only costs the next pass its reads.
   */
  private async quiet(mark: PreciseMark, jobs: readonly Job[], nominal: number): Promise<void> {
    let quietUntil = NEVER;
    for (const job of jobs) {
      const lead = leadMsOf(job.spec);
      const next = this.scheduleOf(job)?.next(new Date(nominal + lead), 1)[0];
      if (next) quietUntil = Math.min(quietUntil, next.getTime() - lead - PLANNER_PERIOD_MS);
    }
    if (quietUntil <= nominal + PLANNER_PERIOD_MS) return; // the next pass reads anyway
    try {
      await this.deps.jobs.quietPrecise(mark, quietUntil);
    } catch (error) {
      this.deps.log.log('warn', 'planner could not record its quiet instant; the next pass reads', { error });
    }
  }

  /** The job's compiled schedule, kept by `jobId@version`. */
  private scheduleOf(job: Job): Schedule | undefined {
    const key = `${job.spec.jobId}@${job.version}`;
    let schedule = this.schedules.get(key);
    if (!schedule && job.spec.schedule) {
      schedule = parseSchedule(job.spec.schedule, scheduleModeOf(job.spec));
      this.schedules.set(key, schedule);
    }
    return schedule;
  }

  /**
   * The job's instants in (now, nominal + lead] — only those that entered the window within the last
   * two periods, unless `whole` (a job new to this planner, or changed since its last pass).
   */
  private instants(job: Job, now: number, nominal: number, whole: boolean): number[] {
    const until = nominal + leadMsOf(job.spec);
    const from = whole ? now : Math.max(now, until - 2 * PLANNER_PERIOD_MS);
    const schedule = this.scheduleOf(job);
    if (!schedule) return [];
    const out: number[] = [];
    let cursor = new Date(from);
    for (;;) {
      const batch = schedule.next(cursor, 100).map((d) => d.getTime());
      for (const at of batch) if (at <= until) out.push(at);
      const last = batch.at(-1);
      if (last === undefined || last > until || batch.length < 100) return out;
      cursor = new Date(last);
    }
  }

  private async planOne(job: Job, scheduledTime: string, found?: Run): Promise<FireOutcome | null> {
    try {
      return await this.deps.dispatcher.plan(job, scheduledTime, found ? { found } : {});
    } catch (error) {
      this.deps.log.log('warn', 'fire could not be planned; the next pass tries again', {
        jobId: job.spec.jobId,
        scheduledTime,
        error,
      });
      return null;
    }
  }

  private count(
    report: { planned: number; alreadyPlanned: number; failed: number },
    outcome: FireOutcome | null,
  ) {
    if (outcome?.kind === 'planned') report.planned += 1;
    else if (outcome?.kind === 'duplicate') report.alreadyPlanned += 1;
    else report.failed += 1;
  }

  /**
   * A job's missed fires (oldest first): the latest is planned again to start at once when the misfire
   * policy fires once now and it is within the window; every other one is SKIPPED(misfire).
   */
  private async misfire(
    job: Job,
    runs: readonly Run[],
    now: number,
    report: { missedFired: number; missedSkipped: number; failed: number },
  ): Promise<void> {
    const latest = runs.at(-1);
    const { policy, windowSeconds } = job.spec.misfire;
    for (const run of runs) {
      const late = now - Date.parse(run.scheduledTime);
      const fire = run === latest && policy === 'FIRE_ONCE_NOW' && late <= windowSeconds * 1000;
      try {
        if (fire) {
          // Moved to a live worker (its holder may be live but restarted, its plans lost) and sent with a
          // new fence; the instant is past, so the worker decides it at once.
          await this.deps.dispatcher.plan(job, run.scheduledTime, { again: true });
          report.missedFired += 1;
        } else {
          await this.deps.runs.transition(run.runId, {
            from: ['PENDING'],
            fence: run.fence,
            to: 'SKIPPED',
            at: now,
            note: `planned fire missed by ${late} ms (worker ${run.workerId ?? '?'} did not decide it)`,
            set: { reason: 'misfire', finishedAt: now },
          });
          report.missedSkipped += 1;
        }
      } catch (error) {
        report.failed += 1;
        this.deps.log.log('warn', 'missed planned fire not settled; the next pass tries again', {
          runId: run.runId,
          error,
        });
      }
    }
  }
}
