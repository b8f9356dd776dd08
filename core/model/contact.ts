import { z } from 'zod';
import { IdSchema } from './common';

export const AlertKinds = [
  'failure',
  'recovery',
  'timeout',
  'lost',
  'no_worker',
  'job_unavailable',
  'misfire',
  'runaway',
] as const;
export type AlertKind = (typeof AlertKinds)[number];

/**
 * Why a contact hears of a job's alerts: the job names it (`contacts`), it subscribes to the job's
 * group (`groups`), or it has a subscription to the job or to its group (`subscriptions`).
 */
export const AudienceVias = ['contacts', 'group', 'job-subscription', 'group-subscription'] as const;
export type AudienceVia = (typeof AudienceVias)[number];

/** A contact's subscription to one job or one group, with the alert kinds it wants from it. */
export const SubscriptionSchema = z
  .strictObject({
    jobId: IdSchema.optional(),
    group: IdSchema.optional(),
    alertKinds: z
      .array(z.enum(AlertKinds))
      .min(1)
      .default([...AlertKinds]),
  })
  .refine((s) => (s.jobId === undefined) !== (s.group === undefined), 'names exactly one of jobId or group');
export type Subscription = z.output<typeof SubscriptionSchema>;

/*
 * Alert channels besides email (docs/alerts.md, "Webhook and chat channels"):
 * - `webhook`: an HTTPS POST of the JSON alert (WebhookAlertSchema), signed with HMAC-SHA256 under the
 *   channel's secret (`Clover-Signature: t=<unix seconds>,v1=<hex>`);
 * - `slack`: a Slack-compatible incoming webhook (`text` plus Block Kit `blocks`);
 * - `teams`: a Microsoft Teams Workflows webhook ("When a Teams webhook request is received"): a
 *   message with one Adaptive Card attachment.
 * Static rules live here; which hosts and addresses a URL may reach (https only, no private or
 * link-local addresses, http to loopback only where allowed) is core/endpoints.ts, checked when a
 * contact is written and again at every connection.
 */
export const ChannelTypes = ['webhook', 'slack', 'teams'] as const;
export type ChannelType = (typeof ChannelTypes)[number];
/** Longest channel URL accepted (browsers and most proxies stop near 2 KiB too). */
export const MAX_CHANNEL_URL_LENGTH = 2048;
export const MAX_CHANNELS_PER_CONTACT = 10;

export const ChannelUrlSchema = z
  .string()
  .max(MAX_CHANNEL_URL_LENGTH, `must be at most ${MAX_CHANNEL_URL_LENGTH} characters`)
  .refine((raw) => {
    try {
      const url = new URL(raw);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an absolute https:// URL')
  .refine((raw) => {
    try {
      const url = new URL(raw);
      return url.username === '' && url.password === '';
    } catch {
      return true;
    }
  }, 'must not carry a user name or password');

/** A webhook signing secret: Clover generates one (32 random bytes, hex) unless one is given. */
export const WebhookSecretSchema = z
  .string()
  .min(32, 'must be at least 32 characters')
  .max(256, 'must be at most 256 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

const channelName = IdSchema;

/** A channel as stored: the URL and, for webhooks, the signing secret (both write-only through the API). */
export const ChannelSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('webhook'),
    name: channelName,
    url: ChannelUrlSchema,
    secret: WebhookSecretSchema.optional(),
  }),
  z.strictObject({ type: z.literal('slack'), name: channelName, url: ChannelUrlSchema }),
  z.strictObject({ type: z.literal('teams'), name: channelName, url: ChannelUrlSchema }),
]);
export type Channel = z.output<typeof ChannelSchema>;

const uniqueNames = (channels: readonly { readonly name: string }[]) =>
  new Set(channels.map((c) => c.name)).size === channels.length;

export const ChannelsSchema = z
  .array(ChannelSchema)
  .max(MAX_CHANNELS_PER_CONTACT, `at most ${MAX_CHANNELS_PER_CONTACT} channels per contact`)
  .refine(uniqueNames, 'channel names must be unique within the contact');

/**
 * A channel in a contact update: `url` (and `secret`) may be left out to keep the stored ones of the
 * channel with the same name and type; `rotateSecret: true` makes Clover generate a new webhook secret.
 */
export const ChannelChangeSchema = z.strictObject({
  type: z.enum(ChannelTypes, { error: `must be one of ${ChannelTypes.join(', ')}` }),
  name: channelName,
  url: ChannelUrlSchema.optional(),
  secret: WebhookSecretSchema.optional(),
  rotateSecret: z.literal(true).optional(),
});
export type ChannelChange = z.output<typeof ChannelChangeSchema>;

/**
 * What reads show of a channel: the URL with its credential-bearing parts hidden (a chat webhook's
 * path is its token; a webhook's query string may hold one), whether a secret is set, and — only in
 * the response of the write that generated it — the secret itself.
 */
export const ChannelViewSchema = z.object({
  type: z.enum(ChannelTypes),
  name: z.string(),
  /** `https://hooks.slack.com/…/abcd` for chat channels; origin and path (no query) for webhooks. */
  url: z.string(),
  secretSet: z.boolean(),
  /** Present once: in the create or update response that generated (or rotated) it. */
  secret: z.string().optional(),
});
export type ChannelView = z.output<typeof ChannelViewSchema>;

/** The URL as reads show it: see ChannelViewSchema. */
export function redactChannelUrl(channel: Pick<Channel, 'type' | 'url'>): string {
  let url: URL;
  try {
    url = new URL(channel.url);
  } catch {
    return '…';
  }
  if (channel.type === 'webhook') return `${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
  const tail = `${url.pathname}${url.search}`.slice(-4);
  return `${url.origin}/…${tail}`;
}

export function channelView(channel: Channel, shownSecret?: string): ChannelView {
  return {
    type: channel.type,
    name: channel.name,
    url: redactChannelUrl(channel),
    secretSet: channel.type === 'webhook' && channel.secret !== undefined,
    ...(shownSecret ? { secret: shownSecret } : {}),
  };
}

export const ContactSpecSchema = z.strictObject({
  contactId: IdSchema,
  name: z.string().min(1).max(256),
  email: z.email('must be a valid email address'),
  /** Alert kinds this contact wants; all of them unless narrowed. */
  alertKinds: z.array(z.enum(AlertKinds)).default([...AlertKinds]),
  /** Job groups this contact subscribes to, besides the jobs that name it. */
  groups: z.array(IdSchema).max(100).default([]),
  /** Per-job and per-group subscriptions, each with its own alert kinds (on top of the above). */
  subscriptions: z.array(SubscriptionSchema).max(200).default([]),
  /** Webhook and chat channels alerted besides `email`, with the same kinds and subscriptions. */
  channels: ChannelsSchema.default([]),
});
export type Contact = z.output<typeof ContactSpecSchema>;

/** A contact as the API shows it: channels without their URLs' secrets or signing secrets. */
export const ContactViewSchema = ContactSpecSchema.extend({ channels: z.array(ChannelViewSchema) });
export type ContactView = z.output<typeof ContactViewSchema>;

/** `secrets`: channel name → a secret generated by this write, shown once. */
export function contactView(contact: Contact, secrets: ReadonlyMap<string, string> = new Map()): ContactView {
  return { ...contact, channels: contact.channels.map((c) => channelView(c, secrets.get(c.name))) };
}
