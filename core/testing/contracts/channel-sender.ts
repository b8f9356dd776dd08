import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloverError } from '../../errors';
import type { AlertChannelSender } from '../../ports';

export interface ChannelEndpoint {
  readonly url: string;
  /** What the receiver got, in order. */
  received(): readonly { readonly headers: Readonly<Record<string, string>>; readonly body: string }[];
}

export interface ChannelSenderSubject {
  readonly sender: AlertChannelSender;
  /** A receiver that answers `answers` in order (then 200) under an allowed URL. */
  endpoint(answers: readonly { status: number; body?: string }[]): Promise<ChannelEndpoint>;
}

/**
 * The AlertChannelSender contract: the receiver gets the body and headers as given; its status and
 * the start of its body come back whatever the status; a forbidden address is refused before
 * anything is sent, with a non-retryable error.
 */
export function channelSenderContract(name: string, makeSubject: () => Promise<ChannelSenderSubject>): void {
  describe(`AlertChannelSender contract: ${name}`, () => {
    it('posts the body with its headers and returns the status', async () => {
      const subject = await makeSubject();
      const endpoint = await subject.endpoint([{ status: 204 }]);
      const body = JSON.stringify({ hello: 'world', n: 1 });
      const response = await subject.sender.post({
        url: endpoint.url,
        headers: { 'content-type': 'application/json', 'clover-signature': 't=1,v1=ab' },
        body,
      });
      assert.equal(response.status, 204);
      const [got] = endpoint.received();
      assert.equal(got?.body, body);
      assert.equal(got?.headers['clover-signature'], 't=1,v1=ab');
      assert.equal(got?.headers['content-type'], 'application/json');
    });

    it('returns a refusal status with the start of its body, without throwing', async () => {
      const subject = await makeSubject();
      const endpoint = await subject.endpoint([{ status: 503, body: 'busy' }]);
      const response = await subject.sender.post({ url: endpoint.url, headers: {}, body: '{}' });
      assert.deepEqual(response, { status: 503, body: 'busy' });
    });

    it('refuses the metadata address before sending, not retryable', async () => {
      const subject = await makeSubject();
      await assert.rejects(
        subject.sender.post({ url: 'https://169.254.169.254/latest/meta-data', headers: {}, body: '{}' }),
        (error: unknown) => {
          assert.ok(error instanceof CloverError);
          assert.equal(error.retryable, false);
          assert.match(error.message, /link-local/);
          return true;
        },
      );
    });
  });
}
