/**
 * The agent's SQS intake: long-polls the worker's own queue and the pool's queue while a capacity
 * slot is free (zmq-intake.ts is the ZeroMQ one). An envelope is only a pointer: the claim
 * (DISPATCHED → RUNNING, RunLedger.claim) is one conditional write that succeeds only for a run
 * dispatched to this worker (or to its pool) with the envelope's fence and with every other field the
 * envelope names equal to the record's. The message is deleted once the claim is decided — won, or
 * refused (the run does not exist, is not waiting, or the envelope disagrees with the record: logged
 * with what differed, record untouched). A message that cannot be decoded or validated is moved to
 * the queue's dead-letter queue on its first receipt, with the reason.
 *
 * @example
 * const intake = new SqsIntake({ workerId, runs, holdPlan, deps, state, clock, log, failures });
 * intake.start([ownQueue, poolQueue], ownQueue);
 * // drain
 * await intake.stop();
 * await intake.handBackQueued(ownQueue);
 */
import type { InboxMessage } from '../core/adapters/sqs-inbox';
import { claimFromEnvelope, type DispatchEnvelope } from '../core/envelope';
import { type FailureLog, type Logger, runLogScope } from '../core/log';
import { claimDifferences } from '../core/model';
import type { Clock } from '../core/ports';
import type { AgentDeps } from './agent-deps';
import { type DecodedMessage, HeldMessages } from './held-messages';
import { isRefusedOrGone, logRefusedClaim } from './refusals';
import { type RunExecutor, sleep } from './run-executor';
import type { AgentQueue } from './sqs-queues';

/** Batches of poison being moved to the dead-letter queue at once, per queue, while receiving goes on. */
const MAX_DEAD_LETTER_BATCHES_IN_FLIGHT = 4;
/** Pause after a failed receive before the next one. */
const RECEIVE_BACKOFF_MS = 1000;

export interface SqsIntakeOptions {
  readonly workerId: string;
  /** The slots the envelopes' runs take, and where they are claimed. */
  readonly runs: RunExecutor;
  /** Holds a precise job's planned fire until its instant; false while planned fires are not held here. */
  readonly holdPlan: (envelope: DispatchEnvelope) => boolean;
  /** True while a slot is free and the agent takes work. */
  readonly hasCapacity: () => boolean;
  /** True while the agent takes work (its state is RUNNING). */
  readonly taking: () => boolean;
  readonly deps: Pick<AgentDeps, 'execution' | 'runs'>;
  /** Long-poll wait of each receive. */
  readonly receiveWaitSeconds: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly failures: FailureLog;
}

export class SqsIntake {
  private readonly receiveStop = new AbortController();
  private loops: Promise<void>[] = [];
  private readonly log: Logger;

  constructor(private readonly options: SqsIntakeOptions) {
    this.log = options.log;
  }

  /** Starts one receive loop per queue; `own` is the worker's own queue. */
  start(queues: readonly AgentQueue[], own: AgentQueue): void {
    for (const queue of queues) this.loops.push(this.receiveLoop(queue, queue === own));
  }

  /** Stops receiving at once (the loops end at their next step). */
  abort(): void {
    this.receiveStop.abort();
    this.options.runs.wakeSlotWaiters();
  }

  /** Stops receiving and waits for the loops to end (held messages are made visible again). */
  async stop(): Promise<void> {
    this.abort();
    await Promise.all(this.loops);
  }

  /**
   * Receives while a slot is free. The own queue holds only runs dispatched here: full batches are
   * received from it, and envelopes beyond the free slots are held (HeldMessages) until slots free
   * up, so poison in front of them is cleared ten at a time. The pool queue is shared: only what fits
   * is received, and the rest is left to other workers.
   */
  private async receiveLoop(queue: AgentQueue, own: boolean): Promise<void> {
    const { runs, taking } = this.options;
    const signal = this.receiveStop.signal;
    const waitSeconds = this.options.receiveWaitSeconds;
    const deadLettering = new Set<Promise<void>>();
    const held = new HeldMessages(queue, this.log);
    while (taking() && !signal.aborted) {
      await runs.slotFree(signal);
      if (!taking() || signal.aborted) break;
      const free = runs.free();
      if (held.size > 0) {
        await Promise.all(held.take(free).map((message) => this.accept(queue, message)));
        continue;
      }
      let messages: Awaited<ReturnType<AgentQueue['receive']>>;
      try {
        messages = await queue.receive({ maxMessages: own ? 10 : Math.min(10, free), waitSeconds, signal });
        this.options.failures.succeeded(`receive ${queue.queueUrl}`);
      } catch (error) {
        if (signal.aborted) break;
        this.options.failures.failed(`receive ${queue.queueUrl}`, 'receive failed; retrying', {
          queueUrl: queue.queueUrl,
          error,
        });
        await sleep(RECEIVE_BACKOFF_MS, signal);
        continue;
      }
      // Poison is moved aside in the background (a few batches at a time), so a flood of it costs
      // the loop one receive per batch and real work behind it is reached as fast as receives go.
      const poison = messages.filter((message) => !message.ok);
      if (poison.length > 0) {
        const moving = this.deadLetter(queue, poison).finally(() => deadLettering.delete(moving));
        deadLettering.add(moving);
        if (deadLettering.size >= MAX_DEAD_LETTER_BATCHES_IN_FLIGHT) await Promise.race(deadLettering);
      }
      const valid = messages.filter((message): message is DecodedMessage => message.ok);
      const room = Math.max(0, runs.free());
      held.add(valid.slice(room));
      await Promise.all(valid.slice(0, room).map((message) => this.accept(queue, message)));
    }
    await Promise.all(deadLettering);
    await held.release();
  }

