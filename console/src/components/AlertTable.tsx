import { Link } from 'react-router';
import { useAlertActions, useCan } from '../api/hooks';
import type { AlertRecord, ChannelDelivery } from '../api/types';
import { formatInstant } from '../format';
import { Badge, MutationError } from './ui';

const TONE: Readonly<Record<AlertRecord['status'], string>> = {
  PENDING: 'info',
  SENT: 'good',
  SUPPRESSED: 'neutral',
  FAILED: 'bad',
  SILENCED: 'neutral',
};

export function AlertTable({
  alerts,
  showJob = true,
}: {
  alerts: readonly AlertRecord[];
  showJob?: boolean;
}) {
  const canOperate = useCan('operator');
  const { acknowledge } = useAlertActions();
  return (
    <div className="table-wrap">
      <MutationError error={acknowledge.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">When</th>
            {showJob && <th scope="col">Job</th>}
            <th scope="col">Kind</th>
            <th scope="col">Message</th>
            <th scope="col">Delivery</th>
            <th scope="col">Taken</th>
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
                {a.deliveries?.map((d) => (
                  <Delivery key={`${d.contactId}/${d.channel}`} delivery={d} />
                ))}
              </td>
              <td>
                {a.acknowledgement ? (
                  <>
                    <Badge tone="good">acknowledged</Badge>
                    <div className="muted small">
                      by {a.acknowledgement.by}, {formatInstant(a.acknowledgement.at)}
                    </div>
                    {a.acknowledgement.comment && (
                      <div className="muted small">{a.acknowledgement.comment}</div>
                    )}
                  </>
                ) : canOperate ? (
                  <button
                    type="button"
                    aria-label={`Acknowledge the ${a.kind} alert of ${a.jobId} at ${formatInstant(a.createdAt)}`}
                    disabled={acknowledge.isPending && acknowledge.variables === a.alertId}
                    onClick={() => acknowledge.mutate(a.alertId)}
                  >
                    Acknowledge
                  </button>
                ) : (
                  <span className="muted">not yet</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** One channel's delivery: its status, and each HTTP attempt (status, or why none came) on demand. */
function Delivery({ delivery: d }: { delivery: ChannelDelivery }) {
  return (
    <details className="small delivery">
      <summary>
        {d.contactId}/{d.channel} ({d.type}){' '}
        <Badge tone={d.status === 'SENT' ? 'good' : 'bad'}>{d.status}</Badge> {d.attempts} attempt
        {d.attempts === 1 ? '' : 's'}
      </summary>
      <div className="muted">{d.target}</div>
      <ol>
        {d.history.map((h) => (
          <li key={h.at}>
            {formatInstant(h.at)}: {h.httpStatus === undefined ? 'no answer' : `HTTP ${h.httpStatus}`}
            {h.error && h.httpStatus === undefined ? ` — ${h.error}` : ''}
            {h.error && h.httpStatus !== undefined && h.error !== `HTTP ${h.httpStatus}`
              ? ` — ${h.error.replace(/^HTTP \d+: /, '')}`
              : ''}
          </li>
        ))}
      </ol>
    </details>
  );
}
