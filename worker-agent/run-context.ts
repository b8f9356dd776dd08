/**
 * One run in progress on this agent: its abort controller, the HandlerContext given to the handler,
 * and the batch of log lines and progress waiting to be written with the run.
 *
 * Log lines are capped so a chatty handler cannot push the run record past DynamoDB's 400 KB item
 * limit: each line at {@link MAX_LOG_LINE_CHARS} characters, each run at {@link MAX_RUN_LOG_CHARS}
 * in total; past that, lines are counted and one `[clover] ... lines not stored` line says how many.
 *
 * @example
 * const slot = new RunSlot(envelope, run, Date.now(), () => agent.flushSoon());
 * await handler(slot.context(baseHandlerEnv(process.env, config.handlerEnv.passThrough)));
 * const batch = slot.takeBatch(); // { lines, progress } to write, or undefined
 */
import type { DispatchEnvelope } from '../core/envelope';
import type { Run } from '../core/model';
import type { HandlerContext } from './handler';
import { runEnv } from './handler-env';

/** Longest log line stored; longer lines are cut and marked. */
export const MAX_LOG_LINE_CHARS = 4096;
/** Most log characters stored with one run. */
export const MAX_RUN_LOG_CHARS = 128 * 1024;
/** A batch this long is written without waiting for the next flush tick. */
export const LOG_BATCH_LINES = 100;
const MAX_PROGRESS_MESSAGE = 1024;

/** Why a run's signal was aborted; decides what the agent writes afterwards. */
export type AbortCause =
  /** cancelRequested on the run: the outcome is written as CANCELLED. */
  | 'cancelled'
  /** The run's deadline passed: TIMED_OUT with code `deadline_exceeded`. */
  | 'deadline'
  /** The run is no longer this attempt's (cancelled, timed out, re-dispatched): nothing is written. */
  | 'superseded'
  /** The worker lost its lease: the run is handed back (a fenced write the new owner's fence refuses). */
  | 'lease_lost'
  /** Drain's grace ran out: the run was handed back before the abort; nothing else is written. */
  | 'drain';

export interface ProgressReport {
  readonly percent: number;
  readonly message: string;
}

export interface RunBatch {
  readonly lines: string[];
  readonly progress: ProgressReport | undefined;
}

export class RunSlot {
  readonly controller = new AbortController();
  cause: AbortCause | undefined;
  /** True once drain handed the run back: its outcome is not written. */
  handedBack = false;
  /** Epoch ms of the last answer about this run from the control plane (claim, patch or read). */
  lastContactAt: number;
  /** Settles when the run's outcome has been written, journaled or dropped. */
  done: Promise<void> = Promise.resolve();
  private lines: string[] = [];
  private progressValue: ProgressReport | undefined;
  private storedChars = 0;
  private dropped = 0;

  constructor(
    readonly envelope: DispatchEnvelope,
    /** The run as claimed (RUNNING, this attempt's fence). */
    readonly run: Run,
    now: number,
    /** Called when a batch is full and should be written now. */
    private readonly onBatchFull: () => void = () => {},
  ) {
    this.lastContactAt = now;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  /** Aborts the handler's signal once; the first cause wins. */
  abort(cause: AbortCause, message: string): void {
    if (this.aborted) return;
    this.cause = cause;
    this.controller.abort(new RunAbortedError(cause, message));
  }

  /** When the attempt must be done: the record's deadline (the claim checked the envelope's against it). */
  get deadlineAt(): number {
    return this.run.deadlineAt ?? this.envelope.deadlineAt;
  }

  /**
   * The context handed to the handler, from the run record the claim returned — never from the
   * envelope, which is only a pointer to the run (invariant 6).
   */
  context(baseEnv: Readonly<Record<string, string>>): HandlerContext {
    const { run } = this;
    const fields = {
      jobId: run.jobId,
      runId: run.runId,
      scheduledTime: run.scheduledTime,
      attempt: run.attempt,
      payload: run.payload ?? null,
      deadlineAt: this.deadlineAt,
      upstream: run.upstream ?? [],
      ...(run.traceId ? { traceId: run.traceId } : {}),
    };
    return {
      ...fields,
      signal: this.signal,
      env: runEnv(baseEnv, run.env, fields),
      progress: (percent, message) => this.progress(percent, message),
      log: (line) => this.log(line),
    };
  }

  log(line: string): void {
    let text = String(line);
    if (text.length > MAX_LOG_LINE_CHARS) text = `${text.slice(0, MAX_LOG_LINE_CHARS)}… [cut]`;
    if (this.storedChars + text.length > MAX_RUN_LOG_CHARS) {
      this.dropped += 1;
      return;
    }
    this.storedChars += text.length;
    this.lines.push(text);
    if (this.lines.length >= LOG_BATCH_LINES) this.onBatchFull();
  }

  progress(percent: number, message = ''): void {
    const value = Number.isFinite(percent) ? Math.min(100, Math.max(0, percent)) : 0;
    this.progressValue = { percent: value, message: String(message).slice(0, MAX_PROGRESS_MESSAGE) };
  }

  /** Takes what is waiting to be written; `final` adds the count of lines over the cap. */
  takeBatch(final = false): RunBatch | undefined {
    const lines = this.lines;
    if (final && this.dropped > 0) {
      lines.push(`[clover] ${this.dropped} more log lines not stored (over ${MAX_RUN_LOG_CHARS} characters)`);
      this.dropped = 0;
    }
    const progress = this.progressValue;
    if (lines.length === 0 && progress === undefined) return undefined;
    this.lines = [];
    this.progressValue = undefined;
    return { lines, progress };
  }

  /** Puts a batch that could not be written back in front of what came since (progress: the newer wins). */
  restore(batch: RunBatch): void {
    this.lines = [...batch.lines, ...this.lines];
    this.progressValue ??= batch.progress;
  }
}

/** The reason a run's AbortSignal carries. */
export class RunAbortedError extends Error {
  constructor(
    readonly abortCause: AbortCause,
    message: string,
  ) {
    super(message);
    this.name = 'RunAbortedError';
  }
}
