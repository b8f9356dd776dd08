/**
 * English descriptions of schedules for the CLI and console, e.g.
 * `At 10:00, on the last day of the month (Europe/London)`.
 */
import type { CronFields } from './cron-fields';
import { DAY_NAMES, MONTH_NAMES } from './cron-fields';

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth'];

const pad = (n: number) => String(n).padStart(2, '0');

function joinWords(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** `*\/n` or `0/n` (whole field, evenly stepped from its start) → n; else null. */
function evenStep(text: string, min: number): number | null {
  const m = /^(\*|\d+)\/(\d+)$/.exec(text);
  if (!m) return null;
  return m[1] === '*' || Number(m[1]) === min ? Number(m[2]) : null;
}

/** Replaces names in a field's text by readable words, e.g. `MON-FRI` → `Monday through Friday`. */
function readable(text: string, names: readonly string[], words: readonly string[]): string {
  const word = (token: string) => {
    const i = names.indexOf(token.toUpperCase());
    const n = Number(token);
    if (i >= 0) return words[i] ?? token;
    return Number.isInteger(n) && words[n - 1] ? (words[n - 1] as string) : token;
  };
  const parts = text.split(',').map((el) => {
    const [base = '', step] = el.split('/');
    const range = base.split('-').map(word).join(' through ');
    return step ? `every ${step} from ${range}` : range;
  });
  return joinWords(parts);
}

function timePhrase(f: CronFields): string {
  const t = f.text;
  const withSeconds = t.seconds !== '0';
  if (f.hours.length === 1 && f.minutes.length === 1 && f.seconds.length === 1) {
    const [h = 0] = f.hours;
    const [m = 0] = f.minutes;
    const [s = 0] = f.seconds;
    return `At ${pad(h)}:${pad(m)}${withSeconds ? `:${pad(s)}` : ''}`;
  }
  const parts: string[] = [];
  if (withSeconds) {
    const step = evenStep(t.seconds, 0);
    parts.push(
      t.seconds === '*'
        ? 'Every second'
        : step
          ? `Every ${step} seconds`
          : `At second ${joinWords(t.seconds.split(','))}`,
    );
  }
  const minuteStep = evenStep(t.minutes, 0);
  const minuteText =
    t.minutes === '*'
      ? 'every minute'
      : minuteStep
        ? `every ${minuteStep} minutes`
        : f.minutes.length === 1
          ? `at minute ${f.minutes[0]}`
          : `at minutes ${t.minutes.replaceAll(',', ', ')}`;
  if (!(withSeconds && t.minutes === '*'))
    parts.push(withSeconds ? `of ${minuteText.replace(/^at /, '')}` : minuteText);
  const hourStep = evenStep(t.hours, 0);
  if (t.hours !== '*') {
    if (hourStep) parts.push(`every ${hourStep} hours`);
    else if (/^\d+-\d+$/.test(t.hours)) {
      const [a = 0] = f.hours;
      const b = f.hours[f.hours.length - 1] ?? a;
      parts.push(`between ${pad(a)}:00 and ${pad(b)}:59`);
    } else if (f.hours.length === 1 && t.minutes !== '*' && !minuteStep && f.minutes.length > 1) {
      parts.push(`past ${pad(f.hours[0] ?? 0)}:00`);
    } else parts.push(`during hour${f.hours.length > 1 ? 's' : ''} ${f.hours.map(pad).join(', ')}`);
  }
  const text = parts.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function dayPhrase(f: CronFields): string | null {
  const dom = f.dom;
  if (dom.kind === 'last') return 'on the last day of the month';
  if (dom.kind === 'weekday') return `on the weekday nearest day ${dom.day} of the month`;
  if (dom.kind === 'days') {
    const step = evenStep(f.text.dom, 1);
    return step
      ? `every ${step} days of the month`
      : `on day ${f.text.dom.replaceAll(',', ', ')} of the month`;
  }
  const dow = f.dow;
  if (dow.kind === 'last') return `on the last ${WEEKDAYS[dow.dow - 1]} of the month`;
  if (dow.kind === 'nth') return `on the ${ORDINALS[dow.nth - 1]} ${WEEKDAYS[dow.dow - 1]} of the month`;
  if (dow.kind === 'days') {
    if (f.text.dow === 'L') return 'on Saturday';
    return `on ${readable(f.text.dow, DAY_NAMES, WEEKDAYS)}`;
  }
  return null;
}

export function describeCron(f: CronFields, timezone: string): string {
  const parts = [timePhrase(f)];
  const day = dayPhrase(f);
  if (day) parts.push(day);
  if (f.text.month !== '*') {
    const step = evenStep(f.text.month, 1);
    parts.push(step ? `every ${step} months` : `in ${readable(f.text.month, MONTH_NAMES, MONTHS)}`);
  }
  if (f.text.year !== '*') parts.push(`in ${f.text.year.replaceAll(',', ', ').replaceAll('-', ' through ')}`);
  return `${parts.join(', ')} (${timezone})`;
}

export function describeRate(value: number, unit: string): string {
  return `Every ${value === 1 ? unit : `${value} ${unit}s`} (fixed interval, not shifted by daylight saving)`;
}

export function describeAt(local: string, timezone: string): string {
  return `Once, at ${local.replace('T', ' ')} (${timezone})`;
}
