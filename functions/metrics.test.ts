import assert from 'node:assert/strict';
import { test } from 'node:test';
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

test('one EMF line per dimension set, values summed into lists, nothing after a flush', () => {
  const lines: string[] = [];
  const metrics = emfMetrics({
    stage: 'clover-prod',
    fn: 'dispatcher',
    write: (l) => lines.push(l),
    now: () => 42,
  });
  metrics.put('fires', 1, { Outcome: 'dispatched' });
  metrics.put('fires', 1, { Outcome: 'dispatched' });
  metrics.put('fires', 1, { Outcome: 'no_worker' });
  metrics.put('fireLateness', 120);
  metrics.put('fireLateness', Number.NaN);
  metrics.flush();
  metrics.flush();
  const parsed = lines.map((l) => JSON.parse(l) as EmfLine);
  assert.equal(parsed.length, 3);
  const dispatched = parsed.find((l) => l.Outcome === 'dispatched')!;
  assert.deepEqual(dispatched.Fires, [1, 1]);
  assert.equal(dispatched.Stage, 'clover-prod');
  assert.equal(dispatched.fn, 'dispatcher');
  assert.deepEqual(dispatched._aws, {
    Timestamp: 42,
    CloudWatchMetrics: [
      {
        Namespace: METRIC_NAMESPACE,
        Dimensions: [['Stage', 'Outcome']],
        Metrics: [{ Name: 'Fires', Unit: 'Count' }],
      },
    ],
  });
  const lateness = parsed.find((l) => 'FireLatenessMs' in l)!;
  assert.equal(lateness.FireLatenessMs, 120);
  assert.deepEqual(lateness._aws.CloudWatchMetrics[0]!.Dimensions, [['Stage']]);
});
