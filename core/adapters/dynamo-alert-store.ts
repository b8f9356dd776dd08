import { AlreadyAcknowledgedError, AlreadyExistsError, CloverError, NotFoundError } from '../errors';
import {
  type Acknowledgement,
  AcknowledgementSchema,
  type AlertKind,
  type AlertRecord,
  AlertRecordSchema,
  type DigestEntry,
  MAX_DIGEST_ENTRIES,
  type Silence,
  SilenceSchema,
} from '../model';
import { type AlertStore, type AlertUpdate, type Clock, type SilenceWindow, systemClock } from '../ports';
import {
  DAY_MS,
  DynamoTable,
  type DynamoTtlTableOptions,
  decodeItem,
  Expr,
  type Item,
  marshalItem,
  ttlSeconds,
  unmarshalItem,
  utcDay,
} from './dynamo-items';

/** Alert records are kept this long, then DynamoDB's TTL (`expiresAt`, epoch seconds) deletes them. */
export const ALERT_RETENTION_MS = 90 * DAY_MS;

/** `table`: the alerts table, key `alertId`, GSI `byJob` (jobId, createdAt) projecting ALL, TTL `expiresAt`. */
export interface DynamoAlertStoreOptions extends DynamoTtlTableOptions {
  /** @default 'byJob' */
  readonly byJobIndex?: string;
}

/**
 * Alerts in DynamoDB. Three kinds of item share the `alerts` table, told apart by key:
 * - an alert record per `alertId` (the model's fields; a digest's `digest` object is stored flat as
 *   `digestWindowStart`, `digestWindowEnd`, `digestCount`, `digestEntries`, so that folding can
 *   append and count in one UpdateItem);
 * - `window#<jobId>#<kind>`: a silence window (`openedBy`, `openedAt`, `endsAt`);
 * - `flags#<condition>`: a string set `jobs` of flagged job ids;
 * - `silences`: the operators' silences, a list `silences` written whole at a `version` (there are
 *   at most MAX_SILENCES, and the notifier reads them all with one GetItem per alert).
 * Windows, flags and silences carry neither `jobId` nor `createdAt`, so the sparse `byJob` and
 * `byDay` indexes never show them, and nothing acknowledges them as alerts.
 * Every state change is a conditional write.
 *
 * @example
 * const alerts = new DynamoAlertStore({ client: clients.dynamodb, table: physicalName(prefix, 'alerts') });
 */
export class DynamoAlertStore implements AlertStore {
  private readonly table: DynamoTable;
  private readonly byJob: string;
  private readonly clock: Clock;

  constructor(options: DynamoAlertStoreOptions) {
    this.table = new DynamoTable(options);
    this.byJob = options.byJobIndex ?? 'byJob';
    this.clock = options.clock ?? systemClock;
  }

  async create(record: AlertRecord): Promise<void> {
    const expr = new Expr();
    await this.table.put(
      {
        Item: this.encode(record),
        ConditionExpression: `attribute_not_exists(${expr.name('alertId')})`,
        ...expr.params(),
      },
      {
        conditionFailed: () => {
          throw new AlreadyExistsError('alert', record.alertId);
        },
      },
    );
  }

  async get(alertId: string): Promise<AlertRecord | null> {
    const item = await this.table.get(key(alertId));
    return item ? this.decode(item) : null;
  }

  async update(alertId: string, change: AlertUpdate): Promise<AlertRecord | null> {
    const expr = new Expr();
    const set: Record<string, unknown> = {
      status: change.status,
      updatedAt: change.at,
      reason: change.reason,
      attempts: change.attempts,
      recipients: change.recipients,
      messageId: change.messageId,
      sentAt: change.sentAt,
      foldedInto: change.foldedInto,
      silencedBy: change.silencedBy,
      deliveries: change.deliveries,
    };
    const assignments = Object.entries(set)
      .filter(([, value]) => value !== undefined)
      .map(([field, value]) => `${expr.name(field)} = ${expr.value(value)}`);
    const remove =
      change.status === 'SENT' && change.reason === undefined ? ` REMOVE ${expr.name('reason')}` : '';
    const statuses = change.from.map((s) => expr.value(s)).join(', ');
    const out = await this.table.update(
      {
        Key: key(alertId),
        UpdateExpression: `SET ${assignments.join(', ')}${remove}`,
        ConditionExpression: `attribute_exists(${expr.name('alertId')}) AND ${expr.name('status')} IN (${statuses})`,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...expr.params(),
      },
      {
        // The record exists but is in another status: not this caller's change to make.
        conditionFailed: (old) => {
          if (!old) throw new NotFoundError('alert', alertId);
          return null;
        },
      },
    );
    if (out === null) return null;
    if (!out.Attributes)
      throw new CloverError('internal', `table ${this.table.name}: update returned no item`);
    return this.decode(out.Attributes);
  }

