import { useMemo } from 'react';
import { Link } from 'react-router';
import { useErrorSearch } from '../api/hooks';
import { Badge, Empty, ErrorBox, Loading, Pager, useCursorPager } from '../components/ui';
import { useUrlFilters, useWindowHours, WindowPicker } from '../components/WindowPicker';
import { countOf, formatInstant, windowOf } from '../format';

/** Text search over run errors and log lines, like the old system's error-log search. */
export default function ErrorSearch() {
  const [params, set] = useUrlFilters();
  const [hours, setHours] = useWindowHours(24);
  const q = params.get('q') ?? '';
  const jobId = params.get('jobId') ?? undefined;
  const window = useMemo(() => windowOf(hours), [hours]);
  const pager = useCursorPager(params.toString());
  const search = useErrorSearch(q ? { q, jobId, ...window, limit: 50, cursor: pager.cursor } : undefined);
  return (
    <section>
      <h1>Error search</h1>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          const data = new FormData(e.currentTarget);
          set({ q: String(data.get('q') ?? ''), jobId: String(data.get('jobId') ?? '') });
        }}
      >
        <label>
          Text
          <input type="search" name="q" defaultValue={q} placeholder="e.g. ECONNREFUSED" />
        </label>
        <label>
          Job
          <input name="jobId" defaultValue={jobId ?? ''} />
        </label>
        <WindowPicker hours={hours} onChange={setHours} />
        <button type="submit" className="primary">
          Search
        </button>
      </form>
      {!q ? (
        <Empty>Search the errors and log lines of every run in the window.</Empty>
      ) : search.error ? (
        <ErrorBox error={search.error} retry={() => void search.refetch()} />
      ) : !search.data ? (
        <Loading what="matches" />
      ) : search.data.items.length === 0 ? (
        <Empty>
          Nothing matches “{q}” in {countOf(search.data.scanned, 'run')}
          {search.data.nextCursor ? ' on this page; older runs follow' : ''}.
          {search.data.nextCursor && <Pager pager={pager} nextCursor={search.data.nextCursor} />}
        </Empty>
      ) : (
        <>
          <ul className="hits">
            {search.data.items.map((hit, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: hits have no id of their own and a page is replaced whole
              <li key={`${hit.runId}-${i}`}>
                <Badge tone={hit.kind === 'error' ? 'bad' : 'neutral'}>{hit.kind}</Badge>{' '}
                <Link to={`/runs/${encodeURIComponent(hit.runId)}`}>{formatInstant(hit.at)}</Link> ·{' '}
                <Link to={`/jobs/${encodeURIComponent(hit.jobId)}`}>{hit.jobId}</Link>
                <pre>{hit.text}</pre>
              </li>
            ))}
          </ul>
          <p className="muted small">{search.data.scanned} runs searched for this page.</p>
          <Pager pager={pager} nextCursor={search.data.nextCursor} />
        </>
      )}
    </section>
  );
}
