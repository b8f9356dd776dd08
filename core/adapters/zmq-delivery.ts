import type * as Zmq from 'zeromq';
import type { DispatchEnvelope } from '../envelope';
import { CloverError, ValidationError } from '../errors';
import { jsonLogger, type Logger } from '../log';
import type { Worker } from '../model';
import type { Delivery, DeliveryTarget } from '../ports';
import { encodeFrame } from './envelope-codec';
import {
  type CurveKeyPair,
  cancelOf,
  checkCurveKey,
  decodeReply,
  encodeSmall,
  isMessageKind,
  type MessageKind,
  type Reply,
  SerialSender,
} from './zmq-protocol';

export interface ZmqDeliveryOptions {
  /** The dispatcher's CURVE key pair; agents list its public key among their allowed client keys. */
  readonly keys: CurveKeyPair;
  /** Where pool targets, and workers without a ZeroMQ endpoint, go (the SqsDelivery). Without it they fail `no_worker`. */
  readonly fallback?: Delivery;
  /** How long to wait for the agent's acknowledgement, sending included. @default 500 */
  readonly deadlineMs?: number;
  /** Connections kept open at most; the least recently used is closed beyond it. @default 256 */
  readonly maxConnections?: number;
  /** @default jsonLogger() scoped with `component: 'zmq-delivery'` */
  readonly log?: Logger;
}

/** What one request on a connection ended with, when it did not end with a reply. */
class RequestFailed extends Error {
  constructor(
    readonly reason: 'deadline' | 'send' | 'closed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

type ZeroMq = typeof Zmq;

let zeromq: Promise<ZeroMq> | undefined;

/**
 * zeromq and its native addon, loaded on first use rather than at import: every Lambda imports this
 * module through the control plane, but only the dispatcher of a stage with ZeroMQ delivery ships
 * the addon beside its bundle (infra/constructs/node-function.ts). A failed load is tried again by
 * the next call.
 */
function loadZeromq(): Promise<ZeroMq> {
  zeromq ??= import('zeromq').catch((error: unknown) => {
    zeromq = undefined;
    throw new Error(`ZeroMQ delivery is configured but zeromq did not load: ${reasonOf(error)}`, {
      cause: error,
    });
  });
  return zeromq;
}

interface Waiter {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: RequestFailed) => void;
}

/**
 * One DEALER to one agent's ROUTER. Requests in flight are correlated with replies by (kind, runId);
 * two requests with the same key are answered in order.
 */
class Connection {
  private readonly dealer: Zmq.Dealer;
  private readonly sender: SerialSender;
  private readonly pending = new Map<string, Waiter[]>();
  private readonly loop: Promise<void>;
  private closed = false;

  constructor(
    zmq: ZeroMq,
    readonly address: string,
    readonly serverKey: string,
    keys: CurveKeyPair,
    deadlineMs: number,
    private readonly log: Logger,
  ) {
    this.dealer = new zmq.Dealer({
      linger: 0,
      // Queue only on completed (authenticated) connections: a send to an agent that is down or
      // refuses our key waits, then fails at the deadline, instead of piling up for later.
      immediate: true,
      sendTimeout: deadlineMs,
      curveServerKey: serverKey,
      curvePublicKey: keys.publicKey,
      curveSecretKey: keys.secretKey,
    });
    this.sender = new SerialSender((frames) => this.dealer.send(frames));
    try {
      this.dealer.connect(address);
    } catch (error) {
      this.dealer.close();
      throw error;
    }
    this.loop = this.read();
  }

