import { useMemo } from 'react';
import { useRuns } from '../api/hooks';
import type { RunStatus } from '../api/types';
import { RunTable } from '../components/RunTable';
import { Empty, Pager, QueryView, RUN_STATUSES, useCursorPager } from '../components/ui';
import { useUrlFilters, useWindowHours, WindowPicker } from '../components/WindowPicker';
import { windowOf } from '../format';

export default function Runs() {
  const [params, setFilters] = useUrlFilters();
  const [hours, setHours] = useWindowHours(24);
  const status = (params.get('status') ?? undefined) as RunStatus | undefined;
  const jobId = params.get('jobId') ?? undefined;
  const workerId = params.get('workerId') ?? undefined;
  const window = useMemo(() => windowOf(hours), [hours]);
  const pager = useCursorPager(params.toString());
  const runs = useRuns(
    { ...window, status, jobId, workerId, limit: 50, cursor: pager.cursor },
    pager.page === 1,
  );
  const set = (name: string, value: string) => setFilters({ [name]: value });
  return (
    <section>
      <h1>Runs</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <WindowPicker hours={hours} onChange={setHours} />
        <label>
          Status
          <select value={status ?? ''} onChange={(e) => set('status', e.target.value)}>
            <option value="">any</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Job
          <input defaultValue={jobId ?? ''} onChange={(e) => set('jobId', e.target.value.trim())} />
        </label>
        {workerId && (
          <p>
            On worker <code>{workerId}</code>{' '}
            <button type="button" onClick={() => set('workerId', '')}>
              any worker
            </button>
          </p>
        )}
      </form>
      <QueryView query={runs} what="runs">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No runs in this window.</Empty>
          ) : (
            <>
              <RunTable runs={page.items} />
              <Pager pager={pager} nextCursor={page.nextCursor} />
            </>
          )
        }
      </QueryView>
    </section>
  );
}
