import { NotFoundError } from './errors';
import type { Logger } from './log';
import { type AlertKind, type Contact, ContactSpecSchema, type JobSpec, parseOrThrow } from './model';
import type { ContactStore } from './ports';

export interface ContactServiceDeps {
  readonly contacts: ContactStore;
  readonly log: Logger;
}

/** Who an alert goes to, and which contact ids a job names that do not exist (reported, not fatal). */
export interface Recipients {
  /** Distinct addresses (case-insensitively), sorted. */
  readonly emails: readonly string[];
  readonly contactIds: readonly string[];
  readonly unknownContactIds: readonly string[];
}

/**
 * Contacts: people to alert, attached to jobs (a job's `contacts` names their ids) or subscribed to
 * job groups, each choosing the alert kinds it wants. Jobs may name contacts that do not exist yet:
 * ids are checked when an alert is sent, and unknown ones are recorded on the alert.
 *
 * @example
 * const contacts = new ContactService({ contacts: store, log });
 * await contacts.create({ contactId: 'ops', name: 'Ops', email: 'ops@example.com', groups: ['billing'] });
 */
export class ContactService {
  constructor(private readonly deps: ContactServiceDeps) {}

  /** ValidationError naming each bad field (`email`, `contactId`, ...); AlreadyExistsError for a taken id. */
  async create(input: unknown): Promise<Contact> {
    const contact = parseOrThrow(ContactSpecSchema, input);
    await this.deps.contacts.create(contact);
    this.deps.log.log('info', 'contact created', { contactId: contact.contactId });
    return contact;
  }

  async get(contactId: string): Promise<Contact> {
    const contact = await this.deps.contacts.get(contactId);
    if (!contact) throw new NotFoundError('contact', contactId);
    return contact;
  }

  list(): Promise<Contact[]> {
    return this.deps.contacts.list();
  }

  /** Replaces the fields given; the id cannot change. NotFoundError for an unknown id, ValidationError for bad fields. */
  async update(contactId: string, changes: Readonly<Record<string, unknown>>): Promise<Contact> {
    const current = await this.get(contactId);
    const contact = parseOrThrow(ContactSpecSchema, { ...current, ...changes, contactId });
    await this.deps.contacts.replace(contact);
    return contact;
  }

  async delete(contactId: string): Promise<void> {
    if (!(await this.deps.contacts.delete(contactId))) throw new NotFoundError('contact', contactId);
    this.deps.log.log('info', 'contact deleted', { contactId });
  }

  /**
   * The addresses an alert of `kind` about `job` goes to: the job's contacts plus the subscribers of
   * its group, each only if it chose `kind`, without duplicates.
   */
  async recipientsFor(
    job: (Pick<JobSpec, 'contacts' | 'group'> & { readonly jobId?: string }) | null,
    kind: AlertKind,
  ): Promise<Recipients> {
    const ids = [...new Set(job?.contacts ?? [])];
    const named = await Promise.all(ids.map((id) => this.deps.contacts.get(id)));
    const unknownContactIds = ids.filter((_, i) => named[i] === null);
    const group = job?.group;
    const jobId = job?.jobId;
    // Subscriptions (per job or per group) carry their own alert kinds; `groups` uses the contact's.
    const everyone = group || jobId ? await this.deps.contacts.list() : [];
    const groupSubscribers = group ? everyone.filter((c) => c.groups.includes(group)) : [];
    const subscribed = everyone.filter((c) =>
      c.subscriptions.some(
        (s) =>
          ((s.jobId !== undefined && s.jobId === jobId) || (s.group !== undefined && s.group === group)) &&
          s.alertKinds.includes(kind),
      ),
    );
    const chosen = [
      ...[...named, ...groupSubscribers].filter((c): c is Contact => c?.alertKinds.includes(kind) === true),
      ...subscribed,
    ];
    const byAddress = new Map<string, string>();
    const contactIds = new Set<string>();
    for (const contact of chosen) {
      contactIds.add(contact.contactId);
      const key = contact.email.toLowerCase();
      if (!byAddress.has(key)) byAddress.set(key, contact.email);
    }
    return {
      emails: [...byAddress.values()].sort(),
      contactIds: [...contactIds].sort(),
      unknownContactIds,
    };
  }
}
