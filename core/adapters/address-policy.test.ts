/**
 * The webhook address policy, table-driven: every address below is judged where a channel is defined
 * (EndpointGuard: the URL's literal host, and a name that resolves to the address) and where it is
 * dialled (HttpChannelSender: a literal URL, and a name its connection's lookup resolves to the
 * address), with loopback off (AWS) and on (the local product). A refused address must be refused
 * everywhere, before any connection; an allowed one must never be refused by the policy.
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { describe, test } from 'node:test';
import { addressRefusal, EndpointGuard } from '../endpoints';
import { StaticHostResolver } from '../testing/memory-channels';
import { HttpChannelSender } from './http-channel-sender';

/** public: plain public unicast; loopback: refused unless loopback is allowed; refused: always. */
type Expect = 'public' | 'loopback' | 'refused';

const TABLE: readonly (readonly [string, Expect, string])[] = [
  // IPv4 special-purpose ranges (IANA registry) and their edges
  ['0.0.0.0', 'refused', 'this network'],
  ['0.1.2.3', 'refused', 'this network'],
  ['10.0.0.1', 'refused', 'private'],
  ['10.255.255.255', 'refused', 'private'],
  ['100.64.0.1', 'refused', 'shared (CGN)'],
  ['100.127.255.254', 'refused', 'shared (CGN)'],
  ['127.0.0.1', 'loopback', 'loopback'],
  ['127.255.255.254', 'loopback', 'loopback'],
  ['169.254.169.254', 'refused', 'metadata service, link-local'],
  ['169.254.0.1', 'refused', 'link-local'],
  ['172.16.0.1', 'refused', 'private'],
  ['172.31.255.255', 'refused', 'private'],
  ['192.0.0.1', 'refused', 'IETF protocol assignments'],
  ['192.0.0.170', 'refused', 'NAT64 discovery'],
  ['192.0.2.1', 'refused', 'documentation TEST-NET-1'],
  ['192.0.2.255', 'refused', 'documentation TEST-NET-1'],
  ['192.31.196.1', 'refused', 'AS112'],
  ['192.52.193.1', 'refused', 'AMT'],
  ['192.88.99.1', 'refused', '6to4 relay anycast'],
  ['192.168.0.1', 'refused', 'private'],
  ['192.175.48.1', 'refused', 'AS112'],
  ['198.18.0.1', 'refused', 'benchmarking'],
  ['198.19.255.255', 'refused', 'benchmarking'],
  ['198.51.100.7', 'refused', 'documentation TEST-NET-2'],
  ['203.0.113.9', 'refused', 'documentation TEST-NET-3'],
  ['224.0.0.1', 'refused', 'multicast'],
  ['239.255.255.250', 'refused', 'multicast'],
  ['240.0.0.1', 'refused', 'reserved'],
  ['255.255.255.255', 'refused', 'broadcast'],
  ['8.8.8.8', 'public', ''],
  ['1.1.1.1', 'public', ''],
  ['93.184.215.14', 'public', ''],
  ['100.63.255.255', 'public', 'just below shared'],
  ['100.128.0.1', 'public', 'just above shared'],
  ['172.15.255.255', 'public', 'just below private'],
  ['172.32.0.1', 'public', 'just above private'],
  ['198.17.255.255', 'public', 'just below benchmarking'],
  ['198.20.0.1', 'public', 'just above benchmarking'],
  // IPv6 special-purpose ranges
  ['::', 'refused', 'unspecified'],
  ['::1', 'loopback', 'loopback'],
  ['fe80::1', 'refused', 'link-local'],
  ['febf::1', 'refused', 'link-local'],
  ['fec0::1', 'refused', 'site-local (deprecated)'],
  ['fc00::1', 'refused', 'unique local'],
  ['fd00:ec2::254', 'refused', 'metadata service, unique local'],
  ['ff02::1', 'refused', 'multicast'],
  ['ff0e::1', 'refused', 'multicast'],
  ['100::1', 'refused', 'discard-only'],
  ['2001:db8::1', 'refused', 'documentation'],
  ['3fff::1', 'refused', 'documentation (RFC 9637)'],
  ['2001:2::1', 'refused', 'benchmarking'],
  ['2001:1::1', 'refused', 'IETF protocol assignments'],
  ['2001:10::1', 'refused', 'ORCHID'],
  ['2001:20::1', 'refused', 'ORCHIDv2'],
  ['5f00::1', 'refused', 'SRv6 SIDs'],
  ['4000::1', 'refused', 'outside global unicast'],
  ['2606:4700:4700::1111', 'public', ''],
  ['2001:4860:4860::8888', 'public', ''],
  ['2a00:1450:4001::1', 'public', ''],
  // IPv4 embedded in IPv6: judged by the IPv4 address
  ['::ffff:127.0.0.1', 'loopback', 'mapped loopback'],
  ['::ffff:169.254.169.254', 'refused', 'mapped metadata service'],
  ['::ffff:10.0.0.1', 'refused', 'mapped private'],
  ['::ffff:8.8.8.8', 'public', 'mapped public'],
  ['::127.0.0.1', 'loopback', 'compatible loopback'],
  ['::169.254.169.254', 'refused', 'compatible metadata service'],
  ['::8.8.8.8', 'public', 'compatible public'],
  ['::ffff:0:a9fe:a9fe', 'refused', 'translated metadata service'],
  ['64:ff9b::a9fe:a9fe', 'refused', 'NAT64 of the metadata service'],
  ['64:ff9b::127.0.0.1', 'refused', 'NAT64 of loopback: not this host'],
  ['64:ff9b::10.0.0.1', 'refused', 'NAT64 of private'],
  ['64:ff9b::808:808', 'public', 'NAT64 of public'],
  ['64:ff9b:1::1', 'refused', 'local-use NAT64'],
  ['64:ff9b:1::808:808', 'refused', 'local-use NAT64, even of public'],
  ['2002:a9fe:a9fe::1', 'refused', '6to4 of the metadata service'],
  ['2002:7f00:1::1', 'refused', '6to4 of loopback: not this host'],
  ['2002:c0a8:101::1', 'refused', '6to4 of private'],
  ['2002:808:808::1', 'public', '6to4 of public'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'refused', 'Teredo, client 192.0.2.45'],
  ['2001:0:4136:e378::80ff:fffe', 'refused', 'Teredo, client 127.0.0.1'],
  ['2001:0:a00:1::f7f7:f7f7', 'refused', 'Teredo, server 10.0.0.1'],
  ['2001:0:4136:e378::f7f7:f7f7', 'public', 'Teredo, server and client public'],
];

