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
  type PageRequest,
  ttlSeconds,
} from './dynamo-items';

/** A worker item lingers this long after its lease ended (`ttl`, epoch seconds): GONE workers vanish after a day. */
export const WORKER_RETENTION_MS = DAY_MS;

/** `table`: the workers table, key `workerId`, GSI `byPool` (pool, workerId) projecting ALL, TTL `ttl`. */
export interface DynamoWorkerRegistryOptions extends DynamoTtlTableOptions {
  /** @default 'byPool' */
  readonly byPoolIndex?: string;
}

/**
 * Worker leases in DynamoDB, one item per worker id (the model's fields plus `ttl`).
 * `leaseFence` is a number raised with `ADD` on every registration, so it only ever grows, and
 * every later write of that lease is conditional on it: a process that re-registered (or a monitor
 * that swept it) makes the older lease's writes fail with {@link LeaseLostError}.
 *
 * @example
 * const workers = new DynamoWorkerRegistry({ client, table: physicalName(prefix, 'workers') });
 * const me = await workers.register(registration, Date.now(), 10_000);
 * await workers.renew(me.workerId, me.leaseFence, Date.now(), 10_000, runningCount);
 */
export class DynamoWorkerRegistry implements WorkerRegistry {
  private readonly table: DynamoTable;
  private readonly byPool: string;
  private readonly clock: Clock;

  constructor(options: DynamoWorkerRegistryOptions) {
    this.table = new DynamoTable(options);
    this.byPool = options.byPoolIndex ?? 'byPool';
    this.clock = options.clock ?? systemClock;
  }

  async register(registration: WorkerRegistration, now: number, ttlMs: number): Promise<Worker> {
    const expr = new Expr();
    const { workerId, ...fields } = registration;
    const leaseExpiresAt = now + ttlMs;
    const values: Record<string, unknown> = {
      ...fields,
      status: 'ACTIVE',
      leaseExpiresAt,
      heartbeatAt: now,
      registeredAt: now,
      load: 0,
      ttl: this.ttlFor(leaseExpiresAt),
    };
    const assignments = Object.entries(values)
      .filter(([, v]) => v !== undefined)
      .map(([field, value]) => `${expr.name(field)} = ${expr.value(value)}`);
    const out = await this.table.update({
      Key: key(workerId),
      UpdateExpression: `SET ${assignments.join(', ')} ADD ${expr.name('leaseFence')} ${expr.value(1)}`,
      ReturnValues: 'ALL_NEW',
      ...expr.params(),
    });
    return this.written(workerId, out.Attributes);
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
    const out = await this.table.update(
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
    return this.written(workerId, out.Attributes);
  }

  async setStatus(
    workerId: string,
    leaseFence: number,
    status: 'DRAINING' | 'GONE',
    now: number,
  ): Promise<void> {
    const expr = new Expr();
    // GONE releases the lease, which is allowed even after it expired, but only by its own fence.
    const condition =
      status === 'GONE'
        ? `${expr.name('leaseFence')} = ${expr.value(leaseFence)}`
        : liveLease(expr, leaseFence, now);
    const ttl = status === 'GONE' ? ttlSeconds(this.clock.now() + WORKER_RETENTION_MS) : undefined;
    await this.table.update(
      {
        Key: key(workerId),
        UpdateExpression:
          `SET ${expr.name('status')} = ${expr.value(status)}` +
          (ttl === undefined ? '' : `, ${expr.name('ttl')} = ${expr.value(ttl)}`),
        ConditionExpression: condition,
        ...expr.params(),
      },
      leaseLost(workerId),
    );
  }

  async expire(workerId: string, leaseFence: number, now: number): Promise<boolean> {
    const expr = new Expr();
    const status = expr.name('status');
    return this.table.updateIf({
      Key: key(workerId),
      UpdateExpression:
        `SET ${status} = ${expr.value('GONE')}, ` +
        `${expr.name('ttl')} = ${expr.value(ttlSeconds(this.clock.now() + WORKER_RETENTION_MS))}`,
      ConditionExpression:
        `${expr.name('leaseFence')} = ${expr.value(leaseFence)} AND ` +
        `${expr.name('leaseExpiresAt')} <= ${expr.value(now)} AND ${status} <> ${expr.value('GONE')}`,
      ...expr.params(),
    });
  }

  async get(workerId: string): Promise<Worker | null> {
    const item = await this.table.get(key(workerId));
    return item ? this.decode(item) : null;
  }

  /**
   * Workers not GONE. With a pool: a Query on the `byPool` index (eventually consistent, as every
   * GSI read is: a registration may take a moment to show). Without: a Scan of the table.
   */
  async list(pool?: string): Promise<Worker[]> {
    const workers = await this.table.readPages(
      (): PageRequest => {
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
      },
      (item) => this.decode(item),
    );
    return workers.sort((a, b) => a.workerId.localeCompare(b.workerId));
  }

  private ttlFor(leaseExpiresAt: number): number {
    return ttlSeconds(Math.max(leaseExpiresAt, this.clock.now()) + WORKER_RETENTION_MS);
  }

  private written(workerId: string, item: Item | undefined): Worker {
    if (!item)
      throw new CloverError('internal', `table ${this.table.name}: update of ${workerId} returned no item`);
    return this.decode(item);
  }

  private decode(item: Item): Worker {
    // WorkerSchema is strict: drop the storage-only TTL attribute first.
    return decodeItem(WorkerSchema, item, this.table.name, ({ ttl: _ttl, ...raw }) => raw);
  }
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
