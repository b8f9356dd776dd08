import { Link } from 'react-router';
import { useCan, useJobs } from '../api/hooks';
import type { JobListQueryInput } from '../api/types';
import { Badge, Empty, ErrorBox, Loading, Pager, useCursorPager } from '../components/ui';
import { useUrlFilters } from '../components/WindowPicker';
import { formatInstant } from '../format';

const FILTERS = ['q', 'pool', 'mode', 'paused', 'group', 'handler'] as const;

/** Jobs with search, filters (kept in the URL, so a filtered list can be shared) and pagination. */
export default function Jobs() {
  const [params, setFilters] = useUrlFilters();
  const canCreate = useCan('admin');
  const filters = Object.fromEntries(
    FILTERS.map((f) => [f, params.get(f) ?? undefined]).filter(([, v]) => v),
  ) as JobListQueryInput;
  const pager = useCursorPager(params.toString());
  const query = useJobs({ ...filters, limit: 25, cursor: pager.cursor });
  const set = (name: string, value: string) => setFilters({ [name]: value });

  return (
    <section>
      <div className="page-head">
        <h1>Jobs</h1>
        {canCreate && (
          <Link className="button primary" to="/jobs/new">
            New job
          </Link>
        )}
      </div>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search
          <input
            type="search"
            placeholder="id or description"
            defaultValue={params.get('q') ?? ''}
            onChange={(e) => set('q', e.target.value.trim())}
          />
        </label>
        <label>
          Pool
          <input
            defaultValue={params.get('pool') ?? ''}
            onChange={(e) => set('pool', e.target.value.trim())}
          />
        </label>
        <label>
          Group
          <input
            defaultValue={params.get('group') ?? ''}
            onChange={(e) => set('group', e.target.value.trim())}
          />
        </label>
        <label>
          Mode
          <select value={params.get('mode') ?? ''} onChange={(e) => set('mode', e.target.value)}>
            <option value="">any</option>
            <option value="REMOTE">REMOTE</option>
            <option value="LOCAL">LOCAL</option>
          </select>
        </label>
        <label>
          State
          <select value={params.get('paused') ?? ''} onChange={(e) => set('paused', e.target.value)}>
            <option value="">any</option>
            <option value="false">active</option>
            <option value="true">paused</option>
          </select>
        </label>
      </form>
      {query.error ? (
        <ErrorBox error={query.error} retry={() => void query.refetch()} />
      ) : !query.data ? (
        <Loading what="jobs" />
      ) : query.data.items.length === 0 ? (
        <Empty>
          {Object.keys(filters).length ? 'No job matches these filters.' : 'No jobs yet.'}{' '}
          {canCreate && <Link to="/jobs/new">Create one</Link>}
        </Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Handler</th>
                  <th scope="col">Schedule</th>
                  <th scope="col">Pool</th>
                  <th scope="col">Mode</th>
                  <th scope="col">State</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {query.data.items.map((job) => (
                  <tr key={job.spec.jobId}>
                    <td>
                      <Link to={`/jobs/${encodeURIComponent(job.spec.jobId)}`}>{job.spec.jobId}</Link>
                      {job.spec.description && <div className="muted small">{job.spec.description}</div>}
                    </td>
                    <td>
                      <code>{job.spec.handler}</code>
                    </td>
                    <td>
                      {job.spec.schedule ? (
                        <code>{job.spec.schedule.expression}</code>
                      ) : (
                        <span className="muted">manual</span>
                      )}
                      {job.spec.schedule && <div className="muted small">{job.spec.schedule.timezone}</div>}
                    </td>
                    <td>{job.spec.target.pool}</td>
                    <td>{job.spec.mode}</td>
                    <td>
                      {job.spec.paused ? (
                        <Badge tone="warn">paused</Badge>
                      ) : (
                        <Badge tone="good">active</Badge>
                      )}
                      {job.syncState === 'OUT_OF_SYNC' && <Badge tone="bad">out of sync</Badge>}
                    </td>
                    <td>{formatInstant(job.updatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager pager={pager} nextCursor={query.data.nextCursor} />
        </>
      )}
    </section>
  );
}
