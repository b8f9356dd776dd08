import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, formatFields, formatTable, formatTime, printable, truncate } from './table';

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

test('printable removes escape sequences and control characters, keeping newlines and tabs', () => {
  const text = [
    'before\u001b[2Jclear',
    '\u001b]0;owned title\u0007',
    '\u001b]8;;https://evil.example/\u001b\\link\u001b]8;;\u001b\\',
    '\u009b31mred\u009b0m',
    'bell\u0007 back\bspace\r del\u007f c1\u0085',
    'line\ttab\nnext',
  ].join(' ');
  assert.equal(printable(text), 'beforeclear  link red bell backspace del c1 line\ttab\nnext');
  assert.equal(printable('plain text — ünïcode ✓'), 'plain text — ünïcode ✓');
});

test('formatTable fits a width by cutting the widest shrinkable column; wide-only columns need --wide', () => {
  type Row = { id: string; status: string; reason: string };
  const rows: Row[] = [
    { id: 'nightly-report@2026-01-30T02:00:00Z', status: 'NO_WORKER', reason: 'x'.repeat(200) },
    { id: 'a@2026-01-30T02:00:00Z', status: 'SUCCEEDED', reason: '' },
  ];
  const columns = [
    { header: 'RUN', value: (r: Row) => r.id },
    { header: 'JOB', value: (r: Row) => r.id.split('@')[0], wideOnly: true },
    { header: 'STATUS', value: (r: Row) => r.status },
    { header: 'REASON', value: (r: Row) => r.reason, shrink: 10 },
  ];
  const fitted = formatTable(columns, rows, { maxWidth: 60 });
  assert.ok(
    fitted.every((line) => line.length <= 60),
    fitted.join('\n'),
  );
  assert.equal(fitted[0], 'RUN                                  STATUS     REASON');
  assert.match(fitted[1] ?? '', /^nightly-report@2026-01-30T02:00:00Z {2}NO_WORKER {2}x+…$/);
  const whole = formatTable(columns, rows);
  assert.ok(whole[1]?.endsWith('x'.repeat(200)));
  assert.match(whole[0] ?? '', /JOB/);
  // Cells are printable too: a status cannot move the cursor.
  assert.deepEqual(formatTable([{ header: 'S', value: () => '\u001b[2JOK' }], [1]), ['S', 'OK']);
});
