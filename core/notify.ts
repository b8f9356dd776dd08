import { type ChannelTarget, deliverToChannel, deliveryFailure } from './alert-channels';
import { type RenderedMail, renderAlertMail, renderDigestMail } from './alert-mail';
import type { ContactService, Recipients } from './contacts';
import { CloverError } from './errors';
import type { Logger } from './log';
import { type AlertKind, type AlertRecord, isFinalAlert, isoSeconds, silences } from './model';
import type {
  AlertChannelSender,
  AlertMessage,
  AlertQueue,
  AlertStore,
  Clock,
  JobStore,
  Mailer,
  SilenceWindow,
} from './ports';

export interface NotifierConfig {
  /** Verified SES sender, e.g. `clover@example.com`. */
  readonly from: string;
  /** Base URL of the console; run links are `${consoleUrl}/runs/${encodeURIComponent(runId)}`. */
  readonly consoleUrl: string;
  /** Silence window per job and alert kind. @default 900_000 (15 min, the longest SQS delay) */
  readonly windowMs?: number;
  /** Send attempts before an alert is left FAILED for good. @default 5 (the alerts queue's maxReceiveCount) */
  readonly maxAttempts?: number;
  /** Kinds mailed at once, never folded. @default [] (a recovery shares its failures' window) */
  readonly unwindowedKinds?: readonly AlertKind[];
  /** HTTP attempts per channel in one pass, before the alert waits for its queue redelivery. @default 3 */
  readonly channelTries?: number;
  /** Wait before a channel's second attempt in a pass, doubled before each next. @default 1000 */
  readonly channelBackoffMs?: number;
}

export interface NotifierDeps {
  readonly alerts: AlertStore;
  readonly queue: AlertQueue;
  readonly contacts: ContactService;
  readonly jobs: JobStore;
  readonly mailer: Mailer;
  /** Posts to contacts' webhook and chat channels. Without it, such deliveries are recorded FAILED. */
  readonly channels?: AlertChannelSender;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: NotifierConfig;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

export type NotifyOutcome =
  | 'sent'
  | 'suppressed'
  | 'silenced'
  | 'acknowledged'
  | 'folded'
  | 'deferred'
  | 'duplicate'
  | 'missing'
  | 'failed'
  | 'gave_up';

export interface NotifyResult {
  readonly outcome: NotifyOutcome;
  /** The queue message should be delivered again (the handler reports it as a batch item failure). */
  readonly retry: boolean;
  readonly reason?: string;
}

const SES_MAX_RECIPIENTS = 50;

/** The kinds a recovery ends (the job's health turns `failing` on these). */
const RECOVERED_KINDS: ReadonlySet<AlertKind> = new Set(['failure', 'timeout', 'lost']);
/** A job's latest alerts read to find the failure a recovery ends. */
const RECOVERY_LOOKBACK = 50;

/** A recovery shares the window (and the digest) of the failures it ends; other kinds have their own. */
function windowKindOf(kind: AlertKind): AlertKind {
  return kind === 'recovery' ? 'failure' : kind;
}

/**
 * The notifier use case (ARCHITECTURE.md: notifier Lambda + SES, driven by the alerts queue). For
 * each alert id it: loads the record (the truth; duplicates of a SENT or SUPPRESSED alert change
 * nothing); resolves recipients — the job's contacts and its group's subscribers that chose the
 * kind; rate-limits per job and kind with a silence window — the first alert of a window is mailed
 * at once, later ones are folded into ONE digest mailed when the window ends (its queue message is
 * delayed until then); sends through the Mailer; and records SENT, SUPPRESSED or FAILED with the
 * provider's reason and the attempt count. A failed send asks for redelivery until `maxAttempts`,
 * so an SES rejection is retried by policy and never dropped silently.
 *
 * @example
 * const notifier = new Notifier({ alerts, queue, contacts, jobs, mailer, clock, log, config });
 * const { retry } = await notifier.process({ alertId });
 */
export class Notifier {
  private readonly windowMs: number;
  private readonly maxAttempts: number;
  private readonly unwindowed: ReadonlySet<AlertKind>;

