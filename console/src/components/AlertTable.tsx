import { Link } from 'react-router';
import type { AlertRecord } from '../api/types';
import { formatInstant } from '../format';
import { Badge } from './ui';

const TONE: Readonly<Record<AlertRecord['status'], string>> = {
  PENDING: 'info',
  SENT: 'good',
  SUPPRESSED: 'neutral',
  FAILED: 'bad',
};

export function AlertTable({
  alerts,
  showJob = true,
}: {
  alerts: readonly AlertRecord[];
  showJob?: boolean;
}) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">When</th>
            {showJob && <th scope="col">Job</th>}
            <th scope="col">Kind</th>
            <th scope="col">Message</th>
            <th scope="col">Delivery</th>
          </tr>
        </thead>
        <tbody>
          {alerts.map((a) => (
            <tr key={a.alertId}>
              <td>
                {a.runId ? (
                  <Link to={`/runs/${encodeURIComponent(a.runId)}`}>{formatInstant(a.createdAt)}</Link>
                ) : (
                  formatInstant(a.createdAt)
                )}
              </td>
              {showJob && (
                <td>
                  <Link to={`/jobs/${encodeURIComponent(a.jobId)}`}>{a.jobId}</Link>
                </td>
              )}
              <td>
                <Badge tone={a.kind === 'recovery' ? 'good' : 'bad'}>{a.kind}</Badge>
              </td>
              <td className="message">{a.message}</td>
              <td>
                <Badge tone={TONE[a.status]}>{a.status}</Badge>
                {a.recipients.length > 0 && <div className="muted small">{a.recipients.join(', ')}</div>}
                {a.reason && <div className="muted small">{a.reason}</div>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
