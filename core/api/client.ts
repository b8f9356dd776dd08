/**
 * A small typed client of the management API over `fetch`, generated from the route table: the
 * CLI, the console's tests and the integration tests call routes by id with typed inputs and get
 * typed answers; a non-2xx answer throws CloverApiError carrying the API's code and fields.
 *
 * @example
 * const api = new CloverApiClient({ baseUrl: 'http://127.0.0.1:8080', token });
 * const job = await api.call('createJob', { body: { jobId: 'nightly', handler: 'reports.daily' } });
 * const page = await api.call('listRuns', { query: { jobId: 'nightly', limit: 20 } });
 */
import type { z } from 'zod';
import { type Route, type RouteId, routes } from './routes';
import type { ApiErrorBody, ApiErrorCode, FieldError } from './schemas';

type RouteById<K extends RouteId> = Extract<Route, { id: K }>;
type InputOf<R, P extends string> = R extends { [key in P]: infer S extends z.ZodType } ? z.input<S> : never;
type QueryInput<R> = {
  [K in keyof InputOf<R, 'query'>]?: InputOf<R, 'query'>[K] | string | number | boolean;
};

export type CallInput<R> = ([InputOf<R, 'params'>] extends [never]
  ? unknown
  : { params: InputOf<R, 'params'> }) &
  ([InputOf<R, 'query'>] extends [never] ? unknown : { query?: QueryInput<R> }) &
  ([InputOf<R, 'headers'>] extends [never] ? unknown : { headers?: InputOf<R, 'headers'> }) &
  ([InputOf<R, 'body'>] extends [never] ? unknown : { body: InputOf<R, 'body'> });
export type CallOutput<R> = R extends { response: infer S extends z.ZodType } ? z.output<S> : undefined;

export class CloverApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly fields: readonly FieldError[] = [],
  ) {
    super(message);
    this.name = 'CloverApiError';
  }
}

/** The API did not answer (headers and body) within the client's deadline. */
export class ApiTimeoutError extends Error {
  constructor(
    readonly url: string,
    readonly timeoutMs: number,
  ) {
    super(`no answer from the Clover API within ${timeoutMs} ms (${url})`);
    this.name = 'ApiTimeoutError';
  }
}

/**
 * A request's deadline, headers and body together. The API answers in well under a second; this is
 * for a hung endpoint (a black-holed path, a wedged proxy), which must fail the call, not hold the
 * CLI or the agent's sync forever.
 */
export const API_TIMEOUT_MS = 30_000;

export interface CloverApiClientOptions {
  /** Where the API is served, without `/api`: `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  readonly token?: string;
  readonly fetch?: typeof fetch;
  /** Extra headers on every request (SigV4 signing is done by a `fetch` wrapper instead). */
  readonly headers?: Readonly<Record<string, string>>;
  /** @default API_TIMEOUT_MS */
  readonly timeoutMs?: number;
}

export class CloverApiClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: CloverApiClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** A client for the same API with another token. */
  withToken(token: string | undefined): CloverApiClient {
    const { token: _old, ...rest } = this.options;
    return new CloverApiClient({ ...rest, ...(token === undefined ? {} : { token }) });
  }

  async call<K extends RouteId>(id: K, input: CallInput<RouteById<K>>): Promise<CallOutput<RouteById<K>>> {
    const route = routes.find((r) => r.id === id)!;
    const { params, query, headers, body } = input as {
      params?: Record<string, string>;
      query?: Record<string, unknown>;
      headers?: Record<string, string | undefined>;
      body?: unknown;
    };
    const path = route.path.replace(/:([A-Za-z]+)/g, (_, name: string) =>
      encodeURIComponent(String(params?.[name] ?? '')),
    );
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) search.set(key, String(value));
    }
    const qs = search.toString();
    const target = `${path}${qs ? `?${qs}` : ''}`;
    const sent = Object.entries(headers ?? {}).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    );
    const response = await this.request(route.method.toUpperCase(), target, body, Object.fromEntries(sent));
    if (response.status === 204) return undefined as CallOutput<RouteById<K>>;
    // The body streams under the same deadline as the headers.
    return (await response.json().catch(this.timedOut(target))) as CallOutput<RouteById<K>>;
  }

  private timedOut(path: string): (error: unknown) => never {
    return (error) => {
      if ((error as { name?: unknown } | null)?.name === 'TimeoutError') {
        throw new ApiTimeoutError(`${this.options.baseUrl}${path}`, this.timeoutMs);
      }
      throw error;
    };
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? API_TIMEOUT_MS;
  }

  /** A raw request (for malformed input in tests, or routes by path); throws CloverApiError on non-2xx. */
  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const response = await this.fetch(`${this.options.baseUrl}${path}`, {
      method,
      signal: AbortSignal.timeout(this.timeoutMs),
      headers: {
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
        ...this.options.headers,
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    }).catch(this.timedOut(path));
    if (response.ok) return response;
    let error: Partial<ApiErrorBody> = {};
    try {
      error = (await response.json().catch(this.timedOut(path))) as ApiErrorBody;
    } catch (cause) {
      if (cause instanceof ApiTimeoutError) throw cause;
      // not JSON: keep the status
    }
    throw new CloverApiError(
      response.status,
      (error.code ?? 'INTERNAL') as ApiErrorCode,
      error.message ?? `HTTP ${response.status}`,
      error.fields ?? [],
    );
  }
}
