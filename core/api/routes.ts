// One file on purpose: the route table is data, read as one table; a split by tag would scatter it.
/**
 * The management API's route table: every route's method, path, who may call it, and the zod
 * schemas of its parameters, query, body and answer. The server (functions/api/app.ts) registers its
 * handlers from this table and checks `access` here and nowhere else; the OpenAPI document
 * (core/api/openapi.ts) and the typed client (core/api/client.ts) are generated from it.
 */
import type { z } from 'zod';
import {
  type Access,
  AcknowledgeBodySchema,
  AlertIdParams,
  AlertListQuerySchema,
  AlertRecordSchema,
  type ApiErrorCode,
  AuditListQuerySchema,
  AuditRecordSchema,
  ContactIdParams,
  ContactSpecSchema,
  ContactUpdateBodySchema,
  ContactViewSchema,
  DeclaredJobsBodySchema,
  ErrorSearchQuerySchema,
  ErrorSearchResultSchema,
  HealthSchema,
  JobDeleteQuerySchema,
  JobIdParams,
  JobListQuerySchema,
  JobPageSchema,
  JobSpecSchema,
  JobUpdateBodySchema,
  JobViewSchema,
  LoginBodySchema,
  LoginResponseSchema,
  MeSchema,
  OwnerParams,
  PageQuerySchema,
  pageOf,
  RunIdParams,
  RunListQuerySchema,
  RunLogQuerySchema,
  RunLogSchema,
  RunSchema,
  RunSummarySchema,
  SchedulePreviewBodySchema,
  SchedulePreviewSchema,
  SilenceIdParams,
  SilenceSchema,
  SilenceSpecSchema,
  StatsQuerySchema,
  StatsSchema,
  SyncResultSchema,
  TriggerBodySchema,
  TriggerHeadersSchema,
  TriggerResponseSchema,
  WorkerIdParams,
  WorkerListQuerySchema,
  WorkerViewSchema,
} from './schemas';

export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

export interface RouteDef {
  /** Stable name: the handler's key on the server and the method's name in the client. */
  readonly id: string;
  readonly method: HttpMethod;
  /** Hono-style path with `:param` segments, under `/api`. */
  readonly path: string;
  readonly access: Access;
  readonly summary: string;
  readonly tag: string;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  /** Request headers it reads, by lowercase name; others are ignored, as HTTP carries many. */
  readonly headers?: z.ZodObject;
  readonly body?: z.ZodType;
  readonly status: 200 | 201 | 202 | 204;
  /** Absent for 204. */
  readonly response?: z.ZodType;
  /** Route-specific error codes, besides the ones every route may answer (see `commonErrors`). */
  readonly errors: readonly ApiErrorCode[];
}

/** Codes any route may answer: bad query/body, body too large, auth (unless public), throttling, outages. */
export function commonErrors(route: RouteDef): ApiErrorCode[] {
  // Any route reads a body sent to it up to the limit (to refuse it), so any may answer 413.
  const codes: ApiErrorCode[] = [
    'VALIDATION_FAILED',
    'PAYLOAD_TOO_LARGE',
    'THROTTLED',
    'UNAVAILABLE',
    'INTERNAL',
  ];
  if (route.access !== 'public') codes.push('UNAUTHENTICATED', 'TOKEN_EXPIRED', 'FORBIDDEN');
  if (route.body) codes.push('UNSUPPORTED_MEDIA_TYPE');
  return codes;
}

const route = <const R extends RouteDef>(r: R): R => r;

