/**
 * The outage journal: while the control plane does not answer, the agent appends run outcomes and log
 * batches here, and replays them in order once it answers again (invariant 5: nothing is lost).
 *
 * On disk: JSON-lines segment files `segment-<12-digit seq>.jsonl` in one directory, read in sequence
 * order. Guarantees:
 * - `append` resolves only after the line is written and fsync'd (datasync), and the directory entry of
 *   a new segment is fsync'd too: a resolved append survives a crash or power loss.
 * - Appends are written in call order. A process never appends to a segment an earlier process wrote,
 *   and a failed append closes its segment, so a torn line (no final newline) can only be the last line of
 *   a segment; it was never acknowledged and is skipped with a warning. Any other unreadable line is
 *   skipped and logged as an error.
 * - `replay(apply)` first seals the current segment (new appends go to a new, later one, so replay never
 *   races them), then calls `apply` for each entry in order. It stops at the first entry whose `apply`
 *   throws: that entry and everything after it stay, in order, for the next replay. A fully applied
 *   segment is deleted; a partly applied one is rewritten (temp file, fsync, atomic rename, directory
 *   fsync) without the applied entries.
 * - Delivery to `apply` is at-least-once: a crash after `apply` succeeded but before its segment was
 *   compacted replays those entries again. `apply` must therefore be idempotent — outcomes are fenced
 *   writes, so a repeat (or a write the fence now rejects) should be treated as applied, and only
 *   transient failures (control plane still unavailable) thrown.
 *
 * @example
 * const journal = new Journal({ dir: config.journalDir, logger });
 * await journal.append({ kind: 'outcome', runId, fence, attempt, outcome, at: Date.now() });
 * const { applied, pending } = await journal.replay(async (entry) => applyToControlPlane(entry));
 */
import { chmod, type FileHandle, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { RunOutcome } from '../core/execution';
import { type Logger, silentLogger } from '../core/log';
import { EpochMsSchema, RunErrorSchema } from '../core/model';
import { openPrivate, PRIVATE_FILE_MODE, privateDir, writePrivateFile } from '../core/private-files';

const RunOutcomeSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('SUCCEEDED'), result: z.unknown().optional() }),
  z.object({ status: z.literal('FAILED'), error: RunErrorSchema }),
  z.object({ status: z.literal('TIMED_OUT'), error: RunErrorSchema }),
  z.object({ status: z.literal('CANCELLED'), error: RunErrorSchema.optional() }),
]);

const RunRefSchema = {
  runId: z.string().min(1).max(256),
  fence: z.number().int().min(1),
  at: EpochMsSchema,
};

export const JournalEntrySchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('outcome'),
    ...RunRefSchema,
    attempt: z.number().int().min(1),
    outcome: RunOutcomeSchema,
  }),
  z.object({ kind: z.literal('log'), ...RunRefSchema, lines: z.array(z.string()) }),
]);

/** A run's final outcome, as the agent would have written it with `RunExecution.complete`. */
export interface OutcomeEntry {
  readonly kind: 'outcome';
  readonly runId: string;
  readonly fence: number;
  readonly attempt: number;
  readonly outcome: RunOutcome;
  readonly at: number;
}

/** A batch of a run's log lines. */
export interface LogEntry {
  readonly kind: 'log';
  readonly runId: string;
  readonly fence: number;
  readonly lines: readonly string[];
  readonly at: number;
}

export type JournalEntry = OutcomeEntry | LogEntry;

export interface ReplayResult {
  /** Entries applied (and removed from the journal) by this replay. */
  readonly applied: number;
  /** Entries left on disk for a later replay, including any appended while this one ran. */
  readonly pending: number;
  /** What the first failing `apply` threw; absent when every entry was applied. */
  readonly error?: unknown;
}

export interface JournalOptions {
  /** Directory of the segment files; created if missing. */
  readonly dir: string;
  readonly logger?: Logger;
}

