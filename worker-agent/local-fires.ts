/**
 * LOCAL mode (ARCHITECTURE.md, "LOCAL mode"): the agent fires LOCAL jobs from its own timers —
 * sub-minute schedules, seconds in cron, no Lambda hop — and every agent that can run a job fires
 * every one of its instants. Which agent runs an instant is decided by the same one-run-per-fire
 * conditional write the dispatcher uses (`Dispatcher.fireLocal`): one agent gets `dispatched` and
 * executes the run, the rest get `duplicate` and do nothing (invariant 1). Concurrency policy and
 * pause apply exactly as for REMOTE fires.
 *
 * Per job, the timer's life:
 *
 *   (refresh sees the job)      ─► ARMED     setTimeout to the next instant after now
 *   ARMED ── timer, too early   ─► ARMED     re-armed for the remainder (timers may run ~1 ms early)
 *   ARMED ── timer at instant   ─► ARMED     re-armed for the following instant FIRST, then fired
 *   ARMED ── schedule changed   ─► ARMED     re-armed from now (instants already fired are not repeated)
 *   ARMED ── job gone / not LOCAL / handler or target no longer matches ─► dropped
 *   ARMED ── no instant left (end date, one-time `at`)                  ─► idle until it changes
 *
 * Instants come from the schedule, not from "now + period", so timers do not drift: each is armed
 * for `instant − now` afresh. Rate schedules count their periods from `startDate`, or else from the
 * Unix epoch, so every agent (and every restart) computes the same instants: `rate(2 seconds)`
 * fires on even seconds. When the process was stalled past several instants, only the latest is
 * fired (the others are logged as missed); under misfire policy SKIP it is fired only if it is less
 * than `misfire.windowSeconds` late. A freshly started agent fires nothing from the past.
 *
 * Which jobs: mode LOCAL with a schedule, a handler this agent registered, and a target this agent
 * matches (pool, labels, pinned worker ids). The pool's LOCAL jobs are read again every
 * `refreshIntervalMs` (default 10 s) with one keyed read (JobStore.listLocal: a Query of the jobs
 * table's `byMode` index, never a Scan of every job), so new, changed, paused and deleted jobs take
 * effect within that.
 *
 * A full agent (`hasCapacity()` false) still fires, `busyDelayMs` (default 50 ms) later
 * (local-decisions.ts).
 *
 * Deciding ahead (`leadMs`, default 0 here; the agent uses 1000, local-mode.ts): the timer runs `leadMs` before the
 * instant (at most half the time since the previous one), and the fire is decided then — the run
 * written by the conditional write, the winner's claim made — so at the instant only the handler
 * has to start (`WonFire.startAt`; the agent holds it until then). What the write sees is the job as
 * it is `leadMs` early: a pause or change in that window applies from the next instant. A job lock
 * still held by an active run is not decided early (local-decisions.ts).
 *
 * The parts: this file arms the jobs' timers; local-decisions.ts decides each fire (the write, the
 * report, the winner's execution); held-plans.ts holds precise jobs' planned fires until their instants.
 *
 * @example
 * const local = new LocalFires({
 *   workerId: config.workerId,
 *   pool: config.pool,
 *   labels: config.labels,
 *   jobs: plane.jobs,
 *   dispatcher: plane.dispatcher,
 *   hasHandler: (name) => registry.has(name),
 *   execute: ({ envelope }) => agent.execute(envelope), // claim + run, as for an SQS delivery
 *   onFire: (fire) => metrics.observe('local_fire_jitter_ms', fire.jitterMs),
 * });
 * await local.start();
 * // SIGTERM: stop firing before draining
 * await local.stop();
 */
