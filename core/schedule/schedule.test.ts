/** Behaviour of the Schedule API beyond the vectors: previous(), anchors, counts, speed. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSchedule } from './index';

const at = (s: string) => new Date(s);

describe('previous()', () => {
  test('cron: the latest fire strictly before', () => {
    const s = parseSchedule({ expression: 'cron(0 10 L * ? *)', timezone: 'Europe/London' });
    assert.equal(s.previous(at('2026-01-01T00:00:00Z'))?.toISOString(), '2025-12-31T10:00:00.000Z');
    assert.equal(s.previous(at('2026-03-31T09:00:00Z'))?.toISOString(), '2026-02-28T10:00:00.000Z');
  });

  test('cron: respects startDate and endDate', () => {
    const s = parseSchedule({
      expression: 'cron(0 10 * * ? *)',
      startDate: '2026-01-05T00:00:00Z',
      endDate: '2026-01-07T12:00:00Z',
    });
    assert.equal(s.previous(at('2026-01-05T09:00:00Z')), null);
    assert.equal(s.previous(at('2026-02-01T00:00:00Z'))?.toISOString(), '2026-01-07T10:00:00.000Z');
  });

  test('cron: none before the year bound', () => {
    assert.equal(
      parseSchedule({ expression: 'cron(0 0 1 1 ? 2199)' }).previous(at('2100-01-01T00:00:00Z')),
      null,
    );
  });

  test('cron: NY overlap, hourly, steps back over both 01:30s', () => {
    const s = parseSchedule({ expression: 'cron(30 * * * ? *)', timezone: 'America/New_York' });
    assert.equal(s.previous(at('2026-11-01T06:31:00Z'))?.toISOString(), '2026-11-01T06:30:00.000Z');
    assert.equal(s.previous(at('2026-11-01T06:30:00Z'))?.toISOString(), '2026-11-01T05:30:00.000Z');
  });

  test('rate: on the lattice of the anchor', () => {
    const s = parseSchedule({ expression: 'rate(15 minutes)', startDate: '2026-01-01T00:00:00Z' });
    assert.equal(s.previous(at('2026-01-01T01:00:00Z'))?.toISOString(), '2026-01-01T00:45:00.000Z');
    assert.equal(s.previous(at('2026-01-01T00:00:00Z')), null);
  });

  test('at: the one fire once it is past', () => {
    const s = parseSchedule({ expression: 'at(2026-01-30T10:00:00)' });
    assert.equal(s.previous(at('2026-01-30T10:00:00Z')), null);
    assert.equal(s.previous(at('2026-01-30T10:00:01Z'))?.toISOString(), '2026-01-30T10:00:00.000Z');
  });
});

describe('next() options', () => {
  test('count defaults to 1; 0 gives none', () => {
    const s = parseSchedule({ expression: 'cron(0 10 * * ? *)' });
    assert.equal(s.next(at('2026-01-01T00:00:00Z')).length, 1);
    assert.deepEqual(s.next(at('2026-01-01T00:00:00Z'), 0), []);
  });

  test('rate: an explicit anchor wins over startDate', () => {
    const s = parseSchedule({ expression: 'rate(1 hour)', startDate: '2026-01-01T00:00:00Z' });
    const got = s.next(at('2026-01-01T05:00:00Z'), 2, at('2026-01-01T00:20:00Z')).map((d) => d.toISOString());
    assert.deepEqual(got, ['2026-01-01T05:20:00.000Z', '2026-01-01T06:20:00.000Z']);
  });

  test('fields of the compiled schedule', () => {
    const s = parseSchedule(
      { expression: '0 9 * * 1-5', timezone: 'Europe/London', startDate: '2026-01-01T00:00:00Z' },
      'LOCAL',
    );
    assert.equal(s.kind, 'cron');
    assert.equal(s.timezone, 'Europe/London');
    assert.equal(s.startDate?.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(s.endDate, null);
    assert.equal(s.needsLocalMode, false);
  });
});

// Searches that must skip ahead by year, month and day rather than step minute by minute. Their
// speed is measured by bench/schedule.ts; here they only have to give the right answer.
describe('long searches', () => {
  const search = (label: string, fn: () => unknown) => test(label, () => void fn());

  search('never-firing Feb 30', () =>
    assert.deepEqual(
      parseSchedule({ expression: 'cron(0 0 30 2 ? *)' }).next(at('1970-01-01T00:00:00Z'), 5),
      [],
    ),
  );
  search('Feb 29 over 170 years', () =>
    assert.equal(
      parseSchedule({ expression: 'cron(0 0 29 2 ? *)' }).next(at('2026-01-01T00:00:00Z'), 50).length,
      42,
    ),
  );
  search('1000 minutely fires in a DST zone', () =>
    assert.equal(
      parseSchedule({ expression: 'cron(* * * * ? *)', timezone: 'America/New_York' }).next(
        at('2026-11-01T04:00:00Z'),
        1000,
      ).length,
      1000,
    ),
  );
  search('per-second LOCAL schedule over a fall-back day', () =>
    assert.equal(
      parseSchedule({ expression: '* * * * * ?', timezone: 'Europe/London' }, 'LOCAL').next(
        at('2026-10-24T23:59:00Z'),
        5000,
      ).length,
      5000,
    ),
  );
  search('previous() with nothing before', () =>
    assert.equal(
      parseSchedule({ expression: 'cron(0 0 29 2 ? 2199)' }).previous(at('2100-01-01T00:00:00Z')),
      null,
    ),
  );
});
