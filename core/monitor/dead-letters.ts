import { FireRequestSchema } from '../dispatch';
import type { Logger } from '../log';
import type { FireDeadLetters } from '../ports';
import type { SweepReport } from './report';

/** One job's dead-lettered fires: their scheduled instants, and the receipts to ack once they are settled. */
export interface DeadFires {
  readonly instants: Set<number>;
  readonly receipts: string[];
}

/**
 * EventBridge Scheduler's dead-letter queue as the misfire step reads it: fires the Scheduler could not
 * deliver, grouped by job. Without a queue (unit tests, no DLQ configured) there are none.
 */
export class DeadLetters {
  constructor(
    private readonly source: FireDeadLetters | undefined,
    private readonly log: Logger,
  ) {}

  /** Up to 100 messages; malformed ones are dropped (acked) with a warning. */
  async drain(report: SweepReport): Promise<Map<string, DeadFires>> {
    const dead = new Map<string, DeadFires>();
    const source = this.source;
    if (!source) return dead;
    for (let page = 0; page < 10; page++) {
      const batch = await source.receive(10);
      if (batch.length === 0) break;
      for (const message of batch) {
        report.deadLettersDrained += 1;
        const parsed = FireRequestSchema.safeParse(message.body);
        if (!parsed.success || !parsed.data.scheduledTime) {
          this.log.log('warn', 'malformed dead-lettered fire; dropped', { body: message.body });
          await source.ack(message.receipt);
          continue;
        }
        const entry = dead.get(parsed.data.jobId) ?? { instants: new Set<number>(), receipts: [] };
        entry.instants.add(Date.parse(parsed.data.scheduledTime));
        entry.receipts.push(message.receipt);
        dead.set(parsed.data.jobId, entry);
      }
    }
    return dead;
  }

  async ack(receipts: readonly string[]): Promise<void> {
    for (const receipt of receipts) await this.source?.ack(receipt);
  }
}
