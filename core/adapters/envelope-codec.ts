import { compressSync, uncompressSync } from 'snappy';
import {
  type DispatchEnvelope,
  envelopeFromJson,
  envelopeToJson,
  MAX_ENVELOPE_JSON_BYTES,
  MAX_FRAME_BYTES,
  MAX_SQS_BODY_BYTES,
} from '../envelope';
import { MalformedMessageError, PayloadTooLargeError } from '../errors';

/**
 * The envelope on the wire: UTF-8 JSON compressed with Snappy's raw (one-shot, unframed) format.
 * ZeroMQ carries the frame as is; SQS carries it base64-encoded in the message body.
 *
 * Limits, checked before anything is sent and again on receipt:
 * - JSON ≤ {@link MAX_ENVELOPE_JSON_BYTES} (256 KiB) before compression;
 * - frame ≤ {@link MAX_FRAME_BYTES} (196,608 bytes), so that its base64 fits SQS's 262,144-byte body.
 * On receipt the uncompressed length that opens every raw Snappy block is read and checked before
 * decompressing, so a hostile frame cannot make the receiver allocate more than the JSON limit.
 *
 * @example
 * await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: toSqsBody(envelope) }));
 * const envelope = fromSqsBody(message.Body ?? '');
 */
export function encodeFrame(envelope: DispatchEnvelope): Buffer {
  const frame = compressSync(envelopeToJson(envelope));
  if (frame.length > MAX_FRAME_BYTES)
    throw new PayloadTooLargeError('envelope', frame.length, MAX_FRAME_BYTES);
  return frame;
}

/** Decodes and validates a frame. MalformedMessageError for anything that is not a valid envelope. */
export function decodeFrame(frame: Uint8Array): DispatchEnvelope {
  if (frame.length === 0) throw new MalformedMessageError('empty frame');
  if (frame.length > MAX_FRAME_BYTES) {
    throw new MalformedMessageError(`frame of ${frame.length} bytes is over ${MAX_FRAME_BYTES}`);
  }
  const length = snappyUncompressedLength(frame);
  if (length > MAX_ENVELOPE_JSON_BYTES) {
    throw new MalformedMessageError(
      `frame would decompress to ${length} bytes, over ${MAX_ENVELOPE_JSON_BYTES}`,
    );
  }
  let json: Buffer;
  try {
    const out = uncompressSync(frame, { asBuffer: true });
    json = typeof out === 'string' ? Buffer.from(out, 'utf8') : out;
  } catch (error) {
    throw new MalformedMessageError('not a Snappy frame', error);
  }
  return envelopeFromJson(json);
}

/** The SQS message body for an envelope: the frame in base64 (at most {@link MAX_SQS_BODY_BYTES} characters). */
export function toSqsBody(envelope: DispatchEnvelope): string {
  return encodeFrame(envelope).toString('base64');
}

export function fromSqsBody(body: string): DispatchEnvelope {
  if (body.length > MAX_SQS_BODY_BYTES) {
    throw new MalformedMessageError(`body of ${body.length} characters is over ${MAX_SQS_BODY_BYTES}`);
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new MalformedMessageError('body is not base64');
  return decodeFrame(Buffer.from(body, 'base64'));
}

/**
 * Reads the little-endian base-128 varint (at most 5 bytes, 32 bits) that starts a raw Snappy block:
 * the uncompressed length, to check against a limit before decompressing. Exported for the other
 * raw-Snappy bodies (zmq-protocol.ts reads the same header).
 */
export function snappyUncompressedLength(frame: Uint8Array): number {
  let length = 0;
  for (let i = 0; i < 5; i++) {
    const byte = frame[i];
    if (byte === undefined) break;
    length += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return length;
  }
  throw new MalformedMessageError('not a Snappy frame: bad length header');
}
