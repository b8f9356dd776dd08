import { z } from 'zod';
import type { MonitorWatch, WatchStore } from '../ports';
import { systemClock } from '../ports';
import {
  DAY_MS,
  DynamoTable,
  type DynamoTtlTableOptions,
  decodeItem,
  Expr,
  marshalItem,
  ttlSeconds,
} from './dynamo-items';

/** The key of the watch item in the locks table; no job lock or join key has this shape. */
export const WATCH_KEY = 'monitor#watch';

const WatchItemSchema = z.object({ lockKey: z.string(), sweeper: z.string(), until: z.number() }).strict();

/** `table`: the locks table (key `lockKey`, no index, TTL `ttl`): one small item, so a take costs one write unit. */
export interface DynamoWatchStoreOptions extends DynamoTtlTableOptions {
  /** @default WATCH_KEY (tests pass their own, to share one table) */
  readonly key?: string;
}

/**
 * The monitor's watch (core/monitor/watch.ts) as one item of the locks table: `sweeper`, `until` and a
 * `ttl` a day later. It has no `owner`, so the stale-lock sweep (LockStore.listHeld) never sees it.
 *
 * @example
 * const watch = new DynamoWatchStore({ client, table: physicalName(prefix, 'locks') });
 * await watch.take({ sweeper: requestId, until: Date.now() + 55_000 }, { ifEndsBy: Date.now() + 2_000 });
 */
export class DynamoWatchStore implements WatchStore {
  private readonly table: DynamoTable;
  private readonly key: string;
  private readonly clock;

  constructor(options: DynamoWatchStoreOptions) {
    this.table = new DynamoTable(options);
    this.key = options.key ?? WATCH_KEY;
    this.clock = options.clock ?? systemClock;
  }

  async read(): Promise<MonitorWatch | null> {
    const item = await this.table.get({ lockKey: { S: this.key } });
    if (!item) return null;
    const { sweeper, until } = decodeItem(
      WatchItemSchema,
      item,
      this.table.name,
      ({ ttl: _ttl, ...raw }) => raw,
    );
    return { sweeper, until };
  }

  async take(watch: MonitorWatch, options: { readonly ifEndsBy?: number } = {}): Promise<boolean> {
    const expr = new Expr();
    const condition =
      options.ifEndsBy === undefined
        ? {}
        : {
            ConditionExpression: `attribute_not_exists(${expr.name('until')}) OR ${expr.name('until')} <= ${expr.value(options.ifEndsBy)}`,
            ...expr.params(),
          };
    const out = await this.table.put(
      {
        Item: marshalItem({
          lockKey: this.key,
          sweeper: watch.sweeper,
          until: watch.until,
          ttl: ttlSeconds(Math.max(watch.until, this.clock.now()) + DAY_MS),
        }),
        ...condition,
      },
      { conditionFailed: () => false as const },
    );
    return out !== false;
  }
}