  constructor(private readonly deps: NotifierDeps) {
    this.windowMs = deps.config.windowMs ?? 900_000;
    this.maxAttempts = deps.config.maxAttempts ?? 5;
    this.unwindowed = new Set(deps.config.unwindowedKinds ?? []);
  }

  async process(
    message: AlertMessage,
    options: { readonly redelivered?: boolean } = {},
  ): Promise<NotifyResult> {
    const now = this.deps.clock.now();
    const log = this.deps.log.child({ alertId: message.alertId });
    const record = await this.deps.alerts.get(message.alertId);
    if (!record) {
      log.log('warn', 'alert message names no alert record; dropped');
      return { outcome: 'missing', retry: false };
    }
    if (isFinalAlert(record)) return { outcome: 'duplicate', retry: false };
    if (record.status === 'FAILED' && record.attempts >= this.maxAttempts) {
      return { outcome: 'gave_up', retry: false, reason: record.reason };
    }
    const scoped = log.child({ jobId: record.jobId, runId: record.runId, kind: record.kind });
    if (record.digest) return this.processDigest(record, now, scoped);
    const held = await this.held(record, now, scoped);
    if (held) return held;

    const job = await this.deps.jobs.get(record.jobId);
    const recipients = await this.deps.contacts.recipientsFor(job?.spec ?? null, record.kind);
    const unknown = recipients.unknownContactIds.length
      ? `unknown contact ids: ${recipients.unknownContactIds.join(', ')}`
      : '';
    if (recipients.emails.length === 0) {
      const reason = ['no recipients for this alert kind', unknown].filter(Boolean).join('; ');
      await this.suppress(record, now, reason);
      scoped.log('warn', 'alert has no recipients', { reason });
      return { outcome: 'suppressed', retry: false, reason };
    }
    if (record.kind === 'recovery' && !(await this.failureNotified(record))) {
      const reason = 'no failure of this job was notified since its last recovery';
      await this.suppress(record, now, reason);
      scoped.log('info', 'recovery not sent: nobody heard of a failure', {});
      return { outcome: 'suppressed', retry: false, reason };
    }
    if (!this.unwindowed.has(record.kind)) {
      const window = await this.deps.alerts.openWindow(
        record.jobId,
        windowKindOf(record.kind),
        record.alertId,
        now,
        this.windowMs,
      );
      if (!window.opened)
        return this.fold(record, window, now, recipients.emails, options.redelivered ?? false, scoped);
    }
    return this.send(
      record,
      recipients,
      renderAlertMail(record, this.deps.config.consoleUrl),
      now,
      scoped,
      unknown,
    );
  }

  /**
   * What stops an alert (or a digest) before anything is sent: someone acknowledged it (it was
   * waiting for its window's end, or being retried: telling people of what they took is noise), or
   * an operator's silence covers it. Either is final; null when it goes on.
   */
  private async held(record: AlertRecord, now: number, log: Logger): Promise<NotifyResult | null> {
    const ack = record.acknowledgement;
    if (ack) {
      const reason = `acknowledged by ${ack.by} at ${isoSeconds(ack.at)} before it was sent`;
      await this.suppress(record, now, reason);
      log.log('info', 'alert not sent: acknowledged', { acknowledgedBy: ack.by });
      return { outcome: 'acknowledged', retry: false, reason };
    }
    const silence = (await this.deps.alerts.silences()).find((s) => silences(s, record, now));
    if (!silence) return null;
    const scope = [silence.jobId && `job ${silence.jobId}`, silence.kind && `${silence.kind} alerts`]
      .filter(Boolean)
      .join(', ');
    const reason = `silenced until ${isoSeconds(silence.endsAt)} by ${silence.createdBy} (${scope}; silence ${silence.silenceId})`;
    await this.deps.alerts.update(record.alertId, {
      from: ['PENDING', 'FAILED'],
      status: 'SILENCED',
      at: now,
      reason,
      silencedBy: silence.silenceId,
    });
    log.log('info', 'alert silenced', { silenceId: silence.silenceId });
    return { outcome: 'silenced', retry: false, reason };
  }

