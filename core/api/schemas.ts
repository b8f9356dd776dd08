// One file on purpose: the API's whole contract in one place, sectioned by resource, read as one.
/**
 * The management API's request and response shapes (docs/api.md), as zod schemas: the one source
 * of truth for the server's validation, the OpenAPI document (`/api/openapi.json`), the typed client
 * (core/api/client.ts) and the console's types. Every request schema is strict: unknown fields and
 * unknown query parameters are rejected, not dropped.
 */
import { z } from 'zod';
import {
  AlertKinds,
  AlertRecordSchema,
  AlertStatuses,
  AudienceVias,
  ChannelChangeSchema,
  ContactSpecSchema,
  ContactViewSchema,
  EpochMsSchema,
  IdSchema,
  JobModes,
  JobSchema,
  JobSpecSchema,
  MAX_CHANNELS_PER_CONTACT,
  MAX_PAYLOAD_BYTES,
  MAX_PAYLOAD_DEPTH,
  PayloadSchema,
  RunSchema,
  RunStatuses,
  SilenceSchema,
  TraceIdSchema,
  TraceparentSchema,
  WorkerSchema,
} from '../model';

/** Every limit the API enforces, published in the OpenAPI document (`info.x-clover-limits`). */
export const API_LIMITS = {
  /** Largest request body; bigger ones get 413 PAYLOAD_TOO_LARGE before they are parsed. */
  maxBodyBytes: 256 * 1024,
  /** Largest job payload as JSON (also 413 PAYLOAD_TOO_LARGE). */
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
  /** Deepest a job payload may nest arrays and objects (400 naming the payload's field). */
  maxPayloadDepth: MAX_PAYLOAD_DEPTH,
  /**
   * Deepest a request body may nest arrays and objects (400 naming its top-level field): room for a
   * payload of the deepest kind inside a declared-jobs body, and checked before any schema runs.
   */
  maxBodyDepth: MAX_PAYLOAD_DEPTH + 8,
  /** Ids (jobs, workers, contacts, groups, pools): 1-64 of letters, digits, ".", "_", "-". */
  maxIdLength: 64,
  maxDescriptionLength: 1024,
  defaultPageSize: 50,
  maxPageSize: 200,
  /** A page costs at most this many DynamoDB reads that return items (plus one per empty day in its window); a page cut short by this budget carries `nextCursor`, and a cursor otherwise means more items exist. */
  maxReadsPerPage: 5,
  /** Runs examined per page of the error search (the search is bounded, then paginated). */
  maxSearchedRunsPerPage: 1000,
  /** Widest time window of run lists, the error search, alerts, stats and audit. */
  maxWindowDays: 31,
  /** Default window when `from` is not given: the last 7 days. */
  defaultWindowDays: 7,
  /** Reads that count the jobs of a `GET /jobs` answer (`total`); past it `total` is left out. */
  maxCountReads: 20,
  /** Runs that stats examine at most; past it the answer says `truncated: true`. */
  maxStatsRuns: 20_000,
  maxPreviewCount: 100,
  maxDeclaredJobs: 500,
  maxQueryTextLength: 200,
  /** Requests per second a caller may make (token bucket, per caller and API instance); past it 429 THROTTLED. */
  requestsPerSecond: 50,
  burst: 100,
} as const;

// ---------------------------------------------------------------------------------------------
// Errors

/** Stable error codes: the console and the CLI branch on these, never on the message. */
export const ApiErrorCodes = [
  'VALIDATION_FAILED',
  'INVALID_SCHEDULE',
  'INVALID_CURSOR',
  'UNAUTHENTICATED',
  'TOKEN_EXPIRED',
  'FORBIDDEN',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'ALREADY_ACKNOWLEDGED',
  'VERSION_CONFLICT',
  'RUN_NOT_IN_STATE',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'THROTTLED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ApiErrorCode = (typeof ApiErrorCodes)[number];

/** The HTTP status each code is sent with. */
export const API_ERROR_STATUS: Readonly<Record<ApiErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  INVALID_SCHEDULE: 400,
  INVALID_CURSOR: 400,
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ALREADY_ACKNOWLEDGED: 409,
  VERSION_CONFLICT: 409,
  RUN_NOT_IN_STATE: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  THROTTLED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export const FieldErrorSchema = z.object({
  /** Dotted path into the body or query, e.g. `schedule.timezone`, `target.workerIds.0`, `query.limit`. */
  path: z.string(),
  message: z.string(),
});
export type FieldError = z.output<typeof FieldErrorSchema>;

/** The one error shape of every non-2xx answer. */
export const ApiErrorSchema = z.object({
  code: z.enum(ApiErrorCodes),
  message: z.string(),
  fields: z.array(FieldErrorSchema).optional(),
});
export type ApiErrorBody = z.output<typeof ApiErrorSchema>;

// ---------------------------------------------------------------------------------------------
// Auth

export const Roles = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof Roles)[number];

