/** Plain-text output: aligned tables, key/value blocks, instants and durations, for people (`--json` is for scripts). */

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string | number | undefined;
  /** Right-align (numbers). */
  readonly right?: boolean;
  /**
   * The column may be cut (with `…`) down to this many characters when the table is wider than
   * its limit; the widest such column is cut first. Columns without it keep their width.
   */
  readonly shrink?: number;
  /** Shown only with `--wide` (what other columns already say, like the job of a run id). */
  readonly wideOnly?: boolean;
}

/** Tables fit this many columns unless `--wide` (docs/cli.md, "Output"). */
export const TABLE_WIDTH = 120;

/** Characters a terminal shows for `text`; wide glyphs are rare in ids and statuses, so one per code point. */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, right: boolean): string {
  const gap = ' '.repeat(Math.max(0, size - width(text)));
  return right ? gap + text : text + gap;
}

/**
 * One line per row under a header, columns separated by two spaces; the last column is not padded.
 * With `maxWidth`, `shrink` columns are cut until a line fits (or each is at its minimum), and
 * `wideOnly` columns are left out; without it every cell is shown whole.
 */
export function formatTable<T>(
  allColumns: readonly Column<T>[],
  rows: readonly T[],
  options: { readonly maxWidth?: number } = {},
): string[] {
  const { maxWidth } = options;
  const columns = maxWidth === undefined ? allColumns : allColumns.filter((c) => !c.wideOnly);
  const cells = rows.map((row) => columns.map((c) => oneLine(String(c.value(row) ?? ''))));
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((r) => width(r[i] ?? ''))));
  if (maxWidth !== undefined) narrow(columns, widths, maxWidth);
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => {
        const size = widths[i] ?? 0;
        const cell = truncate(v, size);
        return i === values.length - 1 && !columns[i]?.right ? cell : pad(cell, size, !!columns[i]?.right);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)];
}

/** Narrows the widest `shrink` column, one character at a time, until the line fits `maxWidth`. */
function narrow<T>(columns: readonly Column<T>[], widths: number[], maxWidth: number): void {
  const total = () => widths.reduce((sum, w) => sum + w, 0) + 2 * (widths.length - 1);
  for (let excess = total() - maxWidth; excess > 0; excess--) {
    let widest = -1;
    columns.forEach((c, i) => {
      const least = Math.max(c.shrink ?? Number.POSITIVE_INFINITY, width(c.header));
      if ((widths[i] ?? 0) > least && (widest < 0 || (widths[i] ?? 0) > (widths[widest] ?? 0))) widest = i;
    });
    if (widest < 0) return;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
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
  return printable(text.replace(/[\r\n\t]+/g, ' '));
}

/**
 * Escape sequences, 7-bit (ESC ...) or C1: strings up to their terminator (BEL or ST) with their
 * payload — OSC (window title, hyperlink), DCS, SOS, PM, APC; CSI (cursor moves, erase, colours);
 * any other escape.
 */
const SEQUENCES =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /(?:\u001b[\]PX^_]|[\u0090\u0098\u009d-\u009f])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]?|\u001b[ -/]*[0-~]?/g;
/** Whatever control character is left: C0 but tab and newline, DEL, C1. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text from the server made safe for a terminal: escape sequences (CSI such as `ESC[2J`, OSC titles
 * and hyperlinks, DCS/APC strings) are removed with their payload, and every other C0/C1 control
 * character but newline and tab. A job description or log line cannot clear the screen, retitle the
 * window or plant a link. `--json` output is not passed through this: it stays exact.
 */
export function printable(text: string): string {
  return text.replace(SEQUENCES, '').replace(CONTROLS, '');
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
