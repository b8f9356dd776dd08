import * as zmq from 'zeromq';
import { type DispatchEnvelope, MAX_FRAME_BYTES } from '../envelope';
import { CloverError, ValidationError } from '../errors';
import { jsonLogger, type Logger } from '../log';
import { decodeFrame } from './envelope-codec';
import {
  ackOf,
  type ControlMessage,
  type CurveKeyPair,
  checkCurveKey,
  decodeControl,
  encodeSmall,
  isMessageKind,
  type MessageKind,
  nackOf,
  type Reply,
  SerialSender,
  ZAP_DOMAIN,
  ZAP_ENDPOINT,
  z85Encode,
} from './zmq-protocol';

export interface ZmqReceiverOptions {
  /**
   * Where the ROUTER binds: `tcp://0.0.0.0:5555`, or `tcp://127.0.0.1:*` for any free port (read
   * the result from {@link ZmqReceiver.endpoint}).
   */
  readonly address: string;
  /** The agent's CURVE server key pair; the public key goes into its lease as `endpoints.zmqPublicKey`. */
  readonly keys: CurveKeyPair;
  /** Dispatcher public keys (Z85) allowed to connect; every other client is refused in the handshake. */
  readonly allowedClientKeys: readonly string[];
  /**
   * Takes a valid envelope into the agent's work queue. The dispatcher is acknowledged once this
   * resolves, and told the reason (nack) if it throws. Keep it short: the dispatcher waits for it.
   */
  readonly onEnvelope: (envelope: DispatchEnvelope) => Promise<void>;
  /** Handles a control message (cancel); acknowledged the same way. Without it, control messages are nacked. */
  readonly onControl?: (message: ControlMessage) => Promise<void>;
  /** @default jsonLogger() scoped with `component: 'zmq-receiver'` */
  readonly log?: Logger;
  /** Messages handed to the callbacks and not yet answered; beyond this they are nacked `busy`. @default 256 */
  readonly maxInFlight?: number;
}

/** A refused client key is logged at most once per this interval (a refused DEALER reconnects every 100 ms). */
const REFUSAL_LOG_INTERVAL_MS = 60_000;
/** Frames up to this size reach the codec, which drops and logs anything over MAX_FRAME_BYTES; larger ones cost the sender its connection. */
const SOCKET_MAX_MESSAGE_BYTES = MAX_FRAME_BYTES + 64 * 1024;

type Verdict = { ok: true; clientKey: string } | { ok: false; clientKey: string; reason: string };
type Check = (mechanism: string, credentials: readonly Buffer[], peer: string) => Verdict;

/**
 * The ØMQ context every receiver in the process uses. One, not one per receiver: zeromq.js never
 * terminates a Context before the process exits (garbage collection only shuts it down), so each
 * context would keep its I/O thread and descriptors for good.
 */
let serverContext: zmq.Context | undefined;
function sharedContext(): zmq.Context {
  serverContext ??= new zmq.Context({ blocky: false });
  return serverContext;
}

/**
 * The RFC 27 ZAP handler of {@link sharedContext}. libzmq allows one handler per context, so it is
 * shared: each receiver's ROUTER announces a ZAP domain of its own, and the handler asks that
 * receiver's check. Unknown domains are refused. The handler socket is open only while some
 * receiver is registered (an open socket that is reading keeps the Node.js process alive).
 */
class ZapAuthority {
  private readonly checks = new Map<string, Check>();
  private socket: zmq.Router | undefined;
  private ready: Promise<void> = Promise.resolve();
  private stopped: Promise<void> = Promise.resolve();
  private domains = 0;

  /** A fresh ZAP domain name for one receiver. */
  newDomain(): string {
    this.domains += 1;
    return `${ZAP_DOMAIN}-${process.pid}-${this.domains}`;
  }

  async register(domain: string, check: Check): Promise<void> {
    this.checks.set(domain, check);
    if (!this.socket) {
      const socket = new zmq.Router({ context: sharedContext(), linger: 0 });
      this.socket = socket;
      this.ready = this.stopped
        .then(() => bindReleased(socket, ZAP_ENDPOINT))
        .then(() => {
          this.stopped = this.serve(socket);
        })
        .catch((error: unknown) => {
          if (this.socket === socket) this.socket = undefined;
          socket.close();
          throw error;
        });
    }
    try {
      await this.ready;
    } catch (error) {
      this.checks.delete(domain);
      throw error;
    }
  }

  async unregister(domain: string): Promise<void> {
    this.checks.delete(domain);
    if (this.checks.size > 0 || !this.socket) return;
    const socket = this.socket;
    this.socket = undefined;
    await this.ready.catch(() => undefined);
    socket.close();
    await this.stopped;
  }

