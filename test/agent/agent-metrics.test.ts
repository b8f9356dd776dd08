/**
 * The agent's metric channel (worker-agent/agent-metrics.ts) against the emulator's CloudWatch: what
 * an agent sends reads back with GetMetricData, and an agent with nothing to report sends nothing.
 * The end-to-end path (real agents, precise runs, the metric after SIGTERM) is in
 * test/precise/precise.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { awsClients } from '../../core/adapters/aws-clients';
import { cloudWatchClient } from '../../core/adapters/cloudwatch-client';
import { silentLogger } from '../../core/log';
import type { Run } from '../../core/model';
import { AGENT_METRICS } from '../../infra/resources';
import { AgentMetrics, startPrecisionOf } from '../../worker-agent/agent-metrics';
import { useEmulator } from '../harness';
import { readMetric } from '../harness/cloudwatch';
import { waitFor } from '../harness/wait';

const aws = useEmulator();

/** Counts the requests a client sends. */
function countRequests(client: CloudWatchClient): () => number {
  let count = 0;
  client.middlewareStack.add(
    (next) => (args) => {
      count += 1;
      return next(args);
    },
    { step: 'initialize', name: `count-${Math.random()}` },
  );
  return () => count;
}

test('GIVEN start lateness and clock offsets WHEN the agent sends them THEN CloudWatch reads back every sample, by pool and precision', async (t) => {
  await aws.provisioned();
  const stage = `${aws.prefix}-m1`;
  const cloudwatch = cloudWatchClient(aws.clients);
  t.after(() => cloudwatch.destroy());
  const metrics = new AgentMetrics({ client: cloudwatch, stage, log: silentLogger });
  // 200 distinct values twice: more than one datum's 150, so the values are split over two data.
  for (let round = 0; round < 2; round++) {
    for (let ms = 0; ms < 200; ms++) metrics.recordStartLateness('gpu', 'SECOND', ms);
  }
  metrics.recordStartLateness('gpu', 'MINUTE', 41_000);
  for (const offset of [-180, -240, -210]) metrics.recordClockOffset(offset);
  await metrics.close();

  const dims = (precision: string) => [
    { Name: 'Stage', Value: stage },
    { Name: 'Pool', Value: 'gpu' },
    { Name: 'Precision', Value: precision },
  ];
  const second = await readMetric(cloudwatch, AGENT_METRICS.runStartLateness.name, dims('SECOND'));
  assert.deepEqual(second, { samples: 400, sum: (2 * (199 * 200)) / 2, min: 0, max: 199 });
  const minute = await readMetric(cloudwatch, AGENT_METRICS.runStartLateness.name, dims('MINUTE'));
  assert.deepEqual(minute, { samples: 1, sum: 41_000, min: 41_000, max: 41_000 });
  const clock = await readMetric(cloudwatch, AGENT_METRICS.clockOffset.name, [
    { Name: 'Stage', Value: stage },
  ]);
  assert.deepEqual(clock, { samples: 3, sum: -630, min: -240, max: -180 });
});

test('GIVEN an agent with nothing to report WHEN time passes and it closes THEN it sends no request; a value is sent once, after its delay', async () => {
  await aws.provisioned();
  const { endpoint, region, credentials } = aws.emulator;
  const clients = awsClients({ endpoint, region, credentials });
  const cloudwatch = cloudWatchClient(clients);
  try {
    const requests = countRequests(cloudwatch);
    const idle = new AgentMetrics({
      client: cloudwatch,
      stage: aws.prefix,
      log: silentLogger,
      flushAfterMs: 20,
    });
    await idle.flush();
    await idle.close();
    assert.equal(requests(), 0, 'an idle agent makes no request');

    const busy = new AgentMetrics({
      client: cloudwatch,
      stage: aws.prefix,
      log: silentLogger,
      flushAfterMs: 20,
    });
    busy.recordStartLateness('default', 'LOCAL', 3);
    busy.recordStartLateness('default', 'LOCAL', 5);
    await waitFor(requests, (n) => n === 1, 'the timer sent the pending values', { timeoutMs: 30_000 });
    await busy.close();
    assert.equal(requests(), 1, 'both values in one request, and nothing left to send at close');
  } finally {
    cloudwatch.destroy();
    clients.destroy();
  }
});

test('GIVEN runs WHEN their start precision is asked THEN first starts of fires have one, other starts none', () => {
  const run = (fields: Partial<Run>) => ({ trigger: 'SCHEDULE', attempt: 1, ...fields }) as Run;
  assert.equal(startPrecisionOf(run({ replacesPlan: 3 })), 'SECOND');
  assert.equal(startPrecisionOf(run({})), 'MINUTE');
  assert.equal(startPrecisionOf(run({ trigger: 'LOCAL' })), 'LOCAL');
  assert.equal(startPrecisionOf(run({ attempt: 2 })), undefined, 'a retry starts late by design');
  assert.equal(startPrecisionOf(run({ trigger: 'MANUAL' })), undefined);
});
