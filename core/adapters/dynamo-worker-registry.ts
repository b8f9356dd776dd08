import { CloverError, LeaseLostError } from '../errors';
import { type Worker, type WorkerRegistration, WorkerSchema } from '../model';
import { type Clock, systemClock, type WorkerRegistry } from '../ports';
import {
  DAY_MS,
  type DynamoFailureHandlers,
  DynamoTable,
  type DynamoTtlTableOptions,
  decodeItem,
  Expr,
  type Item,
  marshalItem,
  type PageRequest,
  ttlSeconds,
  unmarshalItem,
} from './dynamo-items';

/** A worker's items linger this long after its lease ended (`ttl`, epoch seconds): GONE workers vanish after a day. */
export const WORKER_RETENTION_MS = DAY_MS;

/** What a lease item holds besides `workerId` and `ttl`: all a renewal, a drain or an expiry changes. */
const LEASE_FIELDS = [
  'status',
  'leaseFence',
  'leaseExpiresAt',
  'heartbeatAt',
  'registeredAt',
  'load',
] as const;

/**
 * `table`: the workers table (profiles), key `workerId`, GSI `byPool` (pool, workerId) projecting ALL,
 * TTL `ttl`. `leasesTable`: the leases table, key `workerId`, no index, TTL `ttl`.
 */
export interface DynamoWorkerRegistryOptions extends DynamoTtlTableOptions {
  readonly leasesTable: string;
  /** @default 'byPool' */
  readonly byPoolIndex?: string;
}

type Fields = Record<string, unknown>;

/**
 * Workers in DynamoDB as two items per worker id, so that a heartbeat costs one write unit:
 *
 * - the **profile** in `workers` — the registration (host, pool, handlers, labels, capacity,
 *   priority, endpoints, features) and the lease as it was registered —, written at registration and
 *   when the lease ends, and indexed by pool for the dispatcher;
 * - the **lease** in `leases` — {@link LEASE_FIELDS} and `ttl` —, one small item that no index
 *   copies: what a renewal, a drain and an expiry write.
 *
 * A worker is its profile with the fields of the lease of the same fence. `leaseFence` only grows:
 * a registration takes one above both items' fences and writes the lease first, then the profile,
 * each only over an older fence; every later lease write is conditional on it, so a process that
 * registered again (or a monitor that swept it) makes the older lease's writes fail with
 * {@link LeaseLostError}. A lease with a newer fence than its profile is a registration whose profile
 * is still being written: the worker is left out until it is.
 *
 * Migration (docs/deploy.md, "Upgrading"): an item written before the split holds profile and lease
 * in `workers`, renewed in place by an agent not yet upgraded. A profile with no lease item, or with
 * a newer fence than its lease item, is such an item and is read, drained and expired as before; a
 * registration of an upgraded agent writes the two items over it, and its higher fence in the
 * profile makes the old process's renewals fail. The other way round, an old agent registering over
 * an upgraded one's id is read from then on, but the upgraded process's renewals of its lease item
 * still succeed: never run two processes under one worker id. A profile whose lease item the
 * TTL removed reads the same way: long expired, so the monitor expires it (status GONE and a TTL).
 *
 * @example
 * const workers = new DynamoWorkerRegistry({
 *   client,
 *   table: physicalName(prefix, 'workers'),
 *   leasesTable: physicalName(prefix, 'leases'),
 * });
 * const me = await workers.register(registration, Date.now(), 8_000);
 * await workers.renew(me.workerId, me.leaseFence, Date.now(), 8_000, runningCount);
 */
export class DynamoWorkerRegistry implements WorkerRegistry {
  private readonly profiles: DynamoTable;
  private readonly leases: DynamoTable;
  private readonly byPool: string;
  private readonly clock: Clock;
  /** Profiles this process wrote or read, by worker id: a renewal answers a whole Worker without a read. */
  private readonly known = new Map<string, Fields>();

  constructor(options: DynamoWorkerRegistryOptions) {
    this.profiles = new DynamoTable(options);
    this.leases = new DynamoTable({ client: options.client, table: options.leasesTable });
    this.byPool = options.byPoolIndex ?? 'byPool';
    this.clock = options.clock ?? systemClock;
  }

