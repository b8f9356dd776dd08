/**
 * The management API as a Hono app: one handler per route of core/api/routes.ts, each a line over
 * ManagementApi. Everything around the handlers happens here once, in this order, for every route:
 * throttle the caller's address (429; public routes spend from it, and an address whose refused
 * tokens used it up is refused before its token is even verified) → authenticate (401: refused
 * tokens spend from the address's budget, are logged and counted) → role check from the route table
 * (403) → throttle the subject (429) → path, query and the headers a route reads (400) → body:
 * content type (415), size while streaming (413), payload and nesting depth, schema (400, unknown
 * fields rejected) → call the use case → map any failure to {code, message, fields?}
 * (core/api/errors.ts).
 *
 * The same app runs in Lambda (functions/api/handler.ts) and in the local runtime (functions/local).
 */

import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { ApiError, toApiError } from '../../core/api/errors';
import { openApiDocument } from '../../core/api/openapi';
import { allows, type RouteDef, type RouteId, routes } from '../../core/api/routes';
import { API_ERROR_STATUS, API_LIMITS } from '../../core/api/schemas';
import type { ManagementApi, Principal } from '../../core/api/service';
import { checkPayloadSize } from '../../core/api/use-cases/jobs';
import { ValidationError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { fieldIssues, tooDeep } from '../../core/model';
import { type EmfMetrics, noMetrics } from '../metrics';
import type { Authenticator, LocalAuthenticator } from './auth';
import type { ClientAddress } from './client-address';

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
  /**
   * Where a request came from (throttling, the refusal log): API Gateway's `sourceIp` in AWS, the
   * socket's peer locally (functions/api/client-address.ts). @default every request from 'unknown'
   */
  readonly clientAddress?: ClientAddress;
  /** Counts refused sign-ins and tokens (`AuthFailures`). @default noMetrics (the local runtime logs only) */
  readonly metrics?: EmfMetrics;
  /** Requests per second and burst per caller. @default API_LIMITS.requestsPerSecond / burst */
  readonly rateLimit?: { readonly perSecond: number; readonly burst: number };
  readonly now?: () => number;
}

