import { AlreadyFiredError } from '../errors';
import {
  fireRunId,
  isLive,
  isoSeconds,
  isPrecise,
  type Job,
  type Run,
  scheduleModeOf,
  type Worker,
} from '../model';
import { eligibleWorkers } from '../routing';
import { parseSchedule } from '../schedule';
import { DeadLetters } from './dead-letters';
import type { JobList } from './job-list';
import type { SweepReport } from './report';
import type { MonitorDeps } from './types';

const MAX_MISSED_PER_JOB = 100;

/**
 * Missed fires (step 4 of a sweep, monitor.ts): scheduler dead letters, REMOTE schedules whose last
 * due fire has no run, and LOCAL or precise schedules while no live agent could fire them. The misfire
 * policy decides: FIRE_ONCE_NOW makes one CATCHUP fire at the latest missed instant, SKIP one
 * SKIPPED(misfire) record per missed instant, both within `misfire.windowSeconds` and idempotent by
 * run id. A warm instance remembers, per job version, when its next fire falls due, and skips the
 * ledger until then.
 */
export class Misfires {
  /**
   * Per job: the version checked and its next fire after the horizon checked. Until the horizon
   * passes that fire, no new fire can be missed, so a warm instance skips the run query.
   */
  private readonly checked = new Map<string, { version: number; nextDue: number }>();
  private readonly deadLetters: DeadLetters;

  /** `graceMs`: MonitorOptions.misfireGraceMs. */
  constructor(
    private readonly deps: MonitorDeps,
    private readonly jobList: JobList,
    private readonly graceMs: number,
  ) {
    this.deadLetters = new DeadLetters(deps.deadLetters, deps.log);
  }

  /** After a full read of the jobs: forget the jobs that are gone. */
  forgetAllBut(jobs: readonly Job[]): void {
    const listed = new Set(jobs.map((job) => job.spec.jobId));
    for (const jobId of this.checked.keys()) if (!listed.has(jobId)) this.checked.delete(jobId);
  }

  async run(
    jobs: readonly Job[],
    workers: readonly Worker[],
    now: number,
    report: SweepReport,
  ): Promise<void> {
    const dead = await this.deadLetters.drain(report);
    const byId = new Map(jobs.map((j) => [j.spec.jobId, j]));
    for (const [jobId, entry] of dead) {
      const job = byId.get(jobId);
      if (job?.spec.mode !== 'REMOTE' || job.spec.paused) {
        this.deps.log.log('warn', 'dead-lettered fire of a job that is gone, paused or LOCAL; dropped', {
          jobId,
        });
        await this.deadLetters.ack(entry.receipts);
        dead.delete(jobId);
      }
    }
    // Capacity aside: a busy agent still fires its LOCAL jobs (it records them even when full).
    const live = workers.filter((w) => isLive(w, now)).map((w) => ({ ...w, load: 0 }));
    for (const job of jobs) {
      if (job.spec.paused) continue;
      // LOCAL and precise jobs are fired by their agents (precise ones planned by core/planner.ts, which
      // applies their misfire policy): the monitor steps in only when no agent can.
      if (
        (job.spec.mode === 'LOCAL' || isPrecise(job.spec)) &&
        eligibleWorkers(job.spec, live, now).length > 0
      )
        continue;
      if (!job.spec.schedule && !dead.has(job.spec.jobId)) continue;
      const entry = dead.get(job.spec.jobId);
      const settled = await this.missedFires(job, now, entry?.instants ?? new Set(), report);
      // Not settled: the job changed since the list was read; its dead letters return for the next sweep.
      if (entry && settled) await this.deadLetters.ack(entry.receipts);
    }
  }

