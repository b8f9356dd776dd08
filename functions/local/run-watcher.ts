import type { ApiReads } from '../../core/api/ports';
import type { Logger } from '../../core/log';
import { ACTIVE_STATUSES, isOpenStatus, OpenRunStatuses, type Run } from '../../core/model';
import type { RunLedger } from '../../core/ports';

/**
 * Runs scheduled this long before or after now are read too, final ones included: a run that
 * opens and closes between two polls (a LOCAL heartbeat lasts ~0.3 s) is in no open list at a poll.
 */
const RECENT_MS = 2 * 60_000;
/**
 * How often the recent runs are read: a run stays in the window for minutes, so reading it every few
 * seconds still sees every run, at a fraction of the emulator's load of reading it every poll.
 */
const RECENT_EVERY_MS = 5_000;

/**
 * Prints every run transition the local stack makes, whoever makes it (dispatcher, agents, monitor):
 * polls the ledger's open runs and the runs scheduled around now, and reports runs whose status or
 * attempt changed since the last poll; a run that left the open lists is read once more for its final
 * status. A run that started and ended between two polls is reported once, with its final status, by
 * the next read of the recent runs (every few seconds).
 * Local-only convenience; a deployed stack has the console for this.
 */
export class RunWatcher {
  /** The last state reported per run: open runs until they close, final ones while still recent. */
  private readonly seen = new Map<string, { state: string; final: boolean; at: number }>();
  private recentReadAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly runs: RunLedger,
    private readonly reads: Pick<ApiReads, 'walkRuns'>,
    private readonly log: Logger,
    private readonly options: { readonly now?: () => number; readonly recentEveryMs?: number } = {},
  ) {}

  /** Reports what changed; returns how many runs it saw in flight (DISPATCHED, RUNNING). */
  async poll(): Promise<number> {
    const now = (this.options.now ?? Date.now)();
    const recent: Run[] = [];
    const readRecent = now - this.recentReadAt >= (this.options.recentEveryMs ?? RECENT_EVERY_MS);
    if (readRecent) this.recentReadAt = now;
    // All four open statuses in one read: one Query per `byOpenKeys` shard, not one per shard and status.
    const [byStatus] = await Promise.all([
      this.runs.listOpen({ limits: Object.fromEntries(OpenRunStatuses.map((status) => [status, 25])) }),
      readRecent &&
        this.reads.walkRuns({ from: now - RECENT_MS, to: now + RECENT_MS }, (run) => recent.push(run) < 100, {
          maxReads: 4,
          pageSize: 100,
        }),
    ]);
    const open = Object.values(byStatus).flat();
    const inFlight = open.filter((run) => ACTIVE_STATUSES.includes(run.status)).length;
    const byId = new Map([...recent, ...open].map((run) => [run.runId, run]));
    const left = [...this.seen].filter(([runId, s]) => !s.final && !byId.has(runId)).map(([id]) => id);
    for (const run of await Promise.all(left.map((runId) => this.runs.get(runId)))) {
      if (run) byId.set(run.runId, run);
    }
    for (const run of [...byId.values()].sort((a, b) => a.updatedAt - b.updatedAt)) {
      const state = `${run.status}/${run.attempt}/${run.fence}`;
      if (this.seen.get(run.runId)?.state !== state) this.report(run);
      this.seen.set(run.runId, { state, final: !isOpenStatus(run.status), at: now });
    }
    // A final run is forgotten once it has left the recent window, so it is reported once.
    for (const [runId, s] of this.seen) if (s.final && s.at < now - 2 * RECENT_MS) this.seen.delete(runId);
    return inFlight;
  }

  private report(run: Run): void {
    const last = run.history.at(-1);
    this.log.log(run.status === 'FAILED' || run.status === 'LOST' ? 'warn' : 'info', `run ${run.status}`, {
      runId: run.runId,
      attempt: run.attempt,
      workerId: run.workerId,
      reason: run.reason,
      note: last?.note,
      error: run.error?.message,
    });
  }
}