interface Call {
  readonly principal: Principal;
  readonly params: Record<string, unknown>;
  readonly query: Record<string, unknown>;
  readonly headers: Record<string, unknown>;
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
    listJobs: ({ query }: Any) => api.jobs.list(query),
    createJob: ({ principal, body }: Any) => api.jobs.create(principal, body),
    getJob: ({ params }: Any) => api.jobs.get(params.jobId),
    updateJob: ({ principal, params, body }: Any) => api.jobs.update(principal, params.jobId, body),
    deleteJob: ({ principal, params, query }: Any) => api.jobs.delete(principal, params.jobId, query.version),
    pauseJob: ({ principal, params }: Any) => api.jobs.setPaused(principal, params.jobId, true),
    resumeJob: ({ principal, params }: Any) => api.jobs.setPaused(principal, params.jobId, false),
    triggerJob: ({ principal, params, headers, body }: Any) =>
      api.jobs.trigger(principal, params.jobId, body.payload, headers.traceparent),
    previewSchedule: ({ body }: Any) => api.jobs.previewSchedule(body),
    listRuns: ({ query }: Any) => api.runs.list(query),
    getRun: ({ params }: Any) => api.runs.get(params.runId),
    getRunLog: ({ params, query }: Any) => api.runs.log(params.runId, query),
    cancelRun: ({ principal, params }: Any) => api.runs.cancel(principal, params.runId),
    searchErrors: ({ query }: Any) => api.runs.searchErrors(query),
    listWorkers: ({ query }: Any) => api.workers.list(query.pool),
    drainWorker: ({ principal, params }: Any) => api.workers.drain(principal, params.workerId),
    listContacts: ({ query }: Any) => api.contacts.list(query),
    createContact: ({ principal, body }: Any) => api.contacts.create(principal, body),
    getContact: ({ params }: Any) => api.contacts.get(params.contactId),
    updateContact: ({ principal, params, body }: Any) =>
      api.contacts.update(principal, params.contactId, body),
    deleteContact: ({ principal, params }: Any) => api.contacts.delete(principal, params.contactId),
    listAlerts: ({ query }: Any) => api.alerts.list(query),
    acknowledgeAlert: ({ principal, params, body }: Any) =>
      api.alerts.acknowledge(principal, params.alertId, body.comment),
    listSilences: () => api.alerts.listSilences(),
    createSilence: ({ principal, body }: Any) => api.alerts.createSilence(principal, body),
    deleteSilence: ({ principal, params }: Any) => api.alerts.deleteSilence(principal, params.silenceId),
    getStats: ({ query }: Any) => api.stats.get(query),
    listAudit: ({ query }: Any) => api.audit.list(query),
    syncDeclaredJobs: ({ principal, params, body }: Any) =>
      api.agents.syncDeclaredJobs(principal, params.owner, body.jobs),
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
    // Like every route without a body, the document refuses one (small 400) rather than ignoring it.
    if (bodySent(c.req.raw)) throw ValidationError.field('(body)', 'openapi takes no body');
    document ??= openApiDocument();
    return c.json(document as object);
  });

  const metrics = options.metrics ?? noMetrics;
  /** Logs and counts a refused sign-in or token: never the password or the token, only a hash prefix. */
  const refused = (kind: 'sign_in' | 'token', fields: Record<string, unknown>) => {
    options.log.log('warn', kind === 'sign_in' ? 'sign-in refused' : 'token refused', fields);
    metrics.put('authFailures', 1, { Kind: kind });
  };

  for (const route of routes as readonly RouteDef[]) {
    const handle = table[route.id as RouteId];
    app.on(route.method.toUpperCase(), route.path, async (c) => {
      const address = options.clientAddress?.(c.req.raw, c.env) ?? 'unknown';
      const byAddress = `ip:${address}`;
      let principal: Principal;
      if (route.access === 'public') {
        if (!limiter.take(byAddress)) throw throttled();
        principal = ANONYMOUS;
      } else {
        // Refused tokens spend the address's budget; once spent, nothing is verified until it refills.
        if (!limiter.has(byAddress)) throw throttled();
        try {
          principal = await authenticate(route, c.req.raw, c.env, options);
        } catch (error) {
          if (error instanceof ApiError && API_ERROR_STATUS[error.code] === 401) {
            limiter.take(byAddress);
            refused('token', { route: route.id, address, reason: error.code, token: tokenHint(c.req.raw) });
          }
          throw error;
        }
        if (!limiter.take(`sub:${principal.subject}`)) throw throttled();
      }
      const params = parse(route.params ?? EMPTY, c.req.param(), 'path');
      const query = parse(route.query ?? EMPTY, singleValues(c.req.queries()), 'query');
      const headers = route.headers ? parse(route.headers, c.req.header(), 'header') : {};
      const body = await readBody(c.req.raw, route);
      let result: unknown;
      try {
        result = await handle({ principal, params, query, headers, body });
      } catch (error) {
        if (route.id === 'localLogin' && error instanceof ApiError && error.code === 'UNAUTHENTICATED') {
          const username = String((body as { username?: unknown }).username).slice(0, 64);
          refused('sign_in', { address, username });
        }
        throw error;
      }
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

function parse(
  schema: z.ZodType,
  input: unknown,
  root: 'path' | 'query' | 'header',
): Record<string, unknown> {
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

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** A GET or DELETE request's body never reaches the Request object: its headers tell that one was sent. */
function bodySent(request: Request): boolean {
  return Number(request.headers.get('content-length') ?? '0') > 0 || request.headers.has('transfer-encoding');
}

/**
 * The request's body, checked before anything parses it deeper than JSON.parse (which does not
 * recurse): its content type (415), its size as it streams in (413 as soon as it passes the limit,
 * chunked bodies too, so a 100 MB body costs at most the limit in memory), job payloads (depth 400,
 * size 413), its nesting depth (400), then the route's schema. A route without a body accepts none
 * (an empty body or `{}` aside), so nothing sent to it is silently ignored.
 */
async function readBody(request: Request, route: RouteDef): Promise<unknown> {
  const type = request.headers.get('content-type');
  if (route.body && type !== null && !JSON_MEDIA_TYPE.test(type)) {
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      `the body must be JSON (Content-Type: application/json), not ${type.slice(0, 100)}`,
      [{ field: '(body)', reason: 'must be application/json' }],
    );
  }
  if (!route.body && request.body === null && bodySent(request)) {
    throw ValidationError.field('(body)', `${route.id} takes no body`);
  }
  const text = await readText(request);
  let raw: unknown = {};
  if (text.trim() !== '') {
    try {
      raw = JSON.parse(text);
    } catch {
      throw ValidationError.field('(body)', 'is not valid JSON');
    }
  }
  if (!route.body) {
    const empty =
      typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.keys(raw).length === 0;
    if (!empty) throw ValidationError.field('(body)', `${route.id} takes no body`);
    return undefined;
  }
  checkPayloads(route.id as RouteId, raw);
  const deep = tooDeep(raw, API_LIMITS.maxBodyDepth);
  if (deep) {
    throw ValidationError.field(
      deep.length > 0 && !Array.isArray(raw) ? String(deep[0]) : '(body)',
      `nests arrays and objects more than ${API_LIMITS.maxBodyDepth} levels deep`,
    );
  }
  const result = route.body.safeParse(raw);
  if (!result.success) {
    const issues = fieldIssues(result.error);
    // Only the schedule is wrong: the same code the schedule preview answers.
    const scheduleOnly = issues.every((i) => /^(spec\.|jobs\.\d+\.)?schedule(\.|$)/.test(i.field));
    throw new ValidationError(issues, scheduleOnly ? 'invalid_schedule' : 'validation_failed');
  }
  return result.data;
}

/** The body as text, read chunk by chunk and refused as soon as it passes the limit. */
async function readText(request: Request): Promise<string> {
  const limit = API_LIMITS.maxBodyBytes;
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw bodyTooLarge(`${declared} bytes`);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw bodyTooLarge(`over ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function bodyTooLarge(size: string): ApiError {
  return new ApiError(
    'PAYLOAD_TOO_LARGE',
    `the body is ${size}; the limit is ${API_LIMITS.maxBodyBytes} bytes`,
    [{ field: '(body)', reason: `must be at most ${API_LIMITS.maxBodyBytes} bytes` }],
  );
}

function throttled(): ApiError {
  return new ApiError('THROTTLED', 'too many requests; slow down and retry after a second');
}

/** Enough of a refused token to tell repeats apart in the log: a SHA-256 prefix, never the token. */
function tokenHint(request: Request): string | undefined {
  const token = /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  return token ? `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 12)}` : undefined;
}

/** Oversized job payloads are 413, not 400, wherever a body carries one. */
function checkPayloads(route: RouteId, raw: unknown): void {
  if (typeof raw !== 'object' || raw === null) return;
  const body = raw as Record<string, unknown>;
  if (route === 'createJob' || route === 'triggerJob') checkPayloadSize(body.payload, 'payload');
  if (route === 'updateJob' && typeof body.spec === 'object' && body.spec !== null) {
    checkPayloadSize((body.spec as Record<string, unknown>).payload, 'spec.payload');
  }
  if (route === 'syncDeclaredJobs' && Array.isArray(body.jobs)) {
    for (const [i, job] of body.jobs.entries()) {
      if (typeof job === 'object' && job !== null) {
        checkPayloadSize((job as Record<string, unknown>).payload, `jobs.${i}.payload`);
      }
    }
  }
}

/** A token bucket per caller: `perSecond` refill, `burst` capacity. Per API instance (a Lambda container, the local server). */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {}

  /** Whether `key` has a request left, without spending it. */
  has(key: string): boolean {
    return this.refill(key).tokens >= 1;
  }

  /** Spends one of `key`'s requests; false when none is left. */
  take(key: string): boolean {
    const bucket = this.refill(key);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private refill(key: string): { tokens: number; at: number } {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 10_000) this.buckets.delete(this.buckets.keys().next().value as string);
    return bucket;
  }
}
