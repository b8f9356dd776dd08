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

/** The trace id of a W3C `traceparent` header (`00-<32 hex trace id>-<16 hex parent>-<flags>`). */
export function traceIdFromTraceparent(header: string | undefined): TraceId | undefined {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(
    header?.trim().toLowerCase() ?? '',
  );
  const hex = match?.[1];
  if (!hex || /^0+$/.test(hex)) return undefined;
  return `1-${hex.slice(0, 8)}-${hex.slice(8)}`;
}
