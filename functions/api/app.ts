/**
 * The management API as a Hono app: one handler per route of core/api/routes.ts, each a line over
 * ManagementApi. Everything around the handlers happens here once, in this order, for every route:
 * authenticate (401) → role check from the route table (403) → throttle (429) → body size (413) →
 * parse and validate path, query and body against the route's schemas (400, unknown fields rejected)
 * → call the use case → map any failure to {code, message, fields?} (core/api/errors.ts).
 *
 * The same app runs in Lambda (functions/api/handler.ts) and in the local runtime (functions/local).
 */
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { ApiError, toApiError } from '../../core/api/errors';
import { openApiDocument } from '../../core/api/openapi';
import { allows, type RouteDef, type RouteId, routes } from '../../core/api/routes';
import { API_LIMITS } from '../../core/api/schemas';
import { ManagementApi, type Principal } from '../../core/api/service';
import { ValidationError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { fieldIssues } from '../../core/model';
import type { Authenticator, LocalAuthenticator } from './auth';

export interface ApiAppOptions {
  readonly api: ManagementApi;
  readonly auth: Authenticator;
  /** The local runtime's issuer: enables POST /api/auth/local/login. */
  readonly localLogin?: Pick<LocalAuthenticator, 'login'>;
  /**
   * The caller an API Gateway IAM authorizer already verified (SigV4), from the Lambda event; it may
   * call only `agent` routes. Absent locally.
   */
  readonly iamCaller?: (request: Request, env: unknown) => string | undefined;
  readonly log: Logger;
  /** Requests per second and burst per caller. @default API_LIMITS.requestsPerSecond / burst */
  readonly rateLimit?: { readonly perSecond: number; readonly burst: number };
  readonly now?: () => number;
}

interface Call {
  readonly principal: Principal;
  readonly params: Record<string, unknown>;
  readonly query: Record<string, unknown>;
  readonly body: unknown;
}

type Handlers = { readonly [K in RouteId]: (call: Call) => Promise<unknown> | unknown };

// biome-ignore lint/suspicious/noExplicitAny: each handler receives what its own route's schemas parsed.
type Any = any;

function handlers(api: ManagementApi, options: ApiAppOptions): Handlers {
  return {
    health: () => ({ ok: true }),
    me: ({ principal }) => api.me(principal),
    localLogin: ({ body }: Any) => {
      if (!options.localLogin)
        throw new ApiError('NOT_FOUND', 'local sign-in exists only in the local runtime');
      return options.localLogin.login(body.username, body.password);
    },
    listJobs: ({ query }: Any) => api.listJobs(query),
    createJob: ({ principal, body }: Any) => api.createJob(principal, body),
    getJob: ({ params }: Any) => api.getJob(params.jobId),
    updateJob: ({ principal, params, body }: Any) => api.updateJob(principal, params.jobId, body),
    deleteJob: ({ principal, params, query }: Any) => api.deleteJob(principal, params.jobId, query.version),
    pauseJob: ({ principal, params }: Any) => api.setPaused(principal, params.jobId, true),
    resumeJob: ({ principal, params }: Any) => api.setPaused(principal, params.jobId, false),
    triggerJob: ({ principal, params, body }: Any) => api.trigger(principal, params.jobId, body.payload),
    previewSchedule: ({ body }: Any) => api.previewSchedule(body),
    listRuns: ({ query }: Any) => api.listRuns(query),
    getRun: ({ params }: Any) => api.getRun(params.runId),
    getRunLog: ({ params, query }: Any) => api.runLog(params.runId, query),
    cancelRun: ({ principal, params }: Any) => api.cancelRun(principal, params.runId),
    searchErrors: ({ query }: Any) => api.searchErrors(query),
    listWorkers: ({ query }: Any) => api.listWorkers(query.pool),
    drainWorker: ({ principal, params }: Any) => api.drainWorker(principal, params.workerId),
    listContacts: ({ query }: Any) => api.listContacts(query),
    createContact: ({ principal, body }: Any) => api.createContact(principal, body),
    getContact: ({ params }: Any) => api.getContact(params.contactId),
    updateContact: ({ principal, params, body }: Any) => api.updateContact(principal, params.contactId, body),
    deleteContact: ({ principal, params }: Any) => api.deleteContact(principal, params.contactId),
    listAlerts: ({ query }: Any) => api.listAlerts(query),
    getStats: ({ query }: Any) => api.stats(query),
    listAudit: ({ query }: Any) => api.listAudit(query),
    syncDeclaredJobs: ({ principal, params, body }: Any) =>
      api.syncDeclaredJobs(principal, params.owner, body.jobs),
  };
}

const EMPTY = z.strictObject({});
const ANONYMOUS: Principal = { subject: 'anonymous', role: 'viewer', via: 'jwt' };

export function createApiApp(options: ApiAppOptions): Hono {
  const app = new Hono();
  const now = options.now ?? Date.now;
  const limiter = new RateLimiter(
    options.rateLimit?.perSecond ?? API_LIMITS.requestsPerSecond,
    options.rateLimit?.burst ?? API_LIMITS.burst,
    now,
  );
  const table = handlers(options.api, options);
  let document: unknown;

  app.get('/api/openapi.json', (c) => {
    document ??= openApiDocument();
    return c.json(document as object);
  });

  for (const route of routes as readonly RouteDef[]) {
    const handle = table[route.id as RouteId];
    app.on(route.method.toUpperCase(), route.path, async (c) => {
      const principal = await authenticate(route, c.req.raw, c.env, options);
      if (
        !limiter.take(principal === ANONYMOUS ? `ip:${clientAddress(c.req.raw)}` : `sub:${principal.subject}`)
      ) {
        throw new ApiError('THROTTLED', 'too many requests; slow down and retry after a second');
      }
      const params = parse(route.params ?? EMPTY, c.req.param(), 'path');
      const query = parse(route.query ?? EMPTY, singleValues(c.req.queries()), 'query');
      const body = route.body ? await readBody(c.req.raw, route) : undefined;
      const result = await handle({ principal, params, query, body });
      if (route.status === 204) return c.body(null, 204);
      return c.json(result as object, route.status);
    });
  }

  app.notFound((c) => c.json({ code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    const { status, body, internal } = toApiError(error);
    if (internal)
      options.log.log('error', 'API request failed', { method: c.req.method, path: c.req.path, error });
    return c.json(body, status as ContentfulStatusCode);
  });
  return app;
}

async function authenticate(
  route: RouteDef,
  request: Request,
  env: unknown,
  options: ApiAppOptions,
): Promise<Principal> {
  if (route.access === 'public') return ANONYMOUS;
  const iam = options.iamCaller?.(request, env);
  if (iam !== undefined) {
    const principal: Principal = { subject: iam, role: 'viewer', via: 'iam' };
    if (!allows(route.access, principal.role, principal.via)) {
      throw new ApiError('FORBIDDEN', `IAM callers may use only the agent routes, not ${route.id}`);
    }
    return principal;
  }
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) {
    throw new ApiError('UNAUTHENTICATED', 'send a token: Authorization: Bearer <JWT>');
  }
  const principal = await options.auth.verify(match[1]);
  if (!allows(route.access, principal.role, principal.via)) {
    throw new ApiError(
      'FORBIDDEN',
      `${route.id} needs the ${route.access === 'agent' ? 'agent (IAM) or admin' : route.access} role; ${principal.subject} is ${principal.role}`,
    );
  }
  return principal;
}

function parse(schema: z.ZodType, input: unknown, root: 'path' | 'query'): Record<string, unknown> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(fieldIssues(result.error, root));
  return result.data as Record<string, unknown>;
}

