import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WAKE_EVENT } from '../../core/adapters/lambda-monitor-invoker';
import { silentLogger } from '../../core/log';
import type { SweepReport } from '../../core/monitor';
import { MemoryWatchStore } from '../../core/testing/memory-stores';
import { emfMetrics } from '../metrics';
import { MonitorStepsFailedError, makeMonitorHandler, SWEEP_METRICS } from './handler';

/** A monitor whose every sweep finds `inFlight` runs in flight. */
function fakeMonitor(inFlight = 0) {
  let sweeps = 0;
  return {
    get sweeps() {
      return sweeps;
    },
    async sweep(): Promise<SweepReport> {
      sweeps += 1;
      return { at: sweeps, errors: [], inFlight } as unknown as SweepReport;
    },
  };
}

/** A clock the handler's sleeps advance. */
function fakeTime() {
  const clock = { t: 0 };
  return {
    clock,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
    },
  };
}

test('sweeps once without a loop interval', async () => {
  const monitor = fakeMonitor(3);
  const result = await makeMonitorHandler({ monitor, log: silentLogger, loopSeconds: 0 })();
  assert.equal(result.sweeps, 1);
});

test('a scheduled invocation with nothing in flight sweeps once and takes no watch', async () => {
  const watch = new MemoryWatchStore();
  const time = fakeTime();
  const result = await makeMonitorHandler({
    ...time,
    monitor: fakeMonitor(0),
    log: silentLogger,
    loopSeconds: 2,
    watch,
  })();
  assert.deepEqual([result.sweeps, result.watched], [1, false]);
  assert.equal(await watch.read(), null);
});

test('a retry due within the schedule interval is watched for; one due later is not', async () => {
  const time = fakeTime();
  const retryAt = (nextRetryAt: number) => ({
    async sweep(): Promise<SweepReport> {
      return { at: 0, errors: [], inFlight: 0, nextRetryAt } as unknown as SweepReport;
    },
  });
  const deps = { ...time, log: silentLogger, loopSeconds: 2, runSeconds: 10 };
  assert.equal((await makeMonitorHandler({ ...deps, monitor: retryAt(30_000) })()).watched, true);
  time.clock.t = 0;
  assert.equal((await makeMonitorHandler({ ...deps, monitor: retryAt(90_000) })()).watched, false);
});

test('with work in flight it watches: takes the watch and loops until the run budget, or the invocation runs out of time', async () => {
  const time = fakeTime();
  const watch = new MemoryWatchStore();
  const deps = { ...time, log: silentLogger, loopSeconds: 5, runSeconds: 55, watch };
  const looped = await makeMonitorHandler({ ...deps, monitor: fakeMonitor(1) })(undefined, {
    awsRequestId: 'r1',
  });
  assert.equal(looped.sweeps, 12); // t = 0, 5, ..., 55 s
  assert.deepEqual(await watch.read(), { sweeper: 'r1', until: 55_000 });
  time.clock.t = 0;
  const short = await makeMonitorHandler({ ...deps, monitor: fakeMonitor(1) })(
    {},
    { getRemainingTimeInMillis: () => 12_000 - time.clock.t },
  );
  assert.equal(short.sweeps, 2);
});

test('while watching, the next sweep comes at the lease expiry of a worker holding a run, when that is sooner than a loop', async () => {
  const time = fakeTime();
  const at: number[] = [];
  const monitor = {
    async sweep(): Promise<SweepReport> {
      at.push(time.clock.t);
      // The holder's lease runs out 700 ms after the first sweep, then it renewed: 8 s ahead.
      const nextLeaseExpiryAt = at.length === 1 ? time.clock.t + 700 : time.clock.t + 8_000;
      return { at: time.clock.t, errors: [], inFlight: 1, nextLeaseExpiryAt } as unknown as SweepReport;
    },
  };
  await makeMonitorHandler({ ...time, monitor, log: silentLogger, loopSeconds: 2, runSeconds: 5 })();
  assert.deepEqual(at, [0, 701, 2_701, 4_701]);
});