/** Who may call a route: a role or better, anyone (`public`), or an agent syncing its declared jobs. */
export type Access = Role | 'public' | 'agent';

export const MeSchema = z.object({
  subject: z.string(),
  role: z.enum(Roles),
  /** How the caller proved who it is. */
  via: z.enum(['jwt', 'iam']),
});
export type Me = z.output<typeof MeSchema>;

export const LoginBodySchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
});
export const LoginResponseSchema = z.object({
  token: z.string(),
  role: z.enum(Roles),
  /** ISO-8601 instant. */
  expiresAt: z.string(),
});
export type LoginResponse = z.output<typeof LoginResponseSchema>;

// ---------------------------------------------------------------------------------------------
// Shared query pieces

const limitParam = z.coerce
  .number()
  .int('must be a whole number')
  .min(1)
  .max(API_LIMITS.maxPageSize)
  .default(API_LIMITS.defaultPageSize);
const cursorParam = z.string().min(1).max(4096);
const booleanParam = z.enum(['true', 'false']).transform((v) => v === 'true');

/** A query-string instant: ISO-8601 (`2026-01-30T10:00:00Z`, offsets allowed) or epoch milliseconds. */
export const InstantParamSchema = z
  .string()
  .max(40)
  .refine(
    (s) => (/^\d{1,15}$/.test(s) ? true : /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s))),
    'must be an ISO-8601 instant such as 2026-01-30T10:00:00Z, or epoch milliseconds',
  )
  .transform((s) => (/^\d+$/.test(s) ? Number(s) : Date.parse(s)));

export const PageQuerySchema = z.strictObject({ limit: limitParam, cursor: cursorParam.optional() });

const windowFields = { from: InstantParamSchema.optional(), to: InstantParamSchema.optional() };

/** Lists answer one page and, when there may be more, the cursor of the next one. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    /** Present when more may follow; pass it back as `cursor` with the same filters. A page may be short (bounded reads) and still have a next one. */
    nextCursor: z.string().optional(),
  });
}
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

// ---------------------------------------------------------------------------------------------
// Jobs

export type { JobSpecInput } from '../model';
export { JobSpecSchema };

export const JobViewSchema = JobSchema.extend({
  /**
   * The next fire times (UTC ISO-8601) of a scheduled, unpaused job: five on `GET /api/jobs/{jobId}`,
   * the next one on `GET /api/jobs`.
   */
  nextFires: z.array(z.string()).optional(),
  /**
   * Upstream jobs in `after` that no longer exist (deleted after this job was defined): the job no
   * longer fires after them until its `after` is changed. On `GET /api/jobs/{jobId}` only; absent when none.
   */
  dependencyProblems: z.array(z.object({ jobId: IdSchema, reason: z.string() })).optional(),
  /**
   * Who hears of this job's alerts, and why (`via`): the contacts it names, its group's subscribers and
   * per-job or per-group subscriptions, each with the alert kinds it gets and its channels (`type:name`).
   * On `GET /api/jobs/{jobId}` only.
   */
  alertsGoTo: z
    .array(
      z.object({
        contactId: IdSchema,
        name: z.string(),
        email: z.string(),
        channels: z.array(z.string()),
        via: z.array(z.enum(AudienceVias)),
        alertKinds: z.array(z.enum(AlertKinds)),
      }),
    )
    .optional(),
});
export type JobView = z.output<typeof JobViewSchema>;

