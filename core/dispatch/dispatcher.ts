import type { Job, Run } from '../model';
import type { OpenRuns, RunFinished, RunTransition } from '../ports';
import { Admission } from './admit';
import { BroadcastFire } from './broadcast-fire';
import { Deliverer } from './delivery';
import { DependentFire, type DependentFireRequest } from './dependent-fire';
import { JobCache } from './job-cache';
import { LocalFire, type LocalFireOptions } from './local-fire';
import { PlainFire } from './plain-fire';
import { type PlanOptions, PrecisePlans } from './precise-plans';
import { Recorder } from './record';
import { Redispatcher } from './redispatch';
import type { DispatcherDeps, FireOutcome } from './types';
import { WorkerChoice } from './worker-choice';

/**
 * The dispatcher (ARCHITECTURE.md, "Fire" and "Deliver"): load the job, choose workers from live
 * leases, write the run (with the job's lock, in one transaction) already DISPATCHED to the chosen
 * worker, then deliver. Duplicate invocations of a fire collide on the run id (invariant 1); a held
 * lock turns a fire into SKIPPED(overlap), a queued run or a replacement (invariant 2); every later
 * change is a fenced transition (invariant 3).
 *
 * This class only wires the rooms of core/dispatch/ and names the entry points. The decision every
 * fire goes through: admit.ts (a worker or NO_WORKER), worker-choice.ts (route), record.ts (the
 * one-run-per-fire write under the job's lock and policy). The kinds of fire: plain-fire.ts (REMOTE),
 * local-fire.ts (LOCAL, and precise fires decided at their instant), dependent-fire.ts,
 * broadcast-fire.ts, precise-plans.ts. Then delivery.ts (envelopes to workers) and redispatch.ts
 * (retries, recoveries, finishing a run and its lock).
 */
export class Dispatcher {
  private readonly plain: PlainFire;
  private readonly dependent: DependentFire;
  private readonly local: LocalFire;
  private readonly plans: PrecisePlans;
  private readonly deliverer: Deliverer;
  private readonly redispatcher: Redispatcher;

  constructor(deps: DispatcherDeps) {
    const random = deps.random ?? Math.random;
    const jobs = new JobCache(deps.jobs, deps.jobCacheSize ?? 0);
    const choice = new WorkerChoice(deps.workers, random);
    const recorder = new Recorder(deps.runs, deps.locks);
    // Delivery and redispatch call each other (a failed delivery settles the run's lock, which may
    // dispatch the next queued run): the delivery reaches the redispatcher once both exist.
    this.deliverer = new Deliverer(deps, choice, random, (run, message, retryDelay, now) =>
      this.redispatcher.noWorkerFor(run, message, retryDelay, now),
    );
    this.redispatcher = new Redispatcher(deps, choice, this.deliverer, random);
    const admission = new Admission(deps, choice, recorder, this.deliverer, random);
    const broadcast = new BroadcastFire(choice, admission, recorder, this.deliverer);
    this.plain = new PlainFire(deps, jobs, admission, broadcast, recorder, this.deliverer);
    this.dependent = new DependentFire(deps, this.plain, recorder);
    this.local = new LocalFire(deps, jobs, recorder);
    this.plans = new PrecisePlans(deps, choice, admission, recorder);
  }

  /** A fire of a REMOTE job: EventBridge Scheduler's input, or a manual or catch-up trigger (plain-fire.ts). */
  fire(input: unknown): Promise<FireOutcome> {
    return this.plain.fire(input);
  }

  /** Sends a DISPATCHED, unclaimed run's envelope again, with the same fence (delivery.ts). */
  resend(run: Run, job?: Job): Promise<boolean> {
    return this.deliverer.resend(run, job);
  }

  /** Fires a dependent job for an upstream outcome (dependent-fire.ts). */
  fireDependent(job: Job, dependent: DependentFireRequest): Promise<FireOutcome> {
    return this.dependent.fire(job, dependent);
  }

  /**
   * An agent asks to run a fire it decided itself: a LOCAL job's, or a precise job's planned fire at
   * its instant (local-fire.ts).
   *
   * @example
   * const outcome = await dispatcher.fireLocal('ticker', '2026-01-30T10:00:02Z', 'agent-1');
   * if (outcome.kind === 'dispatched') await agent.execute(outcome.runs[0]);
   */
  fireLocal(
    jobId: string,
    scheduledTime: string,
    workerId: string,
    options: LocalFireOptions = {},
  ): Promise<FireOutcome> {
    return this.local.fire(jobId, scheduledTime, workerId, options);
  }

  /** Plans one fire of a precise job ahead of its instant (precise-plans.ts). */
  plan(job: Job, scheduledTime: string, options: PlanOptions = {}): Promise<FireOutcome> {
    return this.plans.plan(job, scheduledTime, options);
  }

  /**
   * Re-dispatches the runs among `open` whose retry backoff has passed, and says when the next is due;
   * called on every sweep with the open runs it read (redispatch.ts).
   */
  retryDue(
    open: Pick<OpenRuns, 'PENDING' | 'NO_WORKER'>,
  ): Promise<{ readonly dispatched: number; readonly nextDueAt?: number }> {
    return this.redispatcher.retryDue(open);
  }

  /** Dispatches an existing run again, to a freshly chosen worker, with a higher fence (redispatch.ts). */
  redispatch(run: Run, options: { newAttempt: boolean; note?: string }): Promise<Run> {
    return this.redispatcher.redispatch(run, options);
  }

  /** Writes a run's final status with its lock and the job's health (redispatch.ts). */
  finish(run: Run, change: RunTransition): Promise<RunFinished> {
    return this.redispatcher.finish(run, change);
  }

  /** Releases a final run's lock, or under QUEUE hands it to the next queued run (redispatch.ts). */
  settle(run: Run): Promise<void> {
    return this.redispatcher.settle(run);
  }
}