const SEGMENT = /^segment-(\d{12})\.jsonl$/;
/** A compaction's temp file (writePrivateFile's); one left behind was never renamed into place, so its segment is intact. */
const TEMP = /^segment-\d{12}\.jsonl\.tmp$/;

function segmentName(seq: number): string {
  return `segment-${String(seq).padStart(12, '0')}.jsonl`;
}

export class Journal {
  private readonly dir: string;
  private readonly log: Logger;
  private ready: Promise<void> | undefined;
  private nextSeq = 1;
  private active: { readonly seq: number; readonly handle: FileHandle } | undefined;
  /** Serializes appends and sealing, so lines land in call order and never interleave. */
  private queue: Promise<void> = Promise.resolve();
  private replaying = false;

  constructor(options: JournalOptions) {
    this.dir = options.dir;
    this.log = (options.logger ?? silentLogger).child({ component: 'journal' });
  }

  /** Appends one entry; resolves once it is on stable storage. Rejects (and writes nothing usable) on I/O failure. */
  append(entry: JournalEntry): Promise<void> {
    const parsed = JournalEntrySchema.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return Promise.reject(
        new TypeError(`journal entry ${issue?.path.join('.') || ''}: ${issue?.message ?? 'invalid'}`),
      );
    }
    const line = `${JSON.stringify(entry)}\n`;
    return this.enqueue(async () => {
      const active = this.active ?? (await this.openSegment());
      try {
        await active.handle.appendFile(line, 'utf8');
        await active.handle.datasync();
      } catch (error) {
        // The segment may now end in a torn line: never write after it.
        await this.seal();
        throw error;
      }
    });
  }

  /**
   * Applies every journaled entry in order and removes what was applied. Stops at the first `apply`
   * that throws and keeps that entry and the rest. Only one replay runs at a time.
   */
  async replay(apply: (entry: JournalEntry) => Promise<void>): Promise<ReplayResult> {
    if (this.replaying) throw new Error('journal replay already in progress');
    this.replaying = true;
    try {
      let limit = 0;
      await this.enqueue(async () => {
        await this.seal();
        limit = this.nextSeq;
      });
      let applied = 0;
      for (const seq of await this.segments()) {
        if (seq >= limit) break;
        const path = join(this.dir, segmentName(seq));
        const entries = await this.readSegment(path, true);
        let done = 0;
        let failure: { error: unknown } | undefined;
        for (const entry of entries) {
          try {
            await apply(entry);
          } catch (error) {
            failure = { error };
            break;
          }
          done += 1;
        }
        applied += done;
        if (failure) {
          if (done > 0) await this.rewrite(path, entries.slice(done));
          // The caller reports it (once per outage, not once per attempt): debug here.
          this.log.log('debug', 'journal replay stopped; the rest is kept for the next replay', {
            applied,
            error: failure.error,
          });
          return { applied, pending: await this.pending(), error: failure.error };
        }
        await rm(path, { force: true });
        await this.syncDir();
      }
      return { applied, pending: await this.pending() };
    } finally {
      this.replaying = false;
    }
  }

  /** Entries on disk awaiting replay (complete lines only). */
  async pending(): Promise<number> {
    let count = 0;
    for (const seq of await this.segments()) {
      count += (await this.readSegment(join(this.dir, segmentName(seq)), false)).length;
    }
    return count;
  }

  /** Waits for pending appends and closes the open segment. Appending later opens a new one. */
  close(): Promise<void> {
    return this.enqueue(() => this.seal());
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => this.init()).then(task);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Creates the directory, removes leftovers of interrupted compactions, and starts after the last segment. */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      // Owner-only: entries hold run outcomes and log lines. A journal from before that rule is tightened.
      await privateDir(this.dir);
      for (const name of await readdir(this.dir)) {
        if (TEMP.test(name)) {
          await rm(join(this.dir, name), { force: true });
        } else if (SEGMENT.test(name)) {
          await chmod(join(this.dir, name), PRIVATE_FILE_MODE);
        }
      }
      const existing = await this.listSegments();
      this.nextSeq = (existing.at(-1) ?? 0) + 1;
    })();
    return this.ready;
  }

  private async segments(): Promise<number[]> {
    await this.init();
    return this.listSegments();
  }

  private async listSegments(): Promise<number[]> {
    const seqs: number[] = [];
    for (const name of await readdir(this.dir)) {
      const match = SEGMENT.exec(name);
      if (match?.[1]) seqs.push(Number(match[1]));
    }
    return seqs.sort((a, b) => a - b);
  }

  private async openSegment(): Promise<NonNullable<Journal['active']>> {
    const seq = this.nextSeq;
    this.nextSeq += 1;
    const handle = await openPrivate(join(this.dir, segmentName(seq)), 'a');
    try {
      await this.syncDir();
    } catch (error) {
      await handle.close();
      throw error;
    }
    this.active = { seq, handle };
    return this.active;
  }

  private async seal(): Promise<void> {
    const active = this.active;
    this.active = undefined;
    if (active) await active.handle.close().catch(() => {});
  }

  private async readSegment(path: string, warn: boolean): Promise<JournalEntry[]> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const lines = text.split('\n');
    const complete = text.endsWith('\n');
    const entries: JournalEntry[] = [];
    lines.forEach((line, index) => {
      if (line === '') return;
      // A line without its newline was being appended when the process died: never acknowledged, skipped.
      if (index === lines.length - 1 && !complete) {
        if (warn) {
          this.log.log('warn', 'journal: skipped a torn last line', { file: path, line: index + 1 });
        }
        return;
      }
      const entry = parseLine(line);
      if (entry) entries.push(entry);
      else if (warn) {
        this.log.log('error', 'journal: skipped an unreadable line', {
          file: path,
          line: index + 1,
          text: line.slice(0, 200),
        });
      }
    });
    return entries;
  }

  /** Replaces a segment's content atomically: temp file (`<segment>.tmp`), fsync, rename, directory fsync. */
  private async rewrite(path: string, entries: readonly JournalEntry[]): Promise<void> {
    await writePrivateFile(path, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    await this.syncDir();
  }

  private async syncDir(): Promise<void> {
    const handle = await open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

function parseLine(line: string): JournalEntry | undefined {
  try {
    const parsed = JournalEntrySchema.safeParse(JSON.parse(line));
    return parsed.success ? (parsed.data as JournalEntry) : undefined;
  } catch {
    return undefined;
  }
}

/** The file that marks a journal directory as in use by one agent process. */
export const JOURNAL_LOCK = 'agent.lock';

/** Another live agent process holds this journal directory. */
export class JournalInUseError extends Error {
  readonly code = 'conflict';

  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(
      `journal directory ${dir} is in use by another agent (pid ${pid}): give each agent process its own journalDir (--journal-dir, CLOVER_AGENT_JOURNAL_DIR); if no such agent runs, delete ${join(dir, JOURNAL_LOCK)}`,
    );
    this.name = 'JournalInUseError';
  }
}

/**
 * Takes a journal directory for this process: two agents sharing one (e.g. the default
 * `.clover/journal` of one checkout) would replay and delete each other's entries. A lock left by a
 * process that is gone (kill -9) — or by this pid, e.g. a container restarted as pid 1 — is taken
 * over. Resolves with the function that releases it.
 */
export async function lockJournalDir(dir: string): Promise<() => Promise<void>> {
  await privateDir(dir);
  const path = join(dir, JOURNAL_LOCK);
  for (let attempt = 0; ; attempt += 1) {
    try {
      const handle = await openPrivate(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder !== process.pid && pidAlive(holder)) {
      throw new JournalInUseError(dir, holder);
    }
    await rm(path, { force: true });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
