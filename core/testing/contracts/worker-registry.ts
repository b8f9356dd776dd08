import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseLostError } from '../../errors';
import type { WorkerRegistry } from '../../ports';
import { sampleRegistration, T0, uniqueId } from './fixtures';

const TTL = 10_000;

/** The WorkerRegistry contract: leases fenced by a strictly increasing number (ARCHITECTURE.md invariants 3-4). */
export function workerRegistryContract(
  name: string,
  makeSubject: () => Promise<{ workers: WorkerRegistry }>,
): void {
  describe(`WorkerRegistry contract: ${name}`, () => {
    it('registers an ACTIVE worker with a lease and reads it back', async () => {
      const { workers } = await makeSubject();
      const registration = sampleRegistration();
      const worker = await workers.register(registration, T0, TTL);
      assert.deepEqual(worker, {
        ...registration,
        status: 'ACTIVE',
        leaseFence: 1,
        leaseExpiresAt: T0 + TTL,
        registeredAt: T0,
        heartbeatAt: T0,
        load: 0,
      });
      assert.deepEqual(await workers.get(registration.workerId), worker);
      assert.equal(await workers.get(uniqueId('missing')), null);
    });

    it('gives a re-registration a higher lease fence and makes the old lease useless', async () => {
      const { workers } = await makeSubject();
      const registration = sampleRegistration();
      const first = await workers.register(registration, T0, TTL);
      const second = await workers.register({ ...registration, capacity: 8 }, T0 + 1, TTL);
      assert.ok(second.leaseFence > first.leaseFence);
      assert.equal(second.capacity, 8);
      await assert.rejects(
        workers.renew(registration.workerId, first.leaseFence, T0 + 2, TTL, 0),
        (error: unknown) => {
          assert.ok(error instanceof LeaseLostError);
          assert.equal(error.workerId, registration.workerId);
          return true;
        },
      );
      await assert.rejects(
        workers.setStatus(registration.workerId, first.leaseFence, 'GONE', T0 + 2),
        LeaseLostError,
      );
      const third = await workers.register(registration, T0 + 3, TTL);
      assert.ok(third.leaseFence > second.leaseFence);
    });

    it('renews a live lease with the current fence, recording load and heartbeat', async () => {
      const { workers } = await makeSubject();
      const registration = sampleRegistration();
      const worker = await workers.register(registration, T0, TTL);
      const renewed = await workers.renew(registration.workerId, worker.leaseFence, T0 + 5_000, TTL, 3);
      assert.equal(renewed.leaseExpiresAt, T0 + 5_000 + TTL);
      assert.equal(renewed.heartbeatAt, T0 + 5_000);
      assert.equal(renewed.load, 3);
      assert.equal(renewed.leaseFence, worker.leaseFence);
      assert.equal(renewed.registeredAt, T0);
    });

    it('refuses to renew an expired lease or an unknown worker', async () => {
      const { workers } = await makeSubject();
      const registration = sampleRegistration();
      const worker = await workers.register(registration, T0, TTL);
      await assert.rejects(
        workers.renew(registration.workerId, worker.leaseFence, T0 + TTL, TTL, 0),
        LeaseLostError,
      );
      await assert.rejects(workers.renew(uniqueId('missing'), 1, T0, TTL, 0), LeaseLostError);
    });

    it('expires a lease only after it ran out, and only once', async () => {
      const { workers } = await makeSubject();
      const registration = sampleRegistration();
      const worker = await workers.register(registration, T0, TTL);
      assert.equal(await workers.expire(registration.workerId, worker.leaseFence, T0 + TTL - 1), false);
      assert.equal((await workers.get(registration.workerId))?.status, 'ACTIVE');
      assert.equal(await workers.expire(registration.workerId, worker.leaseFence + 1, T0 + TTL), false);
      assert.equal(await workers.expire(registration.workerId, worker.leaseFence, T0 + TTL), true);
      assert.equal((await workers.get(registration.workerId))?.status, 'GONE');
      assert.equal(await workers.expire(registration.workerId, worker.leaseFence, T0 + TTL + 1), false);
      assert.equal(await workers.expire(uniqueId('missing'), 1, T0), false);
      await assert.rejects(
        workers.renew(registration.workerId, worker.leaseFence, T0 + 1, TTL, 0),
        LeaseLostError,
      );
    });

    it('does not expire a lease that was renewed in time', async () => {
      const { workers } = await makeSubject();
      const registration = sampleRegistration();
      const worker = await workers.register(registration, T0, TTL);
      await workers.renew(registration.workerId, worker.leaseFence, T0 + TTL - 1, TTL, 0);
      assert.equal(await workers.expire(registration.workerId, worker.leaseFence, T0 + TTL), false);
    });

    it('drains a live lease, keeps renewing it, and releases it as GONE even after expiry', async () => {
      const { workers } = await makeSubject();
      const registration = sampleRegistration();
      const worker = await workers.register(registration, T0, TTL);
      await workers.setStatus(registration.workerId, worker.leaseFence, 'DRAINING', T0 + 1);
      assert.equal((await workers.get(registration.workerId))?.status, 'DRAINING');
      const renewed = await workers.renew(registration.workerId, worker.leaseFence, T0 + 2, TTL, 1);
      assert.equal(renewed.status, 'DRAINING');
      await assert.rejects(
        workers.setStatus(registration.workerId, worker.leaseFence, 'DRAINING', T0 + 2 + TTL),
        LeaseLostError,
      );
      await workers.setStatus(registration.workerId, worker.leaseFence, 'GONE', T0 + 100 * TTL);
      assert.equal((await workers.get(registration.workerId))?.status, 'GONE');
      await assert.rejects(
        workers.renew(registration.workerId, worker.leaseFence, T0 + 3, TTL, 0),
        LeaseLostError,
      );
    });

    it('lists live and draining workers, by pool, leaving out GONE ones', async () => {
      const { workers } = await makeSubject();
      const pool = uniqueId('pool');
      const a = await workers.register(sampleRegistration({ pool, workerId: uniqueId('a') }), T0, TTL);
      const b = await workers.register(sampleRegistration({ pool, workerId: uniqueId('b') }), T0, TTL);
      const other = await workers.register(sampleRegistration(), T0, TTL);
      await workers.setStatus(b.workerId, b.leaseFence, 'GONE', T0);
      assert.deepEqual(await workers.list(pool), [a]);
      const all = await workers.list();
      assert.ok(all.some((w) => w.workerId === a.workerId));
      assert.ok(all.some((w) => w.workerId === other.workerId));
      assert.ok(!all.some((w) => w.workerId === b.workerId));
    });
  });
}
