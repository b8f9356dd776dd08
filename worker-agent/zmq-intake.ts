/**
 * The agent's ZeroMQ intake (ARCHITECTURE.md, Deliver; docs/zeromq.md): a ZmqReceiver on the
 * address of the config's `zmq:` section, whose envelopes are taken into the agent's work exactly
 * like an SQS envelope — a capacity slot, then the claim with the envelope's fence — and acknowledged
 * only once that claim is decided: ack when the claim was won (the handler is starting), nack with
 * the reason when the agent is full or stopping, or the claim was refused (the fence moved on: the
 * dispatcher has given the run to another worker). A cancel control message aborts the running run.
 *
 * The config section (worker-agent/config-schema.ts), the agent's key pair and the allow-list:
 *
 *   zmq:
 *     bind: tcp://0.0.0.0:5555            # or tcp://0.0.0.0:* for any free port
 *     advertiseHost: 10.0.3.17            # what dispatchers connect to (default: the host name)
 *     secretKey: ...                      # or env CLOVER_AGENT_ZMQ_SECRET_KEY (which wins)
 *     publicKey: ...                      # optional: derived from the secret key, checked if given
 *     allowedDispatcherKeys: [ ... ]      # the dispatchers' public keys
 *
 * @example
 * const intake = new ZmqIntake({ agent, config: config.zmq, host: 'web-1', log });
 * const endpoints = await intake.start(); // { zmqAddress, zmqPublicKey } for the lease
 * // ...
 * await intake.close();
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { z85Encode } from '../core/adapters/zmq-protocol';
import { ZmqReceiver } from '../core/adapters/zmq-receiver';
import type { DispatchEnvelope } from '../core/envelope';
import { NotFoundError } from '../core/errors';
import { type Logger, runLogScope } from '../core/log';
import { isRefusal, logRefusedClaim } from './refusals';

/** Environment variable holding the agent's CURVE secret key; it wins over `zmq.secretKey` in the file. */
export const AGENT_ZMQ_SECRET_KEY_ENV = 'CLOVER_AGENT_ZMQ_SECRET_KEY';

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;
const Z85_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const CurveKeySchema = z.string().regex(Z85_KEY, 'must be a 40-character Z85 CURVE key (zmq.curveKeyPair())');

/** The `zmq:` section as written in the agent's config file (the secret key possibly from the environment). */
export const AgentZmqFileSchema = z
  .strictObject({
    bind: z
      .string()
      .regex(/^tcp:\/\/[^\s]+:(\d{1,5}|\*)$/, 'must be tcp://HOST:PORT, or tcp://HOST:* for any free port'),
    advertiseHost: z.string().min(1).max(255).optional(),
    publicKey: CurveKeySchema.optional(),
    secretKey: CurveKeySchema.optional(),
    allowedDispatcherKeys: z
      .array(CurveKeySchema)
      .min(1, 'must list at least one dispatcher public key')
      .max(100),
  })
  .superRefine((section, ctx) => {
    if (section.secretKey === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['secretKey'],
        message: `is required (in the file, or in the environment as ${AGENT_ZMQ_SECRET_KEY_ENV})`,
      });
      return;
    }
    if (section.publicKey !== undefined && section.publicKey !== curvePublicKey(section.secretKey)) {
      ctx.addIssue({ code: 'custom', path: ['publicKey'], message: 'is not the public key of secretKey' });
    }
  })
  .transform(
    (section): AgentZmqConfig => ({
      bind: section.bind,
      advertiseHost: section.advertiseHost,
      publicKey: section.publicKey ?? curvePublicKey(section.secretKey ?? ''),
      secretKey: section.secretKey ?? '',
      allowedDispatcherKeys: section.allowedDispatcherKeys,
    }),
  );

/** The resolved `zmq:` section: the agent's key pair complete. */
export interface AgentZmqConfig {
  readonly bind: string;
  readonly advertiseHost: string | undefined;
  readonly publicKey: string;
  readonly secretKey: string;
  readonly allowedDispatcherKeys: readonly string[];
}

/**
 * Puts `CLOVER_AGENT_ZMQ_SECRET_KEY` into a config file's `zmq:` section before validation (the
 * environment wins over the file). Without a `zmq:` section the variable alone enables nothing.
 */
export function withZmqSecretFromEnv(
  merged: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): void {
  const secret = env[AGENT_ZMQ_SECRET_KEY_ENV]?.trim();
  const section = merged.zmq;
  if (!secret || typeof section !== 'object' || section === null || Array.isArray(section)) return;
  merged.zmq = { ...section, secretKey: secret };
}

/** The Z85 CURVE public key of a Z85 secret key (X25519, as libzmq's crypto_scalarmult_base). */
export function curvePublicKey(secretKey: string): string {
  const d = Buffer.from(z85Decode(secretKey)).toString('base64url');
  const jwk = createPublicKey(
    createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: '' }, format: 'jwk' }),
  ).export({ format: 'jwk' });
  return z85Encode(Buffer.from(String(jwk.x), 'base64url'));
}

