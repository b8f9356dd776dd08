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

export function jsonSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');
}

export const PayloadSchema = z
  .unknown()
  .refine((value) => {
    try {
      JSON.stringify(value);
      return true;
    } catch {
      return false;
    }
  }, 'must be JSON-serializable')
  .refine(
    (value) => jsonSize(value) <= MAX_PAYLOAD_BYTES,
    `must be at most ${MAX_PAYLOAD_BYTES} bytes as JSON`,
  );

/** Renders an epoch-ms instant the way Clover prints fire times: ISO-8601 to the second, UTC, with Z. */
export function isoSeconds(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
