import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from './log';
import { MIN_SWEEP_GAP_MS, MonitorWaker, nextSweepIn, somethingToWatch } from './monitor/watch';
import { MemoryWatchStore } from './testing/memory-stores';

function waker(options: { fail?: boolean } = {}) {
  const clock = { t: 1_000_000, now: () => clock.t };
  const watch = new MemoryWatchStore();
  let invoked = 0;
  const invoker = {
    async invoke() {
      invoked += 1;
      if (options.fail) throw new Error('AccessDeniedException');
    },
  };
  return {
    clock,
    watch,
    get invoked() {
      return invoked;
    },
    waker: new MonitorWaker({ watch, invoker, clock, log: silentLogger, recheckMs: 10_000 }),
  };
}

test('wakes an idle monitor once, then trusts the woken watch until the recheck', async () => {
  const w = waker();
  await w.waker.wake();
  await w.waker.wake();
  assert.equal(w.invoked, 1, 'a second run within the recheck does not invoke again');
  await w.watch.take({ sweeper: 'woken', until: w.clock.t + 55_000 });
  w.clock.t += 10_000;
  await w.waker.wake();
  assert.equal(w.invoked, 1, 'the woken invocation watches: read, not invoked');
  w.clock.t += 44_000;
  await w.waker.wake();
  assert.equal(w.invoked, 1, 'the watch it read is kept until it ends: no read, no invoke');
  w.clock.t += 2_000;
  await w.waker.wake();
  assert.equal(w.invoked, 2, 'after the watch ended, work wakes the monitor again');
});

test('does not invoke while a watch covers now', async () => {
  const w = waker();
  await w.watch.take({ sweeper: 'scheduled', until: w.clock.t + 30_000 });
  await w.waker.wake();
  assert.equal(w.invoked, 0);
});

test('a failed wake is logged, not thrown, and tried again only after the recheck', async () => {
  const w = waker({ fail: true });
  await w.waker.wake();
  await w.waker.wake();
  assert.equal(w.invoked, 1);
  w.clock.t += 10_000;
  await w.waker.wake();
  assert.equal(w.invoked, 2);
});

test('something to watch: a run in flight, or a retry due before the next idle sweep', () => {
  assert.equal(somethingToWatch({ inFlight: 1 }, 0, 60_000), true);
  assert.equal(somethingToWatch({ inFlight: 0 }, 0, 60_000), false);
  assert.equal(somethingToWatch({ inFlight: 0, nextRetryAt: 60_000 }, 0, 60_000), true);
  assert.equal(somethingToWatch({ inFlight: 0, nextRetryAt: 60_001 }, 0, 60_000), false);
});

test('the next sweep while watching: a loop, or the lease expiry of a worker holding a run when sooner', () => {
  assert.equal(nextSweepIn({}, 1_000, 2_000), 2_000, 'no holder: a loop');
  assert.equal(nextSweepIn({ nextLeaseExpiryAt: 1_700 }, 1_000, 2_000), 701, 'just past the expiry');
  assert.equal(nextSweepIn({ nextLeaseExpiryAt: 9_000 }, 1_000, 2_000), 2_000, 'a loop comes first');
  assert.equal(
    nextSweepIn({ nextLeaseExpiryAt: 50 }, 40, 2_000),
    MIN_SWEEP_GAP_MS,
    'never two sweeps closer',
  );
});