  private async serve(socket: zmq.Router): Promise<void> {
    try {
      for await (const request of socket) {
        const [routing, delimiter, version, requestId, domain, address, , mechanism, ...credentials] =
          request;
        if (!routing || !delimiter || !version || !requestId) continue; // not a ZAP request; nothing to answer
        const check = this.checks.get(domain?.toString() ?? '');
        const verdict: Verdict = check
          ? check(mechanism?.toString() ?? '', credentials, address?.toString() ?? '')
          : { ok: false, clientKey: '', reason: `unknown ZAP domain ${JSON.stringify(domain?.toString())}` };
        await socket.send(
          verdict.ok
            ? [routing, delimiter, '1.0', requestId, '200', 'OK', verdict.clientKey, '']
            : [routing, delimiter, '1.0', requestId, '400', verdict.reason, '', ''],
        );
      }
    } catch {
      // The socket was closed under a pending send; the ROUTERs it served are closed or refuse (fail closed).
    }
  }
}

const zapAuthority = new ZapAuthority();

/**
 * Binds an inproc name, retrying briefly while a socket closed a moment ago still holds it: libzmq
 * releases the name in its reaper thread, after close() returned. (Unbinding inproc before closing
 * instead can trip a libzmq 4.3.5 assertion in pipe.cpp and abort the process.)
 */
