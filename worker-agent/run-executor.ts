/**
 * The agent's capacity slots and what runs in them: claims an envelope with a slot held for the
 * claim's round trip, runs what the claimed record says, writes its log lines and progress as it
 * goes, reads it back for cancel, and hands the outcome to the OutcomeWriter.
 *
 * - A slot is taken from the claim's start: a claim in flight counts against capacity, and a won
 *   claim's slot passes to its run without a gap, so concurrent claims never overbook.
 * - The handler runs what the claimed record says (handler, payload, attempt, deadline), never what
 *   the envelope said, with a context (payload, progress, batched log, an AbortSignal for cancel,
 *   deadline, lease loss and drain).
 * - Cancel without ZeroMQ: every `cancelPollMs` a run that had no other answer from the control plane
 *   is read back; `cancelRequested` aborts the handler (outcome CANCELLED), and a run that is no longer
 *   this attempt's (CANCELLED, TIMED_OUT, LOST, re-dispatched) is aborted and nothing is written.
 * - A run claimed after the agent left RUNNING is handed back unstarted; one aborted by lease loss
 *   is handed back (fenced); one handed back by a drain's deadline has no outcome written.
 *
 * @example
 * const runs = new RunExecutor({ workerId, capacity: 4, deps, registry, handlerEnv, outcomes, state, ... });
 * const claimed = await runs.claim(envelope);
 * if (claimed.kind === 'started') await claimed.result; // completed | journaled | refused | handed_back | dropped
 */
import type { DispatchEnvelope } from '../core/envelope';
import { UnknownHandlerError } from '../core/errors';
import type { RunOutcome } from '../core/execution';
import { type FailureLog, type Logger, runLogScope } from '../core/log';
import type { Run, RunError } from '../core/model';
import type { Clock } from '../core/ports';
import type { AgentDeps } from './agent-deps';
import type { OutcomeResult, OutcomeWriter } from './outcome-writer';
import { currentOf, isRefusedOrGone, isUnavailable } from './refusals';
import type { HandlerRegistry } from './registry';
import { type AbortCause, RunAbortedError, RunSlot } from './run-context';

/** What became of one envelope handed to the agent to execute. */
export type ExecuteResult =
  | OutcomeResult
  | { readonly kind: 'not_claimed'; readonly error: unknown }
  | { readonly kind: 'handed_back' };

/** A claim's answer: the run started (its `result` settles at its end), or the claim's error. */
export type Claimed =
  | { readonly kind: 'started'; readonly result: Promise<ExecuteResult> }
  | { readonly kind: 'not_claimed'; readonly error: unknown };

export const MAX_TIMER_MS = 2_147_483_647;

export interface RunExecutorOptions {
  readonly workerId: string;
  readonly capacity: number;
  readonly deps: Pick<AgentDeps, 'execution' | 'runs'>;
  readonly registry: HandlerRegistry;
  /** What every handler's environment starts from (handler-env.ts). */
  readonly handlerEnv: Readonly<Record<string, string>>;
  readonly outcomes: OutcomeWriter;
  /** The agent's state (agent.ts): a claimed run starts only while it is RUNNING. */
  readonly state: () => string;
  /** How often a running run with no other answer is read back for cancel. */
  readonly cancelPollMs: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly failures: FailureLog;
  /** A scheduled run's handler started `startLateMs` after its nominal instant (for the metric). */
  readonly onStarted?: (run: Run, startLateMs: number) => void;
}

export class RunExecutor {
  private readonly running = new Map<string, RunSlot>();
  /** Slots taken by claims in flight. */
  private reserved = 0;
  private slotWaiters: (() => void)[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private ticking = false;
  private endWait: (() => void) | undefined;
  private readonly deps: RunExecutorOptions['deps'];
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly options: RunExecutorOptions) {
    this.deps = options.deps;
    this.clock = options.clock;
    this.log = options.log;
  }

  /** Runs in progress. */
  get load(): number {
    return this.running.size;
  }

  /** Run ids in progress. */
  runIds(): string[] {
    return [...this.running.keys()];
  }

  /** Slots neither running nor held for a claim. */
  free(): number {
    return this.options.capacity - this.running.size - this.reserved;
  }

