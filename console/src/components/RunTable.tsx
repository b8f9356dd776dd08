import { Link } from 'react-router';
import type { RunSummary } from '../api/types';
import { formatDuration, formatInstant } from '../format';
import { StatusBadge } from './ui';

/**
 * How late the run started after its scheduled instant: the handler's own start as the worker
 * recorded it (`startLateMs`), else the claim's time (which a fire decided ahead precedes).
 */
export function runLateness(
  run: Pick<RunSummary, 'startedAt' | 'scheduledTime' | 'startLateMs'>,
): number | undefined {
  if (run.startLateMs !== undefined) return run.startLateMs;
  return run.startedAt === undefined ? undefined : run.startedAt - Date.parse(run.scheduledTime);
}

export function runDuration(
  run: Pick<RunSummary, 'startedAt' | 'finishedAt'>,
  now = Date.now(),
): number | undefined {
  return run.startedAt === undefined ? undefined : (run.finishedAt ?? now) - run.startedAt;
}

export function RunTable({ runs, showJob = true }: { runs: readonly RunSummary[]; showJob?: boolean }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Run</th>
            {showJob && <th scope="col">Job</th>}
            <th scope="col">Status</th>
            <th scope="col">Trigger</th>
            <th scope="col">Attempt</th>
            <th scope="col">Worker</th>
            <th scope="col">Late by</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.runId}>
              <td>
                <Link to={`/runs/${encodeURIComponent(run.runId)}`}>{formatInstant(run.scheduledTime)}</Link>
              </td>
              {showJob && (
                <td>
                  <Link to={`/jobs/${encodeURIComponent(run.jobId)}`}>{run.jobId}</Link>
                </td>
              )}
              <td>
                <StatusBadge status={run.status} />
                {run.reason && <span className="muted small"> {run.reason}</span>}
              </td>
              <td>{run.trigger}</td>
              <td>{run.attempt}</td>
              <td>{run.workerId ?? '—'}</td>
              <td>{formatDuration(runLateness(run))}</td>
              <td>{formatDuration(runDuration(run))}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
