import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../core/log';
import type { SweepReport } from '../../core/monitor';
import { waitFor } from '../../test/harness/wait';
import { startLocalMonitorLoop } from './monitor-loop';

/** A sweep source whose in-flight count the test sets; counts sweeps. */
function sweeps() {
  const state = { count: 0, inFlight: 0 };
  return {
    state,
    sweep: async () => {
      state.count += 1;
      return { errors: [], inFlight: state.inFlight } as unknown as SweepReport;
    },
  };
}

test('npm start sweeps once at start, then idles a minute; work found or a wake makes it watch', async () => {
  const s = sweeps();
  // An idle wait far longer than the test: only a wake, or work in flight, brings the next sweep.
  const loop = startLocalMonitorLoop({
    sweep: s.sweep,
    log: silentLogger,
    watchMs: 20,
    idleMs: 600_000,
    watchForMs: 600_000,
  });
  try {
    await waitFor(
      () => s.state.count,
      (n) => n === 1,
      'the first sweep',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(s.state.count, 1, 'no work: no sweep before the idle minute');
    s.state.inFlight = 1;
    loop.wake();
    await waitFor(
      () => s.state.count,
      (n) => n >= 5,
      'sweeps every watchMs once woken',
    );
  } finally {
    await loop.stop();
  }
});

test('stopping the loop tells the sweep under way to act on nothing more, and starts no other', async () => {
  let signal: AbortSignal | undefined;
  let sweeps = 0;
  let finish: (report: SweepReport) => void = () => {};
  const loop = startLocalMonitorLoop({
    sweep: (s) => {
      sweeps += 1;
      signal = s;
      return new Promise((resolve) => {
        finish = resolve;
      });
    },
    log: silentLogger,
    watchMs: 20,
  });
  await waitFor(
    () => signal,
    (s) => s !== undefined,
    'the first sweep',
  );
  assert.equal(signal?.aborted, false);
  const stopped = loop.stop();
  assert.equal(signal?.aborted, true, 'aborted at once, while the sweep is under way');
  finish({ errors: [], inFlight: 1 } as unknown as SweepReport);
  await stopped;
  assert.equal(sweeps, 1);
});
