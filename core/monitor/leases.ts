import { DependentFires } from '../dependents';
import { RunNotInStateError, StaleFenceError } from '../errors';
import { isLive, type Run, type Worker } from '../model';
import { fireDependents } from './dependents';
import type { SweepReport } from './report';
import type { MonitorDeps } from './types';

/**
 * True when the run was claimed before the worker's current lease was registered: by an earlier
 * process under the same worker id. The claim and the registration both carry the agent's own clock.
 */
function claimedBeforeRegistration(run: Run, worker: Worker): boolean {
  return run.status === 'RUNNING' && run.startedAt !== undefined && run.startedAt < worker.registeredAt;
}

/**
 * Expires lapsed leases and handles the runs of workers that are gone. Returns the live workers.
 * A run counts as its worker's only while the process that claimed it lives: a worker id whose
 * lease was registered again after the claim (an agent restarted under a fixed `workerId`, e.g. by
 * systemd after a kill -9, within its old lease's TTL) is a new process that never ran it. Once
 * `signal` is aborted (the sweep's caller is stopping), no further run is handled as its worker's loss.
 */
export async function expireLeases(
  deps: MonitorDeps,
  active: readonly Run[],
  now: number,
  report: SweepReport,
  handled: Set<string>,
  signal?: AbortSignal,
): Promise<Worker[]> {
  const workers = await deps.workers.list();
  const alive = new Map<string, Worker>();
  for (const worker of workers) {
    if (worker.leaseExpiresAt > now) {
      alive.set(worker.workerId, worker);
    } else if (await deps.workers.expire(worker.workerId, worker.leaseFence, now)) {
      report.workersExpired += 1;
      deps.log.log('warn', 'worker lease expired', { workerId: worker.workerId });
    } else {
      const current = await deps.workers.get(worker.workerId);
      if (current && isLive(current, now)) alive.set(worker.workerId, current);
    }
  }
  for (const run of active) {
    if (run.workerId === undefined) continue;
    const holder = alive.get(run.workerId);
    const restarted = holder !== undefined && claimedBeforeRegistration(run, holder);
    if (holder && !restarted) {
      report.nextLeaseExpiryAt = Math.min(report.nextLeaseExpiryAt ?? Infinity, holder.leaseExpiresAt);
      continue;
    }
    if (signal?.aborted) break;
    handled.add(run.runId);
    await workerLost(deps, run, now, report, restarted);
  }
  return workers.filter((w) => alive.has(w.workerId));
}

async function workerLost(
  deps: MonitorDeps,
  run: Run,
  now: number,
  report: SweepReport,
  restarted: boolean,
): Promise<void> {
  const job = await deps.jobs.get(run.jobId);
  const note = restarted
    ? `worker ${run.workerId} restarted; the process that ran this attempt is gone`
    : `worker ${run.workerId} lost its lease`;
  let message: string;
  try {
    if (job?.spec.recoverOnWorkerLoss) {
      const next = await deps.dispatcher.redispatch(run, { newAttempt: true, note });
      report.runsRecovered += 1;
      message =
        next.status === 'DISPATCHED'
          ? `${note} during attempt ${run.attempt}; re-dispatched as attempt ${next.attempt} to ${next.workerId ?? `pool ${job.spec.target.pool}`}`
          : `${note} during attempt ${run.attempt}; no worker could take it over (${next.reason ?? next.status})`;
    } else {
      const { run: lost } = await deps.dispatcher.finish(run, {
        from: [run.status],
        fence: run.fence,
        to: 'LOST',
        at: now,
        note,
        set: { finishedAt: now, reason: 'worker_lost', ...DependentFires.pendingOn(run, 'LOST') },
      });
      await fireDependents(deps, lost);
      report.runsLost += 1;
      message = `${note} during attempt ${run.attempt}; the run is LOST (the job does not recover on worker loss)`;
    }
  } catch (error) {
    if (error instanceof RunNotInStateError || error instanceof StaleFenceError) return; // finished or taken over meanwhile
    throw error;
  }
  deps.log.log('warn', message, { jobId: run.jobId, runId: run.runId, workerId: run.workerId });
  await deps.alerts.raise({ kind: 'lost', jobId: run.jobId, runId: run.runId, message, at: now });
}
