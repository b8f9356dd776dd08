import { CloverError } from '../errors';
import { type UpstreamRef, UpstreamRefSchema } from '../model';
import { type Clock, type DependencyJoins, systemClock } from '../ports';
import {
  DAY_MS,
  DynamoTable,
  type DynamoTtlTableOptions,
  Expr,
  type Item,
  jsonAttr,
  parseJsonAttr,
  ttlSeconds,
} from './dynamo-items';
import { RUN_RETENTION_MS } from './dynamo-run-items';

/** `table`: the locks table (key `lockKey`, TTL attribute `ttl`), which holds the join records beside the job locks. */
export type DynamoDependencyJoinsOptions = DynamoTtlTableOptions;

/** Each arrival is one top-level attribute, named by this prefix and the upstream job id. */
const ARRIVAL_PREFIX = 'up:';

/**
 * Fan-in joins (`waitFor: ALL`) in DynamoDB: one item per downstream job and chain in the locks
 * table, keyed `join#<jobId>#<chainId>` — coordination records written only by conditional writes,
 * like the locks. Each upstream's arrival is an attribute set with `if_not_exists`, so the first
 * arrival per upstream job is kept and a repeat changes nothing; one UpdateItem records it and
 * returns every arrival (`ALL_NEW`). `ttl` keeps the item as long as the runs it joins.
 *
 * @example
 * const joins = new DynamoDependencyJoins({ client, table: physicalName(prefix, 'locks') });
 * const arrived = await joins.arrive('load', 'extract@2026-01-30T10:00:00Z', upstreamRefOf(run), Date.now());
 */
export class DynamoDependencyJoins implements DependencyJoins {
  private readonly table: DynamoTable;
  private readonly clock: Clock;

  constructor(options: DynamoDependencyJoinsOptions) {
    this.table = new DynamoTable(options);
    this.clock = options.clock ?? systemClock;
  }

  async arrive(
    downstreamJobId: string,
    chainId: string,
    arrival: UpstreamRef,
    now: number,
  ): Promise<Map<string, UpstreamRef>> {
    const expr = new Expr();
    const attribute = expr.name(`${ARRIVAL_PREFIX}${arrival.jobId}`);
    const out = await this.table.update({
      Key: { lockKey: { S: joinKey(downstreamJobId, chainId) } },
      UpdateExpression:
        `SET ${attribute} = if_not_exists(${attribute}, ${expr.value(jsonAttr(arrival))}), ` +
        `${expr.name('updatedAt')} = ${expr.value(now)}, ` +
        `${expr.name('ttl')} = ${expr.value(ttlSeconds(this.clock.now() + RUN_RETENTION_MS))}`,
      ReturnValues: 'ALL_NEW',
      ...expr.params(),
    });
    return this.decode(out.Attributes ?? {});
  }

  /**
   * One UpdateItem of `fires#<jobId>#<minute>#<chainId>`: the run id added to a string set (ADD is
   * atomic and idempotent), the set's size returned. The item lives a day.
   */
  async countFire(downstreamJobId: string, chainId: string, minute: number, runId: string): Promise<number> {
    const expr = new Expr();
    const fired = expr.name('fired');
    expr.values[':run'] = { SS: [runId] };
    const out = await this.table.update({
      Key: { lockKey: { S: `fires#${downstreamJobId}#${minute}#${chainId}` } },
      UpdateExpression: `ADD ${fired} :run SET ${expr.name('ttl')} = ${expr.value(ttlSeconds(this.clock.now() + DAY_MS))}`,
      ReturnValues: 'ALL_NEW',
      ...expr.params(),
    });
    return out.Attributes?.fired?.SS?.length ?? 0;
  }

  private decode(item: Item): Map<string, UpstreamRef> {
    const arrivals = new Map<string, UpstreamRef>();
    for (const [name, value] of Object.entries(item)) {
      if (!name.startsWith(ARRIVAL_PREFIX)) continue;
      const parsed = UpstreamRefSchema.safeParse(parseJsonAttr(value.S, this.table.name, name));
      if (!parsed.success) {
        throw new CloverError('internal', `table ${this.table.name} holds an invalid join arrival ${name}`);
      }
      arrivals.set(name.slice(ARRIVAL_PREFIX.length), parsed.data);
    }
    return arrivals;
  }
}

/** The join record's key in the locks table (job locks are `job#<jobId>`). */
export function joinKey(downstreamJobId: string, chainId: string): string {
  return `join#${downstreamJobId}#${chainId}`;
}
