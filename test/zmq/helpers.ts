/**
 * Helpers for the ZeroMQ transport tests: real sockets on loopback, a logger that records lines, and
 * a bookkeeper that closes everything a test opened (a socket left open keeps the process alive).
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as zmq from 'zeromq';
import { ZmqReceiver, type ZmqReceiverOptions } from '../../core/adapters/zmq-receiver';
import type { DispatchEnvelope } from '../../core/envelope';
import type { LogFields, Logger, LogLevel } from '../../core/log';
import type { Worker } from '../../core/model';
import { sampleRegistration } from '../../core/testing/contracts/fixtures';

export interface LogLine {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields;
}

/** A Logger that keeps every line (children included) in `lines`. */
export function recordingLogger(): Logger & { readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  const make = (scope: LogFields): Logger => ({
    log(level, message, fields = {}) {
      lines.push({ level, message, fields: { ...scope, ...fields } });
    },
    child: (fields) => make({ ...scope, ...fields }),
  });
  return Object.assign(make({}), { lines });
}

/** Resolves once `check` returns true; fails after `timeoutMs` (a failure bound for a loaded machine). */
export async function eventually(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Bytes received by the kernel but not yet read by the process, over the established loopback TCP
 * connections whose local port is `port` (Linux /proc/net/tcp): what a stopped (SIGSTOP) agent
 * has been sent and not read.
 */
export function unreadBytes(port: number): number {
  let total = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue ... (addresses and queues in hex)
      const [, local, , state, queues] = line.trim().split(/\s+/);
      if (state !== '01' || !local || !queues) continue; // 01: ESTABLISHED
      if (Number.parseInt(local.split(':')[1] ?? '', 16) !== port) continue;
      total += Number.parseInt(queues.split(':')[1] ?? '0', 16);
    }
  }
  return total;
}

export function liveWorker(endpoints: Worker['endpoints'], workerId?: string): Worker {
  const now = Date.now();
  return {
    ...sampleRegistration({ endpoints, ...(workerId ? { workerId } : {}) }),
    status: 'ACTIVE',
    leaseFence: 1,
    leaseExpiresAt: now + 600_000,
    registeredAt: now,
    heartbeatAt: now,
    load: 0,
  };
}

/** Things to close at the end of a test, in reverse order of opening. */
export class Closer {
  private readonly items: { close(): unknown }[] = [];

  add<T extends { close(): unknown }>(item: T): T {
    this.items.push(item);
    return item;
  }

  async closeAll(): Promise<void> {
    for (const item of this.items.splice(0).reverse()) await item.close();
  }
}

export interface StartedReceiver {
  readonly receiver: ZmqReceiver;
  readonly received: DispatchEnvelope[];
  readonly log: ReturnType<typeof recordingLogger>;
  /** A worker whose lease advertises this receiver. */
  readonly worker: Worker;
}

/** Binds a receiver on a free loopback port; by default it accepts every envelope. */
export async function startReceiver(
  closer: Closer,
  options: Partial<ZmqReceiverOptions> & Pick<ZmqReceiverOptions, 'allowedClientKeys'>,
): Promise<StartedReceiver> {
  const received: DispatchEnvelope[] = [];
  const log = recordingLogger();
  const keys = zmq.curveKeyPair();
  const receiver = closer.add(
    new ZmqReceiver({
      address: 'tcp://127.0.0.1:*',
      keys,
      log,
      onEnvelope: async (envelope) => {
        received.push(envelope);
      },
      ...options,
    }),
  );
  const endpoint = await receiver.start();
  return {
    receiver,
    received,
    log,
    worker: liveWorker({ zmqAddress: endpoint, zmqPublicKey: keys.publicKey }),
  };
}

/** A bare CURVE DEALER, for sending what ZmqDelivery never would. */
export function rawDealer(
  closer: Closer,
  worker: Worker,
  keys: { publicKey: string; secretKey: string } | null,
): zmq.Dealer {
  const dealer = closer.add(
    new zmq.Dealer({
      linger: 0,
      immediate: true,
      sendTimeout: 1000,
      ...(keys
        ? {
            curveServerKey: worker.endpoints.zmqPublicKey ?? null,
            curvePublicKey: keys.publicKey,
            curveSecretKey: keys.secretKey,
          }
        : {}),
    }),
  );
  dealer.connect(worker.endpoints.zmqAddress ?? '');
  return dealer;
}

/** Open file descriptors of this process (Linux); -1 where /proc is not there. */
export function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}
