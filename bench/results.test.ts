import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { UnavailableError } from '../core/errors';
import { breakdown } from './aws-timeline';
import { loadPrices, perMillionFires, requestUnits, runIndexWrites } from './cost-model';
import {
  type BenchResult,
  errorText,
  failedFigures,
  mergeResults,
  README_END,
  README_START,
  type RunMeta,
  renderMarkdown,
  renderTable,
  replaceReadmeTable,
  tryFigure,
} from './results';

const meta = (date: string): RunMeta => ({
  date,
  machine: { cpu: 'Test CPU', cores: 2, memoryGiB: 4, loadAverage: [1, 2, 3] },
  node: 'v20.0.0',
  commit: 'abc1234',
  emulator: 'moto_server 5.2.1',
});
const result = (measuredAt: string, extra: Partial<BenchResult>): BenchResult => ({
  description: 'd',
  measuredAt,
  commit: 'abc1234',
  loadAverageAtStart: [1, 1, 1],
  seconds: 1,
  ok: true,
  ...extra,
});

test('a subset run replaces its benches, keeps the others with their dates, and lifts the Redis peer into meta', () => {
  const first = mergeResults(undefined, meta('2026-11-27T10:00:00Z'), {
    zmq: result('2026-11-27T10:00:00Z', {
      headline: [{ figure: 'p50', value: 80, unit: 'ms', compare: { against: 'floor', value: 31 } }],
    }),
    peer: result('2026-11-27T10:05:00Z', { figures: { redis: { version: '7.0.15', hz: 10 } } }),
  });
  const second = mergeResults(first, meta('2026-11-27T11:00:00Z'), {
    zmq: result('2026-11-27T11:00:00Z', { ok: false, error: 'emulator | gone' }),
  });
  assert.equal(second.meta.date, '2026-11-27T11:00:00Z');
  assert.deepEqual(second.meta.redis, { version: '7.0.15', hz: 10 });
  assert.equal(second.benches.peer?.measuredAt, '2026-11-27T10:05:00Z');

  assert.match(
    renderTable(first),
    /\| zmq \| p50 \| 80 ms \| floor: 31 ms \| 2\.58x \| 2026-11-27 10:00 \(abc1234\) \|/,
  );
  // A failure is a row of its own, its error escaped for the table.
  assert.match(renderTable(second), /\| zmq \| \*\*failed\*\* \| emulator \\\| gone \|/);

  const readme = `intro\n${README_START}\nold table\n${README_END}\noutro\n`;
  const written = replaceReadmeTable(readme, second);
  assert.ok(written.startsWith(`intro\n${README_START}\n`) && written.endsWith(`${README_END}\noutro\n`));
  assert.ok(!written.includes('old table') && written.includes('Test CPU, 2 cores'));
  assert.throws(() => replaceReadmeTable('no markers', second), /lacks the markers/);
});

test('a failed figure is recorded with its error and causes, and the figures measured beside it are kept', async () => {
  const timeout = Object.assign(new Error('a request has exceeded the configured 5000 ms requestTimeout'), {
    name: 'TimeoutError',
  });
  const figures = {
    'jobs, all': await tryFigure(async () => ({ p50Ms: 12 })),
    nested: {
      'stats, last 24 hours': await tryFigure(async () => {
        throw new UnavailableError('index bench-runs.byDay', timeout);
      }),
    },
    // A figure that happens to carry `failed` among others is a figure, not a failure.
    counts: { failed: 'none', runs: 3 },
  };
  assert.deepEqual(figures['jobs, all'], { p50Ms: 12 });
  const failed = failedFigures(figures);
  assert.deepEqual(failed, {
    'nested.stats, last 24 hours':
      'UnavailableError: index bench-runs.byDay is unavailable (cause: TimeoutError: a request has exceeded the configured 5000 ms requestTimeout)',
  });
  assert.equal(errorText('plain'), 'plain');

  const results = mergeResults(undefined, meta('2026-11-27T12:00:00Z'), {
    api: result('2026-11-27T12:00:00Z', {
      figures,
      failedFigures: failed,
      headline: [
        { figure: 'jobs page', value: 12, unit: 'ms' },
        { figure: 'stats', value: Number.NaN, unit: 'ms' },
      ],
    }),
  });
  const table = renderTable(results);
  // The failure is a row naming the figure and its cause; the measured row stays; the NaN row does not.
  assert.match(
    table,
    /\| api \| \*\*failed\*\*: nested\.stats, last 24 hours \| UnavailableError: .*TimeoutError/,
  );
  assert.match(table, /\| api \| jobs page \| 12 ms \|/);
  assert.doesNotMatch(table, /NaN/);
  assert.match(
    renderMarkdown(results),
    /- jobs, all\.p50Ms: 12\n- nested\.stats, last 24 hours\.failed: UnavailableError/,
  );
});

