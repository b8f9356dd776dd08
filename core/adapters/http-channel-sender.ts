/**
 * AlertChannelSender over node's own HTTP client (node:https, node:http for loopback in local runs).
 * Not `fetch`: fetch cannot show which address it connects to, and the endpoint policy must judge the
 * address actually dialled (a DNS answer can change between the contact's definition and the post —
 * rebinding). The `lookup` hook below resolves, checks every address, and only then lets the socket
 * connect. Every post has a deadline, like every AWS call (aws-clients.ts): a receiver that accepts
 * the connection and never answers fails the attempt instead of holding the notifier.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { addressesRefusal, type EndpointPolicy, urlHost } from '../endpoints';
import { CloverError } from '../errors';
import type { AlertChannelSender, ChannelRequest, ChannelResponse } from '../ports';

export interface HttpChannelSenderOptions {
  readonly policy: EndpointPolicy;
  /** Per attempt, from connecting to the end of the response. @default 5000 */
  readonly deadlineMs?: number;
  /** Response body characters kept for the alert's record. @default 300 */
  readonly excerptChars?: number;
  /** The resolver each connection asks (its answers are judged before connecting). @default node:dns lookup */
  readonly lookup?: typeof dnsLookup;
}

/**
 * @example
 * const sender = new HttpChannelSender({ policy: { allowLoopback: false } });
 * const { status } = await sender.post({ url, headers: { 'content-type': 'application/json' }, body });
 */
export class HttpChannelSender implements AlertChannelSender {
  private readonly deadlineMs: number;
  private readonly excerptChars: number;

  constructor(private readonly options: HttpChannelSenderOptions) {
    this.deadlineMs = options.deadlineMs ?? 5000;
    this.excerptChars = options.excerptChars ?? 300;
  }

  post(request: ChannelRequest): Promise<ChannelResponse> {
    const url = new URL(request.url);
    if (url.protocol === 'http:' && !this.options.policy.allowLoopback) {
      return Promise.reject(
        new CloverError('unavailable', 'refused: http is allowed only to loopback addresses, in local runs'),
      );
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const policy = this.options.policy;
    // Node connects to a literal address without calling `lookup`: judge it here.
    const literal = urlHost(url);
    if (isIP(literal)) {
      const refused = addressesRefusal(url, [literal], policy);
      if (refused) return Promise.reject(new CloverError('unavailable', refused));
    }
    let refusal: string | null = null;
    // Resolve, judge every address, then connect to the first one.
    const resolve = this.options.lookup ?? dnsLookup;
    const guardedLookup = ((host: string, options: object, callback: (...args: unknown[]) => void) => {
      resolve(host, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
        if (error) return callback(error);
        refusal = addressesRefusal(
          url,
          addresses.map((a) => a.address),
          policy,
        );
        if (refusal) return callback(new Error(refusal));
        const all = (options as { all?: boolean }).all === true;
        const [first] = addresses;
        if (all) return callback(null, addresses);
        return callback(null, first?.address, first?.family);
      });
    }) as unknown as LookupFunction;
    return new Promise<ChannelResponse>((resolve, reject) => {
      const signal = AbortSignal.timeout(this.deadlineMs);
      const req = send(
        url,
        {
          method: 'POST',
          headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
          lookup: guardedLookup,
          signal,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (body.length < this.excerptChars) body += chunk;
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: body.slice(0, this.excerptChars) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (error) => {
        if (refusal) reject(new CloverError('unavailable', refusal, { cause: error }));
        else if (signal.aborted) {
          reject(
            new CloverError('unavailable', `no answer within ${this.deadlineMs} ms`, { retryable: true }),
          );
        } else reject(error);
      });
      req.end(request.body);
    });
  }
}
