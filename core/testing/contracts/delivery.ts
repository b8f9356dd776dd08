import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DispatchEnvelope } from '../../envelope';
import { PayloadTooLargeError } from '../../errors';
import type { Delivery, DeliveryTarget } from '../../ports';
import { sampleEnvelope } from './fixtures';

export interface DeliverySubject {
  readonly delivery: Delivery;
  /** A pool target the transport can reach. */
  readonly pool: DeliveryTarget;
  /** A worker target the transport can reach. */
  readonly worker: DeliveryTarget;
  /** Everything delivered to `target` since the last call (drains it). */
  received(target: DeliveryTarget): Promise<DispatchEnvelope[]>;
}

/** The Delivery contract: what is delivered arrives, decoded, unchanged; what is too big is never sent. */
export function deliveryContract(name: string, makeSubject: () => Promise<DeliverySubject>): void {
  describe(`Delivery contract: ${name}`, () => {
    it('delivers to a pool: received and decoded to the same envelope', async () => {
      const subject = await makeSubject();
      await subject.received(subject.pool);
      const envelope = sampleEnvelope();
      await subject.delivery.deliver(subject.pool, envelope);
      assert.deepEqual(await subject.received(subject.pool), [envelope]);
    });

    it('delivers to one worker', async () => {
      const subject = await makeSubject();
      await subject.received(subject.worker);
      const envelope = sampleEnvelope({ payload: null, attempt: 2, fence: 9 });
      await subject.delivery.deliver(subject.worker, envelope);
      assert.deepEqual(await subject.received(subject.worker), [envelope]);
    });

    it('refuses an oversized payload with PayloadTooLargeError and sends nothing', async () => {
      const subject = await makeSubject();
      await subject.received(subject.pool);
      const envelope = sampleEnvelope({ payload: { blob: 'x'.repeat(300 * 1024) } });
      await assert.rejects(subject.delivery.deliver(subject.pool, envelope), PayloadTooLargeError);
      assert.deepEqual(await subject.received(subject.pool), []);
    });
  });
}
