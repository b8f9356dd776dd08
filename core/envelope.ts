import { z } from 'zod';
import { MalformedMessageError, PayloadTooLargeError } from './errors';
import type { Run, RunClaim } from './model';
import {
  EpochMsSchema,
  HandlerNameSchema,
  IdSchema,
  IsoInstantSchema,
  PayloadSchema,
  TraceIdSchema,
  UpstreamRefSchema,
} from './model';

/**
 * What travels to a worker. Version-tagged so agents can refuse what they do not understand.
 * It names a handler only by its registered name: nothing in it is code or a command, and an
 * agent runs only handlers registered in its own process or config (invariant 6).
 *
 * On the wire: this JSON, Snappy-compressed; base64 in SQS bodies, raw frames on ZeroMQ
 * (see core/adapters/envelope-codec.ts).
 */
export const ENVELOPE_VERSION = 1;

/** SQS allows 262,144 bytes a message body; base64 costs 4/3, so the compressed frame must fit in 3/4 of it. */
export const MAX_SQS_BODY_BYTES = 262_144;
export const MAX_FRAME_BYTES = Math.floor((MAX_SQS_BODY_BYTES * 3) / 4);
/** Largest JSON an envelope may be before compression; bounds decompression too. */
export const MAX_ENVELOPE_JSON_BYTES = 256 * 1024;

export const DispatchEnvelopeSchema = z.strictObject({
  v: z.literal(ENVELOPE_VERSION),
  type: z.literal('dispatch'),
  runId: z.string().min(1).max(256),
  jobId: IdSchema,
  handler: HandlerNameSchema,
  payload: PayloadSchema,
  scheduledTime: IsoInstantSchema,
  attempt: z.number().int().min(1),
  fence: z.number().int().min(1),
  deadlineAt: EpochMsSchema,
  sentAt: EpochMsSchema,
  /**
   * A dependent run's upstream runs (id, job, status, result), as its record holds them. Like every
   * other field it is only what the message claims: the claim checks it against the record, and
   * the handler gets the record's.
   */
  upstream: z.array(UpstreamRefSchema).optional(),
  /**
   * A precise job's planned fire (core/planner.ts): not a run to claim but one to hold — the worker
   * decides it at this instant (epoch ms) with Dispatcher.fireLocal, naming `fence` as the plan.
   */
  startAt: EpochMsSchema.optional(),
  /**
   * The fire's trace id (model/trace.ts), for the agent's log lines before the claim; after it the
   * agent uses the record's. A well-formed id only: it names nothing to run.
   */
  traceId: TraceIdSchema.optional(),
});
export type DispatchEnvelope = z.output<typeof DispatchEnvelopeSchema>;

export function envelopeFor(
  run: Run,
  deadlineAt: number,
  sentAt: number,
  startAt?: number,
): DispatchEnvelope {
  return {
    v: ENVELOPE_VERSION,
    type: 'dispatch',
    runId: run.runId,
    jobId: run.jobId,
    handler: run.handler,
    payload: run.payload,
    scheduledTime: run.scheduledTime,
    attempt: run.attempt,
    fence: run.fence,
    deadlineAt,
    sentAt,
    ...(run.upstream ? { upstream: run.upstream } : {}),
    ...(startAt === undefined ? {} : { startAt }),
    ...(run.traceId ? { traceId: run.traceId } : {}),
  };
}

/**
 * The claim a worker makes from an envelope it received: the envelope names the run and says what
 * the worker expects it to be; the ledger takes the run only if the record agrees (model/claim.ts).
 */
export function claimFromEnvelope(envelope: DispatchEnvelope, workerId: string, at: number): RunClaim {
  return {
    workerId,
    fence: envelope.fence,
    at,
    expect: {
      jobId: envelope.jobId,
      scheduledTime: envelope.scheduledTime,
      handler: envelope.handler,
      payload: envelope.payload,
      attempt: envelope.attempt,
      deadlineAt: envelope.deadlineAt,
      upstream: envelope.upstream,
    },
  };
}

/** Serializes to UTF-8 JSON, refusing envelopes over the limit before anything is sent. */
export function envelopeToJson(envelope: DispatchEnvelope): Buffer {
  const json = Buffer.from(JSON.stringify(envelope), 'utf8');
  if (json.length > MAX_ENVELOPE_JSON_BYTES) {
    throw new PayloadTooLargeError('envelope', json.length, MAX_ENVELOPE_JSON_BYTES);
  }
  return json;
}

/** Parses and validates received JSON. MalformedMessageError names what is wrong. */
export function envelopeFromJson(json: Buffer): DispatchEnvelope {
  if (json.length > MAX_ENVELOPE_JSON_BYTES) {
    throw new MalformedMessageError(`envelope of ${json.length} bytes is over ${MAX_ENVELOPE_JSON_BYTES}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch (error) {
    throw new MalformedMessageError('not JSON', error);
  }
  if (typeof value === 'object' && value !== null && 'v' in value && value.v !== ENVELOPE_VERSION) {
    throw new MalformedMessageError(`envelope version ${JSON.stringify(value.v)} is not ${ENVELOPE_VERSION}`);
  }
  const parsed = DispatchEnvelopeSchema.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new MalformedMessageError(`${first?.path.join('.') || 'envelope'}: ${first?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
