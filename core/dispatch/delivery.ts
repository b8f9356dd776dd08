/**
 * Delivery: sending a written run's envelope to its workers — the first send of a fire, moving on
 * through the candidates, the fallback from ZeroMQ to SQS, and the resend of a run left unclaimed
 * (ARCHITECTURE.md, "Deliver").
 */

import { envelopeFor } from '../envelope';
import { RunNotInStateError, StaleFenceError } from '../errors';
import type { Logger } from '../log';
import type { Job, Run, Worker } from '../model';
import { nextRetryDelayMs } from '../retry';
import { envelopeDeadline } from './runs';
import type { DispatcherDeps } from './types';
import type { WorkerChoice } from './worker-choice';

/** An existing run found no worker (Redispatcher.noWorkerFor): alerts, and frees its lock unless it retries. */
export type NoWorker = (run: Run, message: string, retryDelay: number | null, now: number) => Promise<Run>;

export class Deliverer {
  constructor(
    private readonly deps: DispatcherDeps,
    private readonly choice: WorkerChoice,
    private readonly random: () => number,
    private readonly noWorker: NoWorker,
  ) {}

  /**
   * Sends the envelope of a DISPATCHED, unclaimed run again — the same fence, to the same target (its
   * worker, over ZeroMQ when the job and this dispatcher have it, else the worker's queue; the pool
   * queue for a run with no worker) — and records it on the run (RunLedger.markResent). For a run whose
   * first send may never have happened: its dispatcher died between writing it and sending, or the
   * message was lost. Both envelopes may reach workers; the claim is one conditional write on
   * DISPATCHED + fence + the envelope's fields, which turns the run RUNNING, so at most one of them is
   * ever claimed (the other's claim finds RUNNING or a later status: RunNotInStateError, message
   * deleted), and a run since moved on (another candidate, a retry, a recovery) has a higher fence that
   * neither can claim. One resend per fence: the send comes first and its record second, so a resender
   * that dies between them leaves the next one to send again (a spare copy, never a lost run), and
   * resenders racing each other (overlapping sweeps) may each send one. False (nothing sent) when `run`
   * says this dispatch was resent already, the run is no longer DISPATCHED, is a LOCAL fire (its agent runs it without a message),
   * is past its deadline (the monitor times it out), its job is gone, or its worker is not live (the
   * monitor's lease step re-dispatches it or marks it LOST). A failed send throws, recording nothing.
   */
  async resend(run: Run, job?: Job): Promise<boolean> {
    const now = this.deps.clock.now();
    if (run.status !== 'DISPATCHED' || run.trigger === 'LOCAL' || run.resentFence === run.fence) return false;
    if (run.deadlineAt !== undefined && run.deadlineAt <= now) return false;
    const log = this.deps.log.child({ jobId: run.jobId, runId: run.runId });
    const current = job ?? (await this.deps.jobs.get(run.jobId));
    if (!current) return false;
    const envelope = envelopeFor(run, envelopeDeadline(current, run, now), now);
    let sentTo: string;
    if (run.workerId === undefined) {
      await this.deps.delivery.deliver({ kind: 'pool', pool: current.spec.target.pool }, envelope);
      sentTo = `pool ${current.spec.target.pool}`;
    } else {
      const workerId = run.workerId;
      const worker = (await this.deps.workers.live(current.spec.target.pool, now)).find(
        (w) => w.workerId === workerId,
      );
      if (!worker) return false;
      const direct = current.spec.delivery === 'ZMQ' ? this.deps.directDelivery : undefined;
      const sent = direct
        ? await direct.deliver({ kind: 'worker', worker }, envelope).then(
            () => true,
            (error: unknown) => {
              log.log('warn', 'resend over ZeroMQ failed; sending over SQS', { error });
              return false;
            },
          )
        : false;
      if (!sent) await this.deps.delivery.deliver({ kind: 'worker', worker }, envelope);
      sentTo = `${workerId}${direct && !sent ? ' over SQS' : ''}`;
    }
    const note = `unclaimed; envelope sent again to ${sentTo}`;
    const recorded = await this.deps.runs.markResent(run.runId, run.fence, now, note);
    log.log('warn', 'unclaimed run: envelope sent again', {
      to: sentTo,
      fence: run.fence,
      attempt: run.attempt,
      recorded,
    });
    return true;
  }

