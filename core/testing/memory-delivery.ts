/**
 * The Delivery fake: records every envelope sent, its JSON size checked.
 * One fake per port (memory-stores.ts lists them); it passes the port's contract suite.
 */
/** The Delivery fake: records every envelope, with its JSON size checked. See memory-stores.ts for what every fake keeps. */
import { type DispatchEnvelope, envelopeToJson } from '../envelope';
import type { Delivery, DeliveryTarget } from '../ports';
import { clone } from './memory-copies';

export interface RecordedDelivery {
  readonly target: DeliveryTarget;
  readonly envelope: DispatchEnvelope;
}

/** Records deliveries. `failNext(error)` makes the next deliveries throw (a transport that refuses). */
export class MemoryDelivery implements Delivery {
  readonly delivered: RecordedDelivery[] = [];
  private readonly failures: Error[] = [];

  failNext(...errors: Error[]): void {
    this.failures.push(...errors);
  }

  async deliver(target: DeliveryTarget, envelope: DispatchEnvelope): Promise<void> {
    envelopeToJson(envelope); // the envelope's size limit, as every transport checks it before sending
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.delivered.push({ target: clone(target), envelope: clone(envelope) });
  }
}
