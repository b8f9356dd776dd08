import { lookup } from 'node:dns/promises';
import type { HostResolver } from '../ports';

/**
 * HostResolver over the system resolver (getaddrinfo, as connections use), with a deadline: a
 * resolver that does not answer counts as a host that does not resolve.
 *
 * @example
 * const addresses = await new DnsHostResolver().lookup('hooks.slack.com');
 */
export class DnsHostResolver implements HostResolver {
  constructor(private readonly deadlineMs = 3000) {}

  async lookup(host: string): Promise<readonly string[]> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            Object.assign(new Error(`no DNS answer within ${this.deadlineMs} ms`), { code: 'ETIMEOUT' }),
          ),
        this.deadlineMs,
      );
    });
    try {
      const answers = await Promise.race([lookup(host, { all: true }), deadline]);
      return answers.map((a) => a.address);
    } finally {
      clearTimeout(timer);
    }
  }
}
