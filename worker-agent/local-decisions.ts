/**
 * Decides a LOCAL fire (local-fires.ts) or a precise job's planned fire (held-plans.ts): the same
 * one-run-per-fire conditional write the dispatcher uses (`Dispatcher.fireLocal`), then, on the one
 * agent whose write won, the run handed to the agent's execution. Every fire is reported (`onFire`).
 *
 * A full agent (`hasCapacity()` false) still fires, `busyDelayMs` (default 50 ms) later, so agents
 * with a free slot win first and the fire is still recorded if every agent is full.
 *
 * A fire decided before its instant (`leadMs`, local-fires.ts) asks the write with `ahead`: a job lock
 * still held by an active run is then not decided early, and the fire is asked again at the instant,
 * so deciding early never turns a run that ends just before the instant into an overlap.
 *
 * @example
 * const decisions = new LocalDecisions({ workerId, dispatcher, execute, clock, timers, log, failures });
 * decisions.fire('job-1', instant, clock.now());
 * await decisions.idle(); // every fire's write and execution finished
 */
import type { Dispatcher, FireOutcome } from '../core/dispatch';
import { type DispatchEnvelope, envelopeFor } from '../core/envelope';
import { LockHeldError } from '../core/errors';
import type { FailureLog, Logger } from '../core/log';
import { isoSeconds, type Run } from '../core/model';
import type { Clock } from '../core/ports';

export const DEFAULT_BUSY_DELAY_MS = 50;

/** The timer functions LocalFires uses; tests pass fakes. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Longest single setTimeout; a later instant is reached by re-arming (Node's limit is ~24.8 days). */
export const MAX_TIMER_MS = 3_600_000;

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What happened to one instant on this agent; `onFire` gets one per instant this agent fired. */
export interface LocalFireEvent {
  readonly jobId: string;
  /** The fire's instant as the run records it (`2026-01-30T10:00:02Z`). */
  readonly scheduledTime: string;
  /** The same instant, epoch ms. */
  readonly scheduledAt: number;
  /** When the timer ran for it (epoch ms). `firedAt − scheduledAt` is the timer's own lateness. */
  readonly firedAt: number;
  /** When the conditional write answered (epoch ms). */
  readonly decidedAt: number;
  /**
   * `decidedAt − scheduledAt`: how late, after its instant, the fire's run was created and handed to
   * `execute` (on the winner; the agent's claim adds one write before the handler starts).
   */
  readonly jitterMs: number;
  /** The dispatcher's answer (`dispatched` on the one winning agent), or `error` when the write failed. */
  readonly outcome: FireOutcome['kind'] | 'error';
  /** The run this agent won (outcome `dispatched`). */
  readonly run?: Run;
  readonly error?: unknown;
}

/** A fire this agent won: the run, DISPATCHED to this agent with fence 1, and its envelope. */
export interface WonFire {
  readonly run: Run;
  /** The envelope an SQS or ZeroMQ delivery of this run would carry: claim with it as usual. */
  readonly envelope: DispatchEnvelope;
  readonly fire: LocalFireEvent;
  /** The instant (epoch ms): the handler must not start before it (the fire may be decided `leadMs` early). */
  readonly startAt: number;
}

/** A precise job's planned fire this agent holds until its instant (core/planner.ts). */
export interface HeldPlan {
  readonly runId: string;
  readonly jobId: string;
  readonly scheduledTime: string;
  /** The instant, epoch ms. */
  readonly startAt: number;
  /** The placeholder's fence: the decision replaces exactly that placeholder. */
  readonly fence: number;
}

/** What is done with the fires: how a won one runs and how each is reported (part of LocalFiresOptions). */
export interface FireHandling {
  /**
   * Runs a fire this agent won, through the agent's normal execution path (claim with the envelope's
   * fence, run the handler, complete). Called without being awaited by the timers; a rejection is
   * logged. Still called for a fire won while `stop()` was in progress: the run is DISPATCHED to this
   * agent, so the agent should run it or hand it back (RunExecution.handBack).
   */
  readonly execute: (won: WonFire) => unknown;
  /** False while every slot is taken: fires are then attempted `busyDelayMs` late. @default always true */
  readonly hasCapacity?: () => boolean;
  /** @default 50 */
  readonly busyDelayMs?: number;
  /** Called once per instant this agent fired, after the write answered (before `execute`). */
  readonly onFire?: (event: LocalFireEvent) => void;
}

export interface LocalDecisionsOptions extends FireHandling {
  readonly workerId: string;
  /** Creates each fire's run with the one-run-per-fire conditional write. */
  readonly dispatcher: Pick<Dispatcher, 'fireLocal'>;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly log: Logger;
  /** Shared with LocalFires: one line per kind of failing call, not one per fire or refresh. */
  readonly failures: FailureLog;
}

