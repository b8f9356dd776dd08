/**
 * Time-zone helpers: which names are accepted, and how a local wall-clock time maps to real
 * instants under daylight-saving rules (zero instants in a spring-forward gap, two in a fall-back
 * overlap).
 */
import { IANAZone } from 'luxon';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let canonical: Map<string, string> | undefined;

/** Lower-cased name → the spelling ICU lists, to tell a wrong-case name from an unknown one. */
function canonicalNames(): Map<string, string> {
  if (!canonical) {
    canonical = new Map();
    for (const name of Intl.supportedValuesOf('timeZone')) canonical.set(name.toLowerCase(), name);
    canonical.set('utc', 'UTC');
  }
  return canonical;
}

/**
 * True for IANA time-zone names spelled as the tz database spells them (`Europe/London`, `UTC`,
 * `Etc/GMT+5`, links such as `US/Eastern`). Offsets (`+05:00`) and wrong case (`europe/london`) are not.
 */
export function isValidTimeZone(tz: string): boolean {
  if (typeof tz !== 'string' || tz.length === 0 || tz.length > 64) return false;
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(tz)) return false;
  if (!IANAZone.isValidZone(tz)) return false;
  const listed = canonicalNames().get(tz.toLowerCase());
  if (listed !== undefined) return listed === tz;
  // A link the ICU list does not show (US/Eastern, Etc/UTC): every segment starts upper-case in tzdb.
  return tz.split('/').every((segment) => /^[A-Z]/.test(segment));
}

/** A suggestion for a near-miss zone name (wrong case), or undefined. */
export function suggestTimeZone(tz: string): string | undefined {
  const listed = canonicalNames().get(tz.toLowerCase());
  return listed !== undefined && listed !== tz ? listed : undefined;
}

/** A zone's UTC offset in minutes at an instant. Cached per zone by luxon. */
export type OffsetFn = (epochMs: number) => number;

export function offsetFn(tz: string): OffsetFn {
  const zone = IANAZone.create(tz);
  return (ms) => zone.offset(ms);
}

/**
 * The real instants at which the wall-clock time `wallMs` (a local time written as if it were UTC
 * epoch milliseconds) occurs in the zone, ascending: [] in a DST gap, two in an overlap.
 * Assumes at most one offset change within a day of the time, which holds for every tzdb zone.
 */
export function wallToInstants(wallMs: number, offset: OffsetFn): number[] {
  const before = offset(wallMs - 24 * HOUR);
  const after = offset(wallMs + 24 * HOUR);
  const out: number[] = [];
  for (const o of before === after ? [before] : [before, after]) {
    const t = wallMs - o * MINUTE;
    if (offset(t) === o) out.push(t);
  }
  return out.sort((a, b) => a - b);
}

/**
 * The single offset (minutes) in force over the whole local day starting at `dayWallMs`, or null
 * when the offset changes somewhere near that day (then callers map each time with `wallToInstants`).
 */
export function steadyOffset(dayWallMs: number, offset: OffsetFn): number | null {
  // Instants of a local day lie within [wall - 14h, wall + 24h + 12h]; widen a little either side.
  const a = offset(dayWallMs - 15 * HOUR);
  const b = offset(dayWallMs + 12 * HOUR);
  const c = offset(dayWallMs + 37 * HOUR);
  return a === b && b === c ? a : null;
}

/** Local calendar fields of an instant in the zone, computed with the zone's offset. */
export function localFields(
  epochMs: number,
  offset: OffsetFn,
): { year: number; month: number; day: number; wallMs: number } {
  const wallMs = epochMs + offset(epochMs) * MINUTE;
  const d = new Date(wallMs);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), wallMs };
}
