import { useMemo } from 'react';
import { useAlerts } from '../api/hooks';
import { AlertTable } from '../components/AlertTable';
import { Empty, Pager, QueryView, useCursorPager } from '../components/ui';
import { useUrlFilters, useWindowHours, WindowPicker } from '../components/WindowPicker';
import { windowOf } from '../format';

export default function Alerts() {
  const [params, set] = useUrlFilters();
  const [hours, setHours] = useWindowHours(24 * 7);
  const jobId = params.get('jobId') ?? undefined;
  const window = useMemo(() => windowOf(hours), [hours]);
  const pager = useCursorPager(params.toString());
  const alerts = useAlerts({ ...window, jobId, limit: 50, cursor: pager.cursor });
  return (
    <section>
      <h1>Alerts</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <WindowPicker hours={hours} onChange={setHours} />
        <label>
          Job
          <input defaultValue={jobId ?? ''} onChange={(e) => set({ jobId: e.target.value })} />
        </label>
      </form>
      <QueryView query={alerts} what="alerts">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No alerts in this window. Good.</Empty>
          ) : (
            <>
              <AlertTable alerts={page.items} />
              <Pager pager={pager} nextCursor={page.nextCursor} />
            </>
          )
        }
      </QueryView>
    </section>
  );
}
