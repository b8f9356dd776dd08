/**
 * An HTTP proxy in front of the emulator that loses answers: the request reaches the emulator and is
 * carried out, but the client's connection is dropped instead of answering, as when a response is
 * lost on the network or a request times out after the service acted. The SDK then sends the same
 * request again — the case where a conditional write finds its own first attempt.
 *
 * @example
 * const proxy = await LostAnswerProxy.start(aws.emulator.endpoint);
 * proxy.loseNext('DeleteItem');           // the next DeleteItem is done, its answer lost
 * const clients = awsClients({ ...aws.emulator, endpoint: proxy.endpoint });
 * await new DynamoJobStore({ client: clients.dynamodb, table, locksTable }).delete('job', 1);
 * assert.equal(proxy.lost, 1);
 */
import { createServer, request, type Server } from 'node:http';
import { listenOnLoopback } from './loopback';

export class LostAnswerProxy {
  private readonly toLose: string[] = [];
  /** How many answers were lost so far. */
  lost = 0;

  private constructor(
    private readonly server: Server,
    /** `http://127.0.0.1:<port>`: an endpoint for SDK clients. */
    readonly endpoint: string,
  ) {}

  static async start(target: string): Promise<LostAnswerProxy> {
    const upstream = new URL(target);
    let proxy: LostAnswerProxy | undefined;
    const server = createServer((incoming, outgoing) => {
      // DynamoDB names its operation in a header: `X-Amz-Target: DynamoDB_20120810.DeleteItem`.
      const operation = String(incoming.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        (answer) => {
          if (proxy?.take(operation)) {
            answer.resume();
            answer.on('end', () => incoming.socket.destroy());
            return;
          }
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forward.on('error', () => incoming.socket.destroy());
      incoming.pipe(forward);
    });
    proxy = new LostAnswerProxy(server, await listenOnLoopback(server));
    return proxy;
  }

  /** The next request of this operation (e.g. `PutItem`) is carried out and its answer lost. */
  loseNext(operation: string): void {
    this.toLose.push(operation);
  }

  private take(operation: string): boolean {
    const index = this.toLose.indexOf(operation);
    if (index < 0) return false;
    this.toLose.splice(index, 1);
    this.lost += 1;
    return true;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
