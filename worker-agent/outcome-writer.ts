/**
 * Writes runs' outcomes with the fence, and keeps what AWS does not take in the outage journal
 * (journal.ts) until a replay has applied it.
 *
 * - A write that fails with a retryable error (AWS did not answer) is appended to the Journal
 *   (fsync'd) instead, and from then on outcomes and log lines go to the journal, in order, until a
 *   background replay (every `replayIntervalMs`) has applied all of it. Progress is not journaled.
 * - A refused write on replay (the fence moved on) counts as applied and is logged; an outcome that
 *   was written but whose lock was not released is settled again.
 * - An entry the journal cannot take (a full or failing disk) is kept in memory, with every later one
 *   behind it, and replayed after the journal: AWS still gets it unless this process dies first.
 * - The journal directory is locked while the agent runs (one process per journal), and what an
 *   earlier process left in it is replayed on open.
 *
 * @example
 * const outcomes = new OutcomeWriter({ journalDir, deps, clock, log, failures });
 * await outcomes.open();
 * outcomes.startReplaying(2000);
 * const written = await outcomes.write(run, { status: 'SUCCEEDED' }, log); // completed | journaled | refused | dropped
 */
import type { RunOutcome } from '../core/execution';
import type { FailureLog, Logger } from '../core/log';
import { isFinal, type Run, RunStatuses } from '../core/model';
import type { Clock } from '../core/ports';
import type { AgentDeps } from './agent-deps';
import { Journal, type JournalEntry, lockJournalDir } from './journal';
import { currentOf, isRefusedOrGone, isUnavailable } from './refusals';

/** What became of one run's outcome. */
export type OutcomeResult =
  | { readonly kind: 'completed'; readonly outcome: RunOutcome }
  | { readonly kind: 'journaled'; readonly outcome: RunOutcome }
  | { readonly kind: 'refused'; readonly outcome: RunOutcome }
  | { readonly kind: 'dropped'; readonly why: string };

export interface OutcomeWriterOptions {
  readonly journalDir: string;
  readonly deps: Pick<AgentDeps, 'execution' | 'runs' | 'settle'>;
  readonly clock: Clock;
  readonly log: Logger;
  /** Shared with the agent's other parts: one line per failing call kind while AWS does not answer. */
  readonly failures: FailureLog;
}

export class OutcomeWriter {
  private readonly journal: Journal;
  private readonly deps: OutcomeWriterOptions['deps'];
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly failures: FailureLog;
  private releaseJournal: (() => Promise<void>) | undefined;
  private replayer: NodeJS.Timeout | undefined;
  /** True while the journal may hold entries: outcomes and logs go there too, to keep their order. */
  private inOutage = false;
  private journalAppends = 0;
  /** Entries the journal could not take, in order; replayed after it (see the header). */
  private readonly unjournaled: JournalEntry[] = [];
  private replaying: Promise<void> | undefined;

  constructor(private readonly options: OutcomeWriterOptions) {
    this.journal = new Journal({ dir: options.journalDir, logger: options.log });
    this.deps = options.deps;
    this.clock = options.clock;
    this.log = options.log;
    this.failures = options.failures;
  }

  /** True while writes go to the journal (AWS did not answer, and replay has not caught up). */
  get outage(): boolean {
    return this.inOutage;
  }

  /** Locks the journal directory and replays what an earlier process left in it. */
  async open(): Promise<void> {
    this.releaseJournal = await lockJournalDir(this.options.journalDir);
    if ((await this.journal.pending()) > 0) {
      this.inOutage = true;
      this.log.log('info', 'replaying the outage journal left by an earlier process', {
        pending: await this.journal.pending(),
      });
      await this.replay();
    }
  }

  /** Replays the journal every `intervalMs` while it may hold anything. */
  startReplaying(intervalMs: number): void {
    this.replayer = setInterval(() => void this.replay(), intervalMs);
  }

  stopReplaying(): void {
    clearInterval(this.replayer);
  }

