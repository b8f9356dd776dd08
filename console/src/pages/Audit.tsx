import { useMemo } from 'react';
import { useAudit } from '../api/hooks';
import { AuditTable } from '../components/AuditTable';
import { Empty, Pager, QueryView, useCursorPager } from '../components/ui';
import { useUrlFilters, useWindowHours, WindowPicker } from '../components/WindowPicker';
import { windowOf } from '../format';

export default function Audit() {
  const [params, set] = useUrlFilters();
  const [hours, setHours] = useWindowHours(24 * 7);
  const entity = params.get('entity') ?? undefined;
  const window = useMemo(() => windowOf(hours), [hours]);
  const pager = useCursorPager(params.toString());
  const audit = useAudit({ ...window, entity, limit: 50, cursor: pager.cursor });
  return (
    <section>
      <h1>Audit log</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <WindowPicker hours={hours} onChange={setHours} />
        <label>
          Entity
          <input
            placeholder="job:nightly-report"
            defaultValue={entity ?? ''}
            onChange={(e) => set({ entity: e.target.value })}
          />
        </label>
      </form>
      <QueryView query={audit} what="the audit log">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No changes recorded in this window.</Empty>
          ) : (
            <>
              <AuditTable records={page.items} />
              <Pager pager={pager} nextCursor={page.nextCursor} />
            </>
          )
        }
      </QueryView>
    </section>
  );
}