test('a breakdown clips calls to the window and counts overlapping calls once in the time outside them', () => {
  const parts = breakdown(
    [
      { label: 'DynamoDB.GetItem(jobs)', start: 0, end: 10 },
      { label: 'SQS.ReceiveMessage(worker)', start: -500, end: 40 },
      { label: 'DynamoDB.UpdateItem(runs)', start: 50, end: 60 },
      { label: 'DynamoDB.UpdateItem(runs)', start: 90, end: 200 },
    ],
    0,
    100,
  );
  assert.deepEqual(parts, {
    'DynamoDB.GetItem(jobs)': 10,
    'SQS.ReceiveMessage(worker)': 40,
    'DynamoDB.UpdateItem(runs)': 20,
    'outside AWS calls': 40,
  });
});

test("request units follow the tables' indexes, and a million fires is priced from bench/aws-prices.json", () => {
  // A transaction writes each item twice; the runs indexes are counted per fire (runIndexWrites), locks has none.
  assert.deepEqual(requestUnits('DynamoDB.TransactWriteItems(locks+runs)'), { read: 0, write: 4 });
  assert.deepEqual(requestUnits('DynamoDB.TransactWriteItems(check:jobs+locks+runs)'), {
    read: 0,
    write: 6,
  });
  assert.deepEqual(requestUnits('DynamoDB.UpdateItem(runs)'), { read: 0, write: 1 });
  // Keys-only indexes are written once per fire (created), byOpenKeys twice (in, and out when final);
  // the claim, an in-place status change, writes none.
  assert.deepEqual(runIndexWrites(), { byJob: 1, byOpenKeys: 2, byWorker: 1, byDay: 1 });
  assert.deepEqual(requestUnits('DynamoDB.UpdateItem(locks)'), { read: 0, write: 1 });
  assert.deepEqual(requestUnits('DynamoDB.GetItem(jobs)'), { read: 1, write: 0 });
  assert.deepEqual(requestUnits('SQS.SendMessage(worker)'), { read: 0, write: 0 });
  const cost = perMillionFires(
    loadPrices(),
    {
      'DynamoDB.GetItem(jobs)': 1,
      'DynamoDB.TransactWriteItems(locks+runs)': 1,
      'SQS.SendMessage(worker)': 1,
    },
    { dispatcherGb: 0.5, dispatcherPlatformLines: false },
    512,
  );
  // 4 write units, and 5 the run's index writes over its life.
  assert.deepEqual(cost.perFire, {
    logBytes: 512,
    dynamoWriteUnits: 9,
    runIndexWriteUnits: { byJob: 1, byOpenKeys: 2, byWorker: 1, byDay: 1 },
    dynamoReadUnits: 1,
    sqsRequests: 1,
  });
  // 9 × $0.625 + 1 × $0.125 + 1 × $0.40 per million requests or units.
  assert.equal(cost.dollars['DynamoDB writes'], 5.63);
  assert.equal(cost.dollars['SQS requests'], 0.4);
  assert.equal(cost.dollars['Scheduler invocation'], 1);
  // Half a KB a fire is half a GB a million fires, at $0.50 per GB; Lambda's own lines add 1 KB where kept.
  assert.equal(cost.dollars.logs, 0.24);
  const withPlatformLines = perMillionFires(
    loadPrices(),
    {},
    { dispatcherGb: 0.5, dispatcherPlatformLines: true },
    512,
  );
  assert.equal(withPlatformLines.perFire.logBytes, 1536);
  assert.equal(withPlatformLines.dollars.logs, 0.72);
});

test('docs/aws-prices.md shows exactly the rows of bench/aws-prices.json, with its date and region', () => {
  const prices = loadPrices();
  const doc = readFileSync(new URL('../docs/aws-prices.md', import.meta.url), 'utf8');
  const rows = doc
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| service') && !line.startsWith('| ---'))
    .map((line) => line.slice(2, -2).split(' | '));
  assert.deepEqual(
    rows,
    prices.items.map((item) => [item.service, item.item, item.price]),
  );
  assert.ok(doc.includes(`Dated ${prices.date}. Region ${prices.region}`));
});
