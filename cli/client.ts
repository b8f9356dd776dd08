/**
 * The CLI's connection to the management API: the typed client of core/api/client.ts (calls by
 * route id, typed answers, CloverApiError with the API's code and fields), over a `fetch` that turns
 * "nothing answered" and "something that is not the Clover API answered" into ApiUnreachableError,
 * so the CLI can say which endpoint it tried and where that endpoint came from.
 */
import { type CallOutput, CloverApiClient } from '../core/api/client';
import type { Route, RouteId } from '../core/api/routes';
import type { Connection } from './connection';

export { ApiTimeoutError, CloverApiError } from '../core/api/client';

/** What a route answers: its response schema's output, or undefined for 204 routes. */
export type ResponseOf<Id extends RouteId> = CallOutput<Extract<Route, { id: Id }>>;

/** Nothing answered at the endpoint (refused, DNS, TLS), or the answer was not the API's. */
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

function guardedFetch(connection: Connection, fetchImpl: typeof fetch): typeof fetch {
  return async (input, init) => {
    let response: Response;
    try {
      response = await fetchImpl(input, init);
    } catch (error) {
      // The client's own deadline: it reports that itself (ApiTimeoutError).
      if (init?.signal?.aborted) throw error;
      const cause =
        error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : '';
      throw new ApiUnreachableError(
        connection.endpoint,
        connection.endpointFrom,
        `cannot reach the Clover API at ${connection.endpoint} (${cause || 'no answer'})`,
      );
    }
    // Every Clover error is JSON; anything else came from a proxy, a wrong port, a gateway in front.
    if (!response.ok && !(response.headers.get('content-type') ?? '').includes('application/json')) {
      throw new ApiUnreachableError(
        connection.endpoint,
        connection.endpointFrom,
        `${connection.endpoint} answered HTTP ${response.status} without a Clover error body; is it the Clover API?`,
      );
    }
    return response;
  };
}

export function apiClient(connection: Connection, fetchImpl: typeof fetch = fetch): CloverApiClient {
  return new CloverApiClient({
    baseUrl: connection.endpoint,
    ...(connection.token ? { token: connection.token } : {}),
    fetch: guardedFetch(connection, fetchImpl),
  });
}
