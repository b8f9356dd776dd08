import { z } from 'zod';
import type { CloverError } from '../errors';
import type { Logger } from '../log';
import {
  IdSchema,
  IsoInstantSchema,
  PayloadSchema,
  type Run,
  type SkipReason,
  type TraceId,
  TraceIdSchema,
  Triggers,
} from '../model';
import type { MonitorWaker } from '../monitor/watch';
import type { AlertHook, Clock, Delivery, JobStore, LockStore, RunLedger } from '../ports';
import type { WorkerDirectory } from '../worker-directory';

/** What the dispatcher accepts: EventBridge Scheduler's input, or a manual / catch-up trigger. */
export const FireRequestSchema = z.strictObject({
  jobId: IdSchema,
  /** EventBridge Scheduler fills this from `<aws.scheduler.scheduled-time>`; manual triggers leave it out. */
  scheduledTime: IsoInstantSchema.optional(),
  /** DEPENDENT runs are fired only from an upstream run's record (`fireDependent`), never by a request. */
  trigger: z.enum(Triggers).exclude(['DEPENDENT']).default('SCHEDULE'),
  /** A manual trigger's payload for this run only (the job's payload otherwise). */
  payload: PayloadSchema.optional(),
  /**
   * A caller's trace the run continues (the API's trigger with a `traceparent` header); without it
   * the run takes the invocation's trace or a new one (DispatcherDeps.traceId).
   */
  traceId: TraceIdSchema.optional(),
});
export type FireRequest = z.input<typeof FireRequestSchema>;

export type FireOutcome =
  | { readonly kind: 'dispatched'; readonly runs: readonly Run[] }
  /** `existing`: the fire's run as the ledger holds it, when the ledger returned it. */
  | { readonly kind: 'duplicate'; readonly runId: string; readonly existing?: Run }
  | { readonly kind: 'skipped'; readonly run: Run; readonly reason: SkipReason }
  | { readonly kind: 'queued'; readonly run: Run }
  /** A precise job's fire planned ahead (Dispatcher.plan): its placeholder, held by `run.workerId`. */
  | { readonly kind: 'planned'; readonly run: Run }
  | { readonly kind: 'no_worker'; readonly run: Run }
  | { readonly kind: 'rejected'; readonly run: Run; readonly error: CloverError };

export interface DispatcherDeps {
  readonly jobs: JobStore;
  readonly runs: RunLedger;
  readonly locks: LockStore;
  readonly workers: WorkerDirectory;
  readonly delivery: Delivery;
  /**
   * Direct delivery (ZmqDelivery) for jobs whose `delivery` is `ZMQ`; without it they go over
   * `delivery` like every other job. When no candidate acknowledges it, the run still goes over
   * `delivery` to the first candidate's queue before giving up (ARCHITECTURE.md, Deliver).
   */
  readonly directDelivery?: Delivery;
  readonly clock: Clock;
  readonly log: Logger;
  readonly alerts: AlertHook;
  readonly random?: () => number;
  /**
   * How many jobs a warm dispatcher keeps after reading them (default 0: none). A fire of a kept job
   * reads the job's stamp (JobStore.stamp: a consistent read of its version, updatedAt and
   * dependents) instead of the job, and uses the kept job only while the stamp still names it, else
   * reads the job and decides afresh.
   */
  readonly jobCacheSize?: number;
  /**
   * A repeated fire whose run is still DISPATCHED and unclaimed this long after its dispatch sends the
   * run's envelope again (Dispatcher.resend). Younger, it is a duplicate invocation racing the first
   * (EventBridge Scheduler delivers at least once), whose dispatcher is still sending: it only answers
   * `duplicate`. An invocation retried after a dispatcher died comes much later (Lambda retries a
   * failed asynchronous invocation after about a minute). @default 10_000
   */
  readonly resendAfterMs?: number;
  /**
   * The trace the current invocation belongs to (model/trace.ts): in Lambda, its X-Ray trace. A run
   * made when this gives none (or without it: the local runtime, agents) gets a new trace id.
   */
  readonly traceId?: () => TraceId | undefined;
  /**
   * Wakes the monitor after a run is put in flight, so a monitor idling at one sweep a minute watches
   * it within seconds (core/monitor/watch.ts). Without it the next scheduled sweep does.
   */
  readonly waker?: Pick<MonitorWaker, 'wake'>;
}
