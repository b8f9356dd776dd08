import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, silentLogger } from '../../core/log';

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
 *
 * The queue must never wedge, since every process of the local stack waits on it:
 * - a client that goes away (killed, or its own timeout) while queued leaves the queue at once, and
 *   one that goes away during its turn ends the turn;
 * - a turn lasts at most `deadlineMs`: then the client gets a 504 and the next request goes. moto may
 *   still apply the abandoned request later, beside the next one — the one place isolation gives way
 *   to liveness, like a request AWS applies after the client timed out, which callers must handle
 *   anyway (their writes are conditional).
 * Both are logged, once per request.
 */
export interface LinearizingProxy {
  readonly endpoint: string;
  /** DynamoDB requests waiting for their turn (the one holding it not counted). */
  readonly waiting: number;
  close(): Promise<void>;
}

export interface LinearizingProxyOptions {
  /** The longest a DynamoDB request may hold the turn. @default 15_000 */
  readonly deadlineMs?: number;
  /** @default silent */
  readonly log?: Logger;
}

/** Far above a healthy moto answer (milliseconds), below the point where the whole stack stalls. */
const DEFAULT_DEADLINE_MS = 15_000;

interface Waiting {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly target: string;
}

export async function startLinearizingProxy(
  upstream: string,
  options: LinearizingProxyOptions = {},
): Promise<LinearizingProxy> {
  const target = new URL(upstream);
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const log = options.log ?? silentLogger;
  const agent = new Agent({ keepAlive: true });
  const queue: Waiting[] = [];
  let busy = false;

  /** Sends one request to moto; resolves when the exchange is over, however it ended. */
  const forward = (req: IncomingMessage, res: ServerResponse, deadline?: () => void) =>
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
      const fail = (status: number, text: string) => {
        if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(text);
      };
      outgoing.on('error', (error) => fail(502, `moto_server did not answer: ${error.message}`));
      const timer =
        deadline === undefined
          ? undefined
          : setTimeout(() => {
              deadline();
              fail(504, `moto_server did not answer within ${deadlineMs} ms`);
              outgoing.destroy();
            }, deadlineMs);
      res.once('close', () => {
        clearTimeout(timer);
        // The client went away mid-turn: stop waiting for moto on its behalf.
        if (!res.writableFinished) outgoing.destroy();
        done();
      });
      req.pipe(outgoing);
    });

  const next = () => {
    if (busy) return;
    const turn = queue.shift();
    if (turn === undefined) return;
    busy = true;
    const { req, res } = turn;
    void forward(req, res, () =>
      log.log('warn', 'emulator proxy: moto did not answer a DynamoDB request in time; next in queue', {
        target: turn.target,
        deadlineMs,
        waiting: queue.length,
      }),
    ).then(() => {
      if (!res.writableFinished) {
        log.log('warn', 'emulator proxy: client went away during its DynamoDB request; next in queue', {
          target: turn.target,
          waiting: queue.length,
        });
      }
      busy = false;
      next();
    });
  };

  const server = createServer((req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (!target.startsWith('DynamoDB_')) {
      void forward(req, res);
      return;
    }
    const waiting: Waiting = { req, res, target };
    queue.push(waiting);
    // Listen now, not when the turn comes: by then a client that died in the queue is long closed.
    res.once('close', () => {
      const at = queue.indexOf(waiting);
      if (at < 0) return;
      queue.splice(at, 1);
      log.log('warn', 'emulator proxy: client went away while its DynamoDB request waited; dropped', {
        target,
        waiting: queue.length,
      });
    });
    next();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get waiting() {
      return queue.length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}
