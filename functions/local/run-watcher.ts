import type { Logger } from '../../core/log';
import { ACTIVE_STATUSES, isOpenStatus, OpenRunStatuses, type Run } from '../../core/model';
import type { RunLedger } from '../../core/ports';

/**
 * Prints every run transition the local stack makes, whoever makes it (dispatcher, agents, monitor):
 * polls the ledger's open runs and reports runs whose status or attempt changed since the last poll;
 * a run that left the open lists is read once more for its final status. Local-only convenience; a
 * deployed stack has the console for this.
 */
export class RunWatcher {
  private readonly seen = new Map<string, string>();

  constructor(
    private readonly runs: RunLedger,
    private readonly log: Logger,
  ) {}

  /** Reports what changed; returns how many runs it saw in flight (DISPATCHED, RUNNING). */
  async poll(): Promise<number> {
    const lists = await Promise.all(
      OpenRunStatuses.map((status) => this.runs.listByStatus(status, { limit: 25 })),
    );
    const open = lists.flat();
    const inFlight = open.filter((run) => ACTIVE_STATUSES.includes(run.status)).length;
    const listed = new Set(open.map((run) => run.runId));
    const left = [...this.seen.keys()].filter((runId) => !listed.has(runId));
    const closed = (await Promise.all(left.map((runId) => this.runs.get(runId)))).filter(
      (run): run is Run => run !== null,
    );
    for (const run of [...open, ...closed].sort((a, b) => a.updatedAt - b.updatedAt)) {
      const state = `${run.status}/${run.attempt}/${run.fence}`;
      if (this.seen.get(run.runId) !== state) this.report(run);
      // A final run is reported once and forgotten; an open one is watched until it closes.
      if (!isOpenStatus(run.status)) this.seen.delete(run.runId);
      else this.seen.set(run.runId, state);
    }
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