/** Query parameters as single strings; a parameter given twice is a mistake worth naming. */
function singleValues(queries: Record<string, string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, values] of Object.entries(queries)) {
    if (values.length > 1) throw ValidationError.field(`query.${name}`, 'is given more than once');
    out[name] = values[0] ?? '';
  }
  return out;
}

async function readBody(request: Request, route: RouteDef): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > API_LIMITS.maxBodyBytes) throw bodyTooLarge(declared);
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > API_LIMITS.maxBodyBytes) throw bodyTooLarge(bytes.byteLength);
  const text = new TextDecoder().decode(bytes);
  let raw: unknown = {};
  if (text.trim() !== '') {
    try {
      raw = JSON.parse(text);
    } catch {
      throw ValidationError.field('(body)', 'is not valid JSON');
    }
  }
  checkPayloads(route.id as RouteId, raw);
  const result = route.body!.safeParse(raw);
  if (!result.success) {
    const issues = fieldIssues(result.error);
    // Only the schedule is wrong: the same code the schedule preview answers.
    const scheduleOnly = issues.every((i) => /^(spec\.|jobs\.\d+\.)?schedule(\.|$)/.test(i.field));
    throw new ValidationError(issues, scheduleOnly ? 'invalid_schedule' : 'validation_failed');
  }
  return result.data;
}

function bodyTooLarge(size: number): ApiError {
  return new ApiError(
    'PAYLOAD_TOO_LARGE',
    `the body is ${size} bytes; the limit is ${API_LIMITS.maxBodyBytes} bytes`,
  );
}

/** Oversized job payloads are 413, not 400, wherever a body carries one. */
function checkPayloads(route: RouteId, raw: unknown): void {
  if (typeof raw !== 'object' || raw === null) return;
  const body = raw as Record<string, unknown>;
  if (route === 'createJob' || route === 'triggerJob')
    ManagementApi.checkPayloadSize(body.payload, 'payload');
  if (route === 'updateJob' && typeof body.spec === 'object' && body.spec !== null) {
    ManagementApi.checkPayloadSize((body.spec as Record<string, unknown>).payload, 'spec.payload');
  }
  if (route === 'syncDeclaredJobs' && Array.isArray(body.jobs)) {
    for (const [i, job] of body.jobs.entries()) {
      if (typeof job === 'object' && job !== null) {
        ManagementApi.checkPayloadSize((job as Record<string, unknown>).payload, `jobs.${i}.payload`);
      }
    }
  }
}

function clientAddress(request: Request): string {
  return request.headers.get('x-forwarded-for')?.split(',')[0]?.trim() || 'local';
}

/** A token bucket per caller: `perSecond` refill, `burst` capacity. Per API instance (a Lambda container, the local server). */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {}

  take(key: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 10_000) this.buckets.delete(this.buckets.keys().next().value as string);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