  /**
   * Whether a failure this recovery ends was notified: a `failure`, `timeout` or `lost` alert of the job,
   * raised after its previous recovery, that was sent, folded into a digest, or is still on its way.
   * People are told of a recovery only when they were told of the failure.
   */
  private async failureNotified(recovery: AlertRecord): Promise<boolean> {
    const recent = await this.deps.alerts.listByJob(recovery.jobId, { limit: RECOVERY_LOOKBACK });
    for (const alert of recent) {
      if (alert.alertId === recovery.alertId || alert.digest || alert.createdAt > recovery.createdAt)
        continue;
      if (alert.kind === 'recovery') return false;
      if (!RECOVERED_KINDS.has(alert.kind)) continue;
      if (alert.status === 'SENT' || alert.foldedInto || alert.status === 'PENDING') return true;
      if (alert.status === 'FAILED') return true; // being retried: people may yet hear of it
    }
    return false;
  }

  /** Inside another alert's window: add to that window's digest; the digest's first fold queues it for the window's end. */
  private async fold(
    record: AlertRecord,
    window: SilenceWindow,
    now: number,
    emails: readonly string[],
    redelivered: boolean,
    log: Logger,
  ): Promise<NotifyResult> {
    const digestId = digestIdFor(window);
    const { created } = await this.deps.alerts.fold(
      {
        alertId: digestId,
        kind: window.kind,
        jobId: record.jobId,
        message: `digest of ${window.kind} alerts between ${isoSeconds(window.openedAt)} and ${isoSeconds(window.endsAt)}`,
        createdAt: now,
        updatedAt: now,
        status: 'PENDING',
        attempts: 0,
        recipients: [],
        digest: { windowStart: window.openedAt, windowEnd: window.endsAt, count: 0, entries: [] },
      },
      {
        alertId: record.alertId,
        ...(record.runId ? { runId: record.runId } : {}),
        // A recovery folded among failures says so.
        message: (record.kind === window.kind ? record.message : `${record.kind}: ${record.message}`).slice(
          0,
          500,
        ),
        createdAt: record.createdAt,
      },
    );
    // A redelivered alert may have folded before and crashed before queuing: queue again (duplicates are harmless).
    if (created || redelivered) {
      await this.deps.queue.send(
        { alertId: digestId },
        { delaySeconds: Math.ceil((window.endsAt - now) / 1000) },
      );
    }
    await this.deps.alerts.update(record.alertId, {
      from: ['PENDING', 'FAILED'],
      status: 'SUPPRESSED',
      at: now,
      reason: `silence window until ${isoSeconds(window.endsAt)}: folded into digest ${digestId}`,
      recipients: emails,
      foldedInto: digestId,
    });
    log.log('info', 'alert folded into digest', { digestId });
    return { outcome: 'folded', retry: false };
  }

  private async processDigest(digest: AlertRecord, now: number, log: Logger): Promise<NotifyResult> {
    const windowEnd = digest.digest?.windowEnd ?? now;
    if (now < windowEnd) {
      // SQS delays at most 15 minutes: queue it again for the rest of the window.
      await this.deps.queue.send(
        { alertId: digest.alertId },
        { delaySeconds: Math.ceil((windowEnd - now) / 1000) },
      );
      return { outcome: 'deferred', retry: false };
    }
    // Judged when it is due, not while it collects: a silence or an acknowledgement at the window's end decides.
    const held = await this.held(digest, now, log);
    if (held) return held;
    const job = await this.deps.jobs.get(digest.jobId);
    const recipients = await this.deps.contacts.recipientsFor(job?.spec ?? null, digest.kind);
    if (recipients.emails.length === 0) {
      await this.suppress(digest, now, 'no recipients for this alert kind');
      return { outcome: 'suppressed', retry: false };
    }
    return this.send(digest, recipients, renderDigestMail(digest, this.deps.config.consoleUrl), now, log, '');
  }

