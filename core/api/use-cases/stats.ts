import { API_LIMITS, type Stats } from '../schemas';
import { DAY_MS, UseCases, type WindowInput } from './shared';

/** Runs per status per hour, success rate, duration and lateness over a window. */
export class StatsUseCases extends UseCases {
  async get(query: WindowInput & { jobId?: string | undefined }): Promise<Stats> {
    const window = this.window(query, undefined, {}, DAY_MS);
    const hours = new Map<string, Record<string, number>>();
    const totals: Record<string, number> = {};
    const durations: number[] = [];
    const lateness: number[] = [];
    let runs = 0;
    const pageSize = 1000;
    const result = await this.deps.reads.walkRuns(
      { ...(query.jobId ? { jobId: query.jobId } : {}), ...window },
      (run) => {
        runs++;
        const hour = `${run.scheduledTime.slice(0, 13)}:00:00Z`;
        const counts = hours.get(hour) ?? {};
        counts[run.status] = (counts[run.status] ?? 0) + 1;
        hours.set(hour, counts);
        totals[run.status] = (totals[run.status] ?? 0) + 1;
        if (run.startedAt !== undefined && run.finishedAt !== undefined)
          durations.push(run.finishedAt - run.startedAt);
        // The handler's own start when the worker recorded it (a fire decided ahead is claimed early).
        const late = run.startLateMs ?? (run.startedAt ?? Number.NaN) - Date.parse(run.scheduledTime);
        if (!Number.isNaN(late)) lateness.push(Math.max(0, late));
        return runs < API_LIMITS.maxStatsRuns;
      },
      { maxReads: Math.ceil(API_LIMITS.maxStatsRuns / pageSize) + API_LIMITS.maxWindowDays, pageSize },
    );
    const finished = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'LOST', 'NO_WORKER'].reduce(
      (sum, s) => sum + (totals[s] ?? 0),
      0,
    );
    return {
      from: new Date(window.from).toISOString(),
      to: new Date(window.to).toISOString(),
      hours: [...hours.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([hour, counts]) => ({ hour, counts })),
      totals,
      successRate: finished ? (totals.SUCCEEDED ?? 0) / finished : null,
      durationMs: percentiles(durations),
      latenessMs: percentiles(lateness),
      runs,
      truncated: result.next !== undefined,
    };
  }
}

function percentiles(values: number[]): { p50: number | null; p95: number | null } {
  if (values.length === 0) return { p50: null, p95: null };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? null;
  return { p50: at(0.5), p95: at(0.95) };
}
