import { z } from 'zod';
import { ValidationError } from '../errors';
import { EpochMsSchema, IdSchema, IsoInstantSchema, PayloadSchema } from './common';
import { ConcurrencyPolicies } from './job';
import { TraceIdSchema } from './trace';
import { fieldIssues } from './validate';

/*
 * The run state machine. A run is one fire of a job; attempts (retries, recovery after a worker
 * dies) happen inside it, each with a higher fencing token.
 *
 *   PENDING    ─► DISPATCHED | NO_WORKER | SKIPPED | CANCELLED
 *                 (queued behind an active run under QUEUE, or waiting for a retry's backoff)
 *              ─► PENDING        a precise job's planned fire moved to another worker (new fence)
 *              ─► (replaced)     ... or decided at its instant: written anew (`replacesPlan`)
 *   DISPATCHED ─► RUNNING        a worker claimed it with the run's fence
 *              ─► PENDING        delivery failed or a worker handed it back; dispatched again later
 *              ─► DISPATCHED     re-dispatched to another worker (new attempt, new fence)
 *              ─► NO_WORKER | LOST | TIMED_OUT | CANCELLED
 *   RUNNING    ─► SUCCEEDED | FAILED | TIMED_OUT | CANCELLED | LOST
 *              ─► PENDING        the attempt failed and the retry policy allows another
 *              ─► DISPATCHED     the worker was lost and the job recovers: new attempt elsewhere
 *              ─► NO_WORKER      ... but no other worker can take it
 *   NO_WORKER  ─► DISPATCHED | NO_WORKER | CANCELLED   (only while a retry is scheduled)
 *
 * SUCCEEDED, FAILED, TIMED_OUT, CANCELLED, LOST and SKIPPED are final. NO_WORKER is final once no
 * retry is scheduled (`nextAttemptAt` absent).
 */
export const RunStatuses = [
  'PENDING',
  'DISPATCHED',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'CANCELLED',
  'LOST',
  'SKIPPED',
  'NO_WORKER',
] as const;
export type RunStatus = (typeof RunStatuses)[number];

export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  PENDING: ['DISPATCHED', 'NO_WORKER', 'SKIPPED', 'CANCELLED', 'PENDING'],
  DISPATCHED: ['RUNNING', 'PENDING', 'DISPATCHED', 'NO_WORKER', 'LOST', 'TIMED_OUT', 'CANCELLED'],
  RUNNING: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED', 'LOST', 'PENDING', 'DISPATCHED', 'NO_WORKER'],
  NO_WORKER: ['DISPATCHED', 'NO_WORKER', 'CANCELLED'],
  SUCCEEDED: [],
  FAILED: [],
  TIMED_OUT: [],
  CANCELLED: [],
  LOST: [],
  SKIPPED: [],
};

/** Statuses with transitions left: the runs the monitor and retries look for (the `byOpenKeys` index). */
export const OpenRunStatuses = [
  'PENDING',
  'DISPATCHED',
  'RUNNING',
  'NO_WORKER',
] as const satisfies readonly RunStatus[];
export type OpenRunStatus = (typeof OpenRunStatuses)[number];

export function isOpenStatus(status: RunStatus): status is OpenRunStatus {
  return RUN_TRANSITIONS[status].length > 0;
}

/** States in which the run holds its job's lock (FORBID, QUEUE, REPLACE) and counts as active. */
export const ACTIVE_STATUSES: readonly RunStatus[] = ['DISPATCHED', 'RUNNING'];

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}

/** The statuses from which `to` may be reached: what a conditional write on the current status allows. */
export function sourcesOf(to: RunStatus): RunStatus[] {
  return RunStatuses.filter((from) => canTransition(from, to));
}

export function isFinal(run: Pick<Run, 'status' | 'nextAttemptAt'>): boolean {
  if (run.status === 'NO_WORKER') return run.nextAttemptAt === undefined;
  return RUN_TRANSITIONS[run.status].length === 0;
}

/** `runaway`: a chain fired the job more often than the run-away guard allows (core/dependents.ts). */
/**
 * `unscheduled`: a precise job's planned fire whose instant the job no longer has when it comes (its
 * schedule, mode or precision was changed after planning: core/planner.ts).
 */
export const SkipReasons = ['overlap', 'paused', 'misfire', 'queue_full', 'runaway', 'unscheduled'] as const;
export type SkipReason = (typeof SkipReasons)[number];

/** DEPENDENT: fired by the outcome of an upstream run (the job's `after`). */
export const Triggers = ['SCHEDULE', 'MANUAL', 'LOCAL', 'CATCHUP', 'DEPENDENT'] as const;
export type Trigger = (typeof Triggers)[number];

export const RunErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  stack: z.string().optional(),
});
export type RunError = z.output<typeof RunErrorSchema>;

/** Largest upstream result (as JSON) copied onto a dependent run; a larger one is left out and flagged. */
export const MAX_UPSTREAM_RESULT_BYTES = 4 * 1024;

