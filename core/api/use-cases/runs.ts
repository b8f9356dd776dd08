import { NotFoundError, RunNotInStateError } from '../../errors';
import { isFinal, type Run } from '../../model';
import { decodeCursor, encodeCursor } from '../cursor';
import { API_LIMITS, type ErrorSearchResult, type Page, type RunLog, type RunSummary } from '../schemas';
import { type PageInput, type Principal, UseCases, type WindowInput } from './shared';

/** Listing, reading, tailing and cancelling runs, and searching their errors and logs. */
export class RunUseCases extends UseCases {
  async list(
    query: PageInput &
      WindowInput & {
        jobId?: string | undefined;
        status?: Run['status'] | undefined;
        workerId?: string | undefined;
      },
  ): Promise<Page<RunSummary>> {
    const { limit, cursor, from, to, ...filter } = query;
    return this.windowedPage(
      query,
      { list: 'runs', from, to, ...filter },
      (window, visit, options) => this.deps.reads.walkRuns({ ...filter, ...window }, visit, options),
      summary,
      limit,
    );
  }

  async get(runId: string): Promise<Run> {
    const run = await this.deps.runs.get(runId);
    if (!run) throw new NotFoundError('run', runId);
    return run;
  }

  async log(runId: string, query: { cursor?: string | undefined; limit: number }): Promise<RunLog> {
    const run = await this.get(runId);
    const key = { list: 'log', runId };
    const start = query.cursor ? Number(decodeCursor(query.cursor, key).position.key?.index ?? 0) : 0;
    const log = run.log ?? [];
    const lines = log.slice(start, start + query.limit).map((message, i) => ({ index: start + i, message }));
    const next = start + lines.length;
    return {
      runId,
      status: run.status,
      lines,
      nextCursor: encodeCursor(key, { segment: 'log', key: { index: next } }),
      complete: isFinal(run) && next >= log.length,
    };
  }

  async cancel(principal: Principal, runId: string): Promise<Run> {
    const before = await this.get(runId);
    if (isFinal(before))
      throw new RunNotInStateError(runId, ['PENDING', 'DISPATCHED', 'RUNNING', 'NO_WORKER'], before);
    const now = this.deps.clock.now();
    // Fenced on what was read: if the run moved meanwhile, this is a 409, never an overwrite.
    const run = await this.deps.runs.transition(runId, {
      from: [before.status],
      fence: before.fence,
      to: 'CANCELLED',
      at: now,
      note: `cancelled by ${principal.subject}`,
      set: { cancelRequested: true, finishedAt: now, reason: 'cancelled' },
      unset: ['nextAttemptAt'],
    });
    await this.deps.dispatcher.settle(run);
    await this.record(principal, 'run.cancel', `run:${runId}`, summary(before), summary(run));
    return run;
  }

  async searchErrors(
    query: PageInput & WindowInput & { q: string; jobId?: string | undefined },
  ): Promise<ErrorSearchResult> {
    const { limit, cursor, from, to, q, jobId } = query;
    const key = { list: 'search', from, to, q, jobId };
    const window = this.window({ from, to }, cursor, key);
    const needle = q.toLowerCase();
    const items: ErrorSearchResult['items'] = [];
    const start = cursor ? decodeCursor(cursor, key).position : undefined;
    const pageSize = 200;
    const result = await this.deps.reads.walkRuns(
      { ...(jobId ? { jobId } : {}), ...window },
      (run) => {
        const base = { runId: run.runId, jobId: run.jobId, at: run.scheduledTime };
        if (run.error?.message.toLowerCase().includes(needle)) {
          items.push({ ...base, kind: 'error', text: run.error.message });
        }
        for (const line of run.log ?? []) {
          if (line.toLowerCase().includes(needle)) items.push({ ...base, kind: 'log', text: line });
        }
        return items.length < limit;
      },
      {
        ...(start ? { start } : {}),
        maxReads: Math.ceil(API_LIMITS.maxSearchedRunsPerPage / pageSize),
        pageSize,
      },
    );
    return {
      items,
      ...(result.next ? { nextCursor: encodeCursor(key, result.next, window.state) } : {}),
      scanned: result.visited,
    };
  }
}

function summary(run: Run): RunSummary {
  const { log: _log, payload: _payload, result: _result, ...rest } = run;
  return rest;
}
