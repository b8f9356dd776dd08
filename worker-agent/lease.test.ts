import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { LeaseLostError, UnavailableError } from '../core/errors';
import type { Worker } from '../core/model';
import { LeaseKeeper, type LeaseLostReason, type LeaseRenewer } from './lease';

const T0 = 1_750_000_000_000;
const INTERVAL = 2000;
const TTL = 6000;

type Mode = 'ok' | 'unavailable' | 'lost' | 'hang';

class FakeRegistry implements LeaseRenewer {
  mode: Mode = 'ok';
  calls: { workerId: string; fence: number; now: number; ttlMs: number; load: number }[] = [];
  private pending: ((w: Worker) => void)[] = [];

  renew(workerId: string, fence: number, now: number, ttlMs: number, load: number): Promise<Worker> {
    this.calls.push({ workerId, fence, now, ttlMs, load });
    switch (this.mode) {
      case 'ok':
        return Promise.resolve(worker(now + ttlMs));
      case 'unavailable':
        return Promise.reject(new UnavailableError('workers table'));
      case 'lost':
        return Promise.reject(new LeaseLostError(workerId));
      case 'hang':
        return new Promise((resolve) => this.pending.push(resolve));
    }
  }

  /** Lets hanging renewals answer (late) with a success. */
  answerLate(): void {
    for (const resolve of this.pending.splice(0)) resolve(worker(Date.now() + TTL));
  }
}

function worker(leaseExpiresAt: number): Worker {
  return {
    workerId: 'w1',
    host: 'h',
    pool: 'default',
    handlers: [],
    labels: {},
    capacity: 4,
    priority: 100,
    endpoints: {},
    status: 'ACTIVE',
    leaseFence: 7,
    leaseExpiresAt,
    registeredAt: T0,
    heartbeatAt: T0,
    load: 0,
  };
}

/** Lets promise callbacks run (setImmediate is not mocked). */
const flush = async () => {
  for (let i = 0; i < 3; i += 1) await new Promise((r) => setImmediate(r));
};

async function advance(ms: number, step = 500): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    mock.timers.tick(Math.min(step, ms - done));
    await flush();
  }
}

function keeperWith(registry: FakeRegistry, load = () => 3) {
  const keeper = new LeaseKeeper({
    registry,
    worker: { workerId: 'w1', leaseFence: 7, leaseExpiresAt: T0 + TTL },
    intervalMs: INTERVAL,
    ttlMs: TTL,
    load,
  });
  const lost: LeaseLostReason[] = [];
  const failed: unknown[] = [];
  keeper.on('lost', (reason) => lost.push(reason));
  keeper.on('renewFailed', (error) => failed.push(error));
  return { keeper, lost, failed };
}

