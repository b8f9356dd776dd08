/**
 * Which URLs an alert channel may reach (server-side request forgery, docs/security.md): Clover posts
 * to URLs that admins type in, from inside AWS, so a URL must not lead to the instance metadata
 * service (169.254.169.254, fd00:ec2::254), a private network or the host itself. The same rules run
 * twice: when a contact is written (the host must resolve, and to allowed addresses only) and at
 * every connection (the HTTP adapter checks the addresses it actually connects to, so a DNS answer
 * that changed since — rebinding — is refused too).
 */
import { BlockList, isIP } from 'node:net';
import type { HostResolver } from './ports';

export interface EndpointPolicy {
  /**
   * Allow `http://` and loopback addresses (127.0.0.0/8, ::1): the local product and tests, whose
   * receivers listen on 127.0.0.1. Off in AWS (`CLOVER_WEBHOOK_ALLOW_LOOPBACK` unset).
   * @default false
   */
  readonly allowLoopback?: boolean;
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Never reachable from a channel: private, shared, link-local (metadata), multicast and reserved ranges. */
const forbidden = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  forbidden.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  forbidden.addSubnet(net, bits, 'ipv6');
}

/** Why a channel may not connect to `address` ("is a loopback address"), or null if it may. */
export function addressRefusal(address: string, policy: EndpointPolicy): string | null {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIP(ip);
  if (family === 0) return 'is not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (loopback.check(ip, type)) {
    return policy.allowLoopback ? null : 'is a loopback address';
  }
  if (forbidden.check(ip, type)) return 'is a private, link-local or reserved address';
  return null;
}

/** Why a channel of `url` may not connect to these resolved addresses, or null. */
export function addressesRefusal(
  url: URL,
  addresses: readonly string[],
  policy: EndpointPolicy,
): string | null {
  if (addresses.length === 0) return `${url.hostname} resolves to no address`;
  for (const address of addresses) {
    const refusal = addressRefusal(address, policy);
    if (refusal) {
      const host = urlHost(url);
      return host === address
        ? `refused: ${address} ${refusal}`
        : `refused: ${host} resolves to ${address}, which ${refusal}`;
    }
  }
  if (url.protocol === 'http:' && addresses.some((a) => addressRefusal(a, {}) === null)) {
    return 'must use https (http is allowed only to loopback addresses, in local runs)';
  }
  return null;
}

/** The host of a URL without IPv6 brackets. */
export function urlHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/**
 * Checks a channel URL where it is defined: scheme, literal addresses, and the host's DNS answer.
 *
 * @example
 * const guard = new EndpointGuard({ resolver: new DnsHostResolver(), policy: { allowLoopback: false } });
 * await guard.refusal('https://hooks.slack.com/services/T/B/x'); // null
 * await guard.refusal('http://169.254.169.254/latest');          // 'must use https ...'
 */
export class EndpointGuard {
  constructor(private readonly deps: { readonly resolver: HostResolver; readonly policy: EndpointPolicy }) {}

  get policy(): EndpointPolicy {
    return this.deps.policy;
  }

  /** Why `raw` may not be used as a channel URL, or null if it may. */
  async refusal(raw: string): Promise<string | null> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return 'must be an absolute https:// URL';
    }
    if (url.protocol === 'http:' && !this.deps.policy.allowLoopback) {
      return 'must use https (http is allowed only to loopback addresses, in local runs)';
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an absolute https:// URL';
    const host = urlHost(url);
    let addresses: readonly string[];
    if (isIP(host)) addresses = [host];
    else {
      try {
        addresses = await this.deps.resolver.lookup(host);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        return `unreachable: ${host} does not resolve${typeof code === 'string' ? ` (${code})` : ''}`;
      }
    }
    return addressesRefusal(url, addresses, this.deps.policy);
  }
}
