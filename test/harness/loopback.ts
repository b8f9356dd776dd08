import { createServer, type Server, type Socket } from 'node:net';
import { after, before } from 'node:test';

/** Listens on a free port of 127.0.0.1 and resolves to `http://127.0.0.1:<port>` (the test proxies' endpoint). */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return `http://127.0.0.1:${address.port}`;
}

/**
 * An endpoint that accepts connections and never answers (a hung emulator or API): only a client's own
 * deadline ends a call to it. Register it in the test file; `url` is set once `before` has run.
 */
export function useSilentEndpoint(): { readonly url: string } {
  const held: Socket[] = [];
  const server = createServer((socket) => {
    held.push(socket);
  });
  const endpoint = { url: '' };
  before(async () => {
    endpoint.url = await listenOnLoopback(server);
  });
  after(() => {
    for (const socket of held) socket.destroy();
    server.close();
  });
  return endpoint;
}
