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
 * A full agent (`hasCapacity()` false) still fires, `busyDelayMs` (default 50 ms) later, so agents
 * with a free slot win first and the fire is still recorded if every agent is full.
 *
 * Deciding ahead (`leadMs`, default 0 here; the agent uses 300): the timer runs `leadMs` before the
 * instant (at most half the time since the previous one), and the fire is decided then — the run
 * written by the conditional write, the winner's claim made — so at the instant only the handler
 * has to start (`WonFire.startAt`; the agent holds it until then). What the write sees is the job as
 * it is `leadMs` early: a pause or change in that window applies from the next instant. A job lock
 * still held by an active run is not decided early (`Dispatcher.fireLocal` with `ahead`): the fire
 * is asked again at the instant, so deciding early never turns a run that ends just before the
 * instant into an overlap.
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
import type { Dispatcher, FireOutcome } from '../core/dispatch';
import { type DispatchEnvelope, envelopeFor } from '../core/envelope';
import { LockHeldError } from '../core/errors';
import { FailureLog, type Logger, silentLogger } from '../core/log';
import { isoSeconds, type Job, type JobSpec, type Run } from '../core/model';
import { type Clock, type JobStore, systemClock } from '../core/ports';
import { parseSchedule, type Schedule } from '../core/schedule';
import { canonicalJson } from './job-sync';

export const DEFAULT_LOCAL_REFRESH_INTERVAL_MS = 10_000;
export const DEFAULT_BUSY_DELAY_MS = 50;
export const DEFAULT_LEAD_MS = 0;
/** Longest single setTimeout; a later instant is reached by re-arming (Node's limit is ~24.8 days). */
const MAX_TIMER_MS = 3_600_000;
/** Instants computed ahead per job. */
const LOOKAHEAD = 4;
/** How long after a fire the look-ahead is topped up: out of the way of the fire's write. */
const FILL_DELAY_MS = 250;

/** The timer functions LocalFires uses; tests pass fakes. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
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

export interface LocalFiresOptions {
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

/** The run's scheduledTime for an instant: to the second when whole (as REMOTE fires), else with ms. */
export function instantText(ms: number): string {
  return ms % 1000 === 0 ? isoSeconds(ms) : new Date(ms).toISOString();
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

export class LocalFires {
  private readonly armed = new Map<string, Armed>();
  /** Planned fires held until their instant, by run id. */
  private readonly held = new Map<string, HeldPlan & { timer: unknown }>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly decisions = new Set<Promise<unknown>>();
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
    for (const plan of this.held.values()) this.timers.clearTimeout(plan.timer);
    this.held.clear();
    await this.refreshing;
    await Promise.allSettled([...this.decisions]);
  }

  /** Resolves when every fire under way — write and `execute` — has finished. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Job ids with an armed timer, and the instant each waits for: for status pages and tests. */
  schedule(): ReadonlyMap<string, number | null> {
    return new Map([...this.armed].map(([jobId, armed]) => [jobId, armed.upcoming[0] ?? null]));
  }

  /**
   * Holds a precise job's planned fire and decides it at its instant, less `leadMs` (as a LOCAL fire:
   * Dispatcher.fireLocal naming the plan's fence, then `execute` for the winner). The same plan
   * delivered again is held once; a plan with a higher fence (moved here again) replaces it. A plan
   * whose instant has passed is decided at once. False when not held (stopped, or already held).
   */
  hold(plan: HeldPlan): boolean {
    const known = this.held.get(plan.runId);
    if (!this.running || (known && known.fence >= plan.fence)) return false;
    if (known) this.timers.clearTimeout(known.timer);
    const wait = () => Math.min(MAX_TIMER_MS, Math.max(0, plan.startAt - this.leadMs() - this.clock.now()));
    const entry = { ...plan, timer: undefined as unknown };
    const onTimer = () => {
      if (this.held.get(plan.runId) !== entry) return;
      const firedAt = this.clock.now();
      if (firedAt < plan.startAt - this.leadMs()) {
        entry.timer = this.timers.setTimeout(onTimer, wait()); // a long wait split in parts, or early
        return;
      }
      this.held.delete(plan.runId);
      this.track(this.fire(plan.jobId, plan.startAt, firedAt, plan));
    };
    entry.timer = this.timers.setTimeout(onTimer, wait());
    this.held.set(plan.runId, entry);
    return true;
  }

  /** Planned fires held here: run id → instant (status pages and tests). */
  heldPlans(): ReadonlyMap<string, number> {
    return new Map([...this.held].map(([runId, plan]) => [runId, plan.startAt]));
  }

  private leadMs(): number {
    return this.options.leadMs ?? DEFAULT_LEAD_MS;
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
      this.track(this.fire(jobId, instant, firedAt));
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

  private track(work: Promise<void>): void {
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }

  private async fire(jobId: string, scheduledAt: number, firedAt: number, plan?: HeldPlan): Promise<void> {
    const scheduledTime = plan?.scheduledTime ?? instantText(scheduledAt);
    const log = this.log.child({ jobId, scheduledTime });
    if (this.options.hasCapacity && !this.options.hasCapacity()) {
      // Let an agent with a free slot win; still fire, so the instant is recorded if all are full.
      await new Promise<void>((resolve) =>
        this.timers.setTimeout(resolve, this.options.busyDelayMs ?? DEFAULT_BUSY_DELAY_MS),
      );
    }
    const decision = this.decide(jobId, scheduledTime, scheduledAt, plan?.fence);
    this.decisions.add(decision);
    let outcome: FireOutcome;
    try {
      outcome = await decision;
      this.failures.succeeded('LOCAL fire');
    } catch (error) {
      const decidedAt = this.clock.now();
      this.failures.failed('LOCAL fire', 'LOCAL fire could not be written', { jobId, scheduledTime, error });
      this.notify({
        jobId,
        scheduledTime,
        scheduledAt,
        firedAt,
        decidedAt,
        jitterMs: decidedAt - scheduledAt,
        outcome: 'error',
        error,
      });
      return;
    } finally {
      this.decisions.delete(decision);
    }
    const decidedAt = this.clock.now();
    const run = outcome.kind === 'dispatched' ? outcome.runs[0] : undefined;
    const event: LocalFireEvent = {
      jobId,
      scheduledTime,
      scheduledAt,
      firedAt,
      decidedAt,
      jitterMs: decidedAt - scheduledAt,
      outcome: outcome.kind,
      ...(run ? { run } : {}),
    };
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