import type { Dispatcher } from '../core/dispatch';
import { FailureLog, type Logger, silentLogger } from '../core/log';
import type { Job, JobSpec } from '../core/model';
import { type Clock, type JobStore, systemClock } from '../core/ports';
import { parseSchedule, type Schedule } from '../core/schedule';
import { HeldPlans } from './held-plans';
import { canonicalJson } from './job-sync';
import {
  type FireHandling,
  type HeldPlan,
  instantText,
  LocalDecisions,
  MAX_TIMER_MS,
  realTimers,
  type Timers,
} from './local-decisions';

export const DEFAULT_LOCAL_REFRESH_INTERVAL_MS = 10_000;
export const DEFAULT_LEAD_MS = 0;
/** Instants computed ahead per job. */
const LOOKAHEAD = 4;
/** How long after a fire the look-ahead is topped up: out of the way of the fire's write. */
const FILL_DELAY_MS = 250;

export interface LocalFiresOptions extends FireHandling {
  readonly workerId: string;
  readonly pool: string;
  /** This agent's labels, matched against a job's `target.labels`. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** Where the pool's LOCAL jobs are read from (one `listLocal(pool)` per refresh). */
  readonly jobs: Pick<JobStore, 'listLocal'>;
  /** Creates each fire's run with the one-run-per-fire conditional write. */
  readonly dispatcher: Pick<Dispatcher, 'fireLocal'>;
  /** How long before each instant its fire is decided (see the header). @default 0 */
  readonly leadMs?: number;
  /** Whether this agent registered the handler (HandlerRegistry.has). */
  readonly hasHandler: (name: string) => boolean;
  /** @default 10000 */
  readonly refreshIntervalMs?: number;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly log?: Logger;
}

interface Armed {
  job: Job;
  /** What the timing depends on; a different key re-arms from now. */
  readonly key: string;
  readonly schedule: Schedule;
  readonly anchor: Date;
  /** Instants at or before this have been handled. */
  last: number;
  /** The next few instants after `last`, ascending; the timer is armed for the first. */
  upcoming: number[];
  timer: unknown;
}

/**
 * Whether this agent takes part in a job's LOCAL fires: mode LOCAL with a schedule, the handler
 * registered here, and a target this agent matches.
 */
export function firesHere(
  spec: JobSpec,
  me: {
    readonly workerId: string;
    readonly pool: string;
    readonly labels: Readonly<Record<string, string>>;
  },
  hasHandler: (name: string) => boolean,
): boolean {
  if (spec.mode !== 'LOCAL' || spec.schedule === null) return false;
  if (!hasHandler(spec.handler)) return false;
  if (spec.target.pool !== me.pool) return false;
  if (spec.target.workerIds.length > 0 && !spec.target.workerIds.includes(me.workerId)) return false;
  return Object.entries(spec.target.labels).every(([key, value]) => me.labels[key] === value);
}

export class LocalFires {
  private readonly armed = new Map<string, Armed>();
  private readonly decisions: LocalDecisions;
  private readonly plans: HeldPlans;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly log: Logger;
  /** While AWS does not answer: one line per kind of failing call, not one per fire or refresh. */
  private readonly failures: FailureLog;
  private readonly labels: Readonly<Record<string, string>>;
  private refreshTimer: unknown;
  private refreshing: Promise<void> | undefined;
  private running = false;

  constructor(private readonly options: LocalFiresOptions) {
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? realTimers;
    this.log = (options.log ?? silentLogger).child({ workerId: options.workerId, component: 'local-fires' });
    this.failures = new FailureLog(this.log, () => this.clock.now());
    this.labels = options.labels ?? {};
    this.decisions = new LocalDecisions({
      ...options,
      clock: this.clock,
      timers: this.timers,
      log: this.log,
      failures: this.failures,
    });
    this.plans = new HeldPlans({
      leadMs: options.leadMs ?? DEFAULT_LEAD_MS,
      taking: () => this.running,
      decide: (plan, firedAt) => this.decisions.fire(plan.jobId, plan.startAt, firedAt, plan),
      clock: this.clock,
      timers: this.timers,
    });
  }

