import type { Dispatcher } from './dispatch';
import type { Logger } from './log';
import {
  chainOf,
  completeJoin,
  DEPENDENCY_FIRING_STATUSES,
  dependentRunId,
  isFinal,
  type Job,
  joinRunId,
  outcomeMatches,
  type Run,
  type RunStatus,
  upstreamRefOf,
} from './model';
import type { Clock, DependencyJoins, JobStore, RunLedger } from './ports';

export interface DependentFiresDeps {
  readonly jobs: JobStore;
  readonly runs: RunLedger;
  readonly joins: DependencyJoins;
  readonly dispatcher: Dispatcher;
  readonly clock: Clock;
  readonly log: Logger;
  /** The run-away guard: the most fires of one job by one chain in one minute. @default RUNAWAY_FIRES_PER_MINUTE */
  readonly runawayFiresPerMinute?: number;
}

/**
 * The run-away guard's default: a chain that fires the same job more than this many times in one
 * (UTC, calendar) minute has its next fire of it recorded SKIPPED(runaway), which ends that branch
 * of the chain, and raises a `runaway` alert (docs/dependent-jobs.md, "Run-away guard").
 */
export const RUNAWAY_FIRES_PER_MINUTE = 10;

/** How many of an upstream job's newest runs the monitor looks at for leftovers. */
const RECOVERY_RUNS_PER_JOB = 50;

/**
 * Dependent jobs (ARCHITECTURE.md, "Chain"): when a run reaches an outcome some job waits for
 * (`after: [{ jobId, on }]`), that job fires once for it, with trigger DEPENDENT, through the
 * dispatcher like any fire (concurrency, retry and alert policies apply).
 *
 * Exactly once per upstream outcome rests on the same conditional put as scheduled fires: the
 * dependent run's id is derived from the upstream run (`B@after:<upstreamRunId>`) or, for fan-in
 * (`waitFor: ALL`), from the chain (`D@chain:<chainId>`), whose join record collects arrivals by
 * conditional writes. So firing may be attempted any number of times — by the worker that wrote
 * the outcome, by a repeated or refused completion that finds the flag still set, by the monitor —
 * and gives one run each.
 *
 * Cost: only runs of jobs that have dependents do anything. The dispatcher copies `hasDependents`
 * onto the run from the job's `downstream` list; the write that makes such a run final also sets
 * `dependentsPending` (no extra request); `fire` then fires and clears the flag. A process that dies
 * in between leaves the flag, and the monitor's `recover` fires the leftovers.
 */
export class DependentFires {
  constructor(private readonly deps: DependentFiresDeps) {}

  /** What the write that makes `run` final with `status` sets alongside: the flag when there is something to fire. */
  static pendingOn(run: Pick<Run, 'hasDependents'>, status: RunStatus): { dependentsPending?: true } {
    return run.hasDependents && DEPENDENCY_FIRING_STATUSES.includes(status)
      ? { dependentsPending: true }
      : {};
  }

