import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of moto_server that sends DynamoDB requests to it one at a time.
 *
 * moto 5.2.1 runs requests on threads without isolation, and a TransactWriteItems whose condition
 * fails rolls back by restoring a copy of every table it touched, taken when it started
 * (`moto/dynamodb/models/__init__.py`, `transact_write_items`): a write another request made in the
 * meantime is silently undone. Clover races transactions on purpose — duplicate fires, LOCAL-mode
 * agents competing for a fire — so on bare moto a winner's run can vanish and a second winner appear.
 * DynamoDB itself (and DynamoDB Local under LocalStack) never does this: every request is atomic and
 * isolated. Serializing DynamoDB requests gives moto that same history, for every process that talks
 * to it (dispatcher, agents, tests), which a client-side fix could not. Other services pass straight
 * through, so SQS long polls do not wait behind table writes.
 */
export interface LinearizingProxy {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startLinearizingProxy(upstream: string): Promise<LinearizingProxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  let tail: Promise<void> = Promise.resolve();

  const forward = (req: IncomingMessage, res: ServerResponse) =>
    new Promise<void>((done) => {
      const outgoing = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      outgoing.on('error', (error) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`moto_server did not answer: ${error.message}`);
      });
      res.on('close', () => done());
      req.pipe(outgoing);
    });

  const server = createServer((req, res) => {
    if (!String(req.headers['x-amz-target'] ?? '').startsWith('DynamoDB_')) {
      void forward(req, res);
      return;
    }
    const turn = tail.then(() => forward(req, res));
    tail = turn;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}
