/**
 * The one HTTP client of the console. Every request carries the session's bearer token; every
 * failure becomes an ApiError with the API's stable code, so pages branch on `code`, never on prose.
 * A 401 also tells the auth layer the session is gone (it sends the user to sign in, keeping drafts).
 */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: readonly FieldError[] = [],
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The message the API gave for one field (dotted path), if any. */
  field(path: string): string | undefined {
    return this.fields.find((f) => f.path === path)?.message;
  }
}

export type Query = Readonly<Record<string, string | number | boolean | undefined | null>>;

export interface ApiClientOptions {
  readonly baseUrl: string;
  /** The bearer token for the next request (it may first be renewed). */
  readonly token: () => string | undefined | Promise<string | undefined>;
  readonly onUnauthenticated: () => void;
  readonly fetch?: typeof fetch;
}

export function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', `${path}${queryString(query)}`);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  delete(path: string, query?: Query): Promise<void> {
    return this.request<void>('DELETE', `${path}${queryString(query)}`);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = await this.options.token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(`${this.options.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, 'NETWORK_ERROR', `The API did not answer (${(error as Error).message}).`);
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const err = (parsed ?? {}) as { code?: string; message?: string; fields?: FieldError[] };
      const apiError = new ApiError(
        response.status,
        err.code ?? `HTTP_${response.status}`,
        err.message ?? (text.slice(0, 300) || response.statusText || 'request failed'),
        Array.isArray(err.fields) ? err.fields : [],
        parsed,
      );
      if (response.status === 401) this.options.onUnauthenticated();
      throw apiError;
    }
    if (parsed === undefined && text) {
      throw new ApiError(response.status, 'BAD_RESPONSE', 'The API answered with something other than JSON.');
    }
    return parsed as T;
  }
}