  /** Reads the job list, arms the timers and keeps refreshing. A failed read is logged and retried. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.refresh();
    this.scheduleRefresh();
  }

  /**
   * Stops every timer and waits for the writes already under way (so nothing is fired after this
   * resolves). Executions already handed to `execute` are the agent's; use `idle()` to wait for them.
   */
  async stop(): Promise<void> {
    this.running = false;
    if (this.refreshTimer !== undefined) this.timers.clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    for (const armed of this.armed.values()) this.disarm(armed);
    this.armed.clear();
    // Plans not yet decided stay placeholders: the planner gives them to a live worker again.
    this.plans.clear();
    await this.refreshing;
    await this.decisions.writesSettled();
  }

  /** Resolves when every fire under way — write and `execute` — has finished. */
  idle(): Promise<void> {
    return this.decisions.idle();
  }

  /** Job ids with an armed timer, and the instant each waits for: for status pages and tests. */
  schedule(): ReadonlyMap<string, number | null> {
    return new Map([...this.armed].map(([jobId, armed]) => [jobId, armed.upcoming[0] ?? null]));
  }

  /**
   * Holds a precise job's planned fire and decides it at its instant, less `leadMs` (held-plans.ts).
   * False when not held (stopped, or already held).
   */
  hold(plan: HeldPlan): boolean {
    return this.plans.hold(plan);
  }

  /** Planned fires held here: run id → instant (status pages and tests). */
  heldPlans(): ReadonlyMap<string, number> {
    return this.plans.heldPlans();
  }

  /** Reads the job list now and re-arms what changed. Runs one at a time; `start()` calls it periodically. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    let jobs: Job[];
    try {
      jobs = await this.options.jobs.listLocal(this.options.pool);
      this.failures.succeeded('LOCAL job list');
    } catch (error) {
      this.failures.failed('LOCAL job list', 'LOCAL job list could not be read; keeping the current timers', {
        error,
      });
      return;
    }
    if (!this.running) return;
    const me = { workerId: this.options.workerId, pool: this.options.pool, labels: this.labels };
    const wanted = new Map(
      jobs.filter((job) => firesHere(job.spec, me, this.options.hasHandler)).map((j) => [j.spec.jobId, j]),
    );
    for (const [jobId, armed] of this.armed) {
      if (!wanted.has(jobId)) {
        this.disarm(armed);
        this.armed.delete(jobId);
        this.log.log('info', 'LOCAL job no longer fired here', { jobId });
      }
    }
    const now = this.clock.now();
    for (const [jobId, job] of wanted) {
      const key = canonicalJson(job.spec.schedule);
      const known = this.armed.get(jobId);
      if (known?.key === key) {
        known.job = job;
        continue;
      }
      if (known) this.disarm(known);
      let schedule: Schedule;
      try {
        if (job.spec.schedule === null) continue; // firesHere admitted only jobs with one
        schedule = parseSchedule(job.spec.schedule, 'LOCAL');
      } catch (error) {
        this.log.log('error', 'LOCAL schedule cannot be evaluated; it will not fire', { jobId, error });
        this.armed.delete(jobId);
        continue;
      }
      const armed: Armed = {
        job,
        key,
        schedule,
        anchor: schedule.startDate ?? new Date(0),
        last: now,
        upcoming: [],
        timer: undefined,
      };
      this.armed.set(jobId, armed);
      this.arm(armed);
      this.log.log('info', known ? 'LOCAL job re-armed' : 'LOCAL job armed', {
        jobId,
        schedule: job.spec.schedule?.expression,
        next: armed.upcoming[0] === undefined ? null : instantText(armed.upcoming[0]),
      });
    }
  }

  private scheduleRefresh(): void {
    if (!this.running) return;
    const interval = this.options.refreshIntervalMs ?? DEFAULT_LOCAL_REFRESH_INTERVAL_MS;
    this.refreshTimer = this.timers.setTimeout(() => {
      void this.refresh().finally(() => this.scheduleRefresh());
    }, interval);
  }

  /** Computes the first instants (synchronously) and arms the timer. */
  private arm(armed: Armed): void {
    this.fill(armed);
    this.setTimer(armed);
  }

