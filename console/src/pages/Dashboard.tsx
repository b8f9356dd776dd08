import { useMemo } from 'react';
import { Link } from 'react-router';
import {
  Bar,
  BarChart,
  CartesianGrid,
  LabelList,
  Legend,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { useAlerts, useStats, useWorkers } from '../api/hooks';
import type { AlertRecord, RunStatus, Stats, WorkerView } from '../api/types';
import { AlertTable } from '../components/AlertTable';
import { Badge, Empty, QueryView, RUN_STATUSES, STATUS_COLOR } from '../components/ui';
import { useWindowHours, WindowPicker } from '../components/WindowPicker';
import {
  countOf,
  everyHour,
  formatDuration,
  formatHour,
  formatInstant,
  formatPercent,
  windowOf,
} from '../format';

const OUTCOMES: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'LOST', 'NO_WORKER']);
/** Past this many hours on the axis, bars carry no value labels (they would overlap). */
const LABELLED_HOURS = 24;

export default function Dashboard() {
  const [hours, setHours] = useWindowHours(24);
  const window = useMemo(() => windowOf(hours), [hours]);
  const stats = useStats(window);
  const alerts = useAlerts({ ...window, limit: 100 });
  const workers = useWorkers();
  return (
    <section className="dashboard">
      <div className="page-head">
        <h1>Dashboard</h1>
        <WindowPicker hours={hours} onChange={setHours} />
      </div>
      <QueryView query={stats} what="statistics">
        {(s) => <StatsPanel stats={s} />}
      </QueryView>
      <div className="grid-2">
        <div>
          <h2>Live workers by pool</h2>
          <QueryView query={workers} what="workers">
            {(list) => <Pools workers={list} />}
          </QueryView>
        </div>
        <div>
          <h2>Failing and unavailable jobs</h2>
          <QueryView query={alerts} what="alerts">
            {(page) => <Failing alerts={page.items} />}
          </QueryView>
        </div>
      </div>
      <h2>Recent alerts</h2>
      <QueryView query={alerts} what="alerts">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No alerts in this window.</Empty>
          ) : (
            <>
              <AlertTable alerts={page.items.slice(0, 8)} />
              <Link to="/alerts">All alerts →</Link>
            </>
          )
        }
      </QueryView>
    </section>
  );
}

function StatsPanel({ stats }: { stats: Stats }) {
  const seen = RUN_STATUSES.filter((s) => (stats.totals[s] ?? 0) > 0);
  const hours = everyHour(stats);
  const withDay = hours.length > 25;
  const data = hours.map((h) => {
    const finished = [...OUTCOMES].reduce((n, s) => n + (h.counts[s] ?? 0), 0);
    return {
      hour: formatHour(h.at, withDay),
      ...h.counts,
      successRate: finished ? Math.round(((h.counts.SUCCEEDED ?? 0) / finished) * 1000) / 10 : null,
    };
  });
  const labelled = data.length <= LABELLED_HOURS;
  return (
    <>
      <div className="tiles">
        <Tile
          label="Runs"
          value={String(stats.runs)}
          note={stats.truncated ? 'window truncated' : undefined}
        />
        <Tile label="Success rate" value={formatPercent(stats.successRate)} />
        <Tile
          label="Duration p50 / p95"
          value={`${formatDuration(stats.durationMs.p50)} / ${formatDuration(stats.durationMs.p95)}`}
        />
        <Tile
          label="Lateness p50 / p95"
          value={`${formatDuration(stats.latenessMs.p50)} / ${formatDuration(stats.latenessMs.p95)}`}
        />
      </div>
      {stats.runs === 0 ? (
        <Empty>
          No runs between {formatInstant(stats.from)} and {formatInstant(stats.to)}.
        </Empty>
      ) : (
        <div className="grid-2">
          <figure
            className="chart"
            aria-label={`Runs by status per hour: ${seen.map((s) => `${stats.totals[s]} ${s}`).join(', ')}`}
          >
            <figcaption>Runs by status, per hour</figcaption>
            <ResponsiveContainer width="100%" height={240}>
              <BarChart data={data} margin={{ top: 16 }} maxBarSize={48}>
                <CartesianGrid strokeDasharray="3 3" vertical={false} />
                <XAxis dataKey="hour" />
                <YAxis allowDecimals={false} width={40} />
                <Tooltip />
                <Legend />
                {seen.map((s: RunStatus) => (
                  <Bar key={s} dataKey={s} stackId="runs" fill={STATUS_COLOR[s]} isAnimationActive={false} />
                ))}
              </BarChart>
            </ResponsiveContainer>
          </figure>
          <figure
            className="chart"
            aria-label={`Success rate per hour, overall ${formatPercent(stats.successRate)}`}
          >
            <figcaption>Success rate per hour (%)</figcaption>
            <ResponsiveContainer width="100%" height={240}>
              <BarChart data={data} margin={{ top: 16 }}>
                <CartesianGrid strokeDasharray="3 3" vertical={false} />
                <XAxis dataKey="hour" />
                <YAxis domain={[0, 100]} width={40} />
                <Tooltip formatter={(value) => [`${value} %`, 'success rate']} />
                {/* A bar per hour with finished runs; hours without any stay empty (not 0 %). */}
                <Bar dataKey="successRate" fill="#2e8b57" maxBarSize={48} isAnimationActive={false}>
                  {labelled && (
                    <LabelList dataKey="successRate" position="top" formatter={(v: unknown) => `${v} %`} />
                  )}
                </Bar>
              </BarChart>
            </ResponsiveContainer>
          </figure>
        </div>
      )}
    </>
  );
}