  async register(registration: WorkerRegistration, now: number, ttlMs: number): Promise<Worker> {
    const { workerId } = registration;
    const leaseExpiresAt = now + ttlMs;
    for (;;) {
      // Above both fences: a profile from before the split holds its lease's fence itself.
      const [profile, current] = await Promise.all([
        this.profiles.get(key(workerId)),
        this.leases.get(key(workerId)),
      ]);
      const leaseFence = Math.max(fenceOf(profile), fenceOf(current)) + 1;
      const lease: Fields = {
        status: 'ACTIVE',
        leaseFence,
        leaseExpiresAt,
        heartbeatAt: now,
        registeredAt: now,
        load: 0,
      };
      const cond = new Expr();
      const fence = cond.name('leaseFence');
      const written = await this.leases.put(
        {
          Item: marshalItem({ workerId, ...lease, ttl: this.ttlFor(leaseExpiresAt) }),
          ConditionExpression: `attribute_not_exists(${fence}) OR ${fence} < ${cond.value(leaseFence)}`,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ...cond.params(),
        },
        {
          // A retried put whose first attempt landed finds its own fence: written. Otherwise another
          // registration of this id took the fence first: read again and go above it.
          conditionFailed: (old, { retried }) => retried && fenceOf(old) === leaseFence,
        },
      );
      if (written === false) continue;
      const full: Fields = { ...registration, ...lease };
      const pcond = new Expr();
      const pfence = pcond.name('leaseFence');
      await this.profiles.put(
        {
          // No TTL while the lease lives: the profile is not rewritten by renewals (see profileGone).
          Item: marshalItem(full),
          // Never over a newer registration's profile (a slower, older registration of the same id).
          ConditionExpression: `attribute_not_exists(${pfence}) OR ${pfence} <= ${pcond.value(leaseFence)}`,
          ...pcond.params(),
        },
        leaseLost(workerId),
      );
      this.known.set(workerId, full);
      return this.decode(full);
    }
  }

  async renew(
    workerId: string,
    leaseFence: number,
    now: number,
    ttlMs: number,
    load: number,
  ): Promise<Worker> {
    const expr = new Expr();
    const leaseExpiresAt = now + ttlMs;
    const out = await this.leases.update(
      {
        Key: key(workerId),
        UpdateExpression:
          `SET ${expr.name('leaseExpiresAt')} = ${expr.value(leaseExpiresAt)}, ` +
          `${expr.name('heartbeatAt')} = ${expr.value(now)}, ${expr.name('load')} = ${expr.value(load)}, ` +
          `${expr.name('ttl')} = ${expr.value(this.ttlFor(leaseExpiresAt))}`,
        ConditionExpression: liveLease(expr, leaseFence, now),
        ReturnValues: 'ALL_NEW',
        ...expr.params(),
      },
      leaseLost(workerId),
    );
    if (!out.Attributes) {
      throw new CloverError('internal', `${this.leases.what}: renewal of ${workerId} returned no item`);
    }
    const lease = unmarshalItem(out.Attributes);
    let profile = this.known.get(workerId);
    if (profile?.leaseFence !== leaseFence) {
      const item = await this.profiles.get(key(workerId));
      profile = item ? unmarshalItem(item) : undefined;
      if (profile?.leaseFence !== leaseFence) throw new LeaseLostError(workerId);
      this.known.set(workerId, profile);
    }
    return this.decode(joinLease(profile, lease));
  }

  async setStatus(
    workerId: string,
    leaseFence: number,
    status: 'DRAINING' | 'GONE',
    now: number,
  ): Promise<void> {
    const write = (table: DynamoTable) => {
      const expr = new Expr();
      // GONE releases the lease, which is allowed even after it expired, but only by its own fence.
      const condition =
        status === 'GONE'
          ? `${expr.name('leaseFence')} = ${expr.value(leaseFence)}`
          : liveLease(expr, leaseFence, now);
      const ttl = status === 'GONE' ? this.goneTtl() : undefined;
      return table.update(
        {
          Key: key(workerId),
          UpdateExpression:
            `SET ${expr.name('status')} = ${expr.value(status)}` +
            (ttl === undefined ? '' : `, ${expr.name('ttl')} = ${expr.value(ttl)}`),
          ConditionExpression: condition,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ...expr.params(),
        },
        {
          conditionFailed: (old): 'not here' => {
            if (table === this.leases && fenceOf(old) < leaseFence) return 'not here';
            throw new LeaseLostError(workerId);
          },
        },
      );
    };
    if ((await write(this.leases)) === 'not here') {
      // The lease is in the profile: an item from before the split (see the class comment).
      await write(this.profiles);
    } else if (status === 'GONE') {
      await this.profileGone(workerId, leaseFence);
    }
  }

  async expire(workerId: string, leaseFence: number, now: number): Promise<boolean> {
    const write = (table: DynamoTable) => {
      const expr = new Expr();
      const status = expr.name('status');
      return table.update(
        {
          Key: key(workerId),
          UpdateExpression: `SET ${status} = ${expr.value('GONE')}, ${expr.name('ttl')} = ${expr.value(this.goneTtl())}`,
          ConditionExpression:
            `${expr.name('leaseFence')} = ${expr.value(leaseFence)} AND ` +
            `${expr.name('leaseExpiresAt')} <= ${expr.value(now)} AND ${status} <> ${expr.value('GONE')}`,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ...expr.params(),
        },
        {
          conditionFailed: (old): 'not here' | false =>
            table === this.leases && fenceOf(old) < leaseFence ? 'not here' : false,
        },
      );
    };
    const out = await write(this.leases);
    if (out === 'not here') return (await write(this.profiles)) !== false;
    if (out === false) return false;
    await this.profileGone(workerId, leaseFence);
    return true;
  }

