import { RETRY_READ_LIMITS } from '../dispatch';
import type { Job, Worker } from '../model';
import type { OpenRuns } from '../ports';
import { requeueAlerts } from './alert-requeue';
import { checkAvailability } from './availability';
import { JobList } from './job-list';
import { expireLeases } from './leases';
import { Misfires } from './misfires';
import { newSweepReport, type SweepReport, sweepChangedAnything } from './report';
import { repairSchedules } from './schedules';
import { releaseStaleLocks } from './stale-locks';
import { resendUnclaimed, timeOutPastDeadline } from './stuck-runs';
import type { MonitorDeps } from './types';

/**
 * The monitor (ARCHITECTURE.md, "Monitor"): one `sweep(now)` is one pass over
 *  1. leases — expired ones are marked GONE; every DISPATCHED/RUNNING run held by a worker that is
 *     no longer live, or RUNNING since before its worker id registered again (a restarted agent), is
 *     re-dispatched as a new attempt (recoverOnWorkerLoss) or marked LOST, and a `lost` alert tells
 *     the owner either way (invariant 4);
 *  2. deadlines — DISPATCHED/RUNNING runs past `deadlineAt` become TIMED_OUT with `cancelRequested`;
 *     unclaimed — a DISPATCHED run (not LOCAL) of a live worker or the pool, unclaimed past
 *     `unclaimedResendMs`, has its envelope sent again, same fence, once per dispatch: its dispatcher
 *     may have died between the run write and the send (Dispatcher.resend);
 *  3. retries whose backoff passed (Dispatcher.retryDue);
 *  4. missed fires — scheduler dead letters, REMOTE schedules whose last due fire has no run, and
 *     LOCAL schedules while no live agent could fire them (agents fire LOCAL jobs themselves; with
 *     none alive nobody would record the misses): FIRE_ONCE_NOW makes one CATCHUP fire at the latest
 *     missed instant, SKIP one SKIPPED(misfire) record per missed instant, both within
 *     `misfire.windowSeconds` and idempotent by run id;
 *  5. availability — a job no live worker could run (capacity aside) raises `job_unavailable` once
 *     per outage (a flag in the alert store, cleared when a capable worker returns);
 *  6. housekeeping, at most every `housekeepingMs` — OUT_OF_SYNC schedules repaired, job locks whose
 *     owner run is final or missing released, jobs' `downstream` lists repaired, and dependents fired
 *     for final runs still flagged `dependentsPending` (their writer died before firing them);
 *  7. alerts recorded but not queued (the queue send failed: ALERT_UNQUEUED) are queued again, so
 *     they are mailed late rather than left PENDING.
 * Every change is a fenced or conditional write, so concurrent sweeps (a looping invocation and the
 * next scheduled one) do each thing once; the loser of a race skips quietly. A step that fails is
 * reported and the others still run.
 *
 * This class only wires the rooms of core/monitor/ in that order: leases.ts (1), stuck-runs.ts (2),
 * misfires.ts with dead-letters.ts (4), availability.ts (5), schedules.ts and stale-locks.ts (6, with
 * core/dependents.ts for the links and leftovers), alert-requeue.ts (7). dependents.ts fires the
 * dependents of the runs steps 1 and 2 finish; job-list.ts keeps the jobs between sweeps; report.ts
 * is what a sweep tells its caller; watch.ts decides when the monitor sweeps often.
 */
export class Monitor {
  private readonly syncGraceMs: number;
  private readonly housekeepingMs: number;
  private readonly maxActive: number;
  private readonly dependentsGraceMs: number;
  private readonly unclaimedResendMs: number;
  private lastHousekeeping = Number.NEGATIVE_INFINITY;
  /** The job list a warm instance keeps: read in full at housekeeping, refreshed by changes between. */
  private readonly jobList: JobList;
  private readonly misfires: Misfires;

