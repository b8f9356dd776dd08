/**
 * Alerts to webhook and chat channels (docs/alerts.md, "Webhook and chat channels"): the bodies each
 * channel type receives, the webhook signature, and one delivery with retries. Pure apart from the
 * AlertChannelSender port and the injected clock and sleep.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { alertTitle, digestTitle, jobLink, linkFor, oneLine, runLink } from './alert-mail';
import { CloverError } from './errors';
import {
  type AlertRecord,
  type Channel,
  type ChannelAttempt,
  type ChannelDelivery,
  isoSeconds,
  MAX_CHANNEL_ATTEMPTS_KEPT,
  redactChannelUrl,
  type WebhookAlert,
} from './model';
import type { AlertChannelSender, ChannelRequest, Clock } from './ports';

/** The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export const SIGNATURE_HEADER = 'Clover-Signature';
/** How old a signature's timestamp a receiver should still accept (and how far in the future). */
export const REPLAY_WINDOW_SECONDS = 300;

/** A new webhook secret: 32 random bytes, hex. */
export function newWebhookSecret(): string {
  return randomBytes(32).toString('hex');
}

function hmac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** The `Clover-Signature` value for `body` sent at `unixSeconds`. */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${hmac(secret, unixSeconds, body)}`;
}

/**
 * What a receiver does (the reference for docs/alerts.md): the signature is valid for the exact
 * body, and its timestamp is within `toleranceSeconds` of now, so a captured request cannot be
 * replayed later. Any `v1` entry may match (several appear while a secret is being rotated).
 */
export function verifyWebhookSignature(
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  toleranceSeconds = REPLAY_WINDOW_SECONDS,
): boolean {
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmac(secret, t, body), 'hex');
  return parts
    .filter(([k, v]) => k === 'v1' && v !== undefined && /^[0-9a-f]{64}$/.test(v))
    .some(([, v]) => timingSafeEqual(Buffer.from(v ?? '', 'hex'), expected));
}

/** The JSON alert a `webhook` channel receives (WebhookAlertSchema). */
export function webhookAlert(record: AlertRecord, consoleUrl: string): WebhookAlert {
  const digest = record.digest;
  return {
    schema: 'clover.alert/v1',
    type: digest ? 'digest' : 'alert',
    alertId: record.alertId,
    kind: record.kind,
    jobId: record.jobId,
    ...(record.runId ? { runId: record.runId } : {}),
    title: digest ? digestTitle(record) : alertTitle(record),
    message: record.message,
    createdAt: isoSeconds(record.createdAt),
    url: linkFor(consoleUrl, record),
    ...(digest
      ? {
          digest: {
            windowStart: isoSeconds(digest.windowStart),
            windowEnd: isoSeconds(digest.windowEnd),
            count: digest.count,
            entries: digest.entries.map((e) => ({
              alertId: e.alertId,
              ...(e.runId ? { runId: e.runId } : {}),
              message: e.message,
              createdAt: isoSeconds(e.createdAt),
            })),
          },
        }
      : {}),
  };
}

/** Lines of a chat message's body: the message, or one line per folded alert for a digest. */
function chatLines(alert: WebhookAlert, consoleUrl: string, link: (text: string, url: string) => string) {
  const digest = alert.digest;
  if (!digest) return [alert.message];
  const more = digest.count - digest.entries.length;
  return [
    ...digest.entries.map(
      (e) =>
        `• ${e.createdAt} ${oneLine(e.message, 200)}${e.runId ? ` ${link('run', runLink(consoleUrl, e.runId))}` : ''}`,
    ),
    ...(more > 0 ? [`• and ${more} more`] : []),
  ];
}

/** Slack treats `&`, `<` and `>` as markup (`<!channel>` would notify everyone). */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A Slack incoming-webhook message: `text` (the notification and fallback line) plus Block Kit
 * `blocks` — a header (plain text, at most 150 characters), a section with the message (mrkdwn, at
 * most 3,000), a context line (kind, time, run, alert id) and a button to the console.
 */
export function slackMessage(record: AlertRecord, consoleUrl: string) {
  const alert = webhookAlert(record, consoleUrl);
  const body = chatLines(alert, consoleUrl, (text, url) => `<${url}|${text}>`)
    .map(slackEscape)
    .join('\n');
  return {
    text: slackEscape(`[Clover] ${alert.title}`),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(alert.title, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: clip(body || ' ', 3000) } },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: slackEscape(
              [
                alert.kind,
                alert.createdAt,
                ...(alert.runId ? [`run ${alert.runId}`] : []),
                `alert ${alert.alertId}`,
              ].join(' · '),
            ),
          },
        ],
      },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: { type: 'plain_text', text: alert.runId && !alert.digest ? 'Open run' : 'Open job' },
            url: alert.digest ? jobLink(consoleUrl, alert.jobId) : alert.url,
          },
        ],
      },
    ],
  };
}

/**
 * A Microsoft Teams message for a Workflows webhook ("When a Teams webhook request is received" →
 * "Post card in a chat or channel"): `type: message` with one Adaptive Card 1.4 attachment. Chosen
 * over the retired Office 365 connector MessageCard format.
 */
export function teamsMessage(record: AlertRecord, consoleUrl: string) {
  const alert = webhookAlert(record, consoleUrl);
  const body = chatLines(alert, consoleUrl, (text, url) => `[${text}](${url})`).join('\n\n');
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', text: alert.title, weight: 'Bolder', size: 'Medium', wrap: true },
            { type: 'TextBlock', text: clip(body, 3000), wrap: true },
            {
              type: 'FactSet',
              facts: [
                { title: 'Kind', value: alert.kind },
                { title: 'At', value: alert.createdAt },
                ...(alert.runId ? [{ title: 'Run', value: alert.runId }] : []),
                { title: 'Alert', value: alert.alertId },
              ],
            },
          ],
          actions: [
            {
              type: 'Action.OpenUrl',
              title: alert.runId && !alert.digest ? 'Open run' : 'Open job',
              url: alert.digest ? jobLink(consoleUrl, alert.jobId) : alert.url,
            },
          ],
        },
      },
    ],
  };
}

/** The POST for one channel, signed (webhooks) at `now`. */
export function channelRequest(
  channel: Channel,
  record: AlertRecord,
  consoleUrl: string,
  now: number,
): ChannelRequest {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'Clover-Alerts/1',
  };
  if (channel.type === 'slack') {
    return { url: channel.url, headers, body: JSON.stringify(slackMessage(record, consoleUrl)) };
  }
  if (channel.type === 'teams') {
    return { url: channel.url, headers, body: JSON.stringify(teamsMessage(record, consoleUrl)) };
  }
  const body = JSON.stringify(webhookAlert(record, consoleUrl));
  headers['clover-alert-id'] = record.alertId;
  if (channel.secret)
    headers[SIGNATURE_HEADER.toLowerCase()] = signWebhook(channel.secret, body, Math.floor(now / 1000));
  return { url: channel.url, headers, body };
}

export interface ChannelTarget {
  readonly contactId: string;
  readonly channel: Channel;
}

export interface ChannelRetryOptions {
  readonly sender: AlertChannelSender;
  readonly clock: Clock;
  readonly consoleUrl: string;
  /** HTTP attempts per delivery before it is left FAILED until the alert's next redelivery. @default 3 */
  readonly tries?: number;
  /** Wait before the 2nd attempt; doubled before each next. @default 1000 */
  readonly backoffMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Statuses worth trying again at once: the receiver's own trouble, a timeout, a rate limit. */
function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * Posts `record` to one channel: up to `tries` attempts with exponential backoff for network errors,
 * 5xx, 408 and 429 (a 4xx such as Slack's 404 `no_service` is not retried at once: the alert's
 * redelivery tries again later). Every attempt is appended to the delivery's history.
 */
export async function deliverToChannel(
  target: ChannelTarget,
  record: AlertRecord,
  previous: ChannelDelivery | undefined,
  options: ChannelRetryOptions,
): Promise<ChannelDelivery> {
  const tries = options.tries ?? 3;
  const backoffMs = options.backoffMs ?? 1000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const history: ChannelAttempt[] = [...(previous?.history ?? [])];
  let attempts = previous?.attempts ?? 0;
  const delivery = (status: 'SENT' | 'FAILED', sentAt?: number): ChannelDelivery => ({
    contactId: target.contactId,
    channel: target.channel.name,
    type: target.channel.type,
    target: redactChannelUrl(target.channel),
    status,
    attempts,
    history: history.slice(-MAX_CHANNEL_ATTEMPTS_KEPT),
    ...(sentAt === undefined ? {} : { sentAt }),
  });
  for (let i = 0; i < tries; i++) {
    if (i > 0) await sleep(backoffMs * 2 ** (i - 1));
    const at = options.clock.now();
    attempts += 1;
    let retry: boolean;
    try {
      const response = await options.sender.post(
        channelRequest(target.channel, record, options.consoleUrl, at),
      );
      if (response.status >= 200 && response.status < 300) {
        history.push({ at, httpStatus: response.status });
        return delivery('SENT', at);
      }
      const excerpt = oneLine(response.body, 300);
      history.push({
        at,
        httpStatus: response.status,
        error: `HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`,
      });
      retry = retryableStatus(response.status);
    } catch (error) {
      history.push({ at, error: oneLine(error instanceof Error ? error.message : String(error), 500) });
      retry = !(error instanceof CloverError) || error.retryable;
    }
    if (!retry) break;
  }
  return delivery('FAILED');
}

/** "webhook ops/pager: HTTP 500: oops" — a failed delivery in the alert's `reason`. */
export function deliveryFailure(delivery: ChannelDelivery): string {
  return `${delivery.type} ${delivery.contactId}/${delivery.channel}: ${delivery.history.at(-1)?.error ?? 'failed'}`;
}