/** A page of jobs, with how many match the filters in all (absent when counting would read too much). */
export const JobPageSchema = pageOf(JobViewSchema).extend({
  total: z.number().int().optional(),
});
export type JobPage = z.output<typeof JobPageSchema>;

export const JobListQuerySchema = PageQuerySchema.extend({
  pool: IdSchema.optional(),
  handler: z.string().min(1).max(128).optional(),
  mode: z.enum(JobModes).optional(),
  paused: booleanParam.optional(),
  group: IdSchema.optional(),
  owner: z.string().min(1).max(128).optional(),
  /** Text in the job id or description (case-insensitive). */
  q: z.string().min(1).max(API_LIMITS.maxQueryTextLength).optional(),
});
export type JobListQuery = z.output<typeof JobListQuerySchema>;
export type JobListQueryInput = z.input<typeof JobListQuerySchema>;

export const JobUpdateBodySchema = z.strictObject({
  /** The version the editor read; 409 VERSION_CONFLICT if the job has changed since. */
  version: z.number().int().min(1),
  /** The whole new spec (defaults fill what is left out); its `jobId` must be the one in the path. */
  spec: JobSpecSchema,
});
export type JobUpdateBody = z.input<typeof JobUpdateBodySchema>;

export const JobDeleteQuerySchema = z.strictObject({
  version: z.coerce.number().int().min(1).optional(),
});

export const TriggerBodySchema = z.strictObject({
  /** Replaces the job's payload for this run only. */
  payload: PayloadSchema.optional(),
});
/** Request headers read (others are ignored); a header's name is case-insensitive, given here in lowercase. */
export const TriggerHeadersSchema = z.object({ traceparent: TraceparentSchema.optional() });
export const TriggerResponseSchema = z.object({
  runId: z.string(),
  /** What the fire became: dispatched, queued, skipped, no_worker, ... */
  outcome: z.string(),
  status: z.enum(RunStatuses),
  /** The run's trace id: the `traceparent`'s when one was sent (docs/architecture.md, "Following a fire"). */
  traceId: TraceIdSchema.optional(),
});
export type TriggerResponse = z.output<typeof TriggerResponseSchema>;

export const SchedulePreviewBodySchema = z.strictObject({
  expression: z.string().min(1).max(256),
  timezone: z.string().max(64).optional(),
  startDate: z.string().max(40).optional(),
  endDate: z.string().max(40).optional(),
  mode: z.enum(JobModes).default('REMOTE'),
  count: z.number().int().min(1).max(API_LIMITS.maxPreviewCount).default(10),
  /** Fires strictly after this instant (ISO-8601); default now. */
  from: z.string().max(40).optional(),
});
export type SchedulePreviewBody = z.input<typeof SchedulePreviewBodySchema>;
export const SchedulePreviewSchema = z.object({
  expression: z.string(),
  /** What EventBridge Scheduler will hold; null when only LOCAL mode can fire it. */
  awsExpression: z.string().nullable(),
  description: z.string(),
  nextFires: z.array(z.string()),
});
export type SchedulePreview = z.output<typeof SchedulePreviewSchema>;

// ---------------------------------------------------------------------------------------------
// Runs

export { RunSchema };
/** A run in lists: without its log, payload, result and upstream results (`GET /api/runs/{runId}` has them). */
export const RunSummarySchema = RunSchema.omit({ log: true, payload: true, result: true, upstream: true });
export type RunSummary = z.output<typeof RunSummarySchema>;

export const RunListQuerySchema = PageQuerySchema.extend({
  jobId: IdSchema.optional(),
  status: z.enum(RunStatuses).optional(),
  workerId: IdSchema.optional(),
  ...windowFields,
});
export type RunListQuery = z.output<typeof RunListQuerySchema>;
export type RunListQueryInput = z.input<typeof RunListQuerySchema>;

export const RunLogQuerySchema = z.strictObject({
  cursor: cursorParam.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});
export const LogLineSchema = z.object({
  /** Position of the line in the run's log, from 0. */
  index: z.number().int().min(0),
  message: z.string(),
});
export const RunLogSchema = z.object({
  runId: z.string(),
  status: z.enum(RunStatuses),
  lines: z.array(LogLineSchema),
  /** Always present: poll again with it for lines written later (the live tail). */
  nextCursor: z.string(),
  /** True when the run is final and every line has been read: stop tailing. */
  complete: z.boolean(),
});
export type RunLog = z.output<typeof RunLogSchema>;