/** An upstream run whose outcome fired a dependent run, as the dependent run's record holds it. */
export const UpstreamRefSchema = z.object({
  runId: z.string().min(1).max(256),
  jobId: IdSchema,
  status: z.enum(RunStatuses),
  /** The upstream run's result, when it had one of at most {@link MAX_UPSTREAM_RESULT_BYTES} as JSON. */
  result: z.unknown().optional(),
  /** True when the upstream result was larger than that and is not copied (read it from the upstream run). */
  resultOmitted: z.boolean().optional(),
});
export type UpstreamRef = z.output<typeof UpstreamRefSchema>;

export const HistoryEntrySchema = z.object({
  at: EpochMsSchema,
  status: z.enum(RunStatuses),
  attempt: z.number().int().min(1),
  workerId: z.string().optional(),
  note: z.string().optional(),
});
export type HistoryEntry = z.output<typeof HistoryEntrySchema>;

export const RunSchema = z.object({
  runId: z.string().min(1).max(256),
  jobId: IdSchema,
  /** The fire's instant (UTC, to the second). Manual triggers use the moment they were asked for. */
  scheduledTime: IsoInstantSchema,
  trigger: z.enum(Triggers),
  /** Handler name as the job had it at the fire (empty for a fire of a job that does not exist). */
  handler: z.string().max(128),
  payload: PayloadSchema,
  /** The job's `env` at the fire (absent when it has none): the agent builds the handler's environment from it. */
  env: z.record(z.string(), z.string()).optional(),
  status: z.enum(RunStatuses),
  reason: z.string().optional(),
  attempt: z.number().int().min(1),
  /** Fencing token: every transition is conditional on it, and each new attempt or owner raises it. */
  fence: z.number().int().min(1),
  jobVersion: z.number().int().min(1),
  workerId: z.string().optional(),
  /** The lock this run holds while active (absent under ALLOW). */
  lockKey: z.string().optional(),
  /** The job's concurrency policy at the fire; QUEUE runs hand their lock to the next queued run. */
  concurrency: z.enum(ConcurrencyPolicies),
  /** For BROADCAST fires: the fire's primary run id this run belongs to. */
  broadcastOf: z.string().optional(),
  /** QUEUE policy: the run this one waits behind. */
  queuedBehind: z.string().optional(),
  createdAt: EpochMsSchema,
  updatedAt: EpochMsSchema,
  dispatchedAt: EpochMsSchema.optional(),
  startedAt: EpochMsSchema.optional(),
  finishedAt: EpochMsSchema.optional(),
  /**
   * Precise jobs (core/planner.ts): a planned fire is written ahead of its instant as a placeholder —
   * PENDING, reason `planned`, `workerId` the worker holding it, `plannedAt` when planned — and its
   * worker decides it at the instant by writing the run anew over it: that write names the
   * placeholder's fence here (`replacesPlan`), and the ledger lets it replace exactly that placeholder,
   * as the one conditional write of a fire (so still one run per fire). Absent on other runs.
   */
  plannedAt: EpochMsSchema.optional(),
  replacesPlan: z.number().int().min(1).optional(),
  /**
   * How late the handler started after the fire's nominal instant, in ms (negative: early, by the
   * worker's clock); written by the worker with the outcome. Shown on the run page and sent as a metric.
   */
  startLateMs: z.number().int().optional(),
  /** When the current attempt must be finished; the monitor times the run out after it. */
  deadlineAt: EpochMsSchema.optional(),
  /** A retry or a queued start waits until then. */
  nextAttemptAt: EpochMsSchema.optional(),
  /**
   * The fence whose envelope was sent again while the run stayed DISPATCHED and unclaimed (its
   * dispatcher died between the write and the send, or the message was lost): RunLedger.markResent.
   * A dispatch's envelope is resent at most once per fence, by a repeated fire or the monitor.
   */
  resentFence: z.number().int().min(1).optional(),
  progress: z.object({ percent: z.number().min(0).max(100), message: z.string().max(1024) }).optional(),
  cancelRequested: z.boolean().optional(),
  /** The worker's log lines for the run, appended in batches (the agent caps their number and length). */
  log: z.array(z.string()).optional(),
  error: RunErrorSchema.optional(),
  result: z.unknown().optional(),
  history: z.array(HistoryEntrySchema),
  /** Dependent jobs: the run that started this run's chain (absent on a run that starts one: its own id). */
  chainId: z.string().min(1).max(256).optional(),
  /** DEPENDENT runs: the upstream run(s) whose outcome fired this one (several for `waitFor: ALL`). */
  upstream: z.array(UpstreamRefSchema).optional(),
  /** Copied from the job at the fire: some job runs after this one, so its outcome is looked at. */
  hasDependents: z.boolean().optional(),
  /** Set by the write that made the run final, cleared once its dependents are fired (the monitor fires leftovers). */
  dependentsPending: z.boolean().optional(),
  /**
   * The fire's trace (model/trace.ts): the dispatcher's X-Ray trace, or a new id where no trace was
   * running. Absent on runs written before traces were kept.
   */
  traceId: TraceIdSchema.optional(),
  /** The dependent runs this run's outcome fired (or, for `waitFor: ALL`, joined), once fired. */
  downstreamRuns: z.array(z.string().min(1).max(256)).optional(),
});
export type Run = z.output<typeof RunSchema>;

