/**
 * A fire's run as the dispatcher first builds it, and the deadlines and lock expiries it carries.
 * No reads or writes here: every room of the dispatcher builds its new runs with these.
 */

import { type Job, newTraceId, type Run, type RunStatus, type TraceId } from '../model';
import type { DispatcherDeps } from './types';

/** A run's lock outlives its deadline by this much, so a slow completion still releases its own lock. */
export const LOCK_GRACE_MS = 60_000;

export function newRun(
  job: Job | null,
  runId: string,
  jobId: string,
  scheduledTime: string,
  trigger: Run['trigger'],
  now: number,
  status: RunStatus,
  traceId: TraceId,
): Run {
  return {
    runId,
    jobId,
    scheduledTime,
    trigger,
    handler: job?.spec.handler ?? '',
    payload: job?.spec.payload ?? null,
    ...(job?.spec.env ? { env: job.spec.env } : {}),
    status,
    attempt: 1,
    fence: 1,
    jobVersion: job?.version ?? 1,
    concurrency: job?.spec.concurrency.policy ?? 'ALLOW',
    createdAt: now,
    updatedAt: now,
    ...(job ? { deadlineAt: deadlineFrom(job, now) } : {}),
    // Only runs of jobs with dependents look at their outcome (core/dependents.ts).
    ...(job?.downstream?.length ? { hasDependents: true } : {}),
    history: [{ at: now, status: 'PENDING', attempt: 1, note: `fired by ${trigger.toLowerCase()}` }],
    traceId,
  };
}

/** The current invocation's trace, else a new one (DispatcherDeps.traceId). */
export function traceIdOf(deps: DispatcherDeps, now: number): TraceId {
  return deps.traceId?.() ?? newTraceId(now);
}

export function lockExpiry(job: Job, now: number): number {
  return deadlineFrom(job, now) + LOCK_GRACE_MS;
}

/**
 * The deadline an envelope sent at `now` carries: the record's, which the claim checks, and never one
 * past the job's timeout from now — a deadline comes from the job's definition, not from whoever
 * wrote the record.
 */
export function envelopeDeadline(job: Job, run: Run, now: number): number {
  return Math.min(run.deadlineAt ?? Number.POSITIVE_INFINITY, deadlineFrom(job, now));
}

/** The latest an attempt dispatched at `now` may finish: the job's timeout caps every deadline. */
export function deadlineFrom(job: Job, now: number): number {
  return now + job.spec.timeoutSeconds * 1000;
}
