/** Plain-text output: aligned tables, key/value blocks, instants and durations, for people (`--json` is for scripts). */

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string | number | undefined;
  /** Right-align (numbers). */
  readonly right?: boolean;
}

/** Characters a terminal shows for `text`; wide glyphs are rare in ids and statuses, so one per code point. */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, right: boolean): string {
  const gap = ' '.repeat(Math.max(0, size - width(text)));
  return right ? gap + text : text + gap;
}

/** One line per row under a header, columns separated by two spaces; the last column is not padded. */
export function formatTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string[] {
  const cells = rows.map((row) => columns.map((c) => oneLine(String(c.value(row) ?? ''))));
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((r) => width(r[i] ?? ''))));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) =>
        i === values.length - 1 && !columns[i]?.right ? v : pad(v, widths[i] ?? 0, !!columns[i]?.right),
      )
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)];
}

/** `key: value` lines with the values aligned; undefined values are left out. */
export function formatFields(
  fields: ReadonlyArray<readonly [string, string | number | undefined]>,
): string[] {
  const present = fields.filter(([, v]) => v !== undefined && v !== '') as Array<[string, string | number]>;
  const size = Math.max(0, ...present.map(([k]) => width(k))) + 1;
  return present.map(([k, v]) => `${pad(`${k}:`, size, false)} ${oneLine(String(v))}`);
}

/** Newlines and tabs would break a table's alignment. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ');
}

/** Epoch ms (or an ISO string) → `2026-01-30T10:00:00Z`; undefined stays empty. */
export function formatTime(at: number | string | undefined): string {
  if (at === undefined) return '';
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return String(at);
  const iso = date.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** 850 → `850ms`, 4200 → `4.2s`, 125000 → `2m05s`, 7500000 → `2h05m`. */
export function formatDuration(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

/** `{env: 'prod', tier: 'a'}` → `env=prod,tier=a`. */
export function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Truncates with an ellipsis past `max` characters (descriptions, messages in tables). */
export function truncate(text: string | undefined, max: number): string {
  if (text === undefined) return '';
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
