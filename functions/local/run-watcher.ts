import type { Logger } from '../../core/log';
import { type Run, RunStatuses } from '../../core/model';
import type { RunLedger } from '../../core/ports';

/**
 * Prints every run transition the local stack makes, whoever makes it (dispatcher, agents, monitor):
 * polls the ledger's status index and reports runs whose status or attempt changed since the last
 * poll. Local-only convenience; a deployed stack has the console for this.
 */
export class RunWatcher {
  private readonly seen = new Map<string, string>();

  constructor(
    private readonly runs: RunLedger,
    private readonly log: Logger,
  ) {}

  async poll(): Promise<void> {
    const lists = await Promise.all(
      RunStatuses.map((status) => this.runs.listByStatus(status, { limit: 25 })),
    );
    for (const run of lists.flat().sort((a, b) => a.updatedAt - b.updatedAt)) {
      const state = `${run.status}/${run.attempt}/${run.fence}`;
      if (this.seen.get(run.runId) === state) continue;
      this.seen.set(run.runId, state);
      this.report(run);
    }
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
