/** What the emulator's SES "sent": the tests and `npm start` read it instead of a mailbox. */
import { CloverError } from '../../core/errors';
import type { Emulator } from './emulator-types';

export interface SentEmail {
  readonly id: string;
  readonly source: string;
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly bcc: readonly string[];
  readonly subject: string;
  /** moto keeps one body: the HTML part when there is one, else the text part. */
  readonly body: string;
}

/**
 * The email the emulator has "sent" through SES, oldest first: moto's `/moto-api/data.json`, or
 * LocalStack's `/_aws/ses`. AWS itself keeps no such record; this throws for kind `external`
 * unless the endpoint turns out to be one of the two.
 */
export async function readSentEmails(emulator: Pick<Emulator, 'endpoint' | 'kind'>): Promise<SentEmail[]> {
  const localstack = await fetch(`${emulator.endpoint}/_aws/ses`).catch(() => undefined);
  if (localstack?.ok) {
    const data = (await localstack.json()) as { messages?: LocalStackEmail[] };
    return (data.messages ?? []).map((m) => ({
      id: m.Id,
      source: m.Source,
      to: m.Destination?.ToAddresses ?? [],
      cc: m.Destination?.CcAddresses ?? [],
      bcc: m.Destination?.BccAddresses ?? [],
      subject: m.Subject ?? '',
      body: m.Body?.html_part || m.Body?.text_part || '',
    }));
  }
  await localstack?.body?.cancel();
  const moto = await fetch(`${emulator.endpoint}/moto-api/data.json`);
  if (!moto.ok) {
    throw new CloverError(
      'unavailable',
      `${emulator.endpoint} keeps no readable SES outbox (kind ${emulator.kind})`,
    );
  }
  const data = (await moto.json()) as { ses?: { Message?: MotoEmail[] } };
  return (data.ses?.Message ?? []).map((m) => ({
    id: m.id,
    source: m.source,
    to: m.destinations?.ToAddresses ?? [],
    cc: m.destinations?.CcAddresses ?? [],
    bcc: m.destinations?.BccAddresses ?? [],
    subject: m.subject ?? '',
    body: m.body ?? '',
  }));
}

interface Destinations {
  ToAddresses?: string[];
  CcAddresses?: string[];
  BccAddresses?: string[];
}
interface LocalStackEmail {
  Id: string;
  Source: string;
  Destination?: Destinations;
  Subject?: string;
  Body?: { text_part?: string; html_part?: string };
}
interface MotoEmail {
  id: string;
  source: string;
  destinations?: Destinations;
  subject?: string;
  body?: string;
}