  constructor(private readonly deps: MonitorDeps) {
    this.syncGraceMs = deps.options?.syncGraceMs ?? 30_000;
    this.housekeepingMs = deps.options?.housekeepingMs ?? 60_000;
    this.maxActive = deps.options?.maxActiveRuns ?? 1000;
    this.dependentsGraceMs = deps.options?.dependentsGraceMs ?? 30_000;
    this.unclaimedResendMs = deps.options?.unclaimedResendMs ?? 60_000;
    this.jobList = new JobList(deps.jobs, deps.options?.jobChangeLagMs ?? 60_000);
    this.misfires = new Misfires(deps, this.jobList, deps.options?.misfireGraceMs ?? 60_000);
  }

  /**
   * `signal`: the caller is stopping (npm start's Ctrl-C). The steps not begun are left, and a worker
   * found gone is not acted on: the same stop makes the agents leave, and a sweep begun before it
   * would otherwise re-dispatch the runs of agents it sees leaving. The next sweep, wherever it runs,
   * handles them.
   */
  async sweep(
    now = this.deps.clock.now(),
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<SweepReport> {
    const report = newSweepReport(now);
    const { signal } = options;
    const step = async (name: string, work: () => Promise<void>) => {
      if (signal?.aborted) return;
      try {
        await work();
      } catch (error) {
        report.errors.push({ step: name, message: error instanceof Error ? error.message : String(error) });
        this.deps.log.log('error', `monitor step ${name} failed`, { error });
      }
    };
    let jobs: Job[] = [];
    let workers: Worker[] = [];
    const handled = new Set<string>();
    // The open runs, read once (one Query per `byOpenKeys` shard) for the four steps that go through them
    // (a failed read fails each of them). Runs a step acts on are in `handled`, so later steps skip them.
    let open: Promise<OpenRuns> | undefined;
    const openRuns = () => {
      open ??= this.deps.runs.listOpen({
        limits: { DISPATCHED: this.maxActive, RUNNING: this.maxActive, ...RETRY_READ_LIMITS },
        order: 'oldest',
      });
      return open;
    };
    const activeRuns = async () => {
      const { DISPATCHED, RUNNING } = await openRuns();
      return [...DISPATCHED, ...RUNNING];
    };
    await step('leases', async () => {
      const runs = await activeRuns();
      report.inFlight = runs.length;
      workers = await expireLeases(this.deps, runs, now, report, handled, signal);
    });
    await step('deadlines', async () =>
      timeOutPastDeadline(this.deps, await activeRuns(), now, report, handled),
    );
    await step('unclaimed', async () =>
      resendUnclaimed(this.deps, await activeRuns(), now, report, handled, this.unclaimedResendMs),
    );
    await step('retries', async () => {
      // Read before the steps above acted: a run they moved is refused by its fence, or waits a sweep.
      const retries = await this.deps.dispatcher.retryDue(await openRuns());
      report.retriesDispatched = retries.dispatched;
      if (retries.nextDueAt !== undefined) report.nextRetryAt = retries.nextDueAt;
    });
    const housekeeping = now - this.lastHousekeeping >= this.housekeepingMs;
    await step('jobs', async () => {
      const read = await this.jobList.read(now, housekeeping);
      if (read.full) this.misfires.forgetAllBut(read.jobs);
      jobs = read.jobs;
    });
    await step('misfires', () => this.misfires.run(jobs, workers, now, report));
    await step('availability', () => checkAvailability(this.deps, this.jobList, jobs, workers, now, report));
    if (housekeeping) {
      this.lastHousekeeping = now;
      await step('schedules', () => repairSchedules(this.deps, jobs, now, report, this.syncGraceMs));
      await step('locks', () => releaseStaleLocks(this.deps, now, report));
      const dependents = this.deps.dependents;
      if (dependents) {
        await step('dependency links', async () => {
          report.dependencyLinksRepaired = await dependents.reconcile(jobs);
        });
        await step('dependents', async () => {
          report.dependentsRecovered = await dependents.recover(jobs, now, this.dependentsGraceMs);
        });
      }
    }
    await step('alerts', () => requeueAlerts(this.deps, report));
    if (sweepChangedAnything(report)) this.deps.log.log('info', 'monitor sweep', { ...report });
    return report;
  }
}