export const routes = [
  route({
    id: 'health',
    method: 'get',
    path: '/api/health',
    access: 'public',
    summary: 'Liveness: always {ok: true}',
    tag: 'meta',
    status: 200,
    response: HealthSchema,
    errors: [],
  }),
  route({
    id: 'me',
    method: 'get',
    path: '/api/me',
    access: 'viewer',
    summary: 'Who the token belongs to and its role',
    tag: 'meta',
    status: 200,
    response: MeSchema,
    errors: [],
  }),
  route({
    id: 'localLogin',
    method: 'post',
    path: '/api/auth/local/login',
    access: 'public',
    summary: 'Local runtime only: sign in as admin, operator or viewer with the password `npm start` printed',
    tag: 'meta',
    body: LoginBodySchema,
    status: 200,
    response: LoginResponseSchema,
    errors: ['UNAUTHENTICATED', 'NOT_FOUND'],
  }),
  // Jobs
  route({
    id: 'listJobs',
    method: 'get',
    path: '/api/jobs',
    access: 'viewer',
    summary: 'List jobs by id, filtered; bounded reads per page',
    tag: 'jobs',
    query: JobListQuerySchema,
    status: 200,
    response: JobPageSchema,
    errors: ['INVALID_CURSOR'],
  }),
  route({
    id: 'createJob',
    method: 'post',
    path: '/api/jobs',
    access: 'admin',
    summary: 'Define a new job (and its EventBridge schedule)',
    tag: 'jobs',
    body: JobSpecSchema,
    status: 201,
    response: JobViewSchema,
    errors: ['INVALID_SCHEDULE', 'ALREADY_EXISTS'],
  }),
  route({
    id: 'getJob',
    method: 'get',
    path: '/api/jobs/:jobId',
    access: 'viewer',
    summary: 'One job, with its next fire times',
    tag: 'jobs',
    params: JobIdParams,
    status: 200,
    response: JobViewSchema,
    errors: ['NOT_FOUND'],
  }),
  route({
    id: 'updateJob',
    method: 'put',
    path: '/api/jobs/:jobId',
    access: 'admin',
    summary: 'Replace a job spec at the version read (optimistic: 409 if it changed)',
    tag: 'jobs',
    params: JobIdParams,
    body: JobUpdateBodySchema,
    status: 200,
    response: JobViewSchema,
    errors: ['INVALID_SCHEDULE', 'NOT_FOUND', 'VERSION_CONFLICT'],
  }),
  route({
    id: 'deleteJob',
    method: 'delete',
    path: '/api/jobs/:jobId',
    access: 'admin',
    summary: 'Delete a job and its schedule (at `version` if given)',
    tag: 'jobs',
    params: JobIdParams,
    query: JobDeleteQuerySchema,
    status: 204,
    errors: ['NOT_FOUND', 'VERSION_CONFLICT'],
  }),
  route({
    id: 'pauseJob',
    method: 'post',
    path: '/api/jobs/:jobId/pause',
    access: 'operator',
    summary: 'Pause: fires are recorded as SKIPPED(paused)',
    tag: 'jobs',
    params: JobIdParams,
    status: 200,
    response: JobViewSchema,
    errors: ['NOT_FOUND', 'VERSION_CONFLICT'],
  }),
  route({
    id: 'resumeJob',
    method: 'post',
    path: '/api/jobs/:jobId/resume',
    access: 'operator',
    summary: 'Resume a paused job',
    tag: 'jobs',
    params: JobIdParams,
    status: 200,
    response: JobViewSchema,
    errors: ['NOT_FOUND', 'VERSION_CONFLICT'],
  }),
  route({
    id: 'triggerJob',
    method: 'post',
    path: '/api/jobs/:jobId/trigger',
    access: 'operator',
    summary: 'Fire the job now (even when paused); answers the run id and its trace id',
    tag: 'jobs',
    params: JobIdParams,
    headers: TriggerHeadersSchema,
    body: TriggerBodySchema,
    status: 202,
    response: TriggerResponseSchema,
    errors: ['NOT_FOUND'],
  }),
  route({
    id: 'previewSchedule',
    method: 'post',
    path: '/api/schedules/preview',
    access: 'viewer',
    summary: 'Validate a schedule by EventBridge rules and list its next fire times',
    tag: 'jobs',
    body: SchedulePreviewBodySchema,
    status: 200,
    response: SchedulePreviewSchema,
    errors: ['INVALID_SCHEDULE'],
  }),
  // Runs
  route({
    id: 'listRuns',
    method: 'get',
    path: '/api/runs',
    access: 'viewer',
    summary: 'Runs newest first, by job, status, worker and time window',
    tag: 'runs',
    query: RunListQuerySchema,
    status: 200,
    response: pageOf(RunSummarySchema),
    errors: ['INVALID_CURSOR'],
  }),
  route({
    id: 'getRun',
    method: 'get',
    path: '/api/runs/:runId',
    access: 'viewer',
    summary: 'One run with its history, attempts, progress, error and log',
    tag: 'runs',
    params: RunIdParams,
    status: 200,
    response: RunSchema,
    errors: ['NOT_FOUND'],
  }),
  route({
    id: 'getRunLog',
    method: 'get',
    path: '/api/runs/:runId/log',
    access: 'viewer',
    summary: "A run's log from a cursor (the live tail)",
    tag: 'runs',
    params: RunIdParams,
    query: RunLogQuerySchema,
    status: 200,
    response: RunLogSchema,
    errors: ['NOT_FOUND', 'INVALID_CURSOR'],
  }),
  route({
    id: 'cancelRun',
    method: 'post',
    path: '/api/runs/:runId/cancel',
    access: 'operator',
    summary: 'Cancel a pending, dispatched or running run (its worker aborts it)',
    tag: 'runs',
    params: RunIdParams,
    status: 200,
    response: RunSchema,
    errors: ['NOT_FOUND', 'RUN_NOT_IN_STATE'],
  }),
  route({
    id: 'searchErrors',
    method: 'get',
    path: '/api/search/errors',
    access: 'viewer',
    summary: 'Find text in run errors and log lines within a time window (bounded, paginated)',
    tag: 'runs',
    query: ErrorSearchQuerySchema,
    status: 200,
    response: ErrorSearchResultSchema,
    errors: ['INVALID_CURSOR'],
  }),
  // Workers
  route({
    id: 'listWorkers',
    method: 'get',
    path: '/api/workers',
    access: 'viewer',
    summary: 'Workers holding or recently holding a lease',
    tag: 'workers',
    query: WorkerListQuerySchema,
    status: 200,
    response: pageOf(WorkerViewSchema),
    errors: [],
  }),
  route({
    id: 'drainWorker',
    method: 'post',
    path: '/api/workers/:workerId/drain',
    access: 'operator',
    summary: 'Drain a worker: it finishes what it runs and takes nothing new',
    tag: 'workers',
    params: WorkerIdParams,
    status: 200,
    response: WorkerViewSchema,
    errors: ['NOT_FOUND', 'VERSION_CONFLICT'],
  }),
  // Contacts
  route({
    id: 'listContacts',
    method: 'get',
    path: '/api/contacts',
    access: 'viewer',
    summary: 'Contacts with their alert kinds, groups and job subscriptions',
    tag: 'contacts',
    query: PageQuerySchema,
    status: 200,
    response: pageOf(ContactViewSchema),
    errors: ['INVALID_CURSOR'],
  }),
  route({
    id: 'createContact',
    method: 'post',
    path: '/api/contacts',
    access: 'admin',
    summary: 'Add a contact (the response shows generated webhook secrets once)',
    tag: 'contacts',
    body: ContactSpecSchema,
    status: 201,
    response: ContactViewSchema,
    errors: ['ALREADY_EXISTS'],
  }),
  route({
    id: 'getContact',
    method: 'get',
    path: '/api/contacts/:contactId',
    access: 'viewer',
    summary: 'One contact',
    tag: 'contacts',
    params: ContactIdParams,
    status: 200,
    response: ContactViewSchema,
    errors: ['NOT_FOUND'],
  }),
  route({
    id: 'updateContact',
    method: 'put',
    path: '/api/contacts/:contactId',
    access: 'admin',
    summary: 'Change a contact',
    tag: 'contacts',
    params: ContactIdParams,
    body: ContactUpdateBodySchema,
    status: 200,
    response: ContactViewSchema,
    errors: ['NOT_FOUND'],
  }),
  route({
    id: 'deleteContact',
    method: 'delete',
    path: '/api/contacts/:contactId',
    access: 'admin',
    summary: 'Delete a contact',
    tag: 'contacts',
    params: ContactIdParams,
    status: 204,
    errors: ['NOT_FOUND'],
  }),
  // Alerts, stats, audit
  route({
    id: 'listAlerts',
    method: 'get',
    path: '/api/alerts',
    access: 'viewer',
    summary:
      'Alerts newest first with their delivery state, by job, kind, status (a delivery status, OPEN or ACKNOWLEDGED) and time window',
    tag: 'alerts',
    query: AlertListQuerySchema,
    status: 200,
    response: pageOf(AlertRecordSchema),
    errors: ['INVALID_CURSOR'],
  }),
  route({
    id: 'acknowledgeAlert',
    method: 'post',
    path: '/api/alerts/:alertId/acknowledge',
    access: 'operator',
    summary: 'Take an alert: once; a pending or retried delivery of it stops',
    tag: 'alerts',
    params: AlertIdParams,
    body: AcknowledgeBodySchema,
    status: 200,
    response: AlertRecordSchema,
    errors: ['NOT_FOUND', 'ALREADY_ACKNOWLEDGED'],
  }),
  route({
    id: 'listSilences',
    method: 'get',
    path: '/api/silences',
    access: 'viewer',
    summary: 'Silences in force, ending soonest first',
    tag: 'alerts',
    status: 200,
    response: pageOf(SilenceSchema),
    errors: [],
  }),
  route({
    id: 'createSilence',
    method: 'post',
    path: '/api/silences',
    access: 'operator',
    summary: 'Silence the alerts of a job, of a kind, or of one kind of one job, until a time in the future',
    tag: 'alerts',
    body: SilenceSpecSchema,
    status: 201,
    response: SilenceSchema,
    errors: [],
  }),
  route({
    id: 'deleteSilence',
    method: 'delete',
    path: '/api/silences/:silenceId',
    access: 'operator',
    summary: 'End a silence now',
    tag: 'alerts',
    params: SilenceIdParams,
    status: 204,
    errors: ['NOT_FOUND'],
  }),
  route({
    id: 'getStats',
    method: 'get',
    path: '/api/stats',
    access: 'viewer',
    summary: 'Runs per status per hour, success rate, p50/p95 duration and lateness over a window',
    tag: 'stats',
    query: StatsQuerySchema,
    status: 200,
    response: StatsSchema,
    errors: [],
  }),
  route({
    id: 'listAudit',
    method: 'get',
    path: '/api/audit',
    access: 'viewer',
    summary: 'Every accepted change: who, what, when, before and after (newest first)',
    tag: 'audit',
    query: AuditListQuerySchema,
    status: 200,
    response: pageOf(AuditRecordSchema),
    errors: ['INVALID_CURSOR'],
  }),
  // Agents
  route({
    id: 'syncDeclaredJobs',
    method: 'put',
    path: '/api/agents/:owner/declared-jobs',
    access: 'agent',
    summary:
      "An agent's declared jobs (config and decorators): adds, updates and deletes the jobs `owner` owns",
    tag: 'agents',
    params: OwnerParams,
    body: DeclaredJobsBodySchema,
    status: 200,
    response: SyncResultSchema,
    errors: ['INVALID_SCHEDULE', 'ALREADY_EXISTS'],
  }),
] as const satisfies readonly RouteDef[];

export type Route = (typeof routes)[number];
export type RouteId = Route['id'];

/** OpenAPI path form: `/api/jobs/{jobId}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, '{$1}');
}

/**
 * Does `role` satisfy `access`? Roles are ordered viewer < operator < admin; `agent` routes also take
 * admins. An IAM caller (an agent's SigV4) may call the agent routes and nothing else (docs/api.md).
 */
export function allows(access: Access, role: string | undefined, via: 'jwt' | 'iam' | undefined): boolean {
  if (access === 'public') return true;
  if (via === 'iam') return access === 'agent';
  if (access === 'agent') return role === 'admin';
  const rank = { viewer: 1, operator: 2, admin: 3 } as const;
  return role !== undefined && role in rank && rank[role as keyof typeof rank] >= rank[access];
}