/** The `reason` of a precise job's planned placeholder run (RunSchema `plannedAt`). */
export const PLANNED_REASON = 'planned';

/** A precise job's fire planned ahead and not decided yet: its worker decides it at the instant. */
export function isPlaceholder(run: Pick<Run, 'status' | 'reason'>): boolean {
  return run.status === 'PENDING' && run.reason === PLANNED_REASON;
}

/**
 * Whether `run`, a precise fire decided at its instant (`replacesPlan`), may be written over
 * `existing`: that fire's placeholder under exactly the plan's fence. Then the fire is not a duplicate
 * of the run it finds — a job lock held by another run makes it an overlap instead.
 */
export function replacesPlaceholder(run: Pick<Run, 'replacesPlan'>, existing: Run): boolean {
  return run.replacesPlan !== undefined && isPlaceholder(existing) && existing.fence === run.replacesPlan;
}

/** The run id of a scheduled fire is derived from the fire itself, so duplicate invocations collide. */
export function fireRunId(jobId: string, scheduledTime: string): string {
  return `${jobId}@${scheduledTime}`;
}

/** Fields a transition may never set or clear: the key, the index keys, or what the transition writes itself. */
const TRANSITION_OWNED_FIELDS: ReadonlySet<string> = new Set([
  'runId',
  'jobId',
  'scheduledTime',
  'status',
  'fence',
  'history',
  'attempt',
  'updatedAt',
]);

/**
 * Checks the fields a transition sets or clears, before anything is written: none of them may be one
 * the transition owns, and what it sets must be valid run fields. Every RunLedger applies it.
 */
export function checkTransitionFields(
  set: Readonly<Record<string, unknown>> = {},
  unset: readonly string[] = [],
): Record<string, unknown> {
  const issues = [...Object.keys(set), ...unset]
    .filter((field) => TRANSITION_OWNED_FIELDS.has(field))
    .map((field) => ({
      field: `set.${field}`,
      reason: 'is written by the transition itself and cannot be set',
    }));
  if (issues.length) throw new ValidationError(issues);
  const parsed = RunSchema.partial().safeParse(set);
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error, 'set'));
  return { ...set };
}

/** What a fenced transition writes (RunTransition in core/ports.ts adds the condition: `from` and `fence`). */
export interface RunChange {
  readonly to: RunStatus;
  readonly at: number;
  /** Raise the fence (a new attempt or owner); defaults to keeping it. */
  readonly newFence?: number;
  readonly attempt?: number;
  readonly note?: string;
  /** Fields to set alongside the status. */
  readonly set?: Partial<Omit<Run, 'runId' | 'jobId' | 'status' | 'fence' | 'history' | 'attempt'>>;
  /** Optional fields to clear. */
  readonly unset?: readonly (keyof Run)[];
}

/**
 * The run as `change` leaves it: status, fields set and cleared, attempt, fence and one history
 * entry. Every RunLedger writes exactly this (after checkTransitionFields); a ledger whose write does
 * not return the item (a transaction) hands this back.
 */
export function applyTransition(current: Run, change: RunChange): Run {
  const set = checkTransitionFields(change.set, change.unset);
  const next: Record<string, unknown> = { ...current };
  for (const field of change.unset ?? []) if (set[field] === undefined) delete next[field];
  for (const [field, value] of Object.entries(set)) if (value !== undefined) next[field] = value;
  const attempt = change.attempt ?? current.attempt;
  const entry: HistoryEntry = { at: change.at, status: change.to, attempt };
  if (typeof set.workerId === 'string') entry.workerId = set.workerId;
  if (change.note !== undefined) entry.note = change.note;
  Object.assign(next, {
    status: change.to,
    updatedAt: change.at,
    attempt,
    fence: change.newFence ?? current.fence,
    history: [...current.history, entry],
  });
  return next as Run;
}

/**
 * Whether a job is failing, as a run's final status leaves it: FAILED, TIMED_OUT and LOST make it
 * failing, SUCCEEDED healthy; other statuses (CANCELLED, NO_WORKER, SKIPPED) change nothing. The
 * first success of a failing job is a recovery (an alert of kind `recovery`).
 */
export type JobHealth = 'failing' | 'healthy';

export function healthAfter(status: RunStatus): JobHealth | undefined {
  if (status === 'SUCCEEDED') return 'healthy';
  if (status === 'FAILED' || status === 'TIMED_OUT' || status === 'LOST') return 'failing';
  return undefined;
}