  async listByJob(jobId: string, query: { readonly limit?: number } = {}): Promise<AlertRecord[]> {
    return this.table.readPages(
      (remaining) => {
        const expr = new Expr();
        return {
          query: {
            IndexName: this.byJob,
            KeyConditionExpression: `${expr.name('jobId')} = ${expr.value(jobId)}`,
            ScanIndexForward: false,
            Limit: remaining,
            ...expr.params(),
          },
        };
      },
      (item) => this.decode(item),
      { limit: query.limit ?? 50 },
    );
  }

  async openWindow(
    jobId: string,
    kind: AlertKind,
    openedBy: string,
    now: number,
    windowMs: number,
  ): Promise<SilenceWindow & { readonly opened: boolean }> {
    const expr = new Expr();
    const endsAt = now + windowMs;
    const fields = { openedBy, openedAt: now, endsAt, expiresAt: ttlSeconds(endsAt + DAY_MS) };
    const assignments = Object.entries(fields).map(([f, v]) => `${expr.name(f)} = ${expr.value(v)}`);
    const out = await this.table.update(
      {
        Key: key(windowKey(jobId, kind)),
        UpdateExpression: `SET ${assignments.join(', ')}`,
        ConditionExpression: `attribute_not_exists(${expr.name('alertId')}) OR ${expr.name('endsAt')} <= ${expr.value(now)}`,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...expr.params(),
      },
      // A window is still open: the caller gets that one (opened by it only if it opened it before).
      { conditionFailed: (old) => ({ openWindow: old ? unmarshalItem(old) : {} }) },
    );
    if (!('openWindow' in out)) return { jobId, kind, openedBy, openedAt: now, endsAt, opened: true };
    const raw = out.openWindow;
    const window: SilenceWindow = {
      jobId,
      kind,
      openedBy: String(raw.openedBy),
      openedAt: Number(raw.openedAt),
      endsAt: Number(raw.endsAt),
    };
    return { ...window, opened: window.openedBy === openedBy };
  }

  async fold(template: AlertRecord, entry: DigestEntry): Promise<{ digest: AlertRecord; created: boolean }> {
    const append = await this.foldOnce(template, entry, true);
    const item = append ?? (await this.foldOnce(template, entry, false));
    if (!item) throw new CloverError('internal', `table ${this.table.name}: fold returned no item`);
    const digest = this.decode(item);
    return { digest, created: digest.digest?.count === 1 };
  }

  async flagged(condition: string): Promise<ReadonlySet<string>> {
    const item = await this.table.get(key(flagsKey(condition)));
    return new Set(item?.jobs?.SS ?? []);
  }

  flag(condition: string, jobId: string): Promise<boolean> {
    return this.changeFlag(condition, jobId, 'ADD');
  }

  unflag(condition: string, jobId: string): Promise<boolean> {
    return this.changeFlag(condition, jobId, 'DELETE');
  }

  async acknowledge(alertId: string, acknowledgement: Acknowledgement): Promise<AlertRecord> {
    const expr = new Expr();
    const ack = expr.name('acknowledgement');
    const out = await this.table.update(
      {
        Key: key(alertId),
        UpdateExpression: `SET ${ack} = ${expr.value(acknowledgement)}`,
        ConditionExpression: `attribute_exists(${expr.name('createdAt')}) AND attribute_not_exists(${ack})`,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...expr.params(),
      },
      {
        conditionFailed: (old) => {
          // Windows, flags and silences share the table but are no alerts: not found either.
          if (!old?.createdAt) throw new NotFoundError('alert', alertId);
          const taken = AcknowledgementSchema.parse(unmarshalItem(old).acknowledgement);
          throw new AlreadyAcknowledgedError(alertId, taken.by, taken.at);
        },
      },
    );
    if (!out.Attributes)
      throw new CloverError('internal', `table ${this.table.name}: update returned no item`);
    return this.decode(out.Attributes);
  }

  async silences(): Promise<Silence[]> {
    return (await this.readSilences()).list;
  }

  async addSilence(silence: Silence, now: number): Promise<void> {
    await this.writeSilences((list) => {
      if (list.some((s) => s.silenceId === silence.silenceId))
        throw new AlreadyExistsError('silence', silence.silenceId);
      return [...list.filter((s) => s.endsAt > now), silence];
    });
  }

  async removeSilence(silenceId: string): Promise<boolean> {
    const removed = await this.writeSilences((list) =>
      list.some((s) => s.silenceId === silenceId) ? list.filter((s) => s.silenceId !== silenceId) : null,
    );
    return removed;
  }

  private async readSilences(): Promise<{ list: Silence[]; version: number }> {
    const item = await this.table.get(key(SILENCES_KEY));
    if (!item) return { list: [], version: 0 };
    const raw = unmarshalItem(item);
    return {
      list: SilenceSchema.array().parse(raw.silences ?? []),
      version: Number(raw.version ?? 0),
    };
  }

