import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../core/log';
import type { SweepReport } from '../../core/monitor';
import { emfMetrics } from '../metrics';
import { MonitorStepsFailedError, makeMonitorHandler } from './handler';

function fakeMonitor() {
  let sweeps = 0;
  return {
    get sweeps() {
      return sweeps;
    },
    async sweep(): Promise<SweepReport> {
      sweeps += 1;
      return { at: sweeps, errors: [] } as unknown as SweepReport;
    },
  };
}

test('sweeps once without a loop interval', async () => {
  const monitor = fakeMonitor();
  const result = await makeMonitorHandler({ monitor, log: silentLogger, loopSeconds: 0 })();
  assert.equal(result.sweeps, 1);
});

test('loops every N seconds until the run budget is spent, or the invocation runs out of time', async () => {
  let t = 0;
  const deps = {
    log: silentLogger,
    loopSeconds: 5,
    runSeconds: 55,
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
  const looped = await makeMonitorHandler({ ...deps, monitor: fakeMonitor() })();
  assert.equal(looped.sweeps, 12); // t = 0, 5, ..., 55 s
  t = 0;
  const short = await makeMonitorHandler({ ...deps, monitor: fakeMonitor() })(
    {},
    { getRemainingTimeInMillis: () => 12_000 - t },
  );
  assert.equal(short.sweeps, 2);
});

test('publishes each sweep as EMF metrics: the no-live-worker gauge and failover counts', async () => {
  const lines: string[] = [];
  const metrics = emfMetrics({
    stage: 'clover-test',
    fn: 'monitor',
    write: (line) => lines.push(line),
  });
  const monitor = {
    async sweep(): Promise<SweepReport> {
      return {
        at: 1,
        errors: [],
        jobsWithoutLiveWorker: 2,
        runsRecovered: 1,
        runsLost: 0,
        runsTimedOut: 0,
        runsResent: 3,
        workersExpired: 1,
        misfiresSkipped: 0,
        catchUpFires: 0,
        deadLettersDrained: 0,
      } as unknown as SweepReport;
    },
  };
  await makeMonitorHandler({ monitor, log: silentLogger, loopSeconds: 0, metrics })();
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!) as Record<string, unknown> & {
    _aws: {
      CloudWatchMetrics: Array<{
        Namespace: string;
        Dimensions: string[][];
        Metrics: Array<{ Name: string }>;
      }>;
    };
  };
  assert.equal(line.Stage, 'clover-test');
  assert.equal(line.JobsWithoutLiveWorker, 2);
  assert.equal(line.RunsRecovered, 1);
  assert.equal(line.RunsResent, 3);
  const [directive] = line._aws.CloudWatchMetrics;
  assert.equal(directive?.Namespace, 'Clover');
  assert.deepEqual(directive?.Dimensions, [['Stage']]);
  assert.ok(directive?.Metrics.some((m) => m.Name === 'JobsWithoutLiveWorker'));
});

test('a failing step fails the invocation after every sweep ran, naming the step and its error', async () => {
  let t = 0;
  let sweeps = 0;
  const lines: string[] = [];
  const monitor = {
    async sweep(): Promise<SweepReport> {
      sweeps += 1;
      const errors =
        sweeps === 2 ? [{ step: 'leases', message: 'AccessDeniedException: not authorized' }] : [];
      return { at: sweeps, errors } as unknown as SweepReport;
    },
  };
  const invoke = makeMonitorHandler({
    monitor,
    log: silentLogger,
    loopSeconds: 5,
    runSeconds: 15,
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
    metrics: emfMetrics({ stage: 'clover-test', fn: 'monitor', write: (line) => lines.push(line) }),
  });
  await assert.rejects(invoke(), (error: unknown) => {
    assert.ok(error instanceof MonitorStepsFailedError);
    assert.equal(error.sweeps, 4, 'the sweeps after the failing one still ran');
    assert.deepEqual(error.failures, ['leases: AccessDeniedException: not authorized']);
    assert.match(error.message, /1 failing step\(s\) in 4 sweep\(s\): leases: AccessDeniedException/);
    return true;
  });
  const stepErrors = lines.map((l) => (JSON.parse(l) as { MonitorStepErrors: number }).MonitorStepErrors);
  assert.deepEqual(stepErrors, [0, 1, 0, 0], 'each sweep still publishes its step errors');
});