function Tile({ label, value, note }: { label: string; value: string; note?: string }) {
  return (
    <div className="tile">
      <div className="tile-label">{label}</div>
      <div className="tile-value">{value}</div>
      {note && <div className="muted small">{note}</div>}
    </div>
  );
}

function Pools({ workers }: { workers: readonly WorkerView[] }) {
  // Draining workers still hold their lease and finish what they run: they count, marked as draining.
  const live = workers.filter((w) => w.status !== 'GONE' && w.leaseExpiresAt > Date.now());
  if (live.length === 0)
    return <Empty>No live workers. Jobs will find no worker until an agent starts.</Empty>;
  const pools = new Map<string, WorkerView[]>();
  for (const w of live) pools.set(w.pool, [...(pools.get(w.pool) ?? []), w]);
  return (
    <ul className="pools">
      {[...pools].map(([pool, list]) => (
        <li key={pool}>
          <strong>{pool}</strong>: {countOf(list.length, 'worker')}, {list.reduce((n, w) => n + w.running, 0)}{' '}
          running of{' '}
          {countOf(
            list.reduce((n, w) => n + w.capacity, 0),
            'slot',
          )}
          {list.some((w) => w.status === 'DRAINING') && <Badge tone="warn">draining</Badge>}
        </li>
      ))}
      <li>
        <Link to="/workers">All workers →</Link>
      </li>
    </ul>
  );
}

/** A job is listed when its latest alert in the window is not a recovery. */
function Failing({ alerts }: { alerts: readonly AlertRecord[] }) {
  const latest = new Map<string, AlertRecord>();
  for (const a of alerts) {
    const seen = latest.get(a.jobId);
    if (!seen || seen.createdAt < a.createdAt) latest.set(a.jobId, a);
  }
  const failing = [...latest.values()].filter((a) => a.kind !== 'recovery');
  if (failing.length === 0) return <Empty>Every job that alerted has recovered.</Empty>;
  return (
    <ul className="failing">
      {failing.map((a) => (
        <li key={a.jobId}>
          <Link to={`/jobs/${encodeURIComponent(a.jobId)}`}>{a.jobId}</Link>{' '}
          <Badge tone="bad">{a.kind}</Badge> <span className="muted small">{formatInstant(a.createdAt)}</span>
        </li>
      ))}
    </ul>
  );
}
