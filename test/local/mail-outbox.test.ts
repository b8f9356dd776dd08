/**
 * Local mail you can read: alert mail goes through the emulator's SES (as in AWS) and a readable .eml
 * copy of each accepted message lands in the outbox directory, its path printed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { VerifyEmailIdentityCommand } from '@aws-sdk/client-ses';
import { SesMailer } from '../../core/adapters/ses-mailer';
import { lineLogger } from '../../functions/local/lines';
import { OutboxMailer } from '../../functions/local/mail-outbox';
import { useEmulator } from '../harness';

const aws = useEmulator();

test('each mail is sent through SES and written as an .eml file whose path is printed', async () => {
  const from = `clover-${aws.prefix}@example.com`;
  await aws.clients.ses.send(new VerifyEmailIdentityCommand({ EmailAddress: from }));
  const dir = join(await mkdtemp(join(tmpdir(), 'clover-mail-')), 'mail');
  const lines: string[] = [];
  const mailer = new OutboxMailer(new SesMailer({ client: aws.clients.ses }), {
    dir,
    log: lineLogger((line) => lines.push(line)),
    now: () => Date.parse('2026-11-27T10:00:00Z'),
  });
  const subject = `[Clover] Job nightly-report failed ${aws.prefix} — täglich`;
  const { messageId } = await mailer.send({
    from,
    to: ['ops@example.com', 'lead@example.com'],
    subject,
    text: 'The run failed: disk full.\nOpen http://127.0.0.1:8080/runs/r1',
    html: '<p>The run failed: <b>disk full</b>.</p>',
  });

  const sent = (await aws.sentEmails()).filter((mail) => mail.subject === subject);
  assert.equal(sent.length, 1, 'the emulator accepted the message');
  assert.deepEqual(sent[0]?.to, ['ops@example.com', 'lead@example.com']);

  const files = await readdir(dir);
  assert.equal(files.length, 1);
  const [file] = files;
  assert.match(file ?? '', /^2026-11-27T10-00-00-000Z-[A-Za-z0-9]{1,12}\.eml$/);
  const eml = await readFile(join(dir, file ?? ''), 'utf8');
  assert.equal((await stat(dir)).mode & 0o777, 0o700, 'the outbox is owner-only');
  assert.equal((await stat(join(dir, file ?? ''))).mode & 0o777, 0o600, 'and so is each message');
  assert.match(eml, new RegExp(`^From: ${from}\r\n`));
  assert.match(eml, /\r\nTo: ops@example\.com, lead@example\.com\r\n/);
  assert.match(
    eml,
    /\r\nSubject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=\r\n/,
    'non-ASCII subject is RFC 2047 encoded',
  );
  const encoded = eml.match(/Subject: =\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=/)?.[1] ?? '';
  assert.equal(Buffer.from(encoded, 'base64').toString(), subject);
  assert.match(eml, new RegExp(`Message-ID: <${messageId}@clover\\.local>`));
  assert.match(eml, /Content-Type: multipart\/alternative; boundary="clover-[A-Za-z0-9]+"/);
  assert.match(
    eml,
    /Content-Type: text\/plain; charset=UTF-8\r\n.*\r\n\r\nThe run failed: disk full\.\nOpen http/s,
  );
  assert.match(
    eml,
    /Content-Type: text\/html; charset=UTF-8\r\n.*\r\n\r\n<p>The run failed: <b>disk full<\/b>\.<\/p>/s,
  );
  assert.ok(
    lines.some((line) => line.includes('mail sent: ') && line.includes(join(dir, file ?? ''))),
    `the path is printed: ${lines.join('\n')}`,
  );
});

test('a message SES refuses is not written (nothing was sent)', async () => {
  const dir = join(await mkdtemp(join(tmpdir(), 'clover-mail-')), 'mail');
  const mailer = new OutboxMailer(new SesMailer({ client: aws.clients.ses }), {
    dir,
    log: lineLogger(() => {}),
  });
  await assert.rejects(
    mailer.send({
      from: `unverified-${aws.prefix}@example.com`,
      to: ['ops@example.com'],
      subject: 'x',
      text: 'y',
    }),
    /SES rejected the message/,
  );
  await assert.rejects(readdir(dir), { code: 'ENOENT' });
});
