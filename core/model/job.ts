import { z } from 'zod';
import { ScheduleError } from '../errors';
import { parseSchedule, type ScheduleMode } from '../schedule';
import { EpochMsSchema, HandlerNameSchema, IdSchema, LabelsSchema, PayloadSchema } from './common';
import { JobEnvSchema } from './env';

export const JobModes = ['REMOTE', 'LOCAL'] as const;
export type JobMode = (typeof JobModes)[number];

export const DeliveryKinds = ['SQS', 'ZMQ'] as const;
export type DeliveryKind = (typeof DeliveryKinds)[number];

/**
 * How the dispatcher picks among eligible workers (live, has the handler, matches pool, labels and
 * pinned ids, has a free slot):
 * - ROUND_ROBIN: the next worker after the one that took the job's previous fire.
 * - RANDOM: uniformly at random.
 * - LEAST_LOADED: the fewest running runs relative to capacity.
 * - CONSISTENT_HASH: rendezvous hash of the job id, so a job stays on its worker while that worker lives.
 * - FIRST: the first eligible worker in priority order (priority, then worker id).
 * - FAILOVER: like FIRST, but delivery tries the next worker in order when one does not accept.
 * - BROADCAST: every eligible worker gets its own run of the fire.
 * - ANY: no choice here: the envelope goes to the pool queue and the first free capable worker takes it.
 */
export const RoutingStrategies = [
  'ROUND_ROBIN',
  'RANDOM',
  'LEAST_LOADED',
  'CONSISTENT_HASH',
  'FIRST',
  'FAILOVER',
  'BROADCAST',
  'ANY',
] as const;
export type RoutingStrategy = (typeof RoutingStrategies)[number];

/** FORBID: a fire while a run is active is SKIPPED(overlap). QUEUE: it waits its turn. REPLACE: the active run is cancelled. ALLOW: runs overlap. */
export const ConcurrencyPolicies = ['FORBID', 'QUEUE', 'REPLACE', 'ALLOW'] as const;
export type ConcurrencyPolicy = (typeof ConcurrencyPolicies)[number];

/**
 * How close to its instant a REMOTE fire starts (docs/precise-jobs.md):
 * - MINUTE: EventBridge Scheduler invokes the dispatcher within the minute of the instant.
 * - SECOND: the planner delivers each fire `leadSeconds` ahead to its worker, which decides and starts
 *   it at the instant by its own clock; cron may name seconds (`*\/5 * * * * ?`).
 */
export const Precisions = ['MINUTE', 'SECOND'] as const;
export type Precision = (typeof Precisions)[number];

/**
 * How far ahead the planner delivers a precise job's fires. At least two planner periods (one minute
 * each): the invocation that plans a fire may itself arrive up to a minute late (EventBridge
 * Scheduler's delivery within its minute), and the next one must still be in time. At most 900 s:
 * SQS holds a delayed message no longer (DelaySeconds ≤ 900).
 */
export const MIN_LEAD_SECONDS = 120;
export const MAX_LEAD_SECONDS = 900;
export const DEFAULT_LEAD_SECONDS = 180;

export const MisfirePolicies = ['FIRE_ONCE_NOW', 'SKIP'] as const;
export type MisfirePolicy = (typeof MisfirePolicies)[number];

/**
 * Which outcome of an upstream run fires a dependent job (`after[].on`):
 * - SUCCEEDED: the upstream run succeeded.
 * - FAILED: it failed for good — FAILED after its last attempt, TIMED_OUT or LOST.
 * - COMPLETED: either of the above. A CANCELLED, SKIPPED or NO_WORKER upstream run fires nothing.
 */
export const DependencyOutcomes = ['SUCCEEDED', 'FAILED', 'COMPLETED'] as const;
export type DependencyOutcome = (typeof DependencyOutcomes)[number];

/** ANY: each listed upstream's outcome fires the job on its own. ALL: once per chain, when every listed upstream has reached its outcome in it (fan-in). */
export const WaitForModes = ['ANY', 'ALL'] as const;
export type WaitForMode = (typeof WaitForModes)[number];

