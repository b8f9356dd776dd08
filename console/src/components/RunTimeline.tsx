/**
 * A job's recent runs as bars, oldest on the left: the grey part is how late the run started after
 * its scheduled time, the coloured part how long it ran, coloured by outcome. Runs that never started
 * (skipped, no worker) show as a short bar in their colour.
 */
import { Bar, BarChart, CartesianGrid, Cell, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { RunStatus, RunSummary } from '../api/types';
import { countOf, formatDuration, formatInstant } from '../format';
import { runDuration, runLateness } from './RunTable';
import { STATUS_COLOR } from './ui';

interface Point {
  runId: string;
  label: string;
  status: RunStatus;
  lateness: number;
  duration: number;
}

export function RunTimeline({ runs }: { runs: readonly RunSummary[] }) {
  const points: Point[] = [...runs].reverse().map((run) => {
    const duration = runDuration(run);
    return {
      runId: run.runId,
      label: formatInstant(run.scheduledTime),
      status: run.status,
      lateness: Math.max(0, runLateness(run) ?? 0) / 1000,
      // Never started: a sliver, so the outcome still shows.
      duration: duration === undefined ? 0.05 : duration / 1000,
    };
  });
  const summary = runs
    .slice(0, 5)
    .map((r) => `${r.status} ${formatInstant(r.scheduledTime)}`)
    .join('; ');
  return (
    <figure className="chart" aria-label={`Run timeline: ${countOf(runs.length, 'run')}. Latest: ${summary}`}>
      <ResponsiveContainer width="100%" height={220}>
        <BarChart data={points} maxBarSize={40} margin={{ top: 8, right: 8, bottom: 8, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis
            dataKey="label"
            tick={false}
            label={{ value: 'runs, oldest → newest', position: 'insideBottom' }}
          />
          <YAxis unit=" s" width={56} />
          <Tooltip
            formatter={(value, name) => [
              formatDuration(Number(value) * 1000),
              name === 'lateness' ? 'late by' : 'ran for',
            ]}
            labelFormatter={(label, payload) => `${label} · ${payload?.[0]?.payload?.status ?? ''}`}
          />
          <Bar dataKey="lateness" stackId="run" fill="#b8bcc4" name="lateness" isAnimationActive={false} />
          <Bar dataKey="duration" stackId="run" name="duration" isAnimationActive={false}>
            {points.map((p) => (
              <Cell key={p.runId} fill={STATUS_COLOR[p.status]} />
            ))}
          </Bar>
        </BarChart>
      </ResponsiveContainer>
      <figcaption className="legend">
        <span>
          <i style={{ background: '#b8bcc4' }} /> late start
        </span>
        {(['SUCCEEDED', 'FAILED', 'RUNNING', 'CANCELLED', 'TIMED_OUT', 'SKIPPED'] as const).map((s) => (
          <span key={s}>
            <i style={{ background: STATUS_COLOR[s] }} /> {s.toLowerCase()}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
