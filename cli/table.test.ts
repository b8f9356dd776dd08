import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, formatFields, formatTable, formatTime, truncate } from './table';

test('formatTable aligns columns, right-aligns numbers, leaves the last column unpadded', () => {
  const rows = [
    { id: 'nightly-report', n: 3, note: 'ok' },
    { id: 'a', n: 120, note: 'multi\nline' },
  ];
  assert.deepEqual(
    formatTable(
      [
        { header: 'JOB', value: (r: (typeof rows)[number]) => r.id },
        { header: 'N', value: (r) => r.n, right: true },
        { header: 'NOTE', value: (r) => r.note },
      ],
      rows,
    ),
    ['JOB               N  NOTE', 'nightly-report    3  ok', 'a               120  multi line'],
  );
});

test('formatFields aligns values and drops empty ones', () => {
  assert.deepEqual(
    formatFields([
      ['job', 'a'],
      ['description', ''],
      ['version', 2],
      ['owner', undefined],
    ]),
    ['job:     a', 'version: 2'],
  );
});

test('formatDuration and formatTime read like a person would write them', () => {
  assert.equal(formatDuration(850), '850ms');
  assert.equal(formatDuration(4200), '4.2s');
  assert.equal(formatDuration(125_000), '2m05s');
  assert.equal(formatDuration(7_500_000), '2h05m');
  assert.equal(formatDuration(3 * 86_400_000), '3d00h');
  assert.equal(formatDuration(undefined), '');
  assert.equal(formatTime(Date.UTC(2026, 0, 30, 10)), '2026-01-30T10:00:00Z');
  assert.equal(formatTime(Date.UTC(2026, 0, 30, 10) + 5), '2026-01-30T10:00:00.005Z');
  assert.equal(truncate('abcdef', 4), 'abc…');
});