test('a watching invocation stops once a newer one took the watch', async () => {
  const time = fakeTime();
  const watch = new MemoryWatchStore();
  const monitor = {
    sweeps: 0,
    async sweep(): Promise<SweepReport> {
      this.sweeps += 1;
      // The next minute's invocation takes over after this one's third sweep.
      if (this.sweeps === 3) await watch.take({ sweeper: 'next', until: 999_999 });
      return { at: 0, errors: [], inFlight: 1 } as unknown as SweepReport;
    },
  };
  const result = await makeMonitorHandler({ ...time, monitor, log: silentLogger, loopSeconds: 2, watch })(
    undefined,
    { awsRequestId: 'first' },
  );
  assert.equal(result.sweeps, 3);
});

test('a woken invocation watches for its whole time, even before its work shows; a second one woken meanwhile does not sweep', async () => {
  const time = fakeTime();
  const watch = new MemoryWatchStore();
  const deps = { ...time, log: silentLogger, loopSeconds: 2, runSeconds: 10, watch };
  const first = makeMonitorHandler({ ...deps, monitor: fakeMonitor(0) })(WAKE_EVENT, { awsRequestId: 'w1' });
  const woken = await first;
  assert.deepEqual([woken.sweeps, woken.watched], [6, true]); // t = 0, 2, ..., 10 s
  time.clock.t = 4_000;
  const second = await makeMonitorHandler({ ...deps, monitor: fakeMonitor(0) })(WAKE_EVENT, {
    awsRequestId: 'w2',
  });
  assert.deepEqual([second.sweeps, second.watched], [0, false], 'w1 watches until 10 s');
  assert.equal((await watch.read())?.sweeper, 'w1');
  time.clock.t = 9_000;
  const third = await makeMonitorHandler({ ...deps, monitor: fakeMonitor(0) })(WAKE_EVENT, {
    awsRequestId: 'w3',
  });
  assert.equal(third.watched, true, 'a watch ending before the first loop is taken over');
});

test('a sweep with a failing step is watched too: the failure may have hidden the runs in flight', async () => {
  const time = fakeTime();
  const monitor = {
    async sweep(): Promise<SweepReport> {
      return {
        at: 0,
        errors: [{ step: 'leases', message: 'throttled' }],
        inFlight: 0,
      } as unknown as SweepReport;
    },
  };
  await assert.rejects(
    makeMonitorHandler({ ...time, monitor, log: silentLogger, loopSeconds: 5, runSeconds: 10 })(),
    (error: unknown) => error instanceof MonitorStepsFailedError && error.sweeps === 3,
  );
});

test('an idle sweep publishes no metric; a sweep publishes only its non-zero counts', async () => {
  const lines: string[] = [];
  const metrics = emfMetrics({ stage: 'clover-test', fn: 'monitor', write: (line) => lines.push(line) });
  const idle = Object.fromEntries(Object.keys(SWEEP_METRICS).map((k) => [k, 0]));
  const report = (extra: Record<string, number>) => ({
    async sweep(): Promise<SweepReport> {
      return {
        ...idle,
        misfiresSkipped: 0,
        catchUpFires: 0,
        deadLettersDrained: 0,
        inFlight: 0,
        errors: [],
        ...extra,
      } as unknown as SweepReport;
    },
  });
  await makeMonitorHandler({ monitor: report({}), log: silentLogger, loopSeconds: 0, metrics })();
  assert.deepEqual(lines, [], 'nothing to bill at idle');
  await makeMonitorHandler({
    monitor: report({ runsLost: 2 }),
    log: silentLogger,
    loopSeconds: 0,
    metrics,
  })();
  const line = JSON.parse(lines[0]!) as Record<string, unknown> & {
    _aws: { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> };
  };
  assert.deepEqual(
    line._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name),
    ['RunsLost'],
  );
  assert.equal(line.RunsLost, 2);
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
      return { at: sweeps, errors, inFlight: 1 } as unknown as SweepReport;
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
  assert.deepEqual(
    stepErrors,
    [1],
    'the sweep with a failing step publishes it; the others have nothing to publish',
  );
});
