import { z } from 'zod';

/** Identifiers that appear in keys, queue names and schedule names: safe in all of them. */
export const IdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'must be 1-64 characters: letters, digits, ".", "_" or "-", starting with a letter or digit',
  );

export const HandlerNameSchema = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/,
    'must be 1-128 characters: letters, digits, "_", ".", ":" or "-", starting with a letter',
  );

export const LabelsSchema = z.record(
  z
    .string()
    .regex(
      /^[A-Za-z0-9_./-]{1,63}$/,
      'label keys are 1-63 characters of letters, digits, "_", ".", "/" or "-"',
    ),
  z.string().max(256, 'label values are at most 256 characters'),
);

/** Epoch milliseconds. Every instant Clover compares in a conditional write is stored this way. */
export const EpochMsSchema = z.number().int().nonnegative();

/** UTC instant to the second, as EventBridge Scheduler's `<aws.scheduler.scheduled-time>` renders it. */
export const IsoInstantSchema = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/,
    'must be a UTC ISO-8601 instant such as 2026-01-30T10:00:00Z',
  )
  .refine((s) => !Number.isNaN(Date.parse(s)), 'is not a real calendar instant');

/** Largest payload a job may carry, serialized as JSON. SQS allows 256 KiB a message; this leaves room for the envelope. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

/**
 * Deepest a payload may nest arrays and objects (`{"a": [1]}` is 2 levels). DynamoDB's own limit for
 * a document is 32 levels, so a handler can store what it was given as a map; and everything
 * downstream that walks a payload recursively (JSON.stringify in the envelope, the audit record, the
 * console's and the CLI's renderers) stays far from the stack's limit. Checked without recursion.
 */
export const MAX_PAYLOAD_DEPTH = 32;

/**
 * The path to the first place where `value` nests arrays and objects more than `max` levels deep,
 * or null when it does not. Iterative (an explicit stack, no recursion), so a value nested 100,000
 * levels deep costs at most `max` levels of work on each branch and cannot overflow the call stack;
 * a cyclic value counts as too deep.
 */
export function tooDeep(value: unknown, max: number): (string | number)[] | null {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (path.length >= max) return path;
    const entries: [string | number, unknown][] = Array.isArray(current)
      ? current.map((item, i) => [i, item])
      : Object.entries(current);
    for (const [key, item] of entries) {
      if (typeof item === 'object' && item !== null) stack.push({ value: item, path: [...path, key] });
    }
  }
  return null;
}

/** A value's size as JSON, in bytes. Callers check the depth first (`tooDeep`): stringify recurses. */
export function jsonSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');
}

export const PayloadSchema = z.unknown().superRefine((value, ctx) => {
  // Depth first: JSON.stringify (the size) recurses, and a deep enough value overflows the stack.
  if (tooDeep(value, MAX_PAYLOAD_DEPTH)) {
    ctx.addIssue({
      code: 'custom',
      message: `must nest arrays and objects at most ${MAX_PAYLOAD_DEPTH} levels deep`,
    });
    return;
  }
  let size: number;
  try {
    size = jsonSize(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be JSON-serializable' });
    return;
  }
  if (size > MAX_PAYLOAD_BYTES) {
    ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_PAYLOAD_BYTES} bytes as JSON` });
  }
});

/** Renders an epoch-ms instant the way Clover prints fire times: ISO-8601 to the second, UTC, with Z. */
export function isoSeconds(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