export const ErrorSearchQuerySchema = PageQuerySchema.extend({
  /** Text to find (case-insensitive) in run error messages and log lines. */
  q: z.string().min(1).max(API_LIMITS.maxQueryTextLength),
  jobId: IdSchema.optional(),
  ...windowFields,
});
export type ErrorSearchQueryInput = z.input<typeof ErrorSearchQuerySchema>;
export const ErrorHitSchema = z.object({
  runId: z.string(),
  jobId: z.string(),
  /** The run's scheduled time. */
  at: z.string(),
  kind: z.enum(['error', 'log']),
  text: z.string(),
});
export const ErrorSearchResultSchema = pageOf(ErrorHitSchema).extend({
  /** Runs examined for this page (bounded by maxSearchedRunsPerPage). */
  scanned: z.number().int(),
});
export type ErrorSearchResult = z.output<typeof ErrorSearchResultSchema>;

// ---------------------------------------------------------------------------------------------
// Workers

export const WorkerViewSchema = WorkerSchema.extend({
  /** Runs it reported running at its last heartbeat. */
  running: z.number().int(),
  /** Milliseconds since its last heartbeat. */
  leaseAgeMs: z.number().int(),
  /** False once its lease has expired (the monitor will mark it GONE). */
  live: z.boolean(),
});
export type WorkerView = z.output<typeof WorkerViewSchema>;
export const WorkerListQuerySchema = z.strictObject({ pool: IdSchema.optional() });

// ---------------------------------------------------------------------------------------------
// Contacts

export type { Contact, ContactView } from '../model';
export { ContactSpecSchema, ContactViewSchema };

/** PUT body: the fields to change, each optional and without defaults (the id cannot change). */
const contactShape = ContactSpecSchema.shape;
export const ContactUpdateBodySchema = z.strictObject({
  name: contactShape.name.optional(),
  email: contactShape.email.optional(),
  alertKinds: contactShape.alertKinds.unwrap().optional(),
  groups: contactShape.groups.unwrap().optional(),
  subscriptions: contactShape.subscriptions.unwrap().optional(),
  /** Replaces the channels; a channel named like a stored one of its type may leave out `url` to keep it. */
  channels: z
    .array(ChannelChangeSchema)
    .max(MAX_CHANNELS_PER_CONTACT, `at most ${MAX_CHANNELS_PER_CONTACT} channels per contact`)
    .optional(),
});

// ---------------------------------------------------------------------------------------------
// Alerts

export { AlertRecordSchema, SilenceSchema };

/**
 * What the alert list filters on: a delivery status, or `OPEN` (nobody acknowledged it, and it was
 * sent or is on its way: PENDING, SENT or FAILED) or `ACKNOWLEDGED` (whatever its delivery).
 */
export const AlertListStatuses = [...AlertStatuses, 'OPEN', 'ACKNOWLEDGED'] as const;
export type AlertListStatus = (typeof AlertListStatuses)[number];

export const AlertListQuerySchema = PageQuerySchema.extend({
  jobId: IdSchema.optional(),
  kind: z.enum(AlertKinds).optional(),
  status: z.enum(AlertListStatuses).optional(),
  ...windowFields,
});
export type AlertListQueryInput = z.input<typeof AlertListQuerySchema>;

export const AcknowledgeBodySchema = z.strictObject({
  /** What the acknowledger says: "on it", a ticket. */
  comment: z.string().min(1).max(500).optional(),
});

/** The most a silence may last: longer is a change of the job's contacts, not a silence. */
export const MAX_SILENCE_DAYS = 31;

export const SilenceSpecSchema = z.strictObject({
  /** The job whose alerts to silence (all kinds unless `kind` is given). */
  jobId: IdSchema.optional(),
  /** The alert kind to silence (of every job unless `jobId` is given). */
  kind: z.enum(AlertKinds).optional(),
  /** When the silence ends: in the future, at most MAX_SILENCE_DAYS ahead. */
  endsAt: InstantParamSchema,
  comment: z.string().min(1).max(500).optional(),
});
export type SilenceSpecInput = z.input<typeof SilenceSpecSchema>;
export type SilenceSpec = z.output<typeof SilenceSpecSchema>;

