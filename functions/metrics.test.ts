import assert from 'node:assert/strict';
import { test } from 'node:test';
import { captureOutput } from '../test/harness/output';
import { emfMetrics, METRIC_NAMESPACE } from './metrics';

type EmfLine = Record<string, unknown> & {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit: string }>;
    }>;
  };
};

test('one EMF line per flush on stdout, a metric directive per dimension set (Stage and the put dimensions only); sets that disagree on a key get lines of their own; nothing after a flush', async () => {
  const metrics = emfMetrics({ stage: 'clover-prod', fn: 'dispatcher' });
  metrics.put('fires', 1, { Outcome: 'dispatched' });
  metrics.put('fires', 1, { Outcome: 'dispatched' });
  metrics.put('fires', 1, { Outcome: 'no_worker' });
  metrics.put('fireLateness', 120);
  metrics.put('fireLateness', Number.NaN);
  const { lines } = await captureOutput(() => {
    metrics.flush({ jobId: 'nightly', workerId: undefined });
    metrics.flush();
  });
  const parsed = lines.map((l) => JSON.parse(l) as EmfLine);
  assert.equal(
    parsed.length,
    2,
    'Outcome dispatched and no_worker cannot share a line; the lateness joins the first',
  );
  const dispatched = parsed.find((l) => l.Outcome === 'dispatched')!;
  assert.deepEqual(dispatched.Fires, [1, 1]);
  assert.equal(dispatched.Stage, 'clover-prod');
  assert.equal(dispatched.jobId, 'nightly', 'properties ride on the line');
  assert.equal('workerId' in dispatched, false, 'an undefined property is left out');
  assert.equal(dispatched.service, undefined, "Powertools' default service dimension is dropped");
  assert.ok(Number.isFinite(dispatched._aws.Timestamp));
  assert.equal(dispatched.FireLatenessMs, 120);
  assert.deepEqual(dispatched._aws.CloudWatchMetrics, [
    {
      Namespace: METRIC_NAMESPACE,
      Dimensions: [['Stage', 'Outcome']],
      Metrics: [{ Name: 'Fires', Unit: 'Count' }],
    },
    {
      Namespace: METRIC_NAMESPACE,
      Dimensions: [['Stage']],
      Metrics: [{ Name: 'FireLatenessMs', Unit: 'Milliseconds' }],
    },
  ]);
  const noWorker = parsed.find((l) => l.Outcome === 'no_worker')!;
  assert.equal(noWorker.Fires, 1);
  assert.equal(noWorker.FireLatenessMs, undefined);
  assert.equal(noWorker.jobId, 'nightly');
});

test('a write option receives the same lines instead of stdout', async () => {
  const written: string[] = [];
  const metrics = emfMetrics({ stage: 'clover-prod', fn: 'notifier', write: (line) => written.push(line) });
  metrics.put('alertsSent', 2);
  const { lines } = await captureOutput(() => metrics.flush());
  assert.deepEqual(lines, []);
  const [line] = written.map((l) => JSON.parse(l) as EmfLine);
  assert.equal(line?.AlertsSent, 2);
  assert.deepEqual(line?._aws.CloudWatchMetrics[0]?.Dimensions, [['Stage']]);
});
