/**
 * In-memory fakes of the alerting ports (AlertStore, AlertQueue, ContactStore, FireDeadLetters) for
 * unit tests. Same conditions and domain errors as the DynamoDB and SQS adapters; they pass the same
 * contract suites (core/testing/contracts/alert-store.ts, contact-store.ts).
 *
 * @example
 * const alerts = new MemoryAlertStore();
 * const queue = new MemoryAlertQueue();
 * const hook = new RecordingAlertHook({ alerts, queue, log: silentLogger });
 */
import { AlreadyAcknowledgedError, AlreadyExistsError, NotFoundError } from '../errors';
import {
  type Acknowledgement,
  type AlertKind,
  type AlertRecord,
  type Contact,
  type DigestEntry,
  MAX_DIGEST_ENTRIES,
  type Silence,
} from '../model';
import type {
  AlertMessage,
  AlertQueue,
  AlertStore,
  AlertUpdate,
  ContactStore,
  DeadLetteredFire,
  FireDeadLetters,
  SilenceWindow,
} from '../ports';
import { clone, copiesById, copyOf } from './memory-copies';

export class MemoryAlertStore implements AlertStore {
  readonly records = new Map<string, AlertRecord>();
  readonly windows = new Map<string, SilenceWindow>();
  readonly flags = new Map<string, Set<string>>();
  readonly silenceList = new Map<string, Silence>();

  async create(record: AlertRecord): Promise<void> {
    if (this.records.has(record.alertId)) throw new AlreadyExistsError('alert', record.alertId);
    this.records.set(record.alertId, clone(record));
  }

  async get(alertId: string): Promise<AlertRecord | null> {
    return copyOf(this.records, alertId);
  }

  async update(alertId: string, change: AlertUpdate): Promise<AlertRecord | null> {
    const record = this.records.get(alertId);
    if (!record) throw new NotFoundError('alert', alertId);
    if (!change.from.includes(record.status)) return null;
    const next: AlertRecord = { ...record, status: change.status, updatedAt: change.at };
    if (change.reason !== undefined) next.reason = change.reason;
    else if (change.status === 'SENT') delete next.reason;
    if (change.attempts !== undefined) next.attempts = change.attempts;
    if (change.recipients !== undefined) next.recipients = [...change.recipients];
    if (change.messageId !== undefined) next.messageId = change.messageId;
    if (change.sentAt !== undefined) next.sentAt = change.sentAt;
    if (change.foldedInto !== undefined) next.foldedInto = change.foldedInto;
    if (change.silencedBy !== undefined) next.silencedBy = change.silencedBy;
    if (change.deliveries !== undefined) next.deliveries = structuredClone([...change.deliveries]);
    this.records.set(alertId, next);
    return clone(next);
  }

  async listByJob(jobId: string, query: { readonly limit?: number } = {}): Promise<AlertRecord[]> {
    return [...this.records.values()]
      .filter((r) => r.jobId === jobId)
      .sort((a, b) => b.createdAt - a.createdAt || b.alertId.localeCompare(a.alertId))
      .slice(0, query.limit ?? 50)
      .map(clone);
  }

  async openWindow(
    jobId: string,
    kind: AlertKind,
    openedBy: string,
    now: number,
    windowMs: number,
  ): Promise<SilenceWindow & { readonly opened: boolean }> {
    const key = `${jobId}#${kind}`;
    const current = this.windows.get(key);
    if (current && current.endsAt > now) return { ...current, opened: current.openedBy === openedBy };
    const window: SilenceWindow = { jobId, kind, openedBy, openedAt: now, endsAt: now + windowMs };
    this.windows.set(key, window);
    return { ...window, opened: true };
  }

  async fold(template: AlertRecord, entry: DigestEntry): Promise<{ digest: AlertRecord; created: boolean }> {
    const existing = this.records.get(template.alertId);
    const digest = existing ?? {
      ...clone(template),
      digest: {
        windowStart: template.digest?.windowStart ?? template.createdAt,
        windowEnd: template.digest?.windowEnd ?? template.createdAt,
        count: 0,
        entries: [],
      },
    };
    const folded = digest.digest!;
    if (folded.entries.length < MAX_DIGEST_ENTRIES) folded.entries.push(clone(entry));
    folded.count += 1;
    this.records.set(template.alertId, digest);
    return { digest: clone(digest), created: !existing };
  }

