/** HttpChannelSender against real HTTP servers on loopback, beside the fake it must match. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { CloverError } from '../errors';
import { channelSenderContract } from '../testing/contracts/channel-sender';
import { MemoryChannelSender, StaticHostResolver } from '../testing/memory-channels';
import { HttpChannelSender } from './http-channel-sender';

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

channelSenderContract('HttpChannelSender (loopback allowed)', async () => ({
  sender: new HttpChannelSender({ policy: { allowLoopback: true } }),
  async endpoint(answers) {
    const script = [...answers];
    const received: { headers: Record<string, string>; body: string }[] = [];
    const url = await listen((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        received.push({ headers: req.headers as Record<string, string>, body });
        const next = script.shift() ?? { status: 200 };
        res.writeHead(next.status).end(next.body ?? '');
      });
    });
    return { url: `${url}/hook`, received: () => received };
  },
}));

channelSenderContract('MemoryChannelSender', async () => {
  const sender = new MemoryChannelSender(new StaticHostResolver());
  return {
    sender,
    async endpoint(answers) {
      sender.script.push(...answers.map((a) => ({ status: a.status, body: a.body ?? '' })));
      return {
        url: 'https://hooks.example.com/hook',
        received: () => sender.posts.map((p) => ({ headers: p.headers, body: p.body })),
      };
    },
  };
});

describe('HttpChannelSender', () => {
  test('refuses loopback unless allowed, by literal address and by a name that resolves to it', async () => {
    let hits = 0;
    const url = await listen((_req, res) => {
      hits += 1;
      res.end();
    });
    const sender = new HttpChannelSender({ policy: {} });
    const https = url.replace('http:', 'https:');
    for (const target of [`${https}/x`, `${https.replace('127.0.0.1', 'localhost')}/x`, `${url}/x`]) {
      await assert.rejects(sender.post({ url: target, headers: {}, body: '{}' }), (error: unknown) => {
        assert.ok(error instanceof CloverError, String(error));
        assert.match(error.message, /loopback/);
        return true;
      });
    }
    assert.equal(hits, 0);
  });

  test('a receiver that never answers fails the attempt at the deadline, retryable', async () => {
    const url = await listen(() => {
      // Accepts and never answers.
    });
    const sender = new HttpChannelSender({ policy: { allowLoopback: true }, deadlineMs: 300 });
    await assert.rejects(sender.post({ url, headers: {}, body: '{}' }), (error: unknown) => {
      assert.ok(error instanceof CloverError);
      assert.equal(error.retryable, true);
      assert.match(error.message, /no answer within 300 ms/);
      return true;
    });
  });
});
