/**
 * Local mail you can read: the local runtime sends alert email through the emulator's SES like the
 * deployed notifier does, and then also writes each accepted message to `<dir>/<time>-<id>.eml`
 * and prints that path, so a user sees what their contacts would receive (any mail client opens
 * .eml files; they are plain text). The emulator keeps its own copy too (docs/emulators.md, SES).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../core/log';
import type { Mailer, MailMessage } from '../../core/ports';
import { PRIVATE_FILE_MODE, privateDir } from '../../core/private-files';

export interface OutboxOptions {
  /** Directory the .eml files go to (created on first mail). */
  readonly dir: string;
  readonly log: Logger;
  /** @default Date.now */
  readonly now?: () => number;
}

/** A Mailer that sends through `inner`, then keeps a readable copy of what was sent. */
export class OutboxMailer implements Mailer {
  private readonly now: () => number;

  constructor(
    private readonly inner: Mailer,
    private readonly options: OutboxOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async send(message: MailMessage): Promise<{ messageId: string }> {
    const sent = await this.inner.send(message);
    const at = new Date(this.now());
    const name = `${at.toISOString().replace(/[:.]/g, '-')}-${sent.messageId.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}.eml`;
    const path = join(this.options.dir, name);
    try {
      // Alerts name jobs, errors and contacts: owner-only, like the rest of .clover/.
      await privateDir(this.options.dir);
      await writeFile(path, toEml(message, sent.messageId, at), { mode: PRIVATE_FILE_MODE });
      this.options.log.log('info', `mail sent: ${message.subject}`, { to: message.to.join(','), file: path });
    } catch (error) {
      // The mail went out; only the local copy is missing. Say so, but do not fail the alert.
      this.options.log.log('warn', 'mail sent, but its local copy could not be written', { path, error });
    }
    return sent;
  }
}

/** The message as RFC 5322 text: text part, plus the HTML part as an alternative when there is one. */
export function toEml(message: MailMessage, messageId: string, at: Date): string {
  const headers = [
    `From: ${message.from}`,
    `To: ${message.to.join(', ')}`,
    `Subject: ${encodeHeader(message.subject)}`,
    `Date: ${at.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${messageId}@clover.local>`,
    'MIME-Version: 1.0',
  ];
  if (message.html === undefined) {
    return [
      ...headers,
      'Content-Type: text/plain; charset=UTF-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      message.text,
      '',
    ].join('\r\n');
  }
  const boundary = `clover-${messageId.replace(/[^A-Za-z0-9]/g, '').slice(0, 40)}`;
  return [
    ...headers,
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    message.text,
    `--${boundary}`,
    'Content-Type: text/html; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    message.html,
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** RFC 2047 encoded-word for non-ASCII subjects; ASCII passes as is. */
function encodeHeader(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  return /^[\x00-\x7f]*$/.test(value) ? value : `=?UTF-8?B?${Buffer.from(value).toString('base64')}?=`;
}
