import { type RenderedMail, renderAlertMail, renderDigestMail } from './alert-mail';
import type { ContactService } from './contacts';
import { CloverError } from './errors';
import type { Logger } from './log';
import { type AlertKind, type AlertRecord, isFinalAlert, isoSeconds } from './model';
import type { AlertMessage, AlertQueue, AlertStore, Clock, JobStore, Mailer, SilenceWindow } from './ports';

export interface NotifierConfig {
  /** Verified SES sender, e.g. `clover@example.com`. */
  readonly from: string;
  /** Base URL of the console; run links are `${consoleUrl}/runs/${encodeURIComponent(runId)}`. */
  readonly consoleUrl: string;
  /** Silence window per job and alert kind. @default 900_000 (15 min, the longest SQS delay) */
  readonly windowMs?: number;
  /** Send attempts before an alert is left FAILED for good. @default 5 (the alerts queue's maxReceiveCount) */
  readonly maxAttempts?: number;
  /** Kinds mailed at once, never folded. @default ['recovery'] */
  readonly unwindowedKinds?: readonly AlertKind[];
}

export interface NotifierDeps {
  readonly alerts: AlertStore;
  readonly queue: AlertQueue;
  readonly contacts: ContactService;
  readonly jobs: JobStore;
  readonly mailer: Mailer;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: NotifierConfig;
}

export type NotifyOutcome =
  | 'sent'
  | 'suppressed'
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
    this.unwindowed = new Set(deps.config.unwindowedKinds ?? ['recovery']);
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
    if (!this.unwindowed.has(record.kind)) {
      const window = await this.deps.alerts.openWindow(
        record.jobId,
        record.kind,
        record.alertId,
        now,
        this.windowMs,
      );
      if (!window.opened)
        return this.fold(record, window, now, recipients.emails, options.redelivered ?? false, scoped);
    }
    return this.send(
      record,
      recipients.emails,
      renderAlertMail(record, this.deps.config.consoleUrl),
      now,
      scoped,
      unknown,
    );
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
        kind: record.kind,
        jobId: record.jobId,
        message: `digest of ${record.kind} alerts between ${isoSeconds(window.openedAt)} and ${isoSeconds(window.endsAt)}`,
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
        message: record.message.slice(0, 500),
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
    const job = await this.deps.jobs.get(digest.jobId);
    const recipients = await this.deps.contacts.recipientsFor(job?.spec ?? null, digest.kind);
    if (recipients.emails.length === 0) {
      await this.suppress(digest, now, 'no recipients for this alert kind');
      return { outcome: 'suppressed', retry: false };
    }
    return this.send(
      digest,
      recipients.emails,
      renderDigestMail(digest, this.deps.config.consoleUrl),
      now,
      log,
      '',
    );
  }

  private async send(
    record: AlertRecord,
    emails: readonly string[],
    mail: RenderedMail,
    now: number,
    log: Logger,
    note: string,
  ): Promise<NotifyResult> {
    const attempts = record.attempts + 1;
    try {
      const ids: string[] = [];
      for (let i = 0; i < emails.length; i += SES_MAX_RECIPIENTS) {
        const to = emails.slice(i, i + SES_MAX_RECIPIENTS);
        ids.push((await this.deps.mailer.send({ from: this.deps.config.from, to, ...mail })).messageId);
      }
      await this.deps.alerts.update(record.alertId, {
        from: ['PENDING', 'FAILED'],
        status: 'SENT',
        at: now,
        attempts,
        recipients: emails,
        messageId: ids.join(','),
        sentAt: now,
        ...(note ? { reason: note } : {}),
      });
      log.log('info', 'alert mailed', { recipients: emails.length, attempts });
      return { outcome: 'sent', retry: false };
    } catch (error) {
      const cause = error instanceof Error ? error.message : String(error);
      const giveUp = attempts >= this.maxAttempts;
      const reason = giveUp ? `gave up after ${attempts} attempts: ${cause}` : cause;
      await this.deps.alerts.update(record.alertId, {
        from: ['PENDING', 'FAILED'],
        status: 'FAILED',
        at: now,
        attempts,
        recipients: emails,
        reason: reason.slice(0, 2048),
      });
      const retryable = error instanceof CloverError ? error.retryable : true;
      log.log(
        giveUp ? 'error' : 'warn',
        giveUp ? 'alert mail failed for good' : 'alert mail failed; will retry',
        {
          attempts,
          retryable,
          error,
        },
      );
      return { outcome: giveUp ? 'gave_up' : 'failed', retry: !giveUp, reason };
    }
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

/** One digest per window: its id is derived from the window, so every fold in it finds the same record. */
export function digestIdFor(window: Pick<SilenceWindow, 'jobId' | 'kind' | 'openedAt'>): string {
  return `digest-${window.jobId}-${window.kind}-${window.openedAt}`;
}