describe('LeaseKeeper', () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: T0 });
  });
  afterEach(() => {
    mock.timers.reset();
  });

  test('GIVEN a healthy control plane THEN it renews every interval with its fence, the time, the TTL and its load', async () => {
    const registry = new FakeRegistry();
    const { keeper, lost } = keeperWith(registry);
    keeper.start();
    await advance(60_000);
    assert.equal(registry.calls.length, 30);
    assert.deepEqual(registry.calls[0], {
      workerId: 'w1',
      fence: 7,
      now: T0 + INTERVAL,
      ttlMs: TTL,
      load: 3,
    });
    assert.equal(keeper.leaseExpiresAt, T0 + 60_000 + TTL);
    assert.deepEqual(lost, []);
    assert.equal(keeper.signal.aborted, false);
    keeper.stop();
  });

  test('GIVEN the registry refuses with LeaseLostError THEN lost is emitted once, the signal aborts and renewals stop', async () => {
    const registry = new FakeRegistry();
    const { keeper, lost } = keeperWith(registry);
    keeper.start();
    await advance(INTERVAL);
    registry.mode = 'lost';
    await advance(INTERVAL);
    assert.equal(lost.length, 1);
    assert.equal(lost[0]?.kind, 'refused');
    assert.ok(keeper.lost);
    assert.equal(keeper.signal.aborted, true);
    assert.equal((keeper.signal.reason as LeaseLostReason).kind, 'refused');
    const calls = registry.calls.length;
    await advance(20_000);
    assert.equal(registry.calls.length, calls, 'no renewals after loss');
    assert.equal(lost.length, 1);
  });

  test('transient failures are retried each interval; a success before expiry keeps the lease', async () => {
    const registry = new FakeRegistry();
    const { keeper, lost, failed } = keeperWith(registry);
    keeper.start();
    registry.mode = 'unavailable';
    await advance(4000); // renewals at +2 s and +4 s fail; the lease (until +6 s) still holds
    assert.equal(failed.length, 2);
    assert.ok(failed[0] instanceof UnavailableError);
    assert.deepEqual(lost, []);
    registry.mode = 'ok';
    await advance(1000); // +5 s: nothing due; a renewal at +6 s would be too late (the lease ends then)
    await keeper.renewOnce(); // an extra renewal (as the agent may ask for) just before expiry saves it
    assert.equal(keeper.leaseExpiresAt, T0 + 5000 + TTL);
    await advance(20_000);
    assert.deepEqual(lost, []);
    keeper.stop();
  });

  test('GIVEN the control plane keeps failing THEN lost is emitted at the lease expiry, not before', async () => {
    const registry = new FakeRegistry();
    const { keeper, lost } = keeperWith(registry);
    keeper.start();
    await advance(INTERVAL); // renewed at +2 s: expiry +8 s
    registry.mode = 'unavailable';
    mock.timers.tick(5999);
    await flush();
    assert.deepEqual(lost, []);
    mock.timers.tick(1);
    await flush();
    assert.equal(lost.length, 1);
    assert.deepEqual(lost[0], { kind: 'expired', expiredAt: T0 + INTERVAL + TTL });
  });

  test('GIVEN renewals that never answer THEN they are not doubled and the lease is lost at expiry; a late answer changes nothing', async () => {
    const registry = new FakeRegistry();
    registry.mode = 'hang';
    const { keeper, lost } = keeperWith(registry);
    keeper.start();
    await advance(TTL);
    assert.equal(registry.calls.length, 1, 'one renewal in flight, never a second');
    assert.equal(lost.length, 1);
    assert.equal(lost[0]?.kind, 'expired');
    registry.answerLate();
    await flush();
    assert.ok(keeper.lost);
    assert.equal(lost.length, 1);
  });

  test('stop() ends renewals without emitting lost', async () => {
    const registry = new FakeRegistry();
    const { keeper, lost } = keeperWith(registry);
    keeper.start();
    await advance(INTERVAL);
    keeper.stop();
    await advance(30_000);
    assert.equal(registry.calls.length, 1);
    assert.deepEqual(lost, []);
    assert.equal(keeper.signal.aborted, false);
  });

  test('a lease that has already expired at start is lost at once', async () => {
    const registry = new FakeRegistry();
    const keeper = new LeaseKeeper({
      registry,
      worker: { workerId: 'w1', leaseFence: 7, leaseExpiresAt: T0 - 1 },
      intervalMs: INTERVAL,
      ttlMs: TTL,
    });
    const lost: LeaseLostReason[] = [];
    keeper.on('lost', (r) => lost.push(r));
    keeper.start();
    mock.timers.tick(0);
    await flush();
    assert.equal(lost.length, 1);
  });

  test('an interval not shorter than the TTL is refused', () => {
    assert.throws(
      () =>
        new LeaseKeeper({
          registry: new FakeRegistry(),
          worker: { workerId: 'w1', leaseFence: 1, leaseExpiresAt: T0 },
          intervalMs: 6000,
          ttlMs: 6000,
        }),
      RangeError,
    );
  });
});
