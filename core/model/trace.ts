import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * One trace per fire (docs/architecture.md, "Following a fire"): the id is made or picked up where the
 * fire is decided, stored on the run record, carried in the envelope, on the agent's log lines for the
 * run and in the handler's context (`ctx.traceId`, CLOVER_TRACE_ID). It is written in X-Ray's form,
 * `1-<8 hex: epoch seconds>-<24 hex>`, which is also a W3C trace id (the 32 hex digits without the
 * dashes): the dispatcher Lambda's X-Ray trace is the fire's trace, and the same string finds the
 * dispatcher's lines (Powertools' `xray_trace_id`) and everyone else's (`traceId`).
 */
export const TraceIdSchema = z
  .string()
  .regex(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/, 'must be an X-Ray trace id: 1-<8 hex digits>-<24 hex digits>');
export type TraceId = z.output<typeof TraceIdSchema>;

/** A new trace id for a fire made outside a traced invocation (the local runtime, agents' LOCAL fires). */
export function newTraceId(nowMs: number): TraceId {
  const seconds = Math.floor(nowMs / 1000)
    .toString(16)
    .padStart(8, '0')
    .slice(-8);
  return `1-${seconds}-${randomBytes(12).toString('hex')}`;
}

/** The trace id of an X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`, Lambda's `_X_AMZN_TRACE_ID`). */
export function traceIdFromXrayHeader(header: string | undefined): TraceId | undefined {
  const root = header
    ?.split(';')
    .map((part) => part.trim().split('='))
    .find(([key]) => key === 'Root')?.[1]
    ?.toLowerCase();
  return root && TraceIdSchema.safeParse(root).success ? root : undefined;
}

/**
 * A W3C `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header) as Clover reads it:
 * the trace id it carries, in Clover's form, or why it is refused. `<version>-<trace id>-<parent
 * id>-<flags>`, lowercase hex. Version `ff` is invalid; version `00` has exactly these four fields;
 * a higher (unknown) version is read by the spec's forward-compatible rule: the first three fields as
 * in `00`, then the end or another `-` after the flags. An all-zero trace id or parent id is invalid.
 * The 32 hex digits of the trace id become X-Ray's form, `1-<first 8>-<last 24>` (the same 128 bits;
 * drop the `1-` and the second dash to get them back). The flags (sampling) and `tracestate` are not
 * read: every fire is recorded and logged whatever the caller sampled.
 */
export type Traceparent = { readonly traceId: TraceId } | { readonly refused: string };

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$/;
const TRACEPARENT_FORM =
  'must be <version>-<32 hex trace id>-<16 hex parent id>-<2 hex flags> in lowercase hex, e.g. 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

export function readTraceparent(value: string): Traceparent {
  // The same header sent twice arrives joined by a comma (RFC 9110 5.3); W3C allows one.
  if (value.includes(',')) return { refused: 'is given more than once; send one traceparent' };
  const match = TRACEPARENT.exec(value.trim());
  if (!match) {
    return {
      refused: TRACEPARENT.test(value.trim().toLowerCase()) ? 'must be lowercase hex' : TRACEPARENT_FORM,
    };
  }
  const [, version, hex = '', parent = '', more] = match;
  if (version === 'ff') return { refused: 'has version ff, which W3C Trace Context forbids' };
  if (version === '00' && more !== undefined) {
    return { refused: 'has fields after the flags, which version 00 does not have (55 characters in all)' };
  }
  if (/^0+$/.test(hex)) return { refused: 'has an all-zero trace id, which W3C Trace Context forbids' };
  if (/^0+$/.test(parent)) return { refused: 'has an all-zero parent id, which W3C Trace Context forbids' };
  return { traceId: `1-${hex.slice(0, 8)}-${hex.slice(8)}` };
}

/** A `traceparent` value parsed to the trace id it carries; a refused one is an issue with the reason. */
export const TraceparentSchema = z
  .string()
  .transform((value, ctx): TraceId => {
    const read = readTraceparent(value);
    if ('traceId' in read) return read.traceId;
    ctx.addIssue({ code: 'custom', message: read.refused, input: value });
    return z.NEVER;
  })
  .meta({
    description:
      "W3C Trace Context traceparent, 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>: the caller's trace, which the run continues (its trace id becomes the run's traceId)",
  });
