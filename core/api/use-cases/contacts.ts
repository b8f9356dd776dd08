import { type Contact, type ContactView, contactView } from '../../model';
import { decodeCursor, encodeCursor } from '../cursor';
import type { Page } from '../schemas';
import { type PageInput, type Principal, UseCases } from './shared';

/** The people alerts go to, and their channels. */
export class ContactUseCases extends UseCases {
  async list(query: PageInput): Promise<Page<ContactView>> {
    // Contacts are people: a small table read whole, then paged by id.
    const all = (await this.deps.contacts.list()).sort((a, b) => a.contactId.localeCompare(b.contactId));
    const key = { list: 'contacts' };
    const after = query.cursor ? String(decodeCursor(query.cursor, key).position.key?.contactId ?? '') : '';
    const rest = all.filter((c) => c.contactId > after);
    const items = rest.slice(0, query.limit);
    const last = items.at(-1);
    return {
      items: items.map((c) => contactView(c)),
      ...(rest.length > items.length && last
        ? { nextCursor: encodeCursor(key, { segment: 'all', key: { contactId: last.contactId } }) }
        : {}),
    };
  }

  /** The response shows each webhook secret once (generated or given); reads and the audit trail never do. */
  async create(principal: Principal, contact: unknown): Promise<ContactView> {
    const created = await this.deps.contacts.create(contact);
    await this.record(
      principal,
      'contact.create',
      `contact:${created.contactId}`,
      undefined,
      contactView(created),
    );
    return contactView(created, newSecrets(created));
  }

  async get(contactId: string): Promise<ContactView> {
    return contactView(await this.deps.contacts.get(contactId));
  }

  /** The response shows a webhook secret this update generated, rotated or set. */
  async update(
    principal: Principal,
    contactId: string,
    changes: Record<string, unknown>,
  ): Promise<ContactView> {
    const before = await this.deps.contacts.get(contactId);
    const after = await this.deps.contacts.update(contactId, changes);
    await this.record(
      principal,
      'contact.update',
      `contact:${contactId}`,
      contactView(before),
      contactView(after),
    );
    return contactView(after, newSecrets(after, before));
  }

  async delete(principal: Principal, contactId: string): Promise<void> {
    const before = await this.deps.contacts.get(contactId);
    await this.deps.contacts.delete(contactId);
    await this.record(principal, 'contact.delete', `contact:${contactId}`, contactView(before), undefined);
  }
}

/** Webhook secrets of `after` that `before` did not have: shown once, in the write's response. */
function newSecrets(after: Contact, before?: Contact): Map<string, string> {
  const old = new Set(before?.channels.flatMap((c) => (c.type === 'webhook' && c.secret ? [c.secret] : [])));
  return new Map(
    after.channels.flatMap((c) =>
      c.type === 'webhook' && c.secret && !old.has(c.secret) ? [[c.name, c.secret]] : [],
    ),
  );
}