  /**
   * Moves messages that cannot be decoded or validated to the queue's dead-letter queue on their first
   * receipt, with the reason: they never come back, so garbage never takes capacity meant for runs.
   */
  private async deadLetter(queue: AgentQueue, poison: readonly InboxMessage[]): Promise<void> {
    const letters = poison.flatMap((message) =>
      message.ok
        ? []
        : [
            {
              receipt: message.receipt,
              body: message.body,
              reason: message.error.message,
              receiveCount: message.receiveCount,
            },
          ],
    );
    if (letters.length === 0) return;
    let message = 'malformed message moved to the dead-letter queue';
    try {
      const result = await queue.deadLetter(letters);
      if (result.deadLetterQueueUrl === undefined)
        message = 'malformed message deleted: the queue has no dead-letter queue';
    } catch (error) {
      // Left in place: the next receive tries again, and the queue's redrive policy still applies.
      this.log.log('error', 'malformed messages could not be moved to the dead-letter queue', {
        queueUrl: queue.queueUrl,
        count: letters.length,
        error,
      });
      return;
    }
    for (const letter of letters) {
      this.log.log('warn', message, {
        queueUrl: queue.queueUrl,
        reason: letter.reason,
        receiveCount: letter.receiveCount,
      });
    }
  }

  private async accept(queue: AgentQueue, message: DecodedMessage) {
    const { envelope } = message;
    const log = this.log.child(runLogScope(envelope));
    if (envelope.startAt !== undefined) {
      // A plan takes no slot until its instant; one not held (fires not started yet) comes back later.
      const settle = this.options.holdPlan(envelope)
        ? queue.ack(message.receipt)
        : queue.release(message.receipt);
      await settle.catch((error: unknown) => log.log('warn', 'planned fire message not settled', { error }));
      return;
    }
    if (!this.options.hasCapacity()) {
      await queue
        .release(message.receipt)
        .catch((error: unknown) => log.log('warn', 'could not release a message', { error }));
      return;
    }
    const claimed = await this.options.runs.claim(envelope);
    if (claimed.kind === 'not_claimed') {
      const { error } = claimed;
      if (isRefusedOrGone(error)) {
        logRefusedClaim(log, envelope, error, 'claim refused: message deleted');
        await queue
          .ack(message.receipt)
          .catch((ackError: unknown) => log.log('warn', 'ack failed', { error: ackError }));
      } else {
        log.log('warn', 'claim failed; the message will be delivered again', { error });
      }
      return;
    }
    // The claim is decided: whatever happens to the ack, a second delivery will find the run claimed.
    await queue
      .ack(message.receipt)
      .catch((error: unknown) => log.log('warn', 'ack failed; a redelivery will be refused', { error }));
    void claimed.result;
  }

  /** Envelopes that reached the own queue after receiving stopped: hand each back so it is dispatched elsewhere. */
  async handBackQueued(queue: AgentQueue): Promise<void> {
    const { deps, workerId, clock } = this.options;
    for (let round = 0; round < 5; round += 1) {
      const messages = await queue.receive({ maxMessages: 10, waitSeconds: 0 });
      if (messages.length === 0) return;
      await this.deadLetter(
        queue,
        messages.filter((message) => !message.ok),
      );
      for (const message of messages) {
        if (!message.ok) continue;
        const { envelope } = message;
        const run = await deps.runs.get(envelope.runId);
        // Only a run the record says is this worker's and that the envelope describes truly: a forged
        // envelope must not make a draining worker hand back another worker's run.
        const ours =
          run?.status === 'DISPATCHED' &&
          run.workerId === workerId &&
          claimDifferences(run, claimFromEnvelope(envelope, workerId, clock.now())).length === 0;
        if (run && ours) {
          await deps.execution
            .handBack(run, 'worker draining: not started')
            .then(() =>
              this.log.log('info', 'undelivered run handed back', { runId: run.runId, jobId: run.jobId }),
            )
            .catch((error: unknown) =>
              this.log.log('warn', 'hand-back refused', { runId: run.runId, error }),
            );
        }
        await queue.ack(message.receipt);
      }
    }
  }
}
