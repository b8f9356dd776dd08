import type { Server } from 'node:net';

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