  /** Writes the outcome with the fence; journals it when AWS does not answer. */
  async write(run: Run, outcome: RunOutcome, log: Logger): Promise<OutcomeResult> {
    if (this.inOutage) {
      await this.journalOutcome(run, outcome, log);
      return { kind: 'journaled', outcome };
    }
    try {
      const written = await this.deps.execution.complete(run, outcome);
      log.log('info', 'run completed', { status: written.status });
      return { kind: 'completed', outcome };
    } catch (error) {
      if (isRefusedOrGone(error)) {
        log.log('warn', 'outcome refused by the fence: the run belongs to another attempt now', {
          fence: run.fence,
          status: currentOf(error)?.status,
          owner: currentOf(error)?.workerId,
        });
        return { kind: 'refused', outcome };
      }
      if (isUnavailable(error)) {
        log.log('warn', 'control plane unavailable: outcome journaled', { error });
        await this.journalOutcome(run, outcome, log);
        return { kind: 'journaled', outcome };
      }
      log.log('error', 'outcome could not be written', { error });
      return { kind: 'dropped', why: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Journals a run's log lines (while AWS does not answer; progress is not worth journaling). */
  async journalLines(run: Run, lines: readonly string[], log: Logger): Promise<void> {
    if (lines.length === 0) return;
    await this.append({ kind: 'log', runId: run.runId, fence: run.fence, lines, at: this.clock.now() }, log);
  }

  private async journalOutcome(run: Run, outcome: RunOutcome, log: Logger): Promise<void> {
    await this.append(
      {
        kind: 'outcome',
        runId: run.runId,
        fence: run.fence,
        attempt: run.attempt,
        outcome,
        at: this.clock.now(),
      },
      log,
    );
  }

  /** To the journal, or — once it has refused an entry, until replay drains them — to memory, in order. */
  private async append(entry: JournalEntry, log: Logger): Promise<void> {
    this.inOutage = true;
    if (this.unjournaled.length > 0) {
      this.unjournaled.push(entry);
      log.log('warn', `${entry.kind} kept in memory behind entries the journal could not take`, {
        fence: entry.fence,
        inMemory: this.unjournaled.length,
      });
      return;
    }
    this.journalAppends += 1;
    try {
      await this.journal.append(entry);
      log.log('info', `journaled ${entry.kind}`, { fence: entry.fence });
    } catch (error) {
      this.unjournaled.push(entry);
      log.log(
        'error',
        `journal append failed: ${entry.kind} kept in memory until AWS answers (lost if this process dies first)`,
        { error },
      );
    } finally {
      this.journalAppends -= 1;
    }
  }

  /** Replays the journal if it may hold anything; one replay at a time. */
  replay(): Promise<void> {
    if (!this.inOutage) return Promise.resolve();
    this.replaying ??= (async () => {
      try {
        // A journal that cannot even be read (a failing disk) must not hold back what memory has.
        const fromDisk = await this.journal
          .replay((entry) => this.apply(entry))
          .catch((error: unknown) => ({ applied: 0, pending: 1, error, unreadable: true }));
        const fromMemory =
          fromDisk.error === undefined || 'unreadable' in fromDisk
            ? await this.replayUnjournaled()
            : { applied: 0, error: undefined };
        const result = {
          applied: fromDisk.applied + fromMemory.applied,
          pending: fromDisk.pending + this.unjournaled.length,
          error: fromDisk.error ?? fromMemory.error,
        };
        if (result.applied > 0 || result.error === undefined) {
          this.log.log('info', 'journal replayed', { applied: result.applied, pending: result.pending });
        }
        if (result.pending === 0 && this.journalAppends === 0) this.inOutage = false;
        if (result.error === undefined) this.failures.succeeded('journal replay');
        else
          this.failures.failed(
            'journal replay',
            'journal replay stopped; the rest is kept for the next replay',
            {
              pending: result.pending,
              error: result.error,
            },
          );
      } catch (error) {
        this.failures.failed('journal replay', 'journal replay failed; retrying later', { error });
      } finally {
        this.replaying = undefined;
      }
    })();
    return this.replaying;
  }

  /** Applies the entries held in memory, in order, until one fails (it stays, with those behind it). */
  private async replayUnjournaled(): Promise<{ applied: number; error: unknown }> {
    let applied = 0;
    for (let entry = this.unjournaled[0]; entry !== undefined; entry = this.unjournaled[0]) {
      try {
        await this.apply(entry);
      } catch (error) {
        return { applied, error };
      }
      this.unjournaled.shift();
      applied += 1;
    }
    return { applied, error: undefined };
  }

  /** Applies one journaled entry; a write the fence refuses counts as applied. Throws only when AWS does not answer. */
  private async apply(entry: JournalEntry): Promise<void> {
    const log = this.log.child({ runId: entry.runId });
    try {
      if (entry.kind === 'log') {
        await this.deps.runs.patch(entry.runId, {
          from: RunStatuses,
          fence: entry.fence,
          at: this.clock.now(),
          appendLog: [...entry.lines],
        });
        return;
      }
      const current = await this.deps.runs.get(entry.runId);
      if (!current) {
        log.log('warn', 'journaled outcome dropped: the run no longer exists');
        return;
      }
      if (current.fence !== entry.fence || current.status !== 'RUNNING') {
        if (current.fence === entry.fence && isFinal(current)) {
          // Written before (a crash or an outage between the transition and the lock release): settle again.
          await this.deps.settle(current);
          log.log('info', 'journaled outcome was already written', { status: current.status });
        } else {
          log.log('warn', 'journaled outcome refused by the fence: the run belongs to another attempt now', {
            fence: entry.fence,
            status: current.status,
            currentFence: current.fence,
          });
        }
        return;
      }
      const written = await this.deps.execution.complete(
        { ...current, attempt: entry.attempt },
        entry.outcome,
      );
      log.log('info', 'journaled outcome written', { status: written.status });
    } catch (error) {
      if (isRefusedOrGone(error)) {
        log.log('warn', `journaled ${entry.kind} refused by the fence; dropped`, {
          fence: entry.fence,
          status: currentOf(error)?.status,
        });
        return;
      }
      throw error;
    }
  }

  /** At exit, after the last replay: what is left (entries in memory are lost; the journal's are replayed by the next start). */
  reportLeftovers(): void {
    if (this.unjournaled.length > 0) {
      this.log.log('error', 'entries the journal could not take are lost at exit', {
        lost: this.unjournaled.map((entry) => `${entry.kind} ${entry.runId}`),
      });
    }
    if (this.inOutage) {
      this.log.log('warn', 'journal not empty at exit; the next start replays it', {
        dir: this.options.journalDir,
      });
    }
  }

  /** Closes the journal and unlocks its directory. */
  async close(): Promise<void> {
    await this.journal.close();
    await this.releaseJournal?.();
  }
}
