import { type FormEvent, useMemo, useState } from 'react';
import { ALL_KINDS, KINDS, LIST_STATUSES } from '../alert-kinds';
import { useAlertActions, useAlerts, useCan, useSilences } from '../api/hooks';
import type { AlertKind, AlertListStatus } from '../api/types';
import { AlertTable } from '../components/AlertTable';
import { Empty, MutationError, Pager, QueryView, useCursorPager } from '../components/ui';
import { useUrlFilters, useWindowHours, WindowPicker } from '../components/WindowPicker';
import { formatInstant, windowOf } from '../format';

/** How long a silence lasts; its end is computed when it is created. */
const DURATIONS: readonly { readonly label: string; readonly hours: number }[] = [
  { label: '1 hour', hours: 1 },
  { label: '4 hours', hours: 4 },
  { label: '24 hours', hours: 24 },
];

/** The value of a filter kept in the URL, when it is one of `allowed` (a hand-edited URL may not be). */
function pick<T extends string>(value: string | null, allowed: Readonly<Record<T, string>>): T | undefined {
  return value !== null && value in allowed ? (value as T) : undefined;
}

/** An alert kind, or none (`''`: what `any` says). */
function KindSelect({
  value,
  any,
  onChange,
}: {
  value: AlertKind | '';
  any: string;
  onChange: (kind: AlertKind | '') => void;
}) {
  return (
    <label>
      Kind
      <select value={value} onChange={(e) => onChange(e.target.value as AlertKind | '')}>
        <option value="">{any}</option>
        {ALL_KINDS.map((k) => (
          <option key={k} value={k}>
            {KINDS[k]}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Alerts with their filters (kind, status, job, window) in the URL; operators acknowledge and silence. */
export default function Alerts() {
  const [params, set] = useUrlFilters();
  const [hours, setHours] = useWindowHours(24 * 7);
  const jobId = params.get('jobId') ?? undefined;
  const kind = pick<AlertKind>(params.get('kind'), KINDS);
  const status = pick<AlertListStatus>(params.get('status'), LIST_STATUSES);
  const window = useMemo(() => windowOf(hours), [hours]);
  const pager = useCursorPager(params.toString());
  const alerts = useAlerts({ ...window, jobId, kind, status, limit: 50, cursor: pager.cursor });
  return (
    <section>
      <h1>Alerts</h1>
      <form className="filters" aria-label="Filter alerts" onSubmit={(e) => e.preventDefault()}>
        <WindowPicker hours={hours} onChange={setHours} />
        <KindSelect value={kind ?? ''} any="any" onChange={(value) => set({ kind: value })} />
        <label>
          Status
          <select value={status ?? ''} onChange={(e) => set({ status: e.target.value })}>
            <option value="">any</option>
            {Object.entries(LIST_STATUSES).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Job
          <input defaultValue={jobId ?? ''} onChange={(e) => set({ jobId: e.target.value })} />
        </label>
      </form>
      <QueryView query={alerts} what="alerts">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No alerts match in this window.</Empty>
          ) : (
            <>
              <AlertTable alerts={page.items} />
              <Pager pager={pager} nextCursor={page.nextCursor} />
            </>
          )
        }
      </QueryView>
      <Silences jobId={jobId} />
    </section>
  );
}

/** The silences in force, each removable, and (for operators) a form that silences a job. */
function Silences({ jobId }: { jobId: string | undefined }) {
  const canOperate = useCan('operator');
  const silences = useSilences();
  const { unsilence } = useAlertActions();
  return (
    <>
      <h2>Silences</h2>
      <p className="muted">
        While a silence is in force its alerts are recorded SILENCED and nobody is told.
      </p>
      <MutationError error={unsilence.error} />
      <QueryView query={silences} what="silences">
        {({ items }) =>
          items.length === 0 ? (
            <Empty>No silences in force.</Empty>
          ) : (
            <div className="table-wrap">
              <table aria-label="Silences in force">
                <thead>
                  <tr>
                    <th scope="col">Job</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Until</th>
                    <th scope="col">By</th>
                    {canOperate && <th scope="col">Action</th>}
                  </tr>
                </thead>
                <tbody>
                  {items.map((s) => (
                    <tr key={s.silenceId}>
                      <td>{s.jobId ?? <span className="muted">every job</span>}</td>
                      <td>{s.kind ? KINDS[s.kind] : <span className="muted">every kind</span>}</td>
                      <td>{formatInstant(s.endsAt)}</td>
                      <td>
                        {s.createdBy}
                        {s.comment && <div className="muted small">{s.comment}</div>}
                      </td>
                      {canOperate && (
                        <td>
                          <button
                            type="button"
                            aria-label={`Remove the silence of ${s.jobId ?? 'every job'}`}
                            disabled={unsilence.isPending && unsilence.variables === s.silenceId}
                            onClick={() => unsilence.mutate(s.silenceId)}
                          >
                            Remove
                          </button>
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
      {canOperate && <SilenceForm jobId={jobId} />}
    </>
  );
}

function SilenceForm({ jobId }: { jobId: string | undefined }) {
  const { silence } = useAlertActions();
  const [job, setJob] = useState(jobId ?? '');
  const [kind, setKind] = useState<AlertKind | ''>('');
  const [hours, setHours] = useState(DURATIONS[0]?.hours ?? 1);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    silence.mutate(
      {
        jobId: job.trim(),
        ...(kind ? { kind } : {}),
        endsAt: new Date(Date.now() + hours * 3_600_000).toISOString(),
      },
      { onSuccess: () => setKind('') },
    );
  };
  return (
    <form className="filters silence-form" aria-label="Silence a job" onSubmit={submit}>
      <label>
        Job
        <input required value={job} onChange={(e) => setJob(e.target.value)} />
      </label>
      <KindSelect value={kind} any="every kind" onChange={setKind} />
      <label>
        For
        <select value={hours} onChange={(e) => setHours(Number(e.target.value))}>
          {DURATIONS.map((d) => (
            <option key={d.hours} value={d.hours}>
              {d.label}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="primary" disabled={silence.isPending}>
        Silence job
      </button>
      <MutationError error={silence.error} />
    </form>
  );
}