const urlHost = (address: string) => (isIP(address) === 6 ? `[${address}]` : address);
const allowed = (expect: Expect, allowLoopback: boolean) =>
  expect === 'public' || (expect === 'loopback' && allowLoopback);

/** A connection's lookup that answers `address` for every name, as node:dns's callback does. */
function lookupTo(address: string) {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    const answer: LookupAddress = { address, family: isIP(address) };
    if (options.all) callback(null, [answer]);
    else callback(null, answer.address, answer.family);
  }) as unknown as typeof import('node:dns').lookup;
}

describe('address policy, at least 60 special and public addresses', () => {
  test('the table is wide enough and every entry is an address', () => {
    assert.ok(TABLE.length >= 60, `${TABLE.length} addresses`);
    for (const [address] of TABLE) assert.notEqual(isIP(address), 0, address);
    assert.ok(TABLE.filter(([, e]) => e === 'public').length >= 10);
  });

  for (const allowLoopback of [false, true]) {
    test(`define time (literal host and resolved name), loopback ${allowLoopback ? 'allowed' : 'off'}`, async () => {
      const policy = { allowLoopback };
      for (const [address, expect, what] of TABLE) {
        const guard = new EndpointGuard({
          resolver: new StaticHostResolver({ 'hook.test': [address] }),
          policy,
        });
        const label = `${address} (${what || 'public'})`;
        const literal = await guard.refusal(`https://${urlHost(address)}/hook`);
        const named = await guard.refusal('https://hook.test/hook');
        if (allowed(expect, allowLoopback)) {
          assert.equal(literal, null, label);
          assert.equal(named, null, label);
          assert.equal(addressRefusal(address, policy), null, label);
        } else {
          assert.match(literal ?? '', /^refused: .*(loopback|private, link-local or reserved)/, label);
          assert.match(named ?? '', /^refused: hook\.test resolves to /, label);
        }
      }
    });

    test(`connect time (literal URL and the connection's lookup), loopback ${allowLoopback ? 'allowed' : 'off'}`, async () => {
      const post = (url: string, address: string) =>
        new HttpChannelSender({ policy: { allowLoopback }, deadlineMs: 500, lookup: lookupTo(address) })
          .post({ url, headers: { 'content-type': 'application/json' }, body: '{}' })
          .then(
            () => 'answered',
            (error: Error) => error.message,
          );
      const results = await Promise.all(
        TABLE.map(async ([address, expect, what]) => ({
          label: `${address} (${what || 'public'})`,
          expect,
          // Port 9 (discard): an allowed address gets at most a refused or unreachable connection here.
          literal: await post(`https://${urlHost(address)}:9/hook`, address),
          named: await post('https://hook.test:9/hook', address),
        })),
      );
      for (const { label, expect, literal, named } of results) {
        if (allowed(expect, allowLoopback)) {
          assert.doesNotMatch(literal, /^refused/, label);
          assert.doesNotMatch(named, /^refused/, label);
        } else {
          assert.match(literal, /^refused: /, label);
          assert.match(named, /^refused: hook\.test resolves to /, label);
        }
      }
    });
  }
});
