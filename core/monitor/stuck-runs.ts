import { DependentFires } from '../dependents';
import { RunNotInStateError, StaleFenceError } from '../errors';
import { isoSeconds, type Run } from '../model';
import { fireDependents } from './dependents';
import type { SweepReport } from './report';
import type { MonitorDeps } from './types';

/** Runs in flight past their deadline: TIMED_OUT with `cancelRequested`, a `timeout` alert each. */
export async function timeOutPastDeadline(
  deps: MonitorDeps,
  active: readonly Run[],
  now: number,
  report: SweepReport,
  handled: Set<string>,
): Promise<void> {
  for (const run of active) {
    if (handled.has(run.runId) || run.deadlineAt === undefined || run.deadlineAt > now) continue;
    let timedOut: Run;
    try {
      ({ run: timedOut } = await deps.dispatcher.finish(run, {
        from: [run.status],
        fence: run.fence,
        to: 'TIMED_OUT',
        at: now,
        note: `deadline ${isoSeconds(run.deadlineAt)} passed`,
        set: {
          finishedAt: now,
          cancelRequested: true,
          reason: 'timeout',
          ...DependentFires.pendingOn(run, 'TIMED_OUT'),
        },
      }));
    } catch (error) {
      if (error instanceof RunNotInStateError || error instanceof StaleFenceError) continue;
      throw error;
    }
    handled.add(run.runId);
    await fireDependents(deps, timedOut);
    report.runsTimedOut += 1;
    await deps.alerts.raise({
      kind: 'timeout',
      jobId: run.jobId,
      runId: run.runId,
      message: `attempt ${run.attempt} on ${run.workerId ?? 'no worker'} was ${run.status} past its deadline ${isoSeconds(run.deadlineAt)}; timed out and cancelled`,
      at: now,
    });
  }
}

/**
 * DISPATCHED runs unclaimed past the bound get their envelope again (see `unclaimedResendMs`). Runs
 * whose worker is gone were handled by the lease step; a run claimed or moved on meanwhile is
 * skipped by the dispatcher (status, fence) or refused at the claim.
 */
export async function resendUnclaimed(
  deps: MonitorDeps,
  active: readonly Run[],
  now: number,
  report: SweepReport,
  handled: Set<string>,
  unclaimedResendMs: number,
): Promise<void> {
  const before = now - unclaimedResendMs;
  for (const run of active) {
    if (run.status !== 'DISPATCHED' || handled.has(run.runId) || run.resentFence === run.fence) continue;
    if ((run.dispatchedAt ?? run.updatedAt) > before) continue;
    const resent = await deps.dispatcher.resend(run).catch((error: unknown) => {
      deps.log.log('warn', 'unclaimed run not resent; the next sweep tries again', {
        runId: run.runId,
        error,
      });
      return false;
    });
    if (resent) report.runsResent += 1;
  }
}
