import { Link } from 'react-router';
import { useCan, useDrainWorker, useWorkers } from '../api/hooks';
import type { WorkerView } from '../api/types';
import { Badge, ConfirmButton, Empty, MutationError, QueryView } from '../components/ui';
import { formatDuration } from '../format';

/** The fleet, like the old cluster page: pool, labels, capacity, running runs, lease age, draining. */
export default function Workers() {
  const workers = useWorkers();
  const canDrain = useCan('operator');
  const drain = useDrainWorker();
  return (
    <section>
      <h1>Workers</h1>
      <MutationError error={drain.error} />
      <QueryView query={workers} what="workers">
        {(list) =>
          list.length === 0 ? (
            <Empty>No worker holds a lease. Start an agent (see the README) and it appears here.</Empty>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Worker</th>
                    <th scope="col">Pool</th>
                    <th scope="col">Status</th>
                    <th scope="col">Running</th>
                    <th scope="col">Lease age</th>
                    <th scope="col">Labels</th>
                    <th scope="col">Handlers</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((w) => (
                    <tr key={w.workerId}>
                      <td>
                        <Link to={`/runs?workerId=${encodeURIComponent(w.workerId)}`}>{w.workerId}</Link>
                        <div className="muted small">{w.host}</div>
                      </td>
                      <td>{w.pool}</td>
                      <td>
                        <WorkerStatus worker={w} />
                      </td>
                      <td>
                        {w.running} / {w.capacity}
                      </td>
                      <td>{formatDuration(w.leaseAgeMs)}</td>
                      <td>
                        {Object.entries(w.labels)
                          .map(([k, v]) => `${k}=${v}`)
                          .join(', ') || '—'}
                      </td>
                      <td className="small">{w.handlers.join(', ')}</td>
                      <td>
                        {canDrain && w.status === 'ACTIVE' && (
                          <ConfirmButton
                            label="Drain"
                            title={`Drain ${w.workerId}?`}
                            body={
                              <>
                                <p>
                                  It takes no new runs and gives the ones it is running their drain grace to
                                  finish; any still running then are handed back to other workers. Then{' '}
                                  <strong>the agent process on {w.host} exits</strong>.
                                </p>
                                <p>
                                  There is no undo: to bring this worker back, someone starts its agent again
                                  on that host.
                                </p>
                              </>
                            }
                            confirmLabel="Drain and stop the agent"
                            disabled={drain.isPending}
                            onConfirm={() => drain.mutate(w.workerId)}
                          />
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
    </section>
  );
}

/** A lease is held while it has not expired, whatever the status (the API's `live` is ACTIVE only). */
function holdsLease(worker: WorkerView, now = Date.now()): boolean {
  return worker.status !== 'GONE' && worker.leaseExpiresAt > now;
}

function WorkerStatus({ worker }: { worker: WorkerView }) {
  if (worker.status !== 'GONE' && !holdsLease(worker)) return <Badge tone="bad">lease expired</Badge>;
  const tone = worker.status === 'ACTIVE' ? 'good' : worker.status === 'DRAINING' ? 'warn' : 'neutral';
  return <Badge tone={tone}>{worker.status.toLowerCase()}</Badge>;
}
