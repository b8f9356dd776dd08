import { CloverError, type FieldIssue, ValidationError } from '../errors';
import type { Mailer, MailMessage } from '../ports';
import { clone } from './memory-copies';

export const MEMORY_MAX_RECIPIENTS = 50;

/** Records sent mail; `rejectFrom` names senders that are refused like an unverified SES identity. */
export class MemoryMailer implements Mailer {
  readonly sent: (MailMessage & { readonly messageId: string })[] = [];
  readonly verified = new Set<string>();
  private n = 0;

  /** Senders must be verified first, as with SES; with `requireVerified: false` anyone may send. */
  constructor(private readonly options: { readonly requireVerified?: boolean } = {}) {}

  async send(message: MailMessage): Promise<{ messageId: string }> {
    const issues: FieldIssue[] = [];
    if (!message.from.trim()) issues.push({ field: 'from', reason: 'is required' });
    if (message.to.length === 0) issues.push({ field: 'to', reason: 'needs at least one recipient' });
    if (message.to.length > MEMORY_MAX_RECIPIENTS) {
      issues.push({
        field: 'to',
        reason: `has ${message.to.length} recipients; SES allows ${MEMORY_MAX_RECIPIENTS}`,
      });
    }
    if (/[\r\n]/.test(message.subject)) issues.push({ field: 'subject', reason: 'must be one line' });
    if (issues.length) throw new ValidationError(issues);
    if (this.options.requireVerified !== false && !this.verified.has(message.from)) {
      throw new CloverError(
        'validation_failed',
        `SES rejected the message: Email address not verified ${message.from}`,
        {
          details: { sesError: 'MessageRejected', from: message.from },
        },
      );
    }
    const messageId = `memory-${++this.n}`;
    this.sent.push({ ...clone(message), messageId });
    return { messageId };
  }
}