  /**
   * Read, change, write back at the version read; a concurrent writer makes the write fail and it
   * is done again on what that writer left. `change` answers null to write nothing (false).
   */
  private async writeSilences(change: (list: Silence[]) => Silence[] | null): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { list, version } = await this.readSilences();
      const next = change(list);
      if (next === null) return false;
      const expr = new Expr();
      const written = await this.table.put(
        {
          Item: marshalItem({ alertId: SILENCES_KEY, silences: next, version: version + 1 }),
          ConditionExpression:
            version === 0
              ? `attribute_not_exists(${expr.name('alertId')})`
              : `${expr.name('version')} = ${expr.value(version)}`,
          ...expr.params(),
        },
        { conditionFailed: () => null },
      );
      if (written !== null) return true;
    }
    throw new CloverError('unavailable', `table ${this.table.name}: silences changed by others; try again`, {
      retryable: true,
    });
  }

  /**
   * Adds `jobId` to, or deletes it from, the condition's string set `jobs`; the condition makes the
   * write fail (false) when the set already is as asked, so only one caller sees the change.
   */
  private async changeFlag(condition: string, jobId: string, action: 'ADD' | 'DELETE'): Promise<boolean> {
    const expr = new Expr();
    const jobs = expr.name('jobs');
    // A string set, which Expr.value cannot make: it stores arrays as lists.
    expr.values[':set'] = { SS: [jobId] };
    const one = expr.value(jobId);
    return this.table.updateIf({
      Key: key(flagsKey(condition)),
      UpdateExpression: `${action} ${jobs} :set`,
      ConditionExpression:
        action === 'ADD'
          ? `attribute_not_exists(${jobs}) OR NOT contains(${jobs}, ${one})`
          : `contains(${jobs}, ${one})`,
      ...expr.params(),
    });
  }

  /** One UpdateItem: create the digest's fields if absent, count the entry, and (when `keep`) append it. */
  private async foldOnce(
    template: AlertRecord,
    entry: DigestEntry,
    keep: boolean,
  ): Promise<Item | undefined> {
    const expr = new Expr();
    const { alertId: _id, ...fields } = this.encodeFields(template);
    const initial = Object.entries(fields).map(
      ([field, value]) => `${expr.name(field)} = if_not_exists(${expr.name(field)}, ${expr.value(value)})`,
    );
    const entries = expr.name('digestEntries');
    const sets = [...initial];
    if (keep)
      sets.push(
        `${entries} = list_append(if_not_exists(${entries}, ${expr.value([])}), ${expr.value([entry])})`,
      );
    else sets.push(`${entries} = if_not_exists(${entries}, ${expr.value([])})`);
    const condition = keep
      ? `attribute_not_exists(${entries}) OR size(${entries}) < ${expr.value(MAX_DIGEST_ENTRIES)}`
      : undefined;
    const out = await this.table.update(
      {
        Key: key(template.alertId),
        UpdateExpression: `SET ${sets.join(', ')} ADD ${expr.name('digestCount')} ${expr.value(1)}`,
        ...(condition ? { ConditionExpression: condition } : {}),
        ReturnValues: 'ALL_NEW',
        ...expr.params(),
      },
      // The digest is full: the caller folds again without keeping the entry.
      { conditionFailed: () => undefined },
    );
    return out?.Attributes;
  }

  /** The record's attributes, the digest flattened, plus the TTL. */
  private encodeFields(record: AlertRecord): Record<string, unknown> {
    const { digest, ...rest } = record;
    return {
      ...rest,
      ...(digest
        ? {
            digestWindowStart: digest.windowStart,
            digestWindowEnd: digest.windowEnd,
          }
        : {}),
      expiresAt: ttlSeconds(Math.max(record.createdAt, this.clock.now()) + ALERT_RETENTION_MS),
      // The `byDay` index's partition (the API's alert list across jobs).
      day: utcDay(record.createdAt),
    };
  }

  private encode(record: AlertRecord): Item {
    const fields = this.encodeFields(record);
    if (record.digest) {
      fields.digestCount = record.digest.count;
      fields.digestEntries = record.digest.entries;
    }
    return marshalItem(fields);
  }

  /** @internal The API's paged reads (dynamo-api-reads.ts) decode with it too. */
  decode(item: Item): AlertRecord {
    return decodeItem(AlertRecordSchema, item, this.table.name, (raw) => {
      const {
        expiresAt: _ttl,
        digestWindowStart,
        digestWindowEnd,
        digestCount,
        digestEntries,
        day: _day,
        ...rest
      } = raw;
      if (digestWindowStart === undefined) return rest;
      return {
        ...rest,
        digest: {
          windowStart: digestWindowStart,
          windowEnd: digestWindowEnd,
          count: digestCount ?? 0,
          entries: digestEntries ?? [],
        },
      };
    });
  }
}

function key(alertId: string): Item {
  return { alertId: { S: alertId } };
}

const SILENCES_KEY = 'silences';

function windowKey(jobId: string, kind: AlertKind): string {
  return `window#${jobId}#${kind}`;
}

function flagsKey(condition: string): string {
  return `flags#${condition}`;
}