  async get(workerId: string): Promise<Worker | null> {
    const [profile, lease] = await Promise.all([
      this.profiles.get(key(workerId)),
      this.leases.get(key(workerId)),
    ]);
    if (!profile) return null;
    const worker = joined(unmarshalItem(profile), lease && unmarshalItem(lease));
    return worker ? this.decode(worker) : null;
  }

  /**
   * Workers not GONE. Profiles: with a pool, a Query on the `byPool` index (eventually consistent, as
   * every GSI read is: a registration may take a moment to show); without, a Scan. Leases: a Scan of
   * their table, whose items are small — a unit per 4 KB, ~25 leases — where reading the pool's
   * leases by key would cost a unit each.
   */
  async list(pool?: string): Promise<Worker[]> {
    const [profiles, leases] = await Promise.all([
      this.profiles.readPages((): PageRequest => {
        const expr = new Expr();
        const filter = `${expr.name('status')} <> ${expr.value('GONE')}`;
        if (pool === undefined) {
          return { scan: { FilterExpression: filter, ConsistentRead: true, ...expr.params() } };
        }
        const keyCondition = `${expr.name('pool')} = ${expr.value(pool)}`;
        return {
          query: {
            IndexName: this.byPool,
            KeyConditionExpression: keyCondition,
            FilterExpression: filter,
            ...expr.params(),
          },
        };
      }, unmarshalItem),
      this.leases.readPages(() => ({ scan: { ConsistentRead: true } }), unmarshalItem),
    ]);
    const byId = new Map(leases.map((lease) => [lease.workerId, lease]));
    return profiles
      .flatMap((profile) => {
        const worker = joined(profile, byId.get(profile.workerId));
        return worker ? [this.decode(worker)] : [];
      })
      .filter((w) => w.status !== 'GONE')
      .sort((a, b) => a.workerId.localeCompare(b.workerId));
  }

  /**
   * The profile of a lease that ended leaves the pool's list and gets its TTL, unless a newer
   * registration owns it. Should this write be lost (a crash right after the lease's), the lease item
   * still says GONE; once the TTL removes it, the profile reads as an expired worker from before the
   * split, which the monitor expires again.
   */
  private async profileGone(workerId: string, leaseFence: number): Promise<void> {
    const expr = new Expr();
    await this.profiles.updateIf({
      Key: key(workerId),
      UpdateExpression: `SET ${expr.name('status')} = ${expr.value('GONE')}, ${expr.name('ttl')} = ${expr.value(this.goneTtl())}`,
      ConditionExpression: `${expr.name('leaseFence')} = ${expr.value(leaseFence)}`,
      ...expr.params(),
    });
    this.known.delete(workerId);
  }

  private ttlFor(leaseExpiresAt: number): number {
    return ttlSeconds(Math.max(leaseExpiresAt, this.clock.now()) + WORKER_RETENTION_MS);
  }

  private goneTtl(): number {
    return ttlSeconds(this.clock.now() + WORKER_RETENTION_MS);
  }

  private decode(fields: Fields): Worker {
    // WorkerSchema is strict: drop the storage-only TTL attribute first.
    return decodeItem(WorkerSchema, marshalItem(fields), this.profiles.name, ({ ttl: _ttl, ...raw }) => raw);
  }
}

/**
 * The worker from its profile and its lease item: joined when their fences match; the profile as it
 * is when the lease item is absent or older (the profile holds its own lease: written before the
 * split); none while a newer registration's profile is still being written.
 */
function joined(profile: Fields, lease: Fields | undefined): Fields | undefined {
  if (!lease || fenceOf(lease) < fenceOf(profile)) return profile;
  if (fenceOf(lease) > fenceOf(profile)) return undefined;
  return joinLease(profile, lease);
}

function joinLease(profile: Fields, lease: Fields): Fields {
  const worker: Fields = { ...profile };
  for (const field of LEASE_FIELDS) worker[field] = lease[field];
  return worker;
}

/** The lease fence an item (marshalled or not) holds; 0 for none. */
function fenceOf(item: Item | Fields | undefined): number {
  const fence = item?.leaseFence;
  if (typeof fence === 'number') return fence;
  return Number((fence as { N?: string } | undefined)?.N ?? 0);
}

function key(workerId: string): Item {
  return { workerId: { S: workerId } };
}

/** A lease write whose condition failed: another registration (or the monitor) took the worker id over. */
function leaseLost(workerId: string): DynamoFailureHandlers<never> {
  return {
    conditionFailed: () => {
      throw new LeaseLostError(workerId);
    },
  };
}

/** The lease is this fence's, unexpired, and not released. */
function liveLease(expr: Expr, leaseFence: number, now: number): string {
  return (
    `${expr.name('leaseFence')} = ${expr.value(leaseFence)} AND ${expr.name('leaseExpiresAt')} > ${expr.value(now)} ` +
    `AND ${expr.name('status')} IN (${expr.value('ACTIVE')}, ${expr.value('DRAINING')})`
  );
}