  /**
   * Fires the dependents of a final run whose record has `dependentsPending` (the record is the
   * truth: pass the run as the ledger returned it), then clears the flag and records the dependent
   * run ids on it. Returns them. When a fire fails the flag stays, for a later attempt.
   */
  async fire(run: Run): Promise<string[]> {
    if (!run.dependentsPending || !isFinal(run)) return [];
    const now = this.deps.clock.now();
    const log = this.deps.log.child({ jobId: run.jobId, runId: run.runId });
    const upstreamJob = await this.deps.jobs.get(run.jobId);
    const chainId = chainOf(run);
    const ref = upstreamRefOf(run);
    const fired: string[] = [];
    let failed = 0;
    for (const downstreamId of upstreamJob?.downstream ?? []) {
      try {
        const job = await this.deps.jobs.get(downstreamId);
        const dependency = job?.spec.after.find((d) => d.jobId === run.jobId);
        if (!job || !dependency || !outcomeMatches(dependency.on, run.status)) continue;
        if (job.spec.waitFor === 'ALL') {
          const runId = joinRunId(downstreamId, chainId);
          const arrivals = await this.deps.joins.arrive(downstreamId, chainId, ref, now);
          const upstream = completeJoin(job.spec.after, arrivals);
          if (upstream) await this.deps.dispatcher.fireDependent(job, { runId, chainId, upstream });
          log.log('info', upstream ? 'fan-in complete: dependent fired' : 'fan-in: arrival recorded', {
            downstream: runId,
            arrived: [...arrivals.keys()],
          });
          fired.push(runId);
        } else {
          const runId = dependentRunId(downstreamId, run.runId);
          const runaway = await this.runaway(run, downstreamId, chainId, runId, now);
          const outcome = await this.deps.dispatcher.fireDependent(job, {
            runId,
            chainId,
            upstream: [ref],
            ...(runaway ? { runaway } : {}),
          });
          log.log('info', 'dependent fired', { downstream: runId, outcome: outcome.kind });
          fired.push(runId);
        }
      } catch (error) {
        failed += 1;
        log.log('warn', 'dependent could not be fired; the monitor tries again', {
          downstream: downstreamId,
          error,
        });
      }
    }
    if (failed === 0) await this.deps.runs.markDependentsFired(run.runId, fired, now);
    return fired;
  }

  /**
   * Why the `waitFor: ANY` fire `runId` must not run, when the chain has fired its job too often this
   * minute. A fan-in fire is once per chain by its id, and so is a fire by the run that started the
   * chain (its id is derived from that one run): only fires by dependent runs can repeat, and only
   * they are counted — one small write each.
   */
  private async runaway(
    upstream: Run,
    downstreamId: string,
    chainId: string,
    runId: string,
    now: number,
  ): Promise<string | undefined> {
    if (upstream.trigger !== 'DEPENDENT') return undefined;
    const limit = this.deps.runawayFiresPerMinute ?? RUNAWAY_FIRES_PER_MINUTE;
    const fired = await this.deps.joins.countFire(downstreamId, chainId, now - (now % 60_000), runId);
    if (fired <= limit) return undefined;
    return `chain ${chainId} fired job ${downstreamId} ${fired} times this minute (limit ${limit}): stopped as a run-away`;
  }

  /**
   * The monitor's sweep: fires the dependents of final runs still flagged `dependentsPending` at
   * least `graceMs` after they were written (the process that wrote the outcome died before firing
   * them), among the newest runs of each job that has dependents. Returns how many runs it handled.
   */
  async recover(jobs: readonly Job[], now: number, graceMs: number): Promise<number> {
    let handled = 0;
    for (const job of jobs) {
      if (!job.downstream?.length) continue;
      const runs = await this.deps.runs.listByJob(job.spec.jobId, { limit: RECOVERY_RUNS_PER_JOB });
      for (const run of runs) {
        if (!run.dependentsPending || run.updatedAt > now - graceMs) continue;
        await this.fire(run);
        handled += 1;
      }
    }
    return handled;
  }

  /**
   * Makes every job's `downstream` list match the `after` lists of the jobs that exist (a define or
   * delete that died between its writes, or a redefine that raced a link). Returns the links changed.
   */
  async reconcile(jobs: readonly Job[]): Promise<number> {
    const expected = new Map<string, Set<string>>(jobs.map((job) => [job.spec.jobId, new Set<string>()]));
    for (const job of jobs) {
      for (const dependency of job.spec.after) expected.get(dependency.jobId)?.add(job.spec.jobId);
    }
    let changed = 0;
    for (const job of jobs) {
      const upstreamId = job.spec.jobId;
      const want = expected.get(upstreamId) ?? new Set<string>();
      const have = new Set(job.downstream ?? []);
      const differing = [...want, ...have].filter((id) => want.has(id) !== have.has(id));
      for (const id of differing) {
        // The list may be older than a define that just linked or unlinked: decide from the job as it is now.
        const current = await this.deps.jobs.get(id);
        const linked = current?.spec.after.some((d) => d.jobId === upstreamId) ?? false;
        if (linked === have.has(id)) continue;
        if (await this.deps.jobs.linkDownstream(upstreamId, id, linked)) changed += 1;
      }
    }
    return changed;
  }
}