  request(kind: MessageKind, runId: string, body: Buffer, deadlineMs: number): Promise<Reply> {
    if (this.closed) return Promise.reject(new RequestFailed('closed', 'connection closed'));
    const key = `${kind}\u0000${runId}`;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.remove(key, waiter);
        reject(new RequestFailed('deadline', `no acknowledgement within ${deadlineMs} ms`));
      }, deadlineMs);
      const waiter: Waiter = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const queue = this.pending.get(key);
      if (queue) queue.push(waiter);
      else this.pending.set(key, [waiter]);
      this.sender.enqueue([kind, body]).catch((error: unknown) => {
        if (!this.remove(key, waiter)) return;
        // EAGAIN: no authenticated connection within the socket's send timeout, i.e. the deadline.
        const timedOut = (error as { code?: unknown }).code === 'EAGAIN';
        waiter.reject(
          timedOut
            ? new RequestFailed('deadline', `not connected within ${deadlineMs} ms`, { cause: error })
            : new RequestFailed('send', 'send failed', { cause: error }),
        );
      });
    });
  }

  /** Closes the socket; every request still waiting fails. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dealer.close();
    const waiters = [...this.pending.values()].flat();
    this.pending.clear();
    for (const waiter of waiters) waiter.reject(new RequestFailed('closed', 'connection closed'));
    await this.loop;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private remove(key: string, waiter: Waiter): boolean {
    const queue = this.pending.get(key);
    const index = queue?.indexOf(waiter) ?? -1;
    if (!queue || index < 0) return false;
    queue.splice(index, 1);
    if (queue.length === 0) this.pending.delete(key);
    return true;
  }

  private async read(): Promise<void> {
    try {
      for await (const [kindFrame, body, ...rest] of this.dealer) {
        const kind = kindFrame?.toString('latin1') ?? '';
        if (!body || rest.length > 0 || !isMessageKind(kind)) {
          this.log.log('warn', 'zmq reply dropped', { reason: 'not [kind, body]', address: this.address });
          continue;
        }
        let reply: Reply;
        try {
          reply = decodeReply(body);
        } catch (error) {
          this.log.log('warn', 'zmq reply dropped', { reason: reasonOf(error), address: this.address });
          continue;
        }
        const key = `${kind}\u0000${reply.runId}`;
        const waiter = this.pending.get(key)?.[0];
        if (!waiter) {
          this.log.log('debug', 'zmq reply after its deadline', {
            kind,
            runId: reply.runId,
            reply: reply.type,
          });
          continue;
        }
        this.remove(key, waiter);
        waiter.resolve(reply);
      }
    } catch (error) {
      if (!this.closed)
        this.log.log('warn', 'zmq connection stopped reading', { address: this.address, error });
    }
  }
}

/**
 * Delivers envelopes straight to a worker's agent over ZeroMQ (ARCHITECTURE.md, Deliver): a CURVE
 * DEALER per agent endpoint, kept across warm invocations, sends the Snappy frame and waits for the
 * agent's acknowledgement, which it gives once the run is in its work queue. No acknowledgement
 * within the deadline, a refusal (nack) or a broken connection is a retryable `unavailable`
 * CloverError, so the dispatcher raises the fence and moves on to its next candidate; whichever
 * worker claims with the current fence runs the run, so a late acknowledgement changes nothing.
 * A connection that failed is closed and forgotten; the next delivery to that agent connects afresh.
 *
 * Pool targets, and workers whose lease advertises no ZeroMQ endpoint, go to `fallback` (SQS).
 *
 * @example
 * const delivery = new ZmqDelivery({
 *   keys: dispatcherKeys,
 *   fallback: new SqsDelivery({ client: clients.sqs, prefix }),
 * });
 * await delivery.deliver({ kind: 'worker', worker }, envelope);
 * // at shutdown (never between warm invocations):
 * await delivery.close();
 */
export class ZmqDelivery implements Delivery {
  private readonly keys: CurveKeyPair;
  private readonly fallback: Delivery | undefined;
  private readonly deadlineMs: number;
  private readonly maxConnections: number;
  private readonly log: Logger;
  /** By `${address} ${serverKey}`, least recently used first. */
  private readonly connections = new Map<string, Connection>();
  private closed = false;

  constructor(options: ZmqDeliveryOptions) {
    checkCurveKey(options.keys.publicKey, 'keys.publicKey');
    checkCurveKey(options.keys.secretKey, 'keys.secretKey');
    const deadlineMs = options.deadlineMs ?? 500;
    if (!Number.isInteger(deadlineMs) || deadlineMs < 1 || deadlineMs > 60_000) {
      throw ValidationError.field('deadlineMs', `must be an integer from 1 to 60000, got ${deadlineMs}`);
    }
    const maxConnections = options.maxConnections ?? 256;
    if (!Number.isInteger(maxConnections) || maxConnections < 1) {
      throw ValidationError.field('maxConnections', `must be a positive integer, got ${maxConnections}`);
    }
    this.keys = options.keys;
    this.fallback = options.fallback;
    this.deadlineMs = deadlineMs;
    this.maxConnections = maxConnections;
    this.log = options.log ?? jsonLogger({ fields: { component: 'zmq-delivery' } });
  }

  async deliver(target: DeliveryTarget, envelope: DispatchEnvelope): Promise<void> {
    const endpoint = target.kind === 'worker' ? zmqEndpoint(target.worker) : null;
    if (target.kind === 'worker' && endpoint) {
      const frame = encodeFrame(envelope); // PayloadTooLargeError here, before anything is sent
      await this.exchange(target.worker, endpoint, 'dispatch', envelope.runId, frame);
      return;
    }
    if (this.fallback) return this.fallback.deliver(target, envelope);
    throw new CloverError(
      'no_worker',
      `${describe(target)} has no ZeroMQ endpoint and there is no fallback`,
      {
        details: target.kind === 'worker' ? { workerId: target.worker.workerId } : { pool: target.pool },
      },
    );
  }

