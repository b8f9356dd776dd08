/**
 * Envelopes received from the worker's own queue before a capacity slot was free for them. The own
 * queue carries only runs dispatched to this worker, so the agent receives full batches from it —
 * poison ahead of real work is then cleared ten messages a receive, not one per free slot — and keeps
 * the envelopes it cannot start yet here, invisible in the queue (their visibility is extended while
 * they wait, so they are not received again and their receive count stays put), until a slot frees.
 * `release()` makes whatever is still held visible again: on drain the agent hands those runs back,
 * and a restarted agent receives them.
 *
 * @example
 * const held = new HeldMessages(queue, log);
 * held.add(valid.slice(free));
 * for (const message of held.take(freeSlots)) await accept(queue, message);
 * await held.release();
 */
import type { InboxMessage } from '../core/adapters/sqs-inbox';
import type { Logger } from '../core/log';
import type { AgentQueue } from './sqs-queues';

/** How often held messages' visibility is extended, and by how much: well inside the extension. */
const EXTEND_EVERY_MS = 20_000;
const EXTEND_BY_SECONDS = 60;

export type DecodedMessage = InboxMessage & { readonly ok: true };

export class HeldMessages {
  private readonly held: DecodedMessage[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly queue: AgentQueue,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.held.length;
  }

  add(messages: readonly DecodedMessage[]): void {
    if (messages.length === 0) return;
    this.held.push(...messages);
    this.timer ??= setInterval(() => void this.extend(), EXTEND_EVERY_MS).unref();
  }

  /** Up to `count` held messages, oldest first, no longer held. */
  take(count: number): DecodedMessage[] {
    const taken = this.held.splice(0, Math.max(0, count));
    if (this.held.length === 0) this.stopTimer();
    return taken;
  }

  /** Makes every held message visible in the queue again at once. */
  async release(): Promise<void> {
    const messages = this.take(this.held.length);
    await Promise.all(
      messages.map((message) =>
        this.queue.release(message.receipt).catch((error: unknown) =>
          this.log.log('warn', 'a held message could not be released; it returns at its visibility timeout', {
            runId: message.envelope.runId,
            error,
          }),
        ),
      ),
    );
  }

  private async extend(): Promise<void> {
    await Promise.all(
      this.held.map((message) =>
        this.queue.extend(message.receipt, EXTEND_BY_SECONDS).catch((error: unknown) =>
          this.log.log('warn', 'could not keep a held message invisible', {
            runId: message.envelope.runId,
            error,
          }),
        ),
      ),
    );
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