// ---------------------------------------------------------------------------------------------
// Stats

export const StatsQuerySchema = z.strictObject({ jobId: IdSchema.optional(), ...windowFields });
const percentiles = z.object({ p50: z.number().nullable(), p95: z.number().nullable() });
export const StatsSchema = z.object({
  from: z.string(),
  to: z.string(),
  /** One entry per hour (UTC, by scheduled time) that had runs, oldest first. */
  hours: z.array(z.object({ hour: z.string(), counts: z.record(z.string(), z.number().int()) })),
  totals: z.record(z.string(), z.number().int()),
  /** SUCCEEDED / (SUCCEEDED + FAILED + TIMED_OUT + LOST + NO_WORKER); null with no finished runs. */
  successRate: z.number().nullable(),
  /** finishedAt − startedAt of finished runs, ms. */
  durationMs: percentiles,
  /** startedAt − scheduledTime of started runs, ms. */
  latenessMs: percentiles,
  /** Runs examined; `truncated` when the window held more than maxStatsRuns. */
  runs: z.number().int(),
  truncated: z.boolean(),
});
export type Stats = z.output<typeof StatsSchema>;

// ---------------------------------------------------------------------------------------------
// Audit

export const AuditActions = [
  'job.create',
  'job.update',
  'job.delete',
  'job.pause',
  'job.resume',
  'job.trigger',
  'run.cancel',
  'worker.drain',
  'contact.create',
  'contact.update',
  'contact.delete',
  'alert.acknowledge',
  'silence.create',
  'silence.delete',
  'agent.declared-jobs',
] as const;
export type AuditAction = (typeof AuditActions)[number];

export const AuditRecordSchema = z.object({
  auditId: z.string(),
  at: EpochMsSchema,
  actor: z.object({ subject: z.string(), role: z.string(), via: z.enum(['jwt', 'iam']) }),
  action: z.enum(AuditActions),
  /** `job:<id>`, `run:<id>`, `worker:<id>`, `contact:<id>`, `alert:<id>`, `silence:<id>`, `agent:<owner>`. */
  entity: z.string(),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
});
export type AuditRecord = z.output<typeof AuditRecordSchema>;
export const AuditListQuerySchema = PageQuerySchema.extend({
  entity: z.string().min(1).max(300).optional(),
  ...windowFields,
});
export type AuditListQueryInput = z.input<typeof AuditListQuerySchema>;

// ---------------------------------------------------------------------------------------------
// Declared jobs (agents)

export const DeclaredJobsBodySchema = z.strictObject({
  jobs: z.array(JobSpecSchema).max(API_LIMITS.maxDeclaredJobs),
});
export const SyncResultSchema = z.object({
  added: z.array(z.string()),
  updated: z.array(z.string()),
  deleted: z.array(z.string()),
  unchanged: z.array(z.string()),
  conflicts: z.array(
    z.object({ jobId: z.string(), action: z.enum(['add', 'update', 'delete']), reason: z.string() }),
  ),
});
export type SyncResultBody = z.output<typeof SyncResultSchema>;

// ---------------------------------------------------------------------------------------------
// Path parameters

export const JobIdParams = z.strictObject({ jobId: IdSchema });
export const RunIdParams = z.strictObject({ runId: z.string().min(1).max(256) });
export const WorkerIdParams = z.strictObject({ workerId: IdSchema });
export const ContactIdParams = z.strictObject({ contactId: IdSchema });
export const AlertIdParams = z.strictObject({ alertId: z.string().min(1).max(256) });
export const SilenceIdParams = z.strictObject({ silenceId: z.string().min(1).max(64) });
export const OwnerParams = z.strictObject({
  owner: z.string().regex(/^[A-Za-z0-9:._-]{1,128}$/, 'must be 1-128 of letters, digits, ":", ".", "_", "-"'),
});

export const HealthSchema = z.object({ ok: z.literal(true) });
export { JobSchema, WorkerSchema };
