import type { AuditRecord } from '../api/types';
import { formatInstant } from '../format';

/** Who did what, when; the before and after of each change open on demand. */
export function AuditTable({ records }: { records: readonly AuditRecord[] }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Entity</th>
            <th scope="col">Change</th>
          </tr>
        </thead>
        <tbody>
          {records.map((r) => (
            <tr key={r.auditId}>
              <td>{formatInstant(r.at)}</td>
              <td>
                {r.actor.subject} <span className="muted small">({r.actor.role})</span>
              </td>
              <td>
                <code>{r.action}</code>
              </td>
              <td>
                <code>{r.entity}</code>
              </td>
              <td>
                {r.before === undefined && r.after === undefined ? (
                  <span className="muted">—</span>
                ) : (
                  <details>
                    <summary>before / after</summary>
                    <div className="diff">
                      <pre title="before">{JSON.stringify(r.before ?? null, null, 2)}</pre>
                      <pre title="after">{JSON.stringify(r.after ?? null, null, 2)}</pre>
                    </div>
                  </details>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
