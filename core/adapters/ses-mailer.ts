import { type SESClient, SendEmailCommand } from '@aws-sdk/client-ses';
import { CloverError, type FieldIssue, UnavailableError, ValidationError } from '../errors';
import type { Mailer, MailMessage } from '../ports';
import { awsFailure, errorName } from './aws-errors';

/** SES accepts at most 50 recipients a message. */
export const MAX_RECIPIENTS = 50;

/**
 * SES refusals that no retry of the same message can fix: the sender or its domain is not verified
 * (or, in the SES sandbox, a recipient is not), the content was rejected, the configuration set is
 * missing. They become a non-retryable `validation_failed` CloverError so the notifier records the
 * alert as undeliverable instead of retrying it.
 */
const REJECTIONS = new Set([
  'MessageRejected',
  'MailFromDomainNotVerifiedException',
  'MailFromDomainNotVerified',
  'ConfigurationSetDoesNotExistException',
  'ConfigurationSetDoesNotExist',
]);

/**
 * Sending paused for the account or configuration set: an operator can resume it, so these are a
 * retryable {@link UnavailableError}, like throttling ("Maximum sending rate exceeded").
 */
const PAUSED = new Set(['AccountSendingPausedException', 'ConfigurationSetSendingPausedException']);

export interface SesMailerOptions {
  readonly client: SESClient;
  /** SES configuration set to send with (event publishing, suppression). */
  readonly configurationSet?: string;
}

/**
 * Email through SES SendEmail (one request a message, UTF-8 subject and bodies).
 *
 * @example
 * const mailer = new SesMailer({ client: clients.ses });
 * await mailer.send({ from: 'clover@example.com', to: ['ops@example.com'], subject: 'Job failed', text: '...' });
 */
export class SesMailer implements Mailer {
  private readonly client: SESClient;
  private readonly configurationSet: string | undefined;

  constructor(options: SesMailerOptions) {
    this.client = options.client;
    this.configurationSet = options.configurationSet;
  }

  async send(message: MailMessage): Promise<{ messageId: string }> {
    validate(message);
    try {
      const out = await this.client.send(
        new SendEmailCommand({
          Source: message.from,
          Destination: { ToAddresses: [...message.to] },
          Message: {
            Subject: { Data: message.subject, Charset: 'UTF-8' },
            Body: {
              Text: { Data: message.text, Charset: 'UTF-8' },
              ...(message.html === undefined ? {} : { Html: { Data: message.html, Charset: 'UTF-8' } }),
            },
          },
          ...(this.configurationSet ? { ConfigurationSetName: this.configurationSet } : {}),
        }),
      );
      if (!out.MessageId) throw new CloverError('internal', 'SES SendEmail returned no message id');
      return { messageId: out.MessageId };
    } catch (error) {
      const name = errorName(error) ?? '';
      const reason = error instanceof Error ? error.message : String(error);
      if (REJECTIONS.has(name)) {
        throw new CloverError('validation_failed', `SES rejected the message: ${reason}`, {
          cause: error,
          details: { sesError: name, from: message.from },
        });
      }
      if (PAUSED.has(name)) throw new UnavailableError(`SES sending (${name})`, error);
      throw awsFailure('SES', error);
    }
  }
}

function validate(message: MailMessage): void {
  const issues: FieldIssue[] = [];
  if (!message.from.trim()) issues.push({ field: 'from', reason: 'is required' });
  if (message.to.length === 0) issues.push({ field: 'to', reason: 'needs at least one recipient' });
  if (message.to.length > MAX_RECIPIENTS) {
    issues.push({ field: 'to', reason: `has ${message.to.length} recipients; SES allows ${MAX_RECIPIENTS}` });
  }
  if (/[\r\n]/.test(message.subject)) issues.push({ field: 'subject', reason: 'must be one line' });
  if (issues.length) throw new ValidationError(issues);
}