/** Most upstream jobs one job may list in `after`. */
export const MAX_UPSTREAMS = 20;

const DependencySchema = z.strictObject({
  jobId: IdSchema,
  on: z.enum(DependencyOutcomes, {
    error: `must be one of ${DependencyOutcomes.join(', ')}`,
  }),
});
export type Dependency = z.output<typeof DependencySchema>;

export const ScheduleSpecSchema = z.strictObject({
  expression: z.string().min(1, 'is required'),
  timezone: z.string().default('UTC'),
  startDate: z.string().optional(),
  endDate: z.string().optional(),
});
export type ScheduleSpecInput = z.input<typeof ScheduleSpecSchema>;

const TargetSchema = z.strictObject({
  pool: IdSchema.default('default'),
  labels: LabelsSchema.default({}),
  workerIds: z.array(IdSchema).max(50, 'at most 50 pinned workers').default([]),
});

const ConcurrencySchema = z.strictObject({
  policy: z.enum(ConcurrencyPolicies).default('FORBID'),
  maxQueued: z.number().int().min(1).max(100).default(10),
});

const MisfireSchema = z.strictObject({
  policy: z.enum(MisfirePolicies).default('FIRE_ONCE_NOW'),
  windowSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600)
    .default(3600),
});

const RetrySchema = z.strictObject({
  maxAttempts: z.number().int().min(1).max(20).default(1),
  backoffSeconds: z.number().int().min(1).max(3600).default(10),
  maxBackoffSeconds: z
    .number()
    .int()
    .min(1)
    .max(24 * 3600)
    .default(600),
});

/**
 * What an operator writes to define a job (API, CLI, console, agent config, decorators).
 * Defaults give the behaviour a newcomer expects: REMOTE over SQS to the `default` pool,
 * round-robin, no overlap, one attempt, a one-hour timeout, recovery when a worker dies.
 */
export const JobSpecSchema = z
  .strictObject({
    jobId: IdSchema,
    description: z.string().max(1024).default(''),
    handler: HandlerNameSchema,
    payload: PayloadSchema.default(null),
    /** Environment variables for each run's handler (docs/agent.md, "What a handler sees"); absent: none. */
    env: JobEnvSchema.optional(),
    schedule: ScheduleSpecSchema.nullable().default(null),
    mode: z.enum(JobModes).default('REMOTE'),
    /** SECOND: a precise REMOTE job, planned ahead and started on its second (docs/precise-jobs.md). */
    precision: z.enum(Precisions, { error: `must be one of ${Precisions.join(', ')}` }).default('MINUTE'),
    /** Precise jobs: how far ahead of each instant its fire is planned and delivered. @default 180 */
    leadSeconds: z
      .number()
      .int('must be a whole number of seconds')
      .min(MIN_LEAD_SECONDS, `must be at least ${MIN_LEAD_SECONDS} (two planner periods of one minute)`)
      .max(MAX_LEAD_SECONDS, `must be at most ${MAX_LEAD_SECONDS} (SQS delays a message 900 s at most)`)
      .optional(),
    delivery: z.enum(DeliveryKinds).default('SQS'),
    target: TargetSchema.default({ pool: 'default', labels: {}, workerIds: [] }),
    routing: z.enum(RoutingStrategies).default('ROUND_ROBIN'),
    concurrency: ConcurrencySchema.default({ policy: 'FORBID', maxQueued: 10 }),
    misfire: MisfireSchema.default({ policy: 'FIRE_ONCE_NOW', windowSeconds: 3600 }),
    retry: RetrySchema.default({ maxAttempts: 1, backoffSeconds: 10, maxBackoffSeconds: 600 }),
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(3600),
    recoverOnWorkerLoss: z.boolean().default(true),
    contacts: z.array(IdSchema).max(50).default([]),
    group: IdSchema.optional(),
    paused: z.boolean().default(false),
    /** Run after these jobs' runs reach an outcome (trigger DEPENDENT); see docs/dependent-jobs.md. */
    after: z.array(DependencySchema).max(MAX_UPSTREAMS, `at most ${MAX_UPSTREAMS} upstream jobs`).default([]),
    waitFor: z.enum(WaitForModes, { error: `must be one of ${WaitForModes.join(', ')}` }).default('ANY'),
  })
  .superRefine((spec, ctx) => {
    const listed = new Set<string>();
    spec.after.forEach((dependency, index) => {
      if (dependency.jobId === spec.jobId) {
        ctx.addIssue({
          code: 'custom',
          path: ['after', index, 'jobId'],
          message: 'a job cannot run after itself',
        });
      } else if (listed.has(dependency.jobId)) {
        ctx.addIssue({ code: 'custom', path: ['after', index, 'jobId'], message: 'is listed twice' });
      }
      listed.add(dependency.jobId);
    });
    if (spec.precision === 'SECOND' && spec.mode !== 'REMOTE') {
      ctx.addIssue({
        code: 'custom',
        path: ['precision'],
        message: 'SECOND is for REMOTE jobs; LOCAL jobs already fire on their second from the agents',
      });
    }
    if (spec.precision === 'SECOND' && (spec.routing === 'BROADCAST' || spec.routing === 'ANY')) {
      ctx.addIssue({
        code: 'custom',
        path: ['routing'],
        message: `${spec.routing} cannot be used with precision SECOND: each planned fire is held by one chosen worker`,
      });
    }
    if (spec.leadSeconds !== undefined && spec.precision !== 'SECOND') {
      ctx.addIssue({ code: 'custom', path: ['leadSeconds'], message: 'applies only with precision SECOND' });
    }
    if (spec.schedule) {
      try {
        parseSchedule(spec.schedule, scheduleModeOf(spec));
      } catch (error) {
        if (!(error instanceof ScheduleError)) throw error;
        for (const issue of error.issues) {
          ctx.addIssue({ code: 'custom', path: issue.field.split('.'), message: issue.reason });
        }
      }
    }
    if (spec.retry.maxBackoffSeconds < spec.retry.backoffSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['retry', 'maxBackoffSeconds'],
        message: 'must be at least retry.backoffSeconds',
      });
    }
  });