  /**
   * The misfire policy of one job, over the fires due since its latest run (and its dead letters).
   * False when the job was changed since the list was read: the next sweep judges the stored one.
   */
  private async missedFires(
    job: Job,
    now: number,
    dead: ReadonlySet<number>,
    report: SweepReport,
  ): Promise<boolean> {
    const { spec } = job;
    const jobId = spec.jobId;
    const horizon = now - this.graceMs;
    const windowStart = now - spec.misfire.windowSeconds * 1000;
    const schedule = spec.schedule ? parseSchedule(spec.schedule, scheduleModeOf(spec)) : null;
    // A fire counts as missed when it lies after max(latest run, window start, creation) and at or
    // before the horizon, and has no run. Two ways to know there is none without reading the ledger:
    if (dead.size === 0 && schedule) {
      // warm: this version was checked, and its next fire after that horizon is not yet past this one;
      const cached = this.checked.get(jobId);
      if (cached?.version === job.version && horizon < cached.nextDue) return true;
      // cold or not: the schedule has no fire in (max(window start, creation), horizon] at all. Only a
      // rate without a start date is anchored on its latest run, so it needs the ledger for that.
      const earliest = Math.max(windowStart - 1, job.createdAt);
      if (schedule.kind !== 'rate' || schedule.startDate) {
        const due = schedule.previous(new Date(horizon + 1));
        if (!due || due.getTime() <= earliest) {
          this.remember(job, schedule.next(new Date(horizon), 1)[0]);
          return true;
        }
      } else if (earliest >= horizon) return true;
    }
    // Manual and dependent runs are not fires of the schedule.
    const latest = (await this.deps.runs.listByJob(jobId, { limit: 20 })).find(
      (r) => r.trigger !== 'MANUAL' && r.trigger !== 'DEPENDENT',
    );
    const latestAt = latest ? Date.parse(latest.scheduledTime) : Number.NEGATIVE_INFINITY;
    const missed = new Set<number>();
    if (schedule) {
      const after = Math.max(latestAt, windowStart - 1, job.createdAt);
      const anchor = schedule.startDate ?? (latest ? new Date(latestAt) : new Date(job.createdAt));
      for (const t of schedule.next(new Date(after), MAX_MISSED_PER_JOB, anchor)) {
        if (t.getTime() <= horizon) missed.add(t.getTime());
      }
      this.remember(job, schedule.next(new Date(horizon), 1, anchor)[0]);
    }
    const tooLate: number[] = [];
    for (const t of dead) {
      if (t < windowStart) tooLate.push(t);
      else if (t > latestAt || spec.misfire.policy === 'SKIP') missed.add(t);
    }
    if (missed.size === 0 && tooLate.length === 0) return true;
    const stored = await this.jobList.stored(job);
    if (!stored) return true; // deleted: nothing to catch up, and its dead letters are dropped
    if (stored.version !== job.version) return false;
    for (const t of tooLate) {
      if (await this.skipFire(job, t, now, 'dead-lettered fire outside the catch-up window'))
        report.misfiresSkipped += 1;
    }
    const instants = [...missed].sort((a, b) => a - b);
    if (instants.length === 0) return true;
    const range = `${isoSeconds(instants[0]!)}${instants.length > 1 ? ` … ${isoSeconds(instants.at(-1)!)}` : ''}`;
    let message: string;
    let runId: string | undefined;
    if (spec.misfire.policy === 'FIRE_ONCE_NOW') {
      const scheduledTime = isoSeconds(instants.at(-1)!);
      const outcome = await this.deps.dispatcher.fire({ jobId, scheduledTime, trigger: 'CATCHUP' });
      if (outcome.kind === 'duplicate') return true;
      report.catchUpFires += 1;
      runId = fireRunId(jobId, scheduledTime);
      message = `${instants.length} fire${instants.length > 1 ? 's' : ''} missed (${range}); fired once now as ${runId} (${outcome.kind})`;
    } else {
      let skipped = 0;
      for (const t of instants)
        if (await this.skipFire(job, t, now, 'missed fire (misfire policy SKIP)')) skipped += 1;
      if (skipped === 0) return true;
      report.misfiresSkipped += skipped;
      message = `${skipped} fire${skipped > 1 ? 's' : ''} missed (${range}); recorded as SKIPPED(misfire)`;
    }
    this.deps.log.log('warn', message, { jobId });
    await this.deps.alerts.raise({ kind: 'misfire', jobId, ...(runId ? { runId } : {}), message, at: now });
    return true;
  }

  /** Up to `next` (the schedule's first fire after the horizon just checked) this version misses nothing. */
  private remember(job: Job, next: Date | undefined): void {
    this.checked.set(job.spec.jobId, {
      version: job.version,
      nextDue: next?.getTime() ?? Number.POSITIVE_INFINITY,
    });
  }

  /** One SKIPPED(misfire) record for a missed instant; false when the fire already has a run. */
  private async skipFire(job: Job, instant: number, now: number, note: string): Promise<boolean> {
    const scheduledTime = isoSeconds(instant);
    const run: Run = {
      runId: fireRunId(job.spec.jobId, scheduledTime),
      jobId: job.spec.jobId,
      scheduledTime,
      trigger: job.spec.mode === 'LOCAL' ? 'LOCAL' : 'SCHEDULE',
      handler: job.spec.handler,
      payload: job.spec.payload,
      status: 'SKIPPED',
      reason: 'misfire',
      attempt: 1,
      fence: 1,
      jobVersion: job.version,
      concurrency: job.spec.concurrency.policy,
      createdAt: now,
      updatedAt: now,
      finishedAt: now,
      history: [{ at: now, status: 'SKIPPED', attempt: 1, note }],
    };
    try {
      await this.deps.runs.create(run);
      return true;
    } catch (error) {
      if (error instanceof AlreadyFiredError) return false;
      throw error;
    }
  }
}