  /**
   * Mails the recipients and posts to their channels. Each target is done once: a redelivery after a
   * partial failure skips the mail when `messageId` shows it went out and channels already SENT.
   */
  private async send(
    record: AlertRecord,
    recipients: Pick<Recipients, 'emails' | 'channels'>,
    mail: RenderedMail,
    now: number,
    log: Logger,
    note: string,
  ): Promise<NotifyResult> {
    const attempts = record.attempts + 1;
    const emails = recipients.emails;
    let messageId = record.messageId;
    let mailError: unknown;
    if (messageId === undefined) {
      try {
        const ids: string[] = [];
        for (let i = 0; i < emails.length; i += SES_MAX_RECIPIENTS) {
          const to = emails.slice(i, i + SES_MAX_RECIPIENTS);
          ids.push((await this.deps.mailer.send({ from: this.deps.config.from, to, ...mail })).messageId);
        }
        messageId = ids.join(',');
      } catch (error) {
        mailError = error;
      }
    }
    const deliveries = await Promise.all(recipients.channels.map((target) => this.post(target, record)));
    const failedChannels = deliveries.filter((d) => d.status === 'FAILED');
    const channelFields = deliveries.length > 0 ? { deliveries } : {};
    if (mailError === undefined && failedChannels.length === 0) {
      await this.deps.alerts.update(record.alertId, {
        from: ['PENDING', 'FAILED'],
        status: 'SENT',
        at: now,
        attempts,
        recipients: emails,
        ...(messageId === undefined ? {} : { messageId }),
        sentAt: now,
        ...channelFields,
        ...(note ? { reason: note } : {}),
      });
      log.log('info', 'alert sent', { recipients: emails.length, channels: deliveries.length, attempts });
      return { outcome: 'sent', retry: false };
    }
    const causes = [
      ...(mailError === undefined
        ? []
        : [mailError instanceof Error ? mailError.message : String(mailError)]),
      ...failedChannels.map(deliveryFailure),
    ].join('; ');
    const giveUp = attempts >= this.maxAttempts;
    const reason = giveUp ? `gave up after ${attempts} attempts: ${causes}` : causes;
    await this.deps.alerts.update(record.alertId, {
      from: ['PENDING', 'FAILED'],
      status: 'FAILED',
      at: now,
      attempts,
      recipients: emails,
      reason: reason.slice(0, 2048),
      ...(messageId === undefined ? {} : { messageId }),
      ...channelFields,
    });
    const retryable =
      mailError instanceof CloverError && failedChannels.length === 0 ? mailError.retryable : true;
    log.log(
      giveUp ? 'error' : 'warn',
      giveUp ? 'alert delivery failed for good' : 'alert delivery failed; will retry',
      {
        attempts,
        retryable,
        ...(mailError === undefined ? {} : { error: mailError }),
        failedChannels: failedChannels.map(deliveryFailure),
      },
    );
    return { outcome: giveUp ? 'gave_up' : 'failed', retry: !giveUp, reason };
  }

  /** One channel: skipped when an earlier attempt already delivered it. */
  private async post(target: ChannelTarget, record: AlertRecord) {
    const previous = record.deliveries?.find(
      (d) => d.contactId === target.contactId && d.channel === target.channel.name,
    );
    if (previous?.status === 'SENT') return previous;
    const sender = this.deps.channels ?? noChannelSender;
    return deliverToChannel(target, record, previous, {
      sender,
      clock: this.deps.clock,
      consoleUrl: this.deps.config.consoleUrl,
      ...(this.deps.config.channelTries === undefined ? {} : { tries: this.deps.config.channelTries }),
      ...(this.deps.config.channelBackoffMs === undefined
        ? {}
        : { backoffMs: this.deps.config.channelBackoffMs }),
      ...(this.deps.sleep ? { sleep: this.deps.sleep } : {}),
    });
  }

  private async suppress(record: AlertRecord, now: number, reason: string): Promise<void> {
    await this.deps.alerts.update(record.alertId, {
      from: ['PENDING', 'FAILED'],
      status: 'SUPPRESSED',
      at: now,
      reason,
    });
  }
}

const noChannelSender: AlertChannelSender = {
  post: () =>
    Promise.reject(new CloverError('unavailable', 'this notifier has no channel sender configured')),
};

/** One digest per window: its id is derived from the window, so every fold in it finds the same record. */
export function digestIdFor(window: Pick<SilenceWindow, 'jobId' | 'kind' | 'openedAt'>): string {
  return `digest-${window.jobId}-${window.kind}-${window.openedAt}`;
}
