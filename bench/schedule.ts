/**
 * How long the schedule engine takes for the searches that must skip by year, month and day:
 * median of repeated calls, in milliseconds.
 *
 *   npx tsx bench/schedule.ts
 */
import { parseSchedule } from '../core/schedule';
import { percentile } from './stats';

const cases: ReadonlyArray<readonly [string, () => unknown]> = [
  [
    'never-firing Feb 30 from 1970',
    () => parseSchedule({ expression: 'cron(0 0 30 2 ? *)' }).next(new Date(0), 5),
  ],
  [
    'Feb 29, 50 fires',
    () => parseSchedule({ expression: 'cron(0 0 29 2 ? *)' }).next(new Date('2026-01-01T00:00:00Z'), 50),
  ],
  [
    '1000 minutely fires across a New York DST change',
    () =>
      parseSchedule({ expression: 'cron(* * * * ? *)', timezone: 'America/New_York' }).next(
        new Date('2026-11-01T04:00:00Z'),
        1000,
      ),
  ],
  [
    '5000 per-second LOCAL fires across a London fall-back',
    () =>
      parseSchedule({ expression: '* * * * * ?', timezone: 'Europe/London' }, 'LOCAL').next(
        new Date('2026-10-24T23:59:00Z'),
        5000,
      ),
  ],
  [
    'next fire of a weekday cron',
    () =>
      parseSchedule({ expression: 'cron(30 9 ? * MON-FRI *)', timezone: 'Europe/London' }).next(
        new Date(),
        1,
      ),
  ],
];

export async function scheduleSearches(repeats = 20): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const [label, run] of cases) {
    const times: number[] = [];
    for (let i = 0; i < repeats; i += 1) {
      const start = performance.now();
      run();
      times.push(performance.now() - start);
    }
    result[`${label} (median ms)`] = Math.round(percentile(times, 50) * 100) / 100;
  }
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await scheduleSearches(), null, 2));
}
