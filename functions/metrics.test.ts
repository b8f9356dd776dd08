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

test('Powertools writes one EMF line per dimension set to stdout: Stage and the put dimensions only, values listed, nothing after a flush', async () => {
  const metrics = emfMetrics({ stage: 'clover-prod', fn: 'dispatcher' });
  metrics.put('fires', 1, { Outcome: 'dispatched' });
  metrics.put('fires', 1, { Outcome: 'dispatched' });
  metrics.put('fires', 1, { Outcome: 'no_worker' });
  metrics.put('fireLateness', 120);
  metrics.put('fireLateness', Number.NaN);
  const { lines } = await captureOutput(() => {
    metrics.flush();
    metrics.flush();
  });
  const parsed = lines.map((l) => JSON.parse(l) as EmfLine);
  assert.equal(parsed.length, 3);
  const dispatched = parsed.find((l) => l.Outcome === 'dispatched')!;
  assert.deepEqual(dispatched.Fires, [1, 1]);
  assert.equal(dispatched.Stage, 'clover-prod');
  assert.equal(dispatched.service, undefined, "Powertools' default service dimension is dropped");
  assert.ok(Number.isFinite(dispatched._aws.Timestamp));
  assert.deepEqual(dispatched._aws.CloudWatchMetrics, [
    {
      Namespace: METRIC_NAMESPACE,
      Dimensions: [['Stage', 'Outcome']],
      Metrics: [{ Name: 'Fires', Unit: 'Count' }],
    },
  ]);
  const lateness = parsed.find((l) => 'FireLatenessMs' in l)!;
  assert.equal(lateness.FireLatenessMs, 120);
  assert.equal(lateness.Outcome, undefined);
  assert.deepEqual(lateness._aws.CloudWatchMetrics[0]!.Dimensions, [['Stage']]);
  assert.deepEqual(lateness._aws.CloudWatchMetrics[0]!.Metrics, [
    { Name: 'FireLatenessMs', Unit: 'Milliseconds' },
  ]);
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
