import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloverError, ValidationError } from '../../errors';
import type { Mailer, MailMessage } from '../../ports';
import { uniqueId } from './fixtures';

export interface MailerSubject {
  readonly mailer: Mailer;
  /** Verifies a sender identity (SES refuses unverified senders). */
  verify(address: string): Promise<void>;
  /** What the provider holds for a sent message, or undefined. */
  readBack(messageId: string): Promise<{ from: string; to: readonly string[]; subject: string } | undefined>;
}

/** The Mailer contract: an accepted message can be read back; refusals are typed and not retryable. */
export function mailerContract(name: string, makeSubject: () => Promise<MailerSubject>): void {
  describe(`Mailer contract: ${name}`, () => {
    it('sends from a verified sender, and the message can be read back', async () => {
      const subject = await makeSubject();
      const from = `${uniqueId('clover')}@example.com`;
      await subject.verify(from);
      const message: MailMessage = {
        from,
        to: ['ops@example.com', 'dev@example.com'],
        subject: `Job ${uniqueId('job')} failed`,
        text: 'It failed.',
        html: '<p>It failed.</p>',
      };
      const { messageId } = await subject.mailer.send(message);
      assert.ok(messageId);
      const stored = await subject.readBack(messageId);
      assert.deepEqual(stored, { from, to: message.to, subject: message.subject });
    });

    it('refuses an unverified sender with a non-retryable error', async () => {
      const subject = await makeSubject();
      const from = `${uniqueId('unverified')}@example.net`;
      await assert.rejects(
        subject.mailer.send({ from, to: ['ops@example.com'], subject: 's', text: 't' }),
        (error: unknown) => {
          assert.ok(error instanceof CloverError);
          assert.equal(error.code, 'validation_failed');
          assert.equal(error.retryable, false);
          return true;
        },
      );
    });

    it('refuses a message without recipients before sending', async () => {
      const subject = await makeSubject();
      await assert.rejects(
        subject.mailer.send({ from: 'a@example.com', to: [], subject: 's', text: 't' }),
        ValidationError,
      );
    });
  });
}
