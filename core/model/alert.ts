import { z } from 'zod';
import { EpochMsSchema, IdSchema } from './common';
import { AlertKinds, ChannelTypes } from './contact';

/*
 * An alert's delivery states (invariant 5: every alert is a record the console can show):
 *
 *   PENDING    ─► SENT        mailed to its recipients (`messageId` from SES) and posted to every channel
 *                             (`deliveries`)
 *              ─► SUPPRESSED  nobody to tell, folded into a digest inside a rate-limit window, or
 *                             acknowledged before it went out (`reason`)
 *              ─► SILENCED    an operator's silence covered it (`silencedBy`, `reason`): not sent
 *              ─► FAILED      the mail provider or a channel refused or did not answer (`reason`,
 *                             `attempts`; per channel in `deliveries`); only what failed is retried
 *   FAILED     ─► SENT | FAILED   each redelivery of its queue message is another attempt
 *              ─► SILENCED | SUPPRESSED  silenced or acknowledged while being retried
 *
 * SENT, SUPPRESSED and SILENCED are final. Acknowledging is not a delivery state: `acknowledgement`
 * is set once, on a record in any state. A digest is an alert record too (`digest` set), PENDING until its
 * window ends, then SENT or FAILED like any other.
 */
export const AlertStatuses = ['PENDING', 'SENT', 'SUPPRESSED', 'FAILED', 'SILENCED'] as const;
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

/** One HTTP attempt to deliver an alert to a channel. */
export const ChannelAttemptSchema = z.object({
  at: EpochMsSchema,
  /** The receiver's HTTP status; absent when no response came (refused, timed out, forbidden address). */
  httpStatus: z.number().int().optional(),
  /** Why it failed: the network error, or the start of the response body for a non-2xx status. */
  error: z.string().max(600).optional(),
});
export type ChannelAttempt = z.output<typeof ChannelAttemptSchema>;

/** Channel attempts kept per delivery (the newest); `attempts` keeps counting past it. */
export const MAX_CHANNEL_ATTEMPTS_KEPT = 10;

/** An alert's delivery to one contact channel (docs/alerts.md, "Webhook and chat channels"). */
export const ChannelDeliverySchema = z.object({
  contactId: z.string(),
  channel: z.string(),
  type: z.enum(ChannelTypes),
  /** The URL as reads show it (redactChannelUrl). */
  target: z.string(),
  status: z.enum(['SENT', 'FAILED']),
  /** HTTP attempts so far, across redeliveries. */
  attempts: z.number().int().min(0),
  /** The latest attempts, oldest first. */
  history: z.array(ChannelAttemptSchema),
  sentAt: EpochMsSchema.optional(),
});
export type ChannelDelivery = z.output<typeof ChannelDeliverySchema>;

/** Who acknowledged an alert, when, and what they said. */
export const AcknowledgementSchema = z.object({
  at: EpochMsSchema,
  /** The subject of the caller's token. */
  by: z.string().min(1).max(256),
  comment: z.string().max(500).optional(),
});
export type Acknowledgement = z.output<typeof AcknowledgementSchema>;

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
  /** SES message ids; set once the mail went out, so a redelivery for a failed channel does not mail again. */
  messageId: z.string().optional(),
  /** Deliveries to the recipients' webhook and chat channels (absent when none). */
  deliveries: z.array(ChannelDeliverySchema).optional(),
  sentAt: EpochMsSchema.optional(),
  /** SUPPRESSED inside a rate-limit window: the digest that carries it. */
  foldedInto: z.string().optional(),
  /** SILENCED: the silence that covered it. */
  silencedBy: z.string().optional(),
  /** Someone took it: set once (a second acknowledgement is refused). */
  acknowledgement: AcknowledgementSchema.optional(),
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
  return record.status === 'SENT' || record.status === 'SUPPRESSED' || record.status === 'SILENCED';
}

/**
 * An operator's silence: until `endsAt`, the notifier records the alerts it covers SILENCED instead
 * of sending them. It covers a job (`jobId`), an alert kind (`kind`), or one kind of one job (both).
 */
export const SilenceSchema = z.object({
  silenceId: z.string().min(1).max(64),
  jobId: IdSchema.optional(),
  kind: z.enum(AlertKinds).optional(),
  createdAt: EpochMsSchema,
  endsAt: EpochMsSchema,
  /** The subject of the caller's token. */
  createdBy: z.string().min(1).max(256),
  comment: z.string().max(500).optional(),
});
export type Silence = z.output<typeof SilenceSchema>;

/** Silences in force at once, at most (they are read with every alert the notifier handles). */
export const MAX_SILENCES = 100;

/** Whether `silence` covers `alert` at `now`. */
export function silences(silence: Silence, alert: Pick<AlertRecord, 'jobId' | 'kind'>, now: number): boolean {
  return (
    silence.endsAt > now &&
    (silence.jobId === undefined || silence.jobId === alert.jobId) &&
    (silence.kind === undefined || silence.kind === alert.kind)
  );
}

/**
 * The JSON body a `webhook` channel receives (schema `clover.alert/v1`): one alert, or a digest of the
 * alerts folded into a silence window. Receivers should ignore fields they do not know.
 */
export const WebhookAlertSchema = z.object({
  schema: z.literal('clover.alert/v1'),
  type: z.enum(['alert', 'digest']),
  alertId: z.string(),
  kind: z.enum(AlertKinds),
  jobId: z.string(),
  runId: z.string().optional(),
  /** One line for people: "Job nightly failed". */
  title: z.string(),
  message: z.string(),
  /** ISO-8601 UTC. */
  createdAt: z.string(),
  /** The console page of the run (or of the job when there is no run). */
  url: z.string(),
  digest: z
    .object({
      windowStart: z.string(),
      windowEnd: z.string(),
      count: z.number().int(),
      entries: z.array(
        z.object({
          alertId: z.string(),
          runId: z.string().optional(),
          message: z.string(),
          createdAt: z.string(),
        }),
      ),
    })
    .optional(),
});
export type WebhookAlert = z.output<typeof WebhookAlertSchema>;
