import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../core/log';
import type { SweepReport } from '../../core/monitor';
import { makeMonitorHandler } from './handler';

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
