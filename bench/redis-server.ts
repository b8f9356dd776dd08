/**
 * A throwaway redis-server for the BullMQ peer bench: Debian's binary (`apt-get install -y
 * redis-server`) on a free loopback port, nothing persisted (`--save '' --appendonly no`), stopped
 * by `stop()`. Not part of Clover: only the peer runs on it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface RedisServer {
  readonly port: number;
  /** `redis_version` from INFO. */
  readonly version: string;
  /** The server's `hz` (how often it runs its timers, which wake blocked clients whose timeout passed). */
  readonly hz: number;
  /** A new client, as BullMQ wants it (no per-command retry limit); disconnected by `stop()`. */
  client(): Redis;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no free loopback port');
  return address.port;
}

export async function startRedisServer({ hz = 10 }: { readonly hz?: number } = {}): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess;
  try {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--hz', String(hz)],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await Promise.race([
      once(child, 'spawn'),
      once(child, 'error').then(([error]) => {
        throw error;
      }),
    ]);
  } catch (error) {
    throw new Error(
      `redis-server did not start (${(error as Error).message}): install it with \`sudo apt-get install -y redis-server\``,
    );
  }
  const clients: Redis[] = [];
  /** Errors while the server starts (refused connections) or stops are expected, not worth a line. */
  let quiet = true;
  const client = (): Redis => {
    const made = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null, lazyConnect: true });
    clients.push(made);
    made.on('error', (error: Error) => {
      if (!quiet) console.error(`redis client: ${error.message}`);
    });
    return made;
  };
  const admin = client();
  const stop = async () => {
    quiet = true;
    // Before the server goes: a client left connected would retry against the closed port forever.
    for (const made of clients) made.disconnect();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  };
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await admin.connect();
        break;
      } catch (error) {
        if (attempt >= 100 || child.exitCode !== null) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    quiet = false;
    const info = await admin.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    const [, configured] = (await admin.config('GET', 'hz')) as [string, string];
    return { port, version, hz: Number(configured), client, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
