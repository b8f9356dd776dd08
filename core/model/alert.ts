import { z } from 'zod';
import { EpochMsSchema, IdSchema } from './common';
import { AlertKinds } from './contact';

/*
 * An alert's delivery states (invariant 5: every alert is a record the console can show):
 *
 *   PENDING    ─► SENT        mailed to its recipients (`messageId` from SES)
 *              ─► SUPPRESSED  nobody to tell, or folded into a digest inside a silence window (`reason`)
 *              ─► FAILED      the mail provider refused or did not answer (`reason`, `attempts`)
 *   FAILED     ─► SENT | FAILED   each redelivery of its queue message is another attempt
 *
 * SENT and SUPPRESSED are final. A digest is an alert record too (`digest` set), PENDING until its
 * window ends, then SENT or FAILED like any other.
 */
export const AlertStatuses = ['PENDING', 'SENT', 'SUPPRESSED', 'FAILED'] as const;
export type AlertStatus = (typeof AlertStatuses)[number];

/** One alert folded into a digest: enough to list it in the digest mail and link its run. */
export const DigestEntrySchema = z.object({
  alertId: z.string().min(1),
  runId: z.string().optional(),
  message: z.string(),
  createdAt: EpochMsSchema,
});
export type DigestEntry = z.output<typeof DigestEntrySchema>;

/** Digests keep at most this many entries; `count` keeps counting past it. */
export const MAX_DIGEST_ENTRIES = 50;

export const AlertRecordSchema = z.object({
  alertId: z.string().min(1).max(256),
  kind: z.enum(AlertKinds),
  jobId: IdSchema,
  runId: z.string().min(1).max(256).optional(),
  message: z.string().max(4096),
  createdAt: EpochMsSchema,
  updatedAt: EpochMsSchema,
  status: z.enum(AlertStatuses),
  /** Why it is SUPPRESSED or FAILED (the provider's own words for a refusal). */
  reason: z.string().max(2048).optional(),
  /** Send attempts so far. */
  attempts: z.number().int().min(0),
  /** Email addresses the alert went (or was to go) to. */
  recipients: z.array(z.string()),
  messageId: z.string().optional(),
  sentAt: EpochMsSchema.optional(),
  /** SUPPRESSED inside a silence window: the digest that carries it. */
  foldedInto: z.string().optional(),
  /** Present on digests: the window and the alerts folded into it. */
  digest: z
    .object({
      windowStart: EpochMsSchema,
      windowEnd: EpochMsSchema,
      count: z.number().int().min(0),
      entries: z.array(DigestEntrySchema),
    })
    .optional(),
});
export type AlertRecord = z.output<typeof AlertRecordSchema>;

export function isFinalAlert(record: Pick<AlertRecord, 'status'>): boolean {
  return record.status === 'SENT' || record.status === 'SUPPRESSED';
}
