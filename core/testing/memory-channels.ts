/** In-memory AlertChannelSender and HostResolver for unit tests. */
import { addressesRefusal, type EndpointPolicy, urlHost } from '../endpoints';
import { CloverError } from '../errors';
import type { AlertChannelSender, ChannelRequest, ChannelResponse, HostResolver } from '../ports';

/**
 * Records every post and answers from a script: each entry is a status (with an optional body) or an
 * Error to throw; when the script runs out it answers 200. Hosts resolve through `resolver` and are
 * judged by the same endpoint policy as the HTTP adapter.
 */
export class MemoryChannelSender implements AlertChannelSender {
  readonly posts: ChannelRequest[] = [];
  readonly script: (number | { status: number; body: string } | Error)[] = [];

  constructor(
    private readonly resolver: HostResolver = new StaticHostResolver(),
    private readonly policy: EndpointPolicy = {},
  ) {}

  async post(request: ChannelRequest): Promise<ChannelResponse> {
    const url = new URL(request.url);
    const refusal = addressesRefusal(url, await this.resolver.lookup(urlHost(url)), this.policy);
    if (refusal) throw new CloverError('unavailable', refusal);
    this.posts.push(request);
    const next = this.script.shift() ?? 200;
    if (next instanceof Error) throw next;
    return typeof next === 'number' ? { status: next, body: '' } : next;
  }
}

/** Resolves from a table (literal addresses resolve to themselves); unknown hosts fail like ENOTFOUND. */
export class StaticHostResolver implements HostResolver {
  constructor(private readonly table: Readonly<Record<string, readonly string[]>> = {}) {}

  async lookup(host: string): Promise<readonly string[]> {
    if (/^[\d.]+$/.test(host) || host.includes(':')) return [host];
    const answer = this.table[host] ?? (host.endsWith('.example.com') ? ['93.184.215.14'] : undefined);
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answer;
  }
}
