/** SesMailer against the emulator, through the Mailer contract (sent mail read back from the emulator). */
import { VerifyEmailIdentityCommand } from '@aws-sdk/client-ses';
import { SesMailer } from '../../core/adapters/ses-mailer';
import { mailerContract } from '../../core/testing/contracts/mailer';
import { useEmulator } from '../harness';

const aws = useEmulator();

mailerContract('SES', async () => ({
  mailer: new SesMailer({ client: aws.clients.ses }),
  async verify(address) {
    await aws.clients.ses.send(new VerifyEmailIdentityCommand({ EmailAddress: address }));
  },
  async readBack(messageId) {
    const sent = (await aws.sentEmails()).find((m) => m.id === messageId);
    return sent && { from: sent.source, to: sent.to, subject: sent.subject };
  },
}));
