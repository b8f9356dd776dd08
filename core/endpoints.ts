/**
 * Which URLs an alert channel may reach (server-side request forgery, docs/security.md): Clover posts
 * to URLs that admins type in, from inside AWS, so a URL must not lead to the instance metadata
 * service (169.254.169.254, fd00:ec2::254), a private network or the host itself. The same rules run
 * twice: when a contact is written (the host must resolve, and to allowed addresses only) and at
 * every connection (the HTTP adapter checks the addresses it actually connects to, so a DNS answer
 * that changed since — rebinding — is refused too).
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { HostResolver } from './ports';

export interface EndpointPolicy {
  /**
   * Allow `http://` and loopback addresses (127.0.0.0/8, ::1, and IPv6 forms that embed 127.0.0.0/8):
   * the local product and tests, whose receivers listen on 127.0.0.1. Off in AWS
   * (`CLOVER_WEBHOOK_ALLOW_LOOPBACK` unset).
   * @default false
   */
  readonly allowLoopback?: boolean;
}

/** IPv6's global unicast space (RFC 4291, IANA): anything outside it is not a public destination. */
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');
/** RFC 8215's local-use NAT64 prefix: never public, and the embedding's prefix length is the site's own. */
const LOCAL_NAT64 = ipaddr.parseCIDR('64:ff9b:1::/48');

/** The IPv4 addresses an IPv6 address carries by a standard embedding, with the embedding's name. */
function embedded(address: ipaddr.IPv6): { form: string; ipv4: ipaddr.IPv4[]; translated?: true } | null {
  const p = address.parts;
  const v4 = (hi: number, lo: number) =>
    ipaddr.fromByteArray([hi >> 8, hi & 255, lo >> 8, lo & 255]) as ipaddr.IPv4;
  const last = () => v4(p[6]!, p[7]!);
  switch (address.range()) {
    case 'ipv4Mapped':
      return { form: 'IPv4-mapped (::ffff:0:0/96)', ipv4: [last()] };
    case 'rfc6145':
      return { form: 'IPv4-translated (::ffff:0:0:0/96)', ipv4: [last()] };
    case 'rfc6052':
      return { form: 'NAT64 (64:ff9b::/96)', ipv4: [last()], translated: true };
    case '6to4':
      return { form: '6to4 (2002::/16)', ipv4: [v4(p[1]!, p[2]!)], translated: true };
    case 'teredo':
      // The Teredo server, and the client's address (stored inverted).
      return {
        form: 'Teredo (2001::/32)',
        ipv4: [v4(p[2]!, p[3]!), v4(~p[6]! & 0xffff, ~p[7]! & 0xffff)],
        translated: true,
      };
  }
  // IPv4-compatible (::a.b.c.d, RFC 4291, deprecated): ipaddr.js calls it unicast.
  if (p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || p[7]! > 1)) {
    return { form: 'IPv4-compatible (::/96)', ipv4: [last()] };
  }
  return null;
}

/**
 * The WHATWG URL form of an IPv6 address (hex groups only). ipaddr.js reads `::a.b.c.d` as if it were
 * `::ffff:a.b.c.d`; the URL parser, which is what turns a channel URL into a host, does not.
 */
function canonicalIPv6(address: string): string {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address; // a zone id (fe80::1%eth0): ipaddr.js reads it, and it is link-local either way
  }
}

/** Why an IPv4 address may not be reached ('loopback' for loopback), or null when it is public unicast. */
function ipv4Refusal(address: ipaddr.IPv4): string | null {
  const range = address.range();
  return range === 'unicast' ? null : range;
}

/**
 * Why a channel may not connect to `address` ("is a loopback address"), or null if it may. Only plain
 * public unicast passes: every special-purpose range that ipaddr.js classifies (IANA's IPv4 and IPv6
 * special-purpose registries: private, shared, link-local and the metadata service, documentation,
 * benchmarking, multicast, reserved, ORCHID, discard, site-local, …) is refused, IPv6 outside the
 * global unicast space 2000::/3 too, and an IPv6 form that embeds an IPv4 address (mapped,
 * translated, compatible, NAT64, 6to4, Teredo) is judged by the IPv4 address it embeds.
 */
export function addressRefusal(address: string, policy: EndpointPolicy): string | null {
  const family = isIP(address);
  if (family === 0) return 'is not an IP address';
  const parsed = ipaddr.parse(family === 6 ? canonicalIPv6(address) : address);
  let range: string | null;
  let via = '';
  if (parsed.kind() === 'ipv4') range = ipv4Refusal(parsed as ipaddr.IPv4);
  else {
    const v6 = parsed as ipaddr.IPv6;
    const inner = embedded(v6);
    if (v6.match(LOCAL_NAT64)) range = 'local-use NAT64 (64:ff9b:1::/48)';
    else if (inner) {
      const refused = inner.ipv4.map((a) => [a, ipv4Refusal(a)] as const).find(([, r]) => r !== null);
      range = refused?.[1] ?? null;
      if (refused) via = ` (${inner.form} of ${refused[0].toString()})`;
      // Only the host's own forms of 127.0.0.0/8 stay on the host; through a translator it is not loopback.
      if (range === 'loopback' && inner.translated) range = 'loopback through a translator';
    } else {
      range = v6.range() === 'unicast' ? (v6.match(GLOBAL_UNICAST) ? null : 'outside 2000::/3') : v6.range();
    }
  }
  if (range === null) return null;
  if (range === 'loopback') return policy.allowLoopback ? null : `is a loopback address${via}`;
  return `is a private, link-local or reserved address: ${range}${via}`;
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
