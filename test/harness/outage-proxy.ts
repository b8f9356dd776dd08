/**
 * A loopback TCP proxy in front of the emulator that can simulate an AWS outage for the processes
 * that talk through it, without touching the emulator itself (moto keeps its state only in memory,
 * so stopping it would lose every table and queue).
 *
 * `cut()` destroys every open connection and resets each new one at once (the SDK sees ECONNRESET,
 * as on a dead network path); `partition()` is silence instead: connections, open or new, stay up but
 * no byte crosses until `restore()`, which then delivers what was held, in order, as TCP does when a
 * partition heals before the connection gives up. `restore()` lets connections through again.
 *
 * @example
 * const proxy = await OutageProxy.start(aws.emulator.endpoint);
 * // give the agent AWS_ENDPOINT_URL=proxy.endpoint
 * proxy.cut();
 * ...
 * proxy.restore();
 * await proxy.close();
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { listenOnLoopback } from './loopback';

export class OutageProxy {
  private readonly sockets = new Set<Socket>();
  private down = false;
  /** Bytes held by a partition, in the order they were sent, with the socket they are bound for. */
  private held: [Socket, Buffer][] | undefined;

  private constructor(
    private readonly server: Server,
    /** `http://127.0.0.1:<port>`: use it as AWS_ENDPOINT_URL. */
    readonly endpoint: string,
  ) {}

  /** Starts a proxy on a free loopback port forwarding to `target` (an http:// URL). */
  static async start(target: string): Promise<OutageProxy> {
    const url = new URL(target);
    const targetPort = Number(url.port || 80);
    const targetHost = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname;
    let proxy: OutageProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, targetHost, targetPort));
    proxy = new OutageProxy(server, await listenOnLoopback(server));
    return proxy;
  }

  get isCut(): boolean {
    return this.down;
  }

  /** Drops every connection and refuses new ones until restore(). */
  cut(): void {
    this.down = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Until restore(): nothing crosses any connection, open or new; what is sent meanwhile is held. */
  partition(): void {
    this.held ??= [];
  }

  restore(): void {
    this.down = false;
    const held = this.held ?? [];
    this.held = undefined;
    for (const [to, chunk] of held) if (!to.destroyed) to.write(chunk);
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, host: string, port: number): void {
    if (this.down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host, port });
    this.sockets.add(client);
    this.sockets.add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (this.held) this.held.push([to, chunk]);
        else to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
  }
}
