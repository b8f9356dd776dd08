import { envelopeFor } from '../envelope';
import type { Logger } from '../log';
import { fireRunId, isPlaceholder, type Job, PLANNED_REASON, type Run, type Worker } from '../model';
import type { Admission } from './admit';
import type { Recorder } from './record';
import { newRun, traceIdOf } from './runs';
import type { DispatcherDeps, FireOutcome } from './types';
import type { WorkerChoice } from './worker-choice';

export interface PlanOptions {
  /** Move and send a found placeholder even when its worker is live (a missed fire planned again). */
  readonly again?: boolean;
  /**
   * The fire's placeholder as the caller has just read it (the planner's listing): while the worker
   * holding it is live, nothing is written — every later pass over a planned fire would otherwise
   * repeat a conditional write that finds it, one billed write unit each (two per fire at the
   * default lead), and a burst of them at every pass.
   */
  readonly found?: Run;
}

/**
 * A precise job's fires, planned ahead (ARCHITECTURE.md, "Precise"): a placeholder run held by one
 * worker, and a plan envelope sent to it. The worker decides the fire at its instant (local-fire.ts).
 */
export class PrecisePlans {
  constructor(
    private readonly deps: DispatcherDeps,
    private readonly choice: WorkerChoice,
    private readonly admission: Admission,
    private readonly recorder: Recorder,
  ) {}

  /**
   * Plans one fire of a precise job ahead of its instant (core/planner.ts): writes its placeholder run —
   * PENDING, reason `planned`, held by the chosen worker — by the one-run-per-fire conditional write,
   * and delivers a plan envelope (`startAt`) to that worker, who decides the fire at the instant
   * (fireLocal with `plan`). A repeated plan of the same fire (duplicate or overlapping planner
   * invocations) finds the placeholder and changes nothing while its worker is live; when that worker
   * is gone it is moved to another (a new fence, so the old plan can no longer be decided) and sent
   * again (so is one found with `again`). No live precise worker: the fire is recorded NO_WORKER now, with an alert (and a retry by
   * the job's policy, which starts it late).
   */
  async plan(job: Job, scheduledTime: string, options: PlanOptions = {}): Promise<FireOutcome> {
    const now = this.deps.clock.now();
    const runId = fireRunId(job.spec.jobId, scheduledTime);
    const log = this.deps.log.child({ jobId: job.spec.jobId, runId });
    // A worker busy now may be free at the instant (its slots are counted when the plan is decided).
    const live = (await this.deps.workers.live(job.spec.target.pool, now)).map((w) => ({ ...w, load: 0 }));
    const candidates = this.choice.candidates(job, live, now);
    const { found } = options;
    if (
      found &&
      isPlaceholder(found) &&
      !options.again &&
      candidates.some((w) => w.workerId === found.workerId)
    ) {
      return { kind: 'duplicate', runId, existing: found };
    }
    const base = newRun(
      job,
      runId,
      job.spec.jobId,
      scheduledTime,
      'SCHEDULE',
      now,
      'PENDING',
      traceIdOf(this.deps, now),
    );
    const first = candidates[0];
    if (!first) return this.admission.admitWithoutWorker(job, base, live, now, log);
    const placeholder: Run = {
      ...base,
      reason: PLANNED_REASON,
      workerId: first.workerId,
      plannedAt: now,
      history: [{ at: now, status: 'PENDING', attempt: 1, workerId: first.workerId, note: 'planned' }],
    };
    const written = await this.recorder.createPlain(placeholder, log);
    let run = placeholder;
    if (written.kind === 'settled') {
      const existing = written.outcome.kind === 'duplicate' ? written.outcome.existing : undefined;
      const holder = existing?.workerId;
      const held = candidates.some((w) => w.workerId === holder);
      if (!existing || !isPlaceholder(existing) || (held && !options.again)) return written.outcome;
      const why = held ? 'missed: planned again' : `worker ${holder} gone`;
      run = await this.movePlan(existing, first, now, `${why}; planned for ${first.workerId}`);
    }
    return this.sendPlan(job, run, candidates, log);
  }

  /** Sends a plan envelope to each candidate in turn until one accepts; moving on raises the fence. */
  private async sendPlan(
    job: Job,
    planned: Run,
    candidates: readonly Worker[],
    log: Logger,
  ): Promise<FireOutcome> {
    const startAt = Date.parse(planned.scheduledTime);
    const direct = job.spec.delivery === 'ZMQ' ? this.deps.directDelivery : undefined;
    let run = planned;
    for (const [index, worker] of candidates.entries()) {
      const now = this.deps.clock.now();
      if (index > 0) run = await this.movePlan(run, worker, now, `plan moved to ${worker.workerId}`);
      const envelope = envelopeFor(run, startAt + job.spec.timeoutSeconds * 1000, now, startAt);
      try {
        await (direct ?? this.deps.delivery).deliver({ kind: 'worker', worker }, envelope);
      } catch (error) {
        if (!direct) {
          log.log('warn', 'plan delivery failed; trying the next candidate', {
            workerId: worker.workerId,
            error,
          });
          continue;
        }
        // ZeroMQ refused or timed out: the same worker's SQS queue, as for a plain ZMQ fire.
        log.log('warn', 'plan over ZeroMQ failed; sending over SQS', { workerId: worker.workerId, error });
        try {
          await this.deps.delivery.deliver({ kind: 'worker', worker }, envelope);
        } catch (sqsError) {
          log.log('warn', 'plan delivery failed; trying the next candidate', {
            workerId: worker.workerId,
            error: sqsError,
          });
          continue;
        }
      }
      this.choice.delivered(job, worker.workerId);
      log.log('info', 'fire planned', {
        workerId: worker.workerId,
        fence: run.fence,
        startAt: run.scheduledTime,
      });
      return { kind: 'planned', run };
    }
    // No candidate took it: the placeholder stays with its last worker; the next planner pass moves it.
    return { kind: 'no_worker', run };
  }

  /** A placeholder moved to `worker` with a new fence: a plan of the old fence can no longer be decided. */
  private movePlan(run: Run, worker: Worker, now: number, note: string): Promise<Run> {
    return this.deps.runs.transition(run.runId, {
      from: ['PENDING'],
      fence: run.fence,
      to: 'PENDING',
      at: now,
      newFence: run.fence + 1,
      note,
      set: { workerId: worker.workerId, plannedAt: now },
    });
  }
}