  async flagged(condition: string): Promise<ReadonlySet<string>> {
    return new Set(this.flags.get(condition) ?? []);
  }

  async flag(condition: string, jobId: string): Promise<boolean> {
    const set = this.flags.get(condition) ?? new Set<string>();
    this.flags.set(condition, set);
    if (set.has(jobId)) return false;
    set.add(jobId);
    return true;
  }

  async unflag(condition: string, jobId: string): Promise<boolean> {
    return this.flags.get(condition)?.delete(jobId) ?? false;
  }

  async acknowledge(alertId: string, acknowledgement: Acknowledgement): Promise<AlertRecord> {
    const record = this.records.get(alertId);
    if (!record) throw new NotFoundError('alert', alertId);
    const taken = record.acknowledgement;
    if (taken) throw new AlreadyAcknowledgedError(alertId, taken.by, taken.at);
    const next = { ...record, acknowledgement: clone(acknowledgement) };
    this.records.set(alertId, next);
    return clone(next);
  }

  async silences(): Promise<Silence[]> {
    return [...this.silenceList.values()].map(clone);
  }

  async addSilence(silence: Silence, now: number): Promise<void> {
    for (const [id, s] of this.silenceList) if (s.endsAt <= now) this.silenceList.delete(id);
    if (this.silenceList.has(silence.silenceId)) throw new AlreadyExistsError('silence', silence.silenceId);
    this.silenceList.set(silence.silenceId, clone(silence));
  }

  async removeSilence(silenceId: string): Promise<boolean> {
    return this.silenceList.delete(silenceId);
  }
}

/** Records queued alert messages; `take()` hands over the ones whose delay has passed at `now`. */
export class MemoryAlertQueue implements AlertQueue {
  readonly messages: { message: AlertMessage; delaySeconds: number; sentAt: number }[] = [];

  constructor(private readonly clock: { now(): number } = { now: () => Date.now() }) {}

  async send(message: AlertMessage, options: { readonly delaySeconds?: number } = {}): Promise<void> {
    const delaySeconds = Math.max(0, Math.min(900, Math.ceil(options.delaySeconds ?? 0)));
    this.messages.push({ message: clone(message), delaySeconds, sentAt: this.clock.now() });
  }

  /** Removes and returns the messages visible at `now`. */
  take(now = this.clock.now()): AlertMessage[] {
    const due = this.messages.filter((m) => m.sentAt + m.delaySeconds * 1000 <= now);
    for (const m of due) this.messages.splice(this.messages.indexOf(m), 1);
    return due.map((m) => m.message);
  }
}

export class MemoryContactStore implements ContactStore {
  readonly contacts = new Map<string, Contact>();

  async get(contactId: string): Promise<Contact | null> {
    return copyOf(this.contacts, contactId);
  }

  async create(contact: Contact): Promise<void> {
    if (this.contacts.has(contact.contactId)) throw new AlreadyExistsError('contact', contact.contactId);
    this.contacts.set(contact.contactId, clone(contact));
  }

  async replace(contact: Contact): Promise<void> {
    if (!this.contacts.has(contact.contactId)) throw new NotFoundError('contact', contact.contactId);
    this.contacts.set(contact.contactId, clone(contact));
  }

  async delete(contactId: string): Promise<boolean> {
    return this.contacts.delete(contactId);
  }

  async list(): Promise<Contact[]> {
    return copiesById(this.contacts.values(), (contact) => contact.contactId);
  }
}

/** A scheduler dead-letter queue holding whatever bodies a test puts in it. */
export class MemoryFireDeadLetters implements FireDeadLetters {
  private readonly pending = new Map<string, unknown>();
  private n = 0;

  put(body: unknown): void {
    this.pending.set(`r${++this.n}`, clone(body));
  }

  private readonly inFlight = new Map<string, unknown>();

  /** Messages not yet acked, received or not. */
  get size(): number {
    return this.pending.size + this.inFlight.size;
  }

  /** Received messages stay hidden until acked (no visibility timeout is modelled). */
  async receive(max: number): Promise<DeadLetteredFire[]> {
    const taken = [...this.pending.entries()].slice(0, max);
    for (const [receipt, body] of taken) {
      this.pending.delete(receipt);
      this.inFlight.set(receipt, body);
    }
    return taken.map(([receipt, body]) => ({ receipt, body: clone(body) }));
  }

  async ack(receipt: string): Promise<void> {
    this.inFlight.delete(receipt);
  }
}
