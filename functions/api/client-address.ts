/**
 * Where a request came from, for the API's throttling and its log of refused sign-ins and tokens.
 * Never a client-supplied header by default: a caller can put anything in `X-Forwarded-For`, so
 * keying on it would let one caller rotate it to escape the limit (docs/api.md, "Throttling").
 *
 * - AWS: API Gateway's `requestContext.http.sourceIp` — the peer of API Gateway's own connection.
 * - Local runtime: the socket's peer address; `X-Forwarded-For` is believed only from the proxies
 *   named in `CLOVER_API_TRUSTED_PROXIES` (proxy-addr's rules: the nearest untrusted hop).
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

/** The caller's address for a request, given the runtime's `env` (Hono's bindings). */
export type ClientAddress = (request: Request, env: unknown) => string;

/** API Gateway HTTP API (payload v2), as `hono/aws-lambda` hands the event in `env.event`. */
export const apiGatewaySourceIp: ClientAddress = (_request, env) =>
  (env as { event?: { requestContext?: { http?: { sourceIp?: string } } } } | undefined)?.event
    ?.requestContext?.http?.sourceIp ?? 'unknown';

/**
 * `@hono/node-server` (the local runtime): the socket's peer, or the nearest address in
 * `X-Forwarded-For` that is not a trusted proxy when the peer is one.
 *
 * @param trustedProxies addresses, CIDR ranges, or proxy-addr's names `loopback`, `linklocal`,
 *   `uniquelocal`. @default [] (trust no proxy)
 * @example
 * const address = socketAddress(parseTrustedProxies(process.env.CLOVER_API_TRUSTED_PROXIES));
 */
export function socketAddress(trustedProxies: readonly string[] = []): ClientAddress {
  const trust = proxyAddr.compile([...trustedProxies]);
  return (_request, env) => {
    const incoming = (env as { incoming?: IncomingMessage } | undefined)?.incoming;
    return incoming ? proxyAddr(incoming, trust) : 'unknown';
  };
}

/** `CLOVER_API_TRUSTED_PROXIES`: a comma-separated list; an entry proxy-addr cannot read is an error naming it. */
export function parseTrustedProxies(text: string | undefined): string[] {
  const entries = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const entry of entries) {
    try {
      proxyAddr.compile(entry);
    } catch {
      throw new Error(
        `CLOVER_API_TRUSTED_PROXIES: "${entry}" is not an IP address, a CIDR range, or one of loopback, linklocal, uniquelocal`,
      );
    }
  }
  return entries;
}