async function bindReleased(socket: zmq.Router, endpoint: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await socket.bind(endpoint);
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EADDRINUSE' || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}

/*
 * Receiver lifecycle:
 *   new ─start()─► serving ─close()─► closed
 *   new ─close()─► closed
 * start() registers with the ZAP handler before binding the ROUTER, so no connection is ever
 * accepted unauthenticated; close() closes the ROUTER before unregistering. The ROUTER enforces its
 * ZAP domain, so it refuses every client when no handler answers (fail closed).
 */
type State = 'new' | 'serving' | 'closed';

/**
 * The agent's end of direct ZeroMQ delivery (ARCHITECTURE.md, Deliver; invariant 6): a ROUTER with
 * CURVE server keys that accepts only allow-listed dispatcher keys (an RFC 27 ZAP handler,
 * {@link ZapAuthority}), decodes each dispatch with the envelope codec, hands it to
 * `onEnvelope`, and acknowledges it only once that resolved. Malformed, truncated, wrong-version
 * and oversized frames are dropped with a log line naming the reason; the receiver keeps serving.
 *
 * @example
 * const receiver = new ZmqReceiver({
 *   address: 'tcp://0.0.0.0:5555',
 *   keys: agentKeys,
 *   allowedClientKeys: [dispatcherPublicKey],
 *   onEnvelope: async (envelope) => queue.accept(envelope),
 *   onControl: async (message) => runs.cancel(message.runId),
 * });
 * const endpoint = await receiver.start(); // advertise with receiver.advertise(host) in the lease
 * // ...
 * await receiver.close();
 */
export class ZmqReceiver {
  private readonly keys: CurveKeyPair;
  private readonly address: string;
  private allowed: ReadonlySet<string>;
  private readonly log: Logger;
  private readonly maxInFlight: number;
  private readonly refusalsLogged = new Map<string, number>();
  private domain: string | undefined;
  private bound = '';
  private router: zmq.Router | undefined;
  private sender: SerialSender | undefined;
  private loops: Promise<void>[] = [];
  private state: State = 'new';
  private inFlightCount = 0;
  private refusedCount = 0;

  constructor(private readonly options: ZmqReceiverOptions) {
    if (!options.address.trim()) throw ValidationError.field('address', 'is required');
    checkCurveKey(options.keys.publicKey, 'keys.publicKey');
    checkCurveKey(options.keys.secretKey, 'keys.secretKey');
    this.keys = options.keys;
    this.address = options.address;
    this.allowed = allowList(options.allowedClientKeys);
    this.log = options.log ?? jsonLogger({ fields: { component: 'zmq-receiver' } });
    this.maxInFlight = options.maxInFlight ?? 256;
  }

  /** Binds and starts serving; resolves to the bound endpoint (`tcp://127.0.0.1:41234`). */
  async start(): Promise<string> {
    if (this.state !== 'new')
      throw new CloverError('internal', `ZmqReceiver cannot start when ${this.state}`);
    this.state = 'serving';
    const domain = zapAuthority.newDomain();
    const router = new zmq.Router({
      context: sharedContext(),
      linger: 0,
      curveServer: true,
      curveSecretKey: this.keys.secretKey,
      zapDomain: domain,
      zapEnforceDomain: true,
      maxMessageSize: SOCKET_MAX_MESSAGE_BYTES,
    });
    this.router = router;
    this.watchHandshakes(router);
    this.sender = new SerialSender((frames) => router.send(frames));
    try {
      await zapAuthority.register(domain, (mechanism, credentials, peer) =>
        this.check(mechanism, credentials, peer),
      );
      this.domain = domain;
      await router.bind(this.address);
    } catch (error) {
      await this.close();
      throw new CloverError('unavailable', `cannot bind the ZeroMQ receiver on ${this.address}`, {
        cause: error,
        retryable: true,
        details: { address: this.address },
      });
    }
    this.bound = router.lastEndpoint ?? '';
    this.loops.push(this.serve(router));
    this.log.log('info', 'zmq receiver listening', {
      endpoint: this.endpoint,
      allowedClientKeys: this.allowed.size,
    });
    return this.endpoint;
  }

  /** The bound endpoint, e.g. `tcp://0.0.0.0:5555` (the port resolved when bound to `*`). Empty before start(). */
  get endpoint(): string {
    return this.bound;
  }

  /** The public key dispatchers must use as the server key (the lease's `endpoints.zmqPublicKey`). */
  get publicKey(): string {
    return this.keys.publicKey;
  }

  /** Envelopes and control messages handed to the callbacks and not answered yet. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Handshakes refused since the start, logged or not (the log keeps one line per interval). */
  get refusedHandshakes(): number {
    return this.refusedCount;
  }

  /**
   * The address to advertise in the lease: the bound endpoint with a wildcard host (`0.0.0.0`, `*`,
   * `[::]`) replaced by `host`, since dispatchers cannot connect to a wildcard.
   */
  advertise(host: string): string {
    return this.endpoint.replace(/^tcp:\/\/(0\.0\.0\.0|\*|\[::\]|\[::0\])(?=:)/, `tcp://${host}`);
  }

  /** Replaces the allow-list (key rotation); takes effect for new connections. */
  allow(clientKeys: readonly string[]): void {
    this.allowed = allowList(clientKeys);
  }

  /**
   * Stops serving. Unanswered messages get no reply (their senders' deadlines expire and they move
   * on; the claim's fence decides who runs). Safe to call more than once.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.router?.close();
    if (this.domain) await zapAuthority.unregister(this.domain);
    await Promise.allSettled(this.loops);
    this.loops = [];
    this.log.log('info', 'zmq receiver closed', { inFlight: this.inFlightCount });
  }

  /** Decides one ZAP request for this receiver's ROUTER: only an allow-listed CURVE key passes. */
  private check(mechanism: string, credentials: readonly Buffer[], peer: string): Verdict {
    const key = credentials[0];
    let verdict: Verdict;
    if (mechanism !== 'CURVE' || credentials.length !== 1 || key?.length !== 32) {
      verdict = { ok: false, clientKey: '', reason: `mechanism ${mechanism || 'none'} is not CURVE` };
    } else {
      const clientKey = z85Encode(key);
      verdict = this.allowed.has(clientKey)
        ? { ok: true, clientKey }
        : { ok: false, clientKey, reason: 'CURVE client key is not allowed' };
    }
    if (!verdict.ok) this.noteRefusal(verdict.clientKey, verdict.reason, peer);
    return verdict;
  }

  /**
   * Handshakes that fail before the ZAP handler is asked — a client offering NULL or PLAIN instead of
   * CURVE, or CURVE keys that do not verify (a bad secret key, the wrong server key) — are reported
   * by libzmq only as socket events. Those events name this socket's endpoint, not the peer, so they
   * are logged once per reason per interval; ZAP refusals name the peer and the key.
   */
  private watchHandshakes(router: zmq.Router): void {
    const events = router.events;
    events.on('handshake:error:protocol', (event) =>
      this.noteRefusal('', handshakeFailure(event.error.code), '', event.address),
    );
    events.on('handshake:error:other', (event) =>
      this.noteRefusal('', handshakeFailure(event.error.code ?? 'no detail'), '', event.address),
    );
    // handshake:error:auth is the ZAP handler's own refusal, already logged by check() with the key.
  }

  /** Logs a refused handshake at most once per peer, key and reason per {@link REFUSAL_LOG_INTERVAL_MS}. */
  private noteRefusal(clientKey: string, reason: string, peer: string, endpoint?: string): void {
    this.refusedCount += 1;
    const now = Date.now();
    const id = `${peer}|${clientKey}|${reason}`;
    const last = this.refusalsLogged.get(id);
    if (last !== undefined && now - last < REFUSAL_LOG_INTERVAL_MS) return;
    if (this.refusalsLogged.size >= 1000) this.refusalsLogged.clear();
    this.refusalsLogged.set(id, now);
    this.log.log('warn', 'zmq connection refused', {
      reason,
      ...(clientKey ? { clientKey } : {}),
      ...(peer ? { peer } : {}),
      ...(endpoint ? { endpoint } : {}),
    });
  }

  private async serve(router: zmq.Router): Promise<void> {
    try {
      for await (const frames of router) this.receive(frames);
    } catch (error) {
      if (this.state !== 'closed') this.log.log('error', 'zmq receiver stopped', { error });
    }
  }

  /** One message from a dispatcher: `[identity, kind, body]`. Never throws. */
  private receive(frames: Buffer[]): void {
    const [identity, kindFrame, body] = frames;
    if (!identity) return;
    if (frames.length !== 3 || !kindFrame || !body) {
      this.drop(`expected 2 frames [kind, body], got ${frames.length - 1}`, undefined, body?.length);
      return;
    }
    const kind = kindFrame.toString('latin1');
    if (!isMessageKind(kind)) {
      this.drop(`unknown message kind ${JSON.stringify(kind.slice(0, 32))}`, undefined, body.length);
      return;
    }
    let runId: string;
    let work: () => Promise<void>;
    try {
      if (kind === 'dispatch') {
        const envelope = decodeFrame(body);
        runId = envelope.runId;
        work = () => this.options.onEnvelope(envelope);
      } else {
        const message = decodeControl(body);
        runId = message.runId;
        const onControl = this.options.onControl;
        work = onControl
          ? () => onControl(message)
          : () => Promise.reject(new Error('this agent takes no control messages'));
      }
    } catch (error) {
      this.drop(reasonOf(error), kind, body.length);
      return;
    }
    if (this.inFlightCount >= this.maxInFlight) {
      this.log.log('warn', 'zmq message refused: busy', { kind, runId, inFlight: this.inFlightCount });
      void this.reply(identity, kind, nackOf(runId, `busy: ${this.inFlightCount} messages in flight`));
      return;
    }
    void this.answer(identity, kind, runId, work);
  }

  private async answer(
    identity: Buffer,
    kind: MessageKind,
    runId: string,
    work: () => Promise<void>,
  ): Promise<void> {
    this.inFlightCount += 1;
    let reply: Reply;
    try {
      await work();
      reply = ackOf(runId);
    } catch (error) {
      const reason = reasonOf(error);
      this.log.log('warn', 'zmq message refused by the agent', { kind, runId, reason });
      reply = nackOf(runId, reason);
    } finally {
      this.inFlightCount -= 1;
    }
    await this.reply(identity, kind, reply);
  }

  private async reply(identity: Buffer, kind: MessageKind, reply: Reply): Promise<void> {
    if (this.state !== 'serving' || !this.sender) {
      this.log.log('warn', 'zmq reply not sent: receiver closed', {
        kind,
        runId: reply.runId,
        reply: reply.type,
      });
      return;
    }
    try {
      await this.sender.enqueue([identity, kind, encodeSmall(reply)]);
    } catch (error) {
      this.log.log('warn', 'zmq reply not sent', { kind, runId: reply.runId, reply: reply.type, error });
    }
  }

  private drop(reason: string, kind: string | undefined, bytes: number | undefined): void {
    this.log.log('warn', 'zmq message dropped', { reason, kind, bytes });
  }
}

function allowList(keys: readonly string[]): ReadonlySet<string> {
  return new Set(keys.map((key, i) => checkCurveKey(key, `allowedClientKeys.${i}`)));
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Why a CURVE server's handshake failed, from libzmq's protocol error code. */
function handshakeFailure(code: string): string {
  switch (code) {
    case 'ERR_ZMTP_MECHANISM_MISMATCH':
      return 'client mechanism is not CURVE (NULL or PLAIN)';
    case 'EPIPE':
    case 'ECONNRESET':
      // A NULL or PLAIN client sees the CURVE greeting and hangs up, often before the server reads its own.
      return 'client hung up during the handshake (a NULL or PLAIN client does, on seeing CURVE)';
    case 'ERR_ZMTP_CRYPTOGRAPHIC':
    case 'ERR_ZMTP_KEY_EXCHANGE':
      return 'CURVE handshake did not verify (bad client secret key, or the wrong server key)';
    default:
      return `handshake failed (${code})`;
  }
}
