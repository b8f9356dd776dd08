import { type ChannelTarget, newWebhookSecret } from './alert-channels';
import type { EndpointGuard } from './endpoints';
import { type FieldIssue, NotFoundError, ValidationError } from './errors';
import type { Logger } from './log';
import {
  type AlertKind,
  AlertKinds,
  type AudienceVia,
  type Channel,
  type Contact,
  ContactSpecSchema,
  type JobSpec,
  parseOrThrow,
} from './model';
import type { ContactStore } from './ports';

export interface ContactServiceDeps {
  readonly contacts: ContactStore;
  readonly log: Logger;
  /** Checks channel URLs (https, resolvable, no private or metadata addresses) before they are written. */
  readonly endpoints: EndpointGuard;
}

/** Who an alert goes to, and which contact ids a job names that do not exist (reported, not fatal). */
export interface Recipients {
  /** Distinct addresses (case-insensitively), sorted. */
  readonly emails: readonly string[];
  readonly contactIds: readonly string[];
  readonly unknownContactIds: readonly string[];
  /** The chosen contacts' webhook and chat channels, each URL once. */
  readonly channels: readonly ChannelTarget[];
}

/** One contact that hears of a job's alerts: why, and which kinds of them. */
export interface AudienceMember {
  readonly contact: Contact;
  readonly via: readonly AudienceVia[];
  /** In AlertKinds order. */
  readonly alertKinds: readonly AlertKind[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Webhook channels without a secret get a generated one (shown once, in the write's response). */
function withSecrets(contact: Contact): Contact {
  return {
    ...contact,
    channels: contact.channels.map((c) =>
      c.type === 'webhook' && c.secret === undefined ? { ...c, secret: newWebhookSecret() } : c,
    ),
  };
}

/**
 * A contact update's `channels`: a channel named like a stored one of the same type keeps the stored
 * URL and secret unless new ones are given; `rotateSecret: true` drops the secret (a new one is generated).
 */
function mergeChannels(current: readonly Channel[], changes: unknown): unknown {
  if (!Array.isArray(changes)) return changes;
  return changes.map((change: unknown) => {
    if (typeof change !== 'object' || change === null) return change;
    const { rotateSecret, ...rest } = change as Mutable<Record<string, unknown>>;
    const prior = current.find((c) => c.name === rest.name && c.type === rest.type);
    if (!prior) return rest;
    const merged: Record<string, unknown> = { ...rest, url: rest.url ?? prior.url };
    if (prior.type === 'webhook' && rest.secret === undefined && rotateSecret !== true && prior.secret) {
      merged.secret = prior.secret;
    }
    return merged;
  });
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

  /**
   * ValidationError naming each bad field (`email`, `contactId`, `channels.0.url`, ...); AlreadyExistsError
   * for a taken id. Webhook channels without a `secret` get a generated one (in the returned contact).
   */
  async create(input: unknown): Promise<Contact> {
    const contact = withSecrets(parseOrThrow(ContactSpecSchema, input));
    await this.checkEndpoints(contact.channels, []);
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
    const merged = { ...current, ...changes, contactId };
    if ('channels' in changes)
      merged.channels = mergeChannels(current.channels, changes.channels) as Channel[];
    const contact = withSecrets(parseOrThrow(ContactSpecSchema, merged));
    await this.checkEndpoints(contact.channels, current.channels);
    await this.deps.contacts.replace(contact);
    return contact;
  }

  /** New or changed channel URLs must pass the endpoint policy; unchanged ones are not resolved again. */
  private async checkEndpoints(channels: readonly Channel[], before: readonly Channel[]): Promise<void> {
    const known = new Set(before.map((c) => c.url));
    const issues: FieldIssue[] = [];
    await Promise.all(
      channels.map(async (channel, i) => {
        if (known.has(channel.url)) return;
        const reason = await this.deps.endpoints.refusal(channel.url);
        if (reason) issues.push({ field: `channels.${i}.url`, reason });
      }),
    );
    if (issues.length > 0) {
      throw new ValidationError(issues.sort((a, b) => a.field.localeCompare(b.field)));
    }
  }

  async delete(contactId: string): Promise<void> {
    if (!(await this.deps.contacts.delete(contactId))) throw new NotFoundError('contact', contactId);
    this.deps.log.log('info', 'contact deleted', { contactId });
  }

  /**
   * Everyone who may hear of `job`'s alerts: the contacts it names and the subscribers of its group
   * (each for the kinds the contact chose), and per-job or per-group subscriptions (each for its own
   * kinds); a contact reached several ways appears once, with every way and the union of the kinds.
   */
  async audienceOf(
    job: (Pick<JobSpec, 'contacts' | 'group'> & { readonly jobId?: string }) | null,
  ): Promise<{ members: AudienceMember[]; unknownContactIds: string[] }> {
    const ids = [...new Set(job?.contacts ?? [])];
    const named = await Promise.all(ids.map((id) => this.deps.contacts.get(id)));
    const unknownContactIds = ids.filter((_, i) => named[i] === null);
    const group = job?.group;
    const jobId = job?.jobId;
    const everyone = group || jobId ? await this.deps.contacts.list() : [];
    const found = new Map<string, { contact: Contact; via: Set<AudienceVia>; kinds: Set<AlertKind> }>();
    const add = (contact: Contact, via: AudienceVia, kinds: readonly AlertKind[]) => {
      const member = found.get(contact.contactId) ?? { contact, via: new Set(), kinds: new Set() };
      member.via.add(via);
      for (const kind of kinds) member.kinds.add(kind);
      found.set(contact.contactId, member);
    };
    for (const contact of named) if (contact) add(contact, 'contacts', contact.alertKinds);
    for (const contact of everyone) {
      if (group && contact.groups.includes(group)) add(contact, 'group', contact.alertKinds);
      for (const s of contact.subscriptions) {
        if (s.jobId !== undefined && s.jobId === jobId) add(contact, 'job-subscription', s.alertKinds);
        if (s.group !== undefined && s.group === group) add(contact, 'group-subscription', s.alertKinds);
      }
    }
    const members = [...found.values()].map(({ contact, via, kinds }) => ({
      contact,
      via: [...via],
      alertKinds: AlertKinds.filter((kind) => kinds.has(kind)),
    }));
    return { members, unknownContactIds };
  }

  /** The addresses and channels an alert of `kind` about `job` goes to, without duplicates (audienceOf). */
  async recipientsFor(
    job: (Pick<JobSpec, 'contacts' | 'group'> & { readonly jobId?: string }) | null,
    kind: AlertKind,
  ): Promise<Recipients> {
    const { members, unknownContactIds } = await this.audienceOf(job);
    const chosen = members.filter((m) => m.alertKinds.includes(kind)).map((m) => m.contact);
    const byAddress = new Map<string, string>();
    const byUrl = new Map<string, ChannelTarget>();
    const contactIds = new Set<string>();
    for (const contact of chosen) {
      contactIds.add(contact.contactId);
      const key = contact.email.toLowerCase();
      if (!byAddress.has(key)) byAddress.set(key, contact.email);
      for (const channel of contact.channels) {
        if (!byUrl.has(channel.url)) byUrl.set(channel.url, { contactId: contact.contactId, channel });
      }
    }
    return {
      emails: [...byAddress.values()].sort(),
      contactIds: [...contactIds].sort(),
      unknownContactIds,
      channels: [...byUrl.values()],
    };
  }
}