  hasFreeSlot(): boolean {
    return this.running.size + this.reserved < this.options.capacity;
  }

  /** Resolves when a slot is free, or when `signal` aborts. */
  slotFree(signal: AbortSignal): Promise<void> {
    if (this.hasFreeSlot()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.slotWaiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  wakeSlotWaiters(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Claims with the envelope's fence, holding a slot for the claim's round trip, and starts the run
   * if the claim is won (not before `startAt`). It does not check capacity: the caller does.
   */
  async claim(envelope: DispatchEnvelope, startAt?: number): Promise<Claimed> {
    this.reserved += 1;
    let run: Run;
    try {
      run = await this.deps.execution.claim(envelope, this.options.workerId);
    } catch (error) {
      this.reserved -= 1;
      return { kind: 'not_claimed', error };
    }
    const started = this.startClaimed(run, envelope, startAt);
    this.reserved -= 1;
    return { kind: 'started', result: started };
  }

  /** Aborts a run running here; false when it is not running here (or already aborted). */
  abort(runId: string, cause: AbortCause, reason: string): boolean {
    const slot = this.running.get(runId);
    if (!slot || slot.aborted) return false;
    slot.abort(cause, reason);
    return true;
  }

  /** Aborts every run in progress (lease loss). */
  abortAll(cause: AbortCause, reason: string): void {
    for (const slot of this.running.values()) slot.abort(cause, reason);
  }

  /** Writes pending log batches and reads back runs for cancel every `flushIntervalMs`. */
  startTicking(flushIntervalMs: number): void {
    this.ticker = setInterval(() => void this.tick(), flushIntervalMs);
  }

  stopTicking(): void {
    clearInterval(this.ticker);
  }

  /** Waits until no run is left, `deadline` passes, or `forced()` turns true (see {@link stopWaiting}). */
  async waitForRuns(deadline: number, forced: () => boolean): Promise<void> {
    while (this.running.size > 0 && !forced()) {
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(remaining, MAX_TIMER_MS));
        const pending = [...this.running.values()].map((slot) => slot.done);
        void Promise.race(pending).then(done);
        this.endWait = done;
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
      this.endWait = undefined;
    }
  }

  /** Ends the current wait of {@link waitForRuns} early (it checks `forced()` again). */
  stopWaiting(): void {
    this.endWait?.();
  }

  /**
   * A drain's deadline: hands back each run still running (fenced), aborts it, and gives the aborted
   * handlers `abortWaitMs` to return.
   */
  async handBackUnfinished(abortWaitMs: number, forced: () => boolean): Promise<void> {
    const left = [...this.running.values()].filter((slot) => !slot.aborted);
    await Promise.all(
      left.map(async (slot) => {
        slot.handedBack = await this.handBack(slot, 'worker draining: grace period over');
        slot.abort('drain', 'the worker is stopping');
      }),
    );
    await this.waitForRuns(this.clock.now() + abortWaitMs, forced);
    if (this.running.size > 0) {
      this.log.log('warn', 'handlers still running after abort; leaving them', { runIds: this.runIds() });
    }
  }

  /**
   * Starts a run this agent has just claimed — unless the agent left RUNNING while the claim was in
   * flight (its lease was lost, or a drain began): a worker that stopped taking work starts nothing,
   * so the run goes back to PENDING for another worker instead of running beside a recovery.
   */
  private startClaimed(run: Run, envelope: DispatchEnvelope, startAt?: number): Promise<ExecuteResult> {
    const state = this.options.state();
    if (state === 'RUNNING') return this.startRun(run, envelope, startAt);
    const note = `worker ${state}: claimed run not started`;
    const log = this.log.child(runLogScope(run));
    return this.deps.execution.handBack(run, note).then(
      (): ExecuteResult => {
        log.log('info', 'run handed back', { note });
        return { kind: 'handed_back' };
      },
      (error: unknown): ExecuteResult => {
        log.log('warn', 'claimed run could not be handed back; the monitor recovers it', { note, error });
        return { kind: 'handed_back' };
      },
    );
  }

  private startRun(run: Run, envelope: DispatchEnvelope, startAt?: number): Promise<ExecuteResult> {
    const slot = new RunSlot(envelope, run, this.clock.now(), () => void this.flush(slot));
    this.running.set(run.runId, slot);
    const result = this.runToEnd(slot, startAt).finally(() => {
      this.running.delete(run.runId);
      this.wakeSlotWaiters();
    });
    slot.done = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /**
   * Runs what the claimed record says (handler, payload, attempt, deadline), never what the envelope
   * said — not before `startAt` (a LOCAL fire decided ahead of its instant holds its slot until then;
   * aborted meanwhile, it ends as an aborted handler would, without the handler being called).
   */
  private async runToEnd(slot: RunSlot, startAt?: number): Promise<ExecuteResult> {
    const { run } = slot;
    const log = this.log.child(runLogScope(run));
    const early = startAt === undefined ? 0 : startAt - this.clock.now();
    if (early > 0) await sleep(early, slot.signal);
    const abortedEarly: unknown = slot.aborted ? slot.signal.reason : undefined;
    const startedAt = this.clock.now();
    const startLateMs = lateness(run, startedAt);
    if (startLateMs !== undefined && abortedEarly === undefined) this.options.onStarted?.(run, startLateMs);
    const untilDeadline = slot.deadlineAt - startedAt;
    const deadline = setTimeout(
      () => slot.abort('deadline', `deadline ${new Date(slot.deadlineAt).toISOString()} passed`),
      Math.min(MAX_TIMER_MS, Math.max(0, untilDeadline)),
    );
    log.log('info', 'run started', {
      handler: run.handler,
      attempt: run.attempt,
      fence: run.fence,
      jobVersion: run.jobVersion,
      ...(startLateMs === undefined ? {} : { startLateMs }),
    });
    let outcome: RunOutcome;
    try {
      if (abortedEarly !== undefined) throw abortedEarly;
      const handler = this.options.registry.get(run.handler);
      const result = await handler(slot.context(this.options.handlerEnv));
      outcome = { status: 'SUCCEEDED', ...(result === undefined ? {} : { result }) };
    } catch (error) {
      outcome = failure(slot, error);
    } finally {
      clearTimeout(deadline);
    }
    log.log(outcome.status === 'SUCCEEDED' ? 'info' : 'warn', 'handler finished', {
      status: outcome.status,
      durationMs: this.clock.now() - startedAt,
      ...('error' in outcome && outcome.error ? { error: outcome.error } : {}),
      ...(slot.cause ? { abortCause: slot.cause } : {}),
    });
    if (slot.handedBack) return { kind: 'handed_back' };
    if (slot.cause === 'superseded') {
      log.log('info', 'the run is no longer this attempt’s; outcome not written');
      return { kind: 'dropped', why: 'superseded' };
    }
    if (slot.cause === 'lease_lost' && outcome.status !== 'SUCCEEDED') {
      await this.flush(slot, true);
      return (await this.handBack(slot, 'worker lost its lease'))
        ? { kind: 'handed_back' }
        : { kind: 'refused', outcome };
    }
    await this.flush(slot, true);
    return this.options.outcomes.write(
      startLateMs === undefined ? slot.run : { ...slot.run, startLateMs },
      outcome,
      log,
    );
  }

  /** Hands a run back (fenced). False when refused or unavailable. */
  private async handBack(slot: RunSlot, note: string): Promise<boolean> {
    const log = this.log.child(runLogScope(slot.run));
    try {
      await this.deps.execution.handBack(slot.run, note);
      log.log('info', 'run handed back', { note });
      return true;
    } catch (error) {
      if (isRefusedOrGone(error)) {
        log.log('warn', 'hand-back refused by the fence: the run belongs to another attempt now', {
          fence: slot.run.fence,
          status: currentOf(error)?.status,
          owner: currentOf(error)?.workerId,
        });
      } else {
        log.log('error', 'hand-back failed', { error });
      }
      return false;
    }
  }

  // ── log, progress and cancel ─────────────────────────────────────────────────────────────────

  /** One tick: write pending log batches, and read back runs that had no answer for cancelPollMs. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const pollMs = this.options.cancelPollMs;
      await Promise.all(
        [...this.running.values()].map(async (slot) => {
          if (slot.aborted) return;
          await this.flush(slot);
          if (this.options.outcomes.outage || slot.aborted || this.clock.now() - slot.lastContactAt < pollMs)
            return;
          try {
            const current = await this.deps.runs.get(slot.run.runId);
            slot.lastContactAt = this.clock.now();
            check(slot, current);
          } catch (error) {
            this.log.log('debug', 'cancel poll failed', { runId: slot.run.runId, error });
          }
        }),
      );
    } finally {
      this.ticking = false;
    }
  }

  /** Writes a slot's pending log lines and progress; `final` also notes lines over the cap. */
  private async flush(slot: RunSlot, final = false): Promise<void> {
    const batch = slot.takeBatch(final);
    if (!batch) return;
    const log = this.log.child(runLogScope(slot.run));
    const { outcomes } = this.options;
    // While AWS does not answer, log lines go to the journal (progress is not worth journaling).
    if (outcomes.outage) {
      await outcomes.journalLines(slot.run, batch.lines, log);
      return;
    }
    try {
      const current = await this.deps.runs.patch(slot.run.runId, {
        from: ['RUNNING'],
        fence: slot.run.fence,
        at: this.clock.now(),
        ...(batch.progress ? { progress: batch.progress } : {}),
        ...(batch.lines.length > 0 ? { appendLog: batch.lines } : {}),
      });
      slot.lastContactAt = this.clock.now();
      this.options.failures.succeeded('log lines');
      check(slot, current);
    } catch (error) {
      if (isRefusedOrGone(error)) {
        check(slot, currentOf(error) ?? null);
      } else if (isUnavailable(error)) {
        this.options.failures.failed('log lines', 'control plane unavailable: log lines journaled', {
          runId: slot.run.runId,
          error,
        });
        await outcomes.journalLines(slot.run, batch.lines, log);
      } else {
        this.options.failures.failed(
          'log lines',
          'log lines could not be written; retrying at the next flush',
          { runId: slot.run.runId, error },
        );
        slot.restore(batch);
      }
    }
  }
}

/** Aborts the handler if the run was cancelled or is no longer this attempt's. */
function check(slot: RunSlot, current: Run | null | undefined): void {
  if (slot.aborted) return;
  if (!current) {
    slot.abort('superseded', 'the run no longer exists');
  } else if (current.fence !== slot.run.fence || current.status !== 'RUNNING') {
    slot.abort('superseded', `the run is now ${current.status} (fence ${current.fence})`);
  } else if (current.cancelRequested) {
    slot.abort('cancelled', 'cancel requested');
  }
}

function failure(slot: RunSlot, error: unknown): RunOutcome {
  const aborted = slot.signal.reason instanceof RunAbortedError ? slot.signal.reason : undefined;
  if (slot.cause === 'cancelled') {
    return { status: 'CANCELLED', error: { code: 'cancelled', message: aborted?.message ?? 'cancelled' } };
  }
  if (slot.cause === 'deadline') {
    return {
      status: 'TIMED_OUT',
      error: {
        code: 'deadline_exceeded',
        message: aborted?.message ?? 'deadline passed',
        ...stackOf(error),
      },
    };
  }
  return { status: 'FAILED', error: runError(error) };
}

/** A handler's failure as the run records it: a stable code, the message and the stack. */
export function runError(error: unknown): RunError {
  if (error instanceof UnknownHandlerError) return { code: error.code, message: error.message };
  const code =
    typeof (error as { code?: unknown } | null)?.code === 'string'
      ? String((error as { code: string }).code)
      : 'handler_error';
  const message = error instanceof Error ? error.message : `handler threw ${safeString(error)}`;
  return { code, message: message.slice(0, 4096), ...stackOf(error) };
}

function stackOf(error: unknown): { stack?: string } {
  return error instanceof Error && error.stack ? { stack: error.stack.slice(0, 8192) } : {};
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * How late a scheduled run's handler started after the fire's nominal instant (ms, by this host's
 * clock); undefined for manual and dependent runs, which have no instant to keep.
 */
function lateness(run: Run, startedAt: number): number | undefined {
  if (run.trigger !== 'SCHEDULE' && run.trigger !== 'LOCAL') return undefined;
  return Math.round(startedAt - Date.parse(run.scheduledTime));
}
