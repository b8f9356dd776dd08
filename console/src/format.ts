/** Display helpers: instants in the viewer's zone (or a job's), durations in words a person reads. */
export function formatInstant(value: number | string | undefined, timeZone?: string): string {
  if (value === undefined || value === '') return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(undefined, {
    year: 'numeric',
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZone,
    timeZoneName: timeZone ? 'short' : undefined,
  }).format(date);
}

/** An hour on a chart's axis, in the same form as formatInstant: "10:00 AM", or "Dec 07, 10:00 AM" with the day. */
export function formatHour(value: number, withDay: boolean): string {
  return new Intl.DateTimeFormat(undefined, {
    month: withDay ? 'short' : undefined,
    day: withDay ? '2-digit' : undefined,
    hour: '2-digit',
    minute: '2-digit',
  }).format(new Date(value));
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  const sign = ms < 0 ? '−' : '';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${sign}${Math.round(abs)} ms`;
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  if (abs < 3_600_000) return `${sign}${Math.floor(abs / 60_000)} min ${Math.round((abs % 60_000) / 1000)} s`;
  return `${sign}${Math.floor(abs / 3_600_000)} h ${Math.round((abs % 3_600_000) / 60_000)} min`;
}

export function formatAgo(ms: number | undefined, now = Date.now()): string {
  if (ms === undefined) return '—';
  return `${formatDuration(now - ms)} ago`;
}

const HOUR_MS = 3_600_000;

/**
 * Every hour (epoch ms) from the one holding `from` to the one holding `to`, oldest first, with the
 * counts the API gave for it (empty when it listed none): the API lists only hours that had runs, and
 * a sparse window must still span its whole axis (one busy hour is a bar among empty ones, not a dot).
 */
export function everyHour(stats: {
  from: string;
  to: string;
  hours: readonly { hour: string; counts: Record<string, number> }[];
}): { at: number; counts: Record<string, number> }[] {
  const counts = new Map(stats.hours.map((h) => [Date.parse(h.hour), h.counts]));
  const hours = [];
  const last = Date.parse(stats.to);
  for (let at = Math.floor(Date.parse(stats.from) / HOUR_MS) * HOUR_MS; at <= last; at += HOUR_MS)
    hours.push({ at, counts: counts.get(at) ?? {} });
  return hours;
}

/** "1 line", "2 lines", "0 lines": a count with its noun, pluralised. */
export function countOf(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}

export function formatPercent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? '—' : `${(ratio * 100).toFixed(1)} %`;
}

/** A window ending now, as the API's from/to query values. */
export function windowOf(hours: number, now = Date.now()): { from: string; to: string } {
  return { from: new Date(now - hours * 3_600_000).toISOString(), to: new Date(now).toISOString() };
}

export const WINDOWS: readonly { readonly label: string; readonly hours: number }[] = [
  { label: 'Last hour', hours: 1 },
  { label: 'Last 6 hours', hours: 6 },
  { label: 'Last 24 hours', hours: 24 },
  { label: 'Last 7 days', hours: 24 * 7 },
];
