import { Link } from 'react-router';
import { useCan, useJobs, useRuns } from '../api/hooks';
import type { JobListQueryInput, JobView } from '../api/types';
import { Badge, Empty, ErrorBox, Loading, Pager, StatusBadge, useUrlCursorPager } from '../components/ui';
import { useUrlFilters } from '../components/WindowPicker';
import { countOf, formatInstant } from '../format';

const FILTERS = ['q', 'pool', 'mode', 'paused', 'group', 'handler'] as const;

/** When the job fires next; jobs that never fire (manual or paused) sort last. */
const nextFireOf = (job: JobView): number =>
  job.nextFires?.[0] ? Date.parse(job.nextFires[0]) : Number.POSITIVE_INFINITY;

/** Orders of a page (the API lists by job id; these reorder the page shown). */
const SORTS: Readonly<Record<string, { label: string; compare: (a: JobView, b: JobView) => number }>> = {
  id: { label: 'id, A to Z', compare: (a, b) => a.spec.jobId.localeCompare(b.spec.jobId) },
  next: { label: 'next fire, soonest first', compare: (a, b) => nextFireOf(a) - nextFireOf(b) },
  updated: { label: 'last updated, newest first', compare: (a, b) => b.updatedAt - a.updatedAt },
};

/** The job's latest run in the API's default window (one small read per row, cached and shared). */
function LastRun({ jobId }: { jobId: string }) {
  const runs = useRuns({ jobId, limit: 1 });
  const run = runs.data?.items[0];
  if (runs.error) return <span className="muted">unavailable</span>;
  if (!runs.data) return <span className="muted">…</span>;
  if (!run) return <span className="muted">none recently</span>;
  return (
    <>
      <Link to={`/runs/${encodeURIComponent(run.runId)}`}>
        <StatusBadge status={run.status} />
      </Link>
      <div className="muted small">{formatInstant(run.scheduledTime)}</div>
    </>
  );
}

/**
 * Jobs with search, filters, sort and page kept in the URL (so a list can be reloaded and shared),
 * each with its last run and next fire.
 */
export default function Jobs() {
  const [params, setFilters] = useUrlFilters();
  const canCreate = useCan('admin');
  const filters = Object.fromEntries(
    FILTERS.map((f) => [f, params.get(f) ?? undefined]).filter(([, v]) => v),
  ) as JobListQueryInput;
  const pager = useUrlCursorPager();
  const query = useJobs({ ...filters, limit: 25, cursor: pager.cursor });
  const sortKey = SORTS[params.get('sort') ?? ''] ? (params.get('sort') as string) : 'id';
  const items = [...(query.data?.items ?? [])].sort(SORTS[sortKey]?.compare);
  // New filters start again from the first page.
  const set = (name: string, value: string) => setFilters({ [name]: value, page: '' });

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
        <label>
          Sort page by
          <select
            value={sortKey}
            onChange={(e) => setFilters({ sort: e.target.value === 'id' ? '' : e.target.value })}
          >
            {Object.entries(SORTS).map(([key, { label }]) => (
              <option key={key} value={key}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </form>
      {query.error ? (
        <ErrorBox error={query.error} retry={() => void query.refetch()} />
      ) : !query.data ? (
        <Loading what="jobs" />
      ) : items.length === 0 ? (
        <Empty>
          {Object.keys(filters).length ? 'No job matches these filters.' : 'No jobs yet.'}{' '}
          {canCreate && <Link to="/jobs/new">Create one</Link>}
        </Empty>
      ) : (
        <>
          {query.data.total !== undefined && (
            <p className="muted" data-testid="jobs-total">
              {countOf(query.data.total, 'job')}
              {Object.keys(filters).length ? ' match these filters' : ' in all'}
              {query.data.total > items.length && `; this page shows ${items.length}`}
            </p>
          )}
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
                  <th scope="col">Last run</th>
                  <th scope="col">Next fire</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {items.map((job) => (
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
                    <td>
                      <LastRun jobId={job.spec.jobId} />
                    </td>
                    <td>
                      {job.nextFires?.[0] ? (
                        formatInstant(job.nextFires[0])
                      ) : (
                        <span className="muted">{job.spec.schedule ? 'paused' : '—'}</span>
                      )}
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