function z85Decode(text: string): Uint8Array {
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0;
    for (let j = 0; j < 5; j++) value = value * 85 + Z85_ALPHABET.indexOf(text[i + j] ?? '');
    out[o] = (value >>> 24) & 0xff;
    out[o + 1] = (value >>> 16) & 0xff;
    out[o + 2] = (value >>> 8) & 0xff;
    out[o + 3] = value & 0xff;
  }
  return out;
}

/** What the agent answers when an envelope is offered to it outside its SQS loops (Agent.offer). */
export type AcceptResult =
  /** The claim was won; the handler is starting. `result` settles when the run has ended. */
  | { readonly kind: 'started'; readonly result: Promise<unknown> }
  /** A precise job's planned fire, held until its instant (nothing claimed yet). */
  | { readonly kind: 'held' }
  /** Not taken: full, or not running (starting, draining, stopped). Nothing was written. */
  | { readonly kind: 'refused'; readonly why: string }
  /** The claim failed: refused by the fence (the run is someone else's), or the control plane did not answer. */
  | { readonly kind: 'not_claimed'; readonly error: unknown };

/** The agent, as the intake sees it. */
export interface IntakeAgent {
  readonly workerId: string;
  offer(envelope: DispatchEnvelope): Promise<AcceptResult>;
  /** Aborts a run running here as cancelled; false when it is not running here. */
  cancel(runId: string, reason: string): boolean;
}

export interface ZmqIntakeOptions {
  readonly agent: IntakeAgent;
  readonly config: AgentZmqConfig;
  /** Replaces a wildcard bind host in the advertised address. @default config.advertiseHost, else this */
  readonly host: string;
  readonly log: Logger;
}

export class ZmqIntake {
  private readonly receiver: ZmqReceiver;
  private readonly log: Logger;
  private readonly host: string;
  private readonly agent: IntakeAgent;

  constructor(options: ZmqIntakeOptions) {
    this.agent = options.agent;
    this.host = options.config.advertiseHost ?? options.host;
    this.log = options.log.child({ component: 'zmq-intake' });
    this.receiver = new ZmqReceiver({
      address: options.config.bind,
      keys: { publicKey: options.config.publicKey, secretKey: options.config.secretKey },
      allowedClientKeys: options.config.allowedDispatcherKeys,
      log: options.log.child({ component: 'zmq-receiver' }),
      onEnvelope: (envelope) => this.take(envelope),
      onControl: async (message) => {
        if (!this.agent.cancel(message.runId, 'cancel requested over ZeroMQ')) {
          throw new Error(`run ${message.runId} is not running on ${this.agent.workerId}`);
        }
        this.log.log('info', 'zmq intake: cancel', { runId: message.runId });
      },
    });
  }

  /** Binds; resolves to the lease endpoints `{ zmqAddress, zmqPublicKey }`. */
  async start(): Promise<{ zmqAddress: string; zmqPublicKey: string }> {
    await this.receiver.start();
    const zmqAddress = this.receiver.advertise(this.host);
    this.log.log('info', 'zmq intake listening', {
      endpoint: this.receiver.endpoint,
      advertised: zmqAddress,
    });
    return { zmqAddress, zmqPublicKey: this.receiver.publicKey };
  }

  /** Stops taking envelopes and control messages; unanswered ones get no reply (their senders move on). */
  close(): Promise<void> {
    return this.receiver.close();
  }

  /** Acknowledged when this resolves, nacked with the message when it throws. */
  private async take(envelope: DispatchEnvelope): Promise<void> {
    const log = this.log.child(runLogScope(envelope));
    const accepted = await this.agent.offer(envelope);
    switch (accepted.kind) {
      case 'started':
        log.log('info', 'zmq intake: run accepted', { fence: envelope.fence, attempt: envelope.attempt });
        void accepted.result;
        return;
      case 'held':
        log.log('info', 'zmq intake: planned fire held', {
          fence: envelope.fence,
          startAt: envelope.scheduledTime,
        });
        return;
      case 'refused':
        log.log('warn', 'zmq intake: run refused', { fence: envelope.fence, why: accepted.why });
        throw new Error(accepted.why);
      case 'not_claimed': {
        const reason = accepted.error instanceof Error ? accepted.error.message : String(accepted.error);
        if (isRefusal(accepted.error) || accepted.error instanceof NotFoundError) {
          logRefusedClaim(log, envelope, accepted.error, 'zmq intake: claim refused');
        } else {
          log.log('info', 'zmq intake: claim failed', { fence: envelope.fence, reason });
        }
        throw new Error(`claim refused: ${reason}`);
      }
    }
  }
}