  /**
   * Asks the worker's agent to cancel a run, over the same connection; resolves once the agent
   * acknowledged it. Best effort and fast: the run record's CANCELLED status stays the authority
   * (agents see it at their next heartbeat). Fails `no_worker` without a ZeroMQ endpoint.
   */
  async cancel(worker: Worker, runId: string): Promise<void> {
    const endpoint = zmqEndpoint(worker);
    if (!endpoint) {
      throw new CloverError('no_worker', `worker ${worker.workerId} has no ZeroMQ endpoint`, {
        details: { workerId: worker.workerId },
      });
    }
    await this.exchange(worker, endpoint, 'control', runId, encodeSmall(cancelOf(runId)));
  }

  /**
   * Loads zeromq's native addon now, so a process that cannot load it fails where it starts (the
   * dispatcher's cold start) instead of at its first ZMQ delivery, which would fall back to SQS.
   * Deliveries load it themselves when this was not called.
   */
  async ready(): Promise<void> {
    await loadZeromq();
  }

  /** Open connections (one per agent endpoint). */
  get openConnections(): number {
    return this.connections.size;
  }

  /** Closes every connection; requests in flight fail `unavailable`. Later deliveries fail too. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.allSettled(all.map((connection) => connection.close()));
  }

  private async exchange(
    worker: Worker,
    endpoint: { address: string; serverKey: string },
    kind: MessageKind,
    runId: string,
    body: Buffer,
  ): Promise<void> {
    const details = { workerId: worker.workerId, address: endpoint.address, runId, kind };
    // Not wrapped as `unavailable`: an addon that does not load is this process's fault, not the worker's.
    const zmq = await loadZeromq();
    let connection: Connection;
    try {
      connection = this.connection(zmq, endpoint.address, endpoint.serverKey);
    } catch (error) {
      throw unavailable(`cannot connect to worker ${worker.workerId} at ${endpoint.address}`, details, error);
    }
    let reply: Reply;
    try {
      reply = await connection.request(kind, runId, body, this.deadlineMs);
    } catch (error) {
      // Whatever is queued on a connection that missed its deadline must not reach the agent later.
      this.evict(connection);
      const reason = error instanceof RequestFailed ? error.reason : 'send';
      const text = error instanceof Error ? error.message : String(error);
      throw unavailable(`worker ${worker.workerId}: ${text}`, { ...details, reason }, error);
    }
    if (reply.type === 'nack') {
      throw unavailable(`worker ${worker.workerId} refused the ${kind}: ${reply.reason}`, {
        ...details,
        reason: 'nack',
        nack: reply.reason,
      });
    }
  }

  private connection(zmq: ZeroMq, address: string, serverKey: string): Connection {
    if (this.closed) throw new CloverError('unavailable', 'ZmqDelivery is closed', { retryable: true });
    const key = `${address} ${serverKey}`;
    const existing = this.connections.get(key);
    if (existing && !existing.isClosed) {
      this.connections.delete(key); // re-insert: most recently used last
      this.connections.set(key, existing);
      return existing;
    }
    checkCurveKey(serverKey, 'worker.endpoints.zmqPublicKey');
    const connection = new Connection(zmq, address, serverKey, this.keys, this.deadlineMs, this.log);
    this.connections.set(key, connection);
    if (this.connections.size > this.maxConnections) {
      const [oldestKey, oldest] = this.connections.entries().next().value ?? [];
      if (oldestKey !== undefined && oldest) {
        this.connections.delete(oldestKey);
        void oldest.close();
      }
    }
    return connection;
  }

  private evict(connection: Connection): void {
    const key = `${connection.address} ${connection.serverKey}`;
    if (this.connections.get(key) === connection) this.connections.delete(key);
    void connection.close();
  }
}

function zmqEndpoint(worker: Worker): { address: string; serverKey: string } | null {
  const { zmqAddress, zmqPublicKey } = worker.endpoints;
  if (!zmqAddress || !zmqPublicKey) return null;
  return { address: zmqAddress, serverKey: zmqPublicKey };
}

function describe(target: DeliveryTarget): string {
  return target.kind === 'pool' ? `pool ${target.pool}` : `worker ${target.worker.workerId}`;
}

function unavailable(message: string, details: Record<string, unknown>, cause?: unknown): CloverError {
  return new CloverError('unavailable', message, { retryable: true, cause, details });
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