/** The run's scheduledTime for an instant: to the second when whole (as REMOTE fires), else with ms. */
export function instantText(ms: number): string {
  return ms % 1000 === 0 ? isoSeconds(ms) : new Date(ms).toISOString();
}

export class LocalDecisions {
  /** Fires under way: write and `execute`. */
  private readonly inflight = new Set<Promise<void>>();
  /** Writes under way. */
  private readonly decisions = new Set<Promise<unknown>>();
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly log: Logger;

  constructor(private readonly options: LocalDecisionsOptions) {
    this.clock = options.clock;
    this.timers = options.timers;
    this.log = options.log;
  }

  /** Decides the fire of `jobId` at `scheduledAt` (a held plan's, when given) in the background. */
  fire(jobId: string, scheduledAt: number, firedAt: number, plan?: HeldPlan): void {
    const work = this.decideAndRun(jobId, scheduledAt, firedAt, plan);
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }

  /** Resolves when every fire under way — write and `execute` — has finished. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Resolves when the writes already under way have answered. */
  async writesSettled(): Promise<void> {
    await Promise.allSettled([...this.decisions]);
  }

  private async decideAndRun(
    jobId: string,
    scheduledAt: number,
    firedAt: number,
    plan?: HeldPlan,
  ): Promise<void> {
    const scheduledTime = plan?.scheduledTime ?? instantText(scheduledAt);
    const log = this.log.child({ jobId, scheduledTime });
    if (this.options.hasCapacity && !this.options.hasCapacity()) {
      // Let an agent with a free slot win; still fire, so the instant is recorded if all are full.
      await new Promise<void>((resolve) =>
        this.timers.setTimeout(resolve, this.options.busyDelayMs ?? DEFAULT_BUSY_DELAY_MS),
      );
    }
    // What the event says whatever the answer: the instant, and when it was fired and decided.
    const timing = (decidedAt: number) => ({
      jobId,
      scheduledTime,
      scheduledAt,
      firedAt,
      decidedAt,
      jitterMs: decidedAt - scheduledAt,
    });
    const decision = this.decide(jobId, scheduledTime, scheduledAt, plan?.fence);
    this.decisions.add(decision);
    let outcome: FireOutcome;
    try {
      outcome = await decision;
      this.options.failures.succeeded('LOCAL fire');
    } catch (error) {
      const decidedAt = this.clock.now();
      this.options.failures.failed('LOCAL fire', 'LOCAL fire could not be written', {
        jobId,
        scheduledTime,
        error,
      });
      this.notify({ ...timing(decidedAt), outcome: 'error', error });
      return;
    } finally {
      this.decisions.delete(decision);
    }
    const decidedAt = this.clock.now();
    const run = outcome.kind === 'dispatched' ? outcome.runs[0] : undefined;
    const event: LocalFireEvent = { ...timing(decidedAt), outcome: outcome.kind, ...(run ? { run } : {}) };
    this.notify(event);
    if (!run) {
      log.log('debug', 'LOCAL fire not ours', { outcome: outcome.kind });
      return;
    }
    log.log('info', plan ? 'planned fire decided' : 'LOCAL fire won', {
      runId: run.runId,
      jitterMs: event.jitterMs,
    });
    const envelope = envelopeFor(run, run.deadlineAt ?? decidedAt, decidedAt);
    try {
      await this.options.execute({ run, envelope, fire: event, startAt: scheduledAt });
    } catch (error) {
      log.log('error', 'execution of a LOCAL fire failed', { runId: run.runId, error });
    }
  }

  /**
   * The fire's conditional write: before the instant with `ahead` (a held lock is then not decided
   * yet), and at the instant otherwise or when the lock was held.
   */
  private async decide(
    jobId: string,
    scheduledTime: string,
    scheduledAt: number,
    plan?: number,
  ): Promise<FireOutcome> {
    const { dispatcher, workerId } = this.options;
    const planned = plan === undefined ? {} : { plan };
    const early = scheduledAt - this.clock.now();
    if (early > 0) {
      try {
        return await dispatcher.fireLocal(jobId, scheduledTime, workerId, { ahead: true, ...planned });
      } catch (error) {
        if (!(error instanceof LockHeldError)) throw error;
      }
      const wait = scheduledAt - this.clock.now();
      if (wait > 0) await new Promise<void>((resolve) => this.timers.setTimeout(resolve, wait));
    }
    return dispatcher.fireLocal(jobId, scheduledTime, workerId, planned);
  }

  private notify(event: LocalFireEvent): void {
    try {
      this.options.onFire?.(event);
    } catch (error) {
      this.log.log('warn', 'onFire callback threw', { jobId: event.jobId, error });
    }
  }
}
