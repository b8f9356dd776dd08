import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { compressSync, uncompressSync } from 'snappy';
import { z } from 'zod';
import { ENVELOPE_VERSION } from '../envelope';
import { MalformedMessageError, ValidationError } from '../errors';
import { snappyUncompressedLength } from './envelope-codec';

/**
 * The direct ZeroMQ channel between a dispatcher (DEALER) and an agent (ROUTER). See docs/zeromq.md.
 *
 * Every message, both ways, is exactly two frames: `[kind, body]`.
 * - `kind` is ASCII: `dispatch` (body: the envelope frame of envelope-codec.ts, unchanged) or
 *   `control` (body: a {@link ControlMessage}).
 * - Replies from the agent carry the kind of the message they answer and a {@link Reply} body, so a
 *   dispatcher correlates a reply by (kind, runId) and many sends may be in flight on one socket.
 * - Bodies other than the envelope are Snappy-compressed (raw format) UTF-8 JSON, at most
 *   {@link MAX_SMALL_JSON_BYTES} before compression; the length is checked before decompressing.
 *
 * An agent acknowledges a dispatch only once it has taken the run into its work queue, and a control
 * message only once its handler returned; it nacks with a reason when that threw. Anything
 * malformed is dropped without a reply (the sender's deadline expires).
 */
export const MESSAGE_KINDS = ['dispatch', 'control'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** Largest control or reply JSON before compression. */
export const MAX_SMALL_JSON_BYTES = 4096;
/** Longest nack reason kept; longer ones are cut. */
export const MAX_NACK_REASON = 500;

/** RFC 27: where libzmq looks for the ZAP handler of a context. */
export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
/** The ZAP domain Clover's ROUTER sockets announce; the handler refuses any other. */
export const ZAP_DOMAIN = 'clover';

const RunIdSchema = z.string().min(1).max(256);

/** Dispatcher → agent, over the same connection as dispatches. */
export const ControlMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ v: z.literal(ENVELOPE_VERSION), type: z.literal('cancel'), runId: RunIdSchema }),
]);
export type ControlMessage = z.output<typeof ControlMessageSchema>;

/** Agent → dispatcher: the answer to one dispatch or control message. */
export const ReplySchema = z.discriminatedUnion('type', [
  z.strictObject({ v: z.literal(ENVELOPE_VERSION), type: z.literal('ack'), runId: RunIdSchema }),
  z.strictObject({
    v: z.literal(ENVELOPE_VERSION),
    type: z.literal('nack'),
    runId: RunIdSchema,
    reason: z.string().max(MAX_NACK_REASON),
  }),
]);
export type Reply = z.output<typeof ReplySchema>;

export function ackOf(runId: string): Reply {
  return { v: ENVELOPE_VERSION, type: 'ack', runId };
}

export function nackOf(runId: string, reason: string): Reply {
  return { v: ENVELOPE_VERSION, type: 'nack', runId, reason: reason.slice(0, MAX_NACK_REASON) };
}

export function cancelOf(runId: string): ControlMessage {
  return { v: ENVELOPE_VERSION, type: 'cancel', runId };
}

export function isMessageKind(value: string): value is MessageKind {
  return (MESSAGE_KINDS as readonly string[]).includes(value);
}

/** Snappy-compressed JSON of a small message (control or reply). */
export function encodeSmall(message: ControlMessage | Reply): Buffer {
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  if (json.length > MAX_SMALL_JSON_BYTES) {
    throw new MalformedMessageError(
      `${message.type} of ${json.length} bytes is over ${MAX_SMALL_JSON_BYTES}`,
    );
  }
  return compressSync(json);
}

export function decodeControl(frame: Uint8Array): ControlMessage {
  return parseSmall(frame, ControlMessageSchema, 'control message');
}

export function decodeReply(frame: Uint8Array): Reply {
  return parseSmall(frame, ReplySchema, 'reply');
}

function parseSmall<T>(frame: Uint8Array, schema: z.ZodType<T>, what: string): T {
  if (frame.length === 0) throw new MalformedMessageError(`empty ${what}`);
  const length = snappyUncompressedLength(frame);
  if (length > MAX_SMALL_JSON_BYTES) {
    throw new MalformedMessageError(
      `${what} would decompress to ${length} bytes, over ${MAX_SMALL_JSON_BYTES}`,
    );
  }
  let value: unknown;
  try {
    const out = uncompressSync(frame, { asBuffer: true });
    value = JSON.parse((typeof out === 'string' ? Buffer.from(out, 'utf8') : out).toString('utf8'));
  } catch (error) {
    throw new MalformedMessageError(`${what} is not Snappy-compressed JSON`, error);
  }
  if (typeof value === 'object' && value !== null && 'v' in value && value.v !== ENVELOPE_VERSION) {
    throw new MalformedMessageError(`${what} version ${JSON.stringify(value.v)} is not ${ENVELOPE_VERSION}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new MalformedMessageError(`${what} ${first?.path.join('.') || ''}: ${first?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** A CURVE key pair, each key Z85-encoded (40 characters), as `zmq.curveKeyPair()` returns it. */
export interface CurveKeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

const Z85_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** Throws ValidationError naming `field` unless `key` is a 40-character Z85 CURVE key. */
export function checkCurveKey(key: string, field: string): string {
  if (!Z85_KEY.test(key)) {
    throw ValidationError.field(field, 'must be a 40-character Z85 CURVE key (zmq.curveKeyPair())');
  }
  return key;
}

/** Z85 (ZeroMQ RFC 32) encoding of a key; ZAP hands the handler raw 32-byte public keys. */
export function z85Encode(data: Uint8Array): string {
  if (data.length % 4 !== 0)
    throw new MalformedMessageError(`Z85 needs a multiple of 4 bytes, got ${data.length}`);
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    let value = ((data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!) >>> 0;
    let chunk = '';
    for (let j = 0; j < 5; j++) {
      chunk = Z85_ALPHABET[value % 85]! + chunk;
      value = Math.floor(value / 85);
    }
    out += chunk;
  }
  return out;
}

/** Writes one message at a time: a zeromq.js v6 socket rejects a send while another is in progress (EBUSY). */
export class SerialSender {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly send: (frames: (Buffer | string)[]) => Promise<void>) {}

  enqueue(frames: (Buffer | string)[]): Promise<void> {
    const next = this.tail.then(() => this.send(frames));
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * A fresh CURVE key pair from Node's own X25519 (the curve libzmq's CURVE uses), Z85-encoded like
 * `zmq.curveKeyPair()`, so code that only makes keys (the deploy-time key generator) needs no
 * native zeromq module.
 */
export function generateCurveKeyPair(): CurveKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const raw = (key: KeyObject, field: 'x' | 'd') => {
    const value = key.export({ format: 'jwk' })[field];
    if (value === undefined) throw new Error(`X25519 key has no ${field}`);
    return Buffer.from(value, 'base64url');
  };
  return { publicKey: z85Encode(raw(publicKey, 'x')), secretKey: z85Encode(raw(privateKey, 'd')) };
}