  /**
   * Sends the envelope to the candidates in order until one accepts. A delivery that went as planned
   * logs at debug: a fire's one line is the dispatcher's metric line, which names its job, run and
   * worker (functions/dispatcher/handler.ts), and a fire's log bytes are billed a million times over
   * (docs/capacity.md); a sampled invocation (POWERTOOLS_LOGGER_SAMPLE_RATE) still logs these. Moving to another candidate raises
   * the fence, so an envelope that did reach an earlier worker can no longer be claimed. When none
   * accepts, the run goes back to PENDING for a retry by policy (or NO_WORKER when none is left).
   */
  async deliver(job: Job, run: Run, candidates: readonly Worker[], log: Logger): Promise<Run | undefined> {
    const now = this.deps.clock.now();
    const deadlineAt = envelopeDeadline(job, run, now);
    if (job.spec.routing === 'ANY' || candidates.length === 0) {
      await this.deps.delivery.deliver(
        { kind: 'pool', pool: job.spec.target.pool },
        envelopeFor(run, deadlineAt, now),
      );
      log.log('debug', 'run dispatched to the pool queue', {
        pool: job.spec.target.pool,
        attempt: run.attempt,
      });
      await this.deps.waker?.wake();
      return run;
    }
    const direct = job.spec.delivery === 'ZMQ' ? this.deps.directDelivery : undefined;
    // Direct delivery to each candidate in turn, then (ZMQ jobs) the first candidate's SQS queue.
    const attempts = [
      ...candidates.map((worker) => ({ worker, via: direct ?? this.deps.delivery })),
      ...(direct && candidates[0] ? [{ worker: candidates[0], via: this.deps.delivery }] : []),
    ];
    let current = run;
    for (const [index, { worker, via }] of attempts.entries()) {
      if (index > 0) {
        try {
          current = await this.deps.runs.transition(run.runId, {
            from: ['DISPATCHED'],
            fence: current.fence,
            to: 'DISPATCHED',
            at: now,
            newFence: current.fence + 1,
            note: `delivery moved to ${worker.workerId}${direct && via !== direct ? ' over SQS' : ''}`,
            set: { workerId: worker.workerId },
          });
        } catch (error) {
          // A worker that did not acknowledge in time claimed the run meanwhile: it is that worker's.
          if (!(error instanceof RunNotInStateError || error instanceof StaleFenceError)) throw error;
          log.log('info', 'run claimed before its delivery moved on', { error });
          return (error.current as Run | undefined) ?? current;
        }
      }
      try {
        await via.deliver({ kind: 'worker', worker }, envelopeFor(current, deadlineAt, now));
        this.choice.delivered(job, worker.workerId);
        log.log('debug', 'run dispatched', {
          workerId: worker.workerId,
          attempt: current.attempt,
          fence: current.fence,
          ...(direct ? { transport: via === direct ? 'zmq' : 'sqs' } : {}),
        });
        await this.deps.waker?.wake();
        return current;
      } catch (error) {
        log.log('warn', 'delivery failed; trying the next candidate', { workerId: worker.workerId, error });
      }
    }
    const delay = nextRetryDelayMs(job.spec.retry, current.attempt, this.random) ?? null;
    const failed = await this.deps.runs.transition(run.runId, {
      from: ['DISPATCHED'],
      fence: current.fence,
      to: delay === null ? 'NO_WORKER' : 'PENDING',
      at: now,
      note: 'no candidate accepted the delivery',
      set: {
        reason: 'delivery_failed',
        ...(delay === null ? { finishedAt: now } : { nextAttemptAt: now + delay }),
      },
      unset: ['workerId'],
    });
    return this.noWorker(failed, 'no candidate worker accepted the delivery', delay, now);
  }
}

/** A run deliver() handed to a worker: DISPATCHED, or already claimed (and maybe finished) by it. */
export function wasDelivered(run: Run): boolean {
  return run.status !== 'PENDING' && run.status !== 'NO_WORKER';
}
