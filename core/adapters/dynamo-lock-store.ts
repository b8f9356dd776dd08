import { type Lock, LockSchema } from '../model';
import { type Clock, type LockStore, systemClock } from '../ports';
import {
  DAY_MS,
  DynamoTable,
  type DynamoTtlTableOptions,
  decodeItem,
  Expr,
  type Item,
  ttlSeconds,
} from './dynamo-items';

/** A lock item lingers this long after its lease ended (`ttl`, epoch seconds), then TTL deletes it. */
export const LOCK_RETENTION_MS = DAY_MS;

/** `table`: the locks table, key `lockKey`, TTL attribute `ttl`. */
export type DynamoLockStoreOptions = DynamoTtlTableOptions;

/**
 * Lease locks in DynamoDB: `lockKey`, `owner` (absent when free), `fence` (only ever grows: `ADD`),
 * `expiresAt` (epoch ms), `ttl` (epoch seconds, a day after the lease ends; the item is recreated
 * with fence 1 after TTL deletes it, which is safe because nothing refers to a lock that long dead).
 * Locks are taken with a run (DynamoRunLedger.createWithLock, dynamo-run-creation.ts); this class reads,
 * releases and hands them over.
 */
export class DynamoLockStore implements LockStore {
  /** @internal The ledger's run+lock transaction writes this table too. */
  readonly table: DynamoTable;
  private readonly clock: Clock;

  constructor(options: DynamoLockStoreOptions) {
    this.table = new DynamoTable(options);
    this.clock = options.clock ?? systemClock;
  }

  async get(key: string): Promise<Lock | null> {
    const item = await this.table.get(lockKey(key));
    return item ? this.decode(item) : null;
  }

  /** A Scan, filtered: it reads every lock item (small; TTL collects them a day after their lease). */
  async listHeld(now: number): Promise<Lock[]> {
    const expr = new Expr();
    const filter = `attribute_exists(${expr.name('owner')}) AND ${expr.name('expiresAt')} > ${expr.value(now)}`;
    const locks = await this.table.readPages(
      () => ({ scan: { ConsistentRead: true, FilterExpression: filter, ...expr.params() } }),
      (item) => this.decode(item),
    );
    return locks.sort((a, b) => a.lockKey.localeCompare(b.lockKey));
  }

  async release(key: string, owner: string): Promise<boolean> {
    const expr = new Expr();
    return this.table.updateIf({
      Key: lockKey(key),
      UpdateExpression: `REMOVE ${expr.name('owner')}`,
      ConditionExpression: `${expr.name('owner')} = ${expr.value(owner)}`,
      ...expr.params(),
    });
  }

  async handOver(key: string, from: string, to: string, expiresAt: number): Promise<boolean> {
    const expr = new Expr();
    return this.table.updateIf({
      Key: lockKey(key),
      UpdateExpression:
        `SET ${expr.name('owner')} = ${expr.value(to)}, ${expr.name('expiresAt')} = ${expr.value(expiresAt)}, ` +
        `${expr.name('ttl')} = ${expr.value(this.ttlFor(expiresAt))} ADD ${expr.name('fence')} ${expr.value(1)}`,
      ConditionExpression: `${expr.name('owner')} = ${expr.value(from)}`,
      ...expr.params(),
    });
  }

  /** @internal TTL for a lock whose lease ends at `expiresAt`: a day later, and never before a day from now. */
  ttlFor(expiresAt: number): number {
    return ttlSeconds(Math.max(expiresAt, this.clock.now()) + LOCK_RETENTION_MS);
  }

  /** @internal */
  decode(item: Item): Lock {
    return decodeItem(LockSchema, item, this.table.name);
  }
}

/** @internal The key of a lock item (the run ledger's transactions and health writes use it too). */
export function lockKey(key: string): Item {
  return { lockKey: { S: key } };
}