export type JobSpec = z.output<typeof JobSpecSchema>;
export type JobSpecInput = z.input<typeof JobSpecSchema>;

/** Whether a job is a precise REMOTE job: planned ahead, started on its second by its worker. */
export function isPrecise(spec: Pick<JobSpec, 'mode' | 'precision'>): boolean {
  return spec.mode === 'REMOTE' && spec.precision === 'SECOND';
}

/**
 * Which schedule rules a job's expression follows: agent-fired ones (LOCAL jobs, and precise REMOTE
 * jobs, whose worker starts each fire itself) may name seconds; the rest are EventBridge Scheduler's.
 */
export function scheduleModeOf(spec: Pick<JobSpec, 'mode' | 'precision'>): ScheduleMode {
  return spec.mode === 'LOCAL' || isPrecise(spec) ? 'LOCAL' : 'REMOTE';
}

/** A precise job's lead in ms (its `leadSeconds`, else the default). */
export function leadMsOf(spec: Pick<JobSpec, 'leadSeconds'>): number {
  return (spec.leadSeconds ?? DEFAULT_LEAD_SECONDS) * 1000;
}

export const SyncStates = ['IN_SYNC', 'OUT_OF_SYNC'] as const;
export type SyncState = (typeof SyncStates)[number];

/** A stored job: the spec plus what the control plane keeps about it. `version` increases on every change. */
export const JobSchema = z.object({
  spec: JobSpecSchema,
  version: z.number().int().min(1),
  createdAt: EpochMsSchema,
  updatedAt: EpochMsSchema,
  /** OUT_OF_SYNC while the EventBridge schedule may not match the spec; the monitor repairs it. */
  syncState: z.enum(SyncStates),
  /** Set for jobs declared in an agent's config or decorators: the owner id that may update or delete them. */
  owner: z.string().max(128).optional(),
  /**
   * Jobs whose `after` lists this one, kept by JobService.define (and repaired by the monitor). A run
   * of a job with dependents carries `hasDependents`, so completing the run of any other job costs nothing extra.
   */
  downstream: z.array(IdSchema).optional(),
});
export type Job = z.output<typeof JobSchema>;
