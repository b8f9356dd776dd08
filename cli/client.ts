/**
 * The CLI's HTTP client over the management API's route table (core/api/routes.ts): one `call` by
 * route id, typed by that route's response schema, answering the API's `{code, message, fields}`
 * errors as ApiCallError and an unreachable endpoint as ApiUnreachableError.
 */
import type { z } from 'zod';
import { type Route, type RouteId, routes } from '../core/api/routes';
import type { ApiErrorCode, FieldError } from '../core/api/schemas';
import type { Connection } from './connection';

type RouteOf<Id extends RouteId> = Extract<Route, { id: Id }>;
/** What a route answers: its response schema's output, or undefined for 204 routes. */
export type ResponseOf<Id extends RouteId> =
  RouteOf<Id> extends { response: infer S extends z.ZodType } ? z.output<S> : undefined;

export type QueryValue = string | number | boolean | undefined;

export interface CallInput {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, QueryValue>>;
  readonly body?: unknown;
}

/** The API answered with an error: its stable code, message and field errors. */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode | string,
    message: string,
    readonly fields: readonly FieldError[] = [],
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

/** Nothing answered at the endpoint (refused, DNS, TLS) or the answer was not the API's. */
export class ApiUnreachableError extends Error {
  constructor(
    readonly endpoint: string,
    readonly endpointFrom: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiUnreachableError';
  }
}

const byId = new Map<string, Route>(routes.map((r) => [r.id, r]));

/** `/api/jobs/:jobId` with `{jobId: 'a b'}` → `/api/jobs/a%20b`. */
export function expandPath(path: string, params: Readonly<Record<string, string>> = {}): string {
  return path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${path}`);
    return encodeURIComponent(value);
  });
}

export function queryString(query: Readonly<Record<string, QueryValue>> = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

export class ApiClient {
  constructor(
    readonly connection: Connection,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async call<Id extends RouteId>(id: Id, input: CallInput = {}): Promise<ResponseOf<Id>> {
    const route = byId.get(id);
    if (!route) throw new Error(`unknown route ${id}`);
    const url = `${this.connection.endpoint}${expandPath(route.path, input.params)}${queryString(input.query)}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.connection.token) headers.authorization = `Bearer ${this.connection.token}`;
    if (input.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method: route.method.toUpperCase(),
        headers,
        ...(input.body !== undefined ? { body: JSON.stringify(input.body) } : {}),
      });
    } catch (error) {
      const cause =
        error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : '';
      throw new ApiUnreachableError(
        this.connection.endpoint,
        this.connection.endpointFrom,
        `cannot reach the Clover API at ${this.connection.endpoint} (${cause || 'no answer'})`,
      );
    }
    const text = await response.text();
    if (response.ok) {
      if (response.status === 204 || text === '') return undefined as ResponseOf<Id>;
      return JSON.parse(text) as ResponseOf<Id>;
    }
    throw errorOf(response.status, text, this.connection);
  }
}

function errorOf(status: number, text: string, connection: Connection): Error {
  let body: { code?: unknown; message?: unknown; fields?: unknown } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = undefined;
  }
  if (body && typeof body.code === 'string' && typeof body.message === 'string') {
    const fields = Array.isArray(body.fields) ? (body.fields as FieldError[]) : [];
    return new ApiCallError(status, body.code, body.message, fields);
  }
  // Not the API's error shape: a proxy, a wrong port, a gateway in front of it.
  return new ApiUnreachableError(
    connection.endpoint,
    connection.endpointFrom,
    `${connection.endpoint} answered HTTP ${status} without a Clover error body; is it the Clover API?`,
  );
}