  /**
   * Tops `upcoming` up to LOOKAHEAD instants. Cron evaluation can take milliseconds (about 5 ms for
   * a seconds-field cron), so after a fire this runs deferred, never between a timer and its write.
   */
  private fill(armed: Armed): void {
    if (armed.upcoming.length >= LOOKAHEAD) return;
    const from = armed.upcoming.at(-1) ?? armed.last;
    const more = armed.schedule.next(new Date(from), LOOKAHEAD - armed.upcoming.length, armed.anchor);
    armed.upcoming.push(...more.map((d) => d.getTime()));
  }

  private setTimer(armed: Armed): void {
    const next = armed.upcoming[0];
    if (next === undefined || armed.timer !== undefined) return;
    const delay = Math.min(Math.max(0, next - this.leadFor(armed, next) - this.clock.now()), MAX_TIMER_MS);
    armed.timer = this.timers.setTimeout(() => this.onTimer(armed), delay);
  }

  /** How early the fire of `instant` is decided: `leadMs`, at most half the time since the previous instant. */
  private leadFor(armed: Armed, instant: number): number {
    return Math.max(0, Math.min(this.options.leadMs ?? DEFAULT_LEAD_MS, (instant - armed.last) / 2));
  }

  private disarm(armed: Armed): void {
    if (armed.timer !== undefined) this.timers.clearTimeout(armed.timer);
    armed.timer = undefined;
  }

  private isCurrent(armed: Armed): boolean {
    return this.running && this.armed.get(armed.job.spec.jobId) === armed;
  }

  private onTimer(armed: Armed): void {
    armed.timer = undefined;
    const next = armed.upcoming[0];
    if (!this.isCurrent(armed) || next === undefined) return;
    const firedAt = this.clock.now();
    if (firedAt < next - this.leadFor(armed, next)) {
      this.setTimer(armed); // early (timer granularity, or a long wait split in parts)
      return;
    }
    armed.upcoming.shift();
    let instant = next;
    const jobId = armed.job.spec.jobId;
    if ((armed.upcoming[0] ?? Number.POSITIVE_INFINITY) <= firedAt) {
      // The process stalled past several instants: fire the latest only.
      instant = Math.max(
        next,
        armed.schedule.previous(new Date(firedAt + 1), armed.anchor)?.getTime() ?? next,
      );
      armed.upcoming = armed.upcoming.filter((t) => t > instant);
      this.log.log('warn', 'LOCAL fires missed while the process stalled; firing the latest only', {
        jobId,
        missedFrom: instantText(next),
        firing: instantText(instant),
      });
    }
    armed.last = instant;
    this.setTimer(armed); // the next timer first: no computation, so this fire is not delayed

    const misfire = armed.job.spec.misfire;
    if (misfire.policy === 'SKIP' && firedAt - instant > misfire.windowSeconds * 1000) {
      this.log.log('warn', 'LOCAL fire too late for its misfire window; skipped', {
        jobId,
        scheduledTime: instantText(instant),
        lateMs: firedAt - instant,
      });
    } else {
      this.decisions.fire(jobId, instant, firedAt);
    }
    // Compute further instants (cron evaluation can take milliseconds) once this fire's write has
    // most likely been answered, and well before the instants left in `upcoming` run out.
    const until = (armed.upcoming[0] ?? firedAt) - firedAt;
    this.timers.setTimeout(
      () => {
        if (!this.isCurrent(armed)) return;
        this.fill(armed);
        this.setTimer(armed);
      },
      Math.min(FILL_DELAY_MS, Math.max(0, until / 2)),
    );
  }
}
