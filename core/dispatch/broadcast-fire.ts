import type { Logger } from '../log';
import { type Job, jobLockKey, type Run, type Worker } from '../model';
import type { Admission } from './admit';
import { type Deliverer, wasDelivered } from './delivery';
import type { Recorder } from './record';
import type { FireOutcome } from './types';
import type { WorkerChoice } from './worker-choice';

/** A fire of a BROADCAST job: every eligible worker runs it. */
export class BroadcastFire {
  constructor(
    private readonly choice: WorkerChoice,
    private readonly admission: Admission,
    private readonly recorder: Recorder,
    private readonly deliverer: Deliverer,
  ) {}

  /** BROADCAST: one run per eligible worker, each with its own id and its own lock, so each is one-per-fire. */
  async fire(job: Job, base: Run, live: readonly Worker[], now: number, log: Logger): Promise<FireOutcome> {
    const targets = this.choice.candidates(job, live, now);
    if (targets.length === 0) return this.admission.admitWithoutWorker(job, base, live, now, log);
    const outcomes = await Promise.all(
      targets.map((worker) => {
        const run: Run = {
          ...base,
          runId: `${base.runId}#${worker.workerId}`,
          broadcastOf: base.runId,
          status: 'DISPATCHED',
          workerId: worker.workerId,
          dispatchedAt: now,
          history: [
            ...base.history,
            { at: now, status: 'DISPATCHED', attempt: 1, workerId: worker.workerId },
          ],
        };
        return this.recorder
          .write(job, run, now, log, `${jobLockKey(job.spec.jobId)}#${worker.workerId}`)
          .then(async (written) =>
            written.kind === 'written'
              ? ((await this.deliverer.deliver(job, written.run, [worker], log)) ?? written.run)
              : written.outcome,
          );
      }),
    );
    const runs = outcomes.filter((o): o is Run => 'status' in o && wasDelivered(o));
    if (runs.length > 0) return { kind: 'dispatched', runs };
    return outcomes.find((o): o is FireOutcome => 'kind' in o) ?? { kind: 'duplicate', runId: base.runId };
  }
}
