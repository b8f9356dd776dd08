import { AlreadyFiredError, LockHeldError } from '../errors';
import { PLANNED_REASON, type Run, replacesPlaceholder } from '../model';
import type { LockClaim } from '../ports';
import { type DynamoTable, Expr, type Item } from './dynamo-items';
import { type DynamoLockStore, lockKey } from './dynamo-lock-store';
import type { RunItems } from './dynamo-run-items';

/**
 * Creating runs (RunLedger.create and createWithLock): one conditional put on the run id not existing
 * (one run per fire), after — for a run under its job's lock — one conditional update taking the lock
 * in its name. Two single-item writes, not a transaction, which would bill both items twice; the
 * order and what repairs a writer that dies between them are core/dispatch/record.ts's. A failed
 * condition becomes the domain error of the item that refused, carrying what it found.
 */
export class RunCreation {
  private readonly runs: DynamoTable;

  constructor(
    private readonly runItems: RunItems,
    private readonly locks: DynamoLockStore,
  ) {
    this.runs = runItems.table;
  }

  async create(run: Run): Promise<void> {
    const expr = new Expr();
    await this.runs.put(
      {
        Item: this.runItems.encode(run),
        ConditionExpression: createCondition(run, expr),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...expr.params(),
      },
      {
        conditionFailed: async (old, { retried }) => {
          // A retried put whose first attempt landed finds this very run: it was created, not fired twice.
          if (retried && old && this.runItems.holds(old, run)) return;
          return this.alreadyFired(run.runId, old);
        },
      },
    );
  }

  /**
   * The lock first, named for the run, then the run. A put refused because the run exists gives back
   * a lock this call took (not one already named for the run: that is the existing run's own, or a
   * concurrent duplicate's that its own put settles); should that release fail, the lock left behind
   * belongs to a run that exists — its own while active, stale once final (record.ts).
   */
  async createWithLock(run: Run, lock: LockClaim): Promise<void> {
    const took = await this.takeLock(run, lock);
    try {
      await this.create(run);
    } catch (error) {
      if (took && error instanceof AlreadyFiredError)
        await this.locks.release(lock.key, lock.owner).catch(() => false);
      throw error;
    }
  }

  /**
   * Takes the lock for `run`: free, expired, or held by `takeOverFrom`. True when this call wrote it;
   * false when the lock already names the run (a retried fire whose first attempt died before its
   * put, or an SDK retry of this very update). A lock held by another run is LockHeldError — unless
   * the run exists, which makes the fire a duplicate first (AlreadyFiredError), as a transaction
   * checking the run before the lock did: a duplicate invocation never skips, queues or replaces.
   */
  private async takeLock(run: Run, lock: LockClaim): Promise<boolean> {
    const expr = new Expr();
    const owner = expr.name('owner');
    const expiresAt = expr.name('expiresAt');
    let condition = `attribute_not_exists(${owner}) OR ${expiresAt} <= ${expr.value(lock.now)}`;
    if (lock.takeOverFrom !== undefined) condition += ` OR ${owner} = ${expr.value(lock.takeOverFrom)}`;
    const out = await this.locks.table.update(
      {
        Key: lockKey(lock.key),
        UpdateExpression:
          `SET ${owner} = ${expr.value(lock.owner)}, ${expiresAt} = ${expr.value(lock.expiresAt)}, ` +
          `${expr.name('takenAt')} = ${expr.value(lock.now)}, ` +
          `${expr.name('ttl')} = ${expr.value(this.locks.ttlFor(lock.expiresAt))} ` +
          `ADD ${expr.name('fence')} ${expr.value(1)}`,
        ConditionExpression: condition,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...expr.params(),
      },
      {
        conditionFailed: async (old) => {
          const holder = old ? this.locks.decode(old).owner : undefined;
          if (holder === lock.owner) return 'own' as const;
          const existing = await this.runItems.get(run.runId);
          // A precise fire's own planned placeholder is not a duplicate: the fire decided at its
          // instant replaces it (createCondition), so a lock held by another run is an overlap here.
          if (existing && !replacesPlaceholder(run, existing))
            throw new AlreadyFiredError(run.runId, existing);
          throw new LockHeldError(lock.key, holder);
        },
      },
    );
    return out !== 'own';
  }

  private async alreadyFired(runId: string, old: Item | undefined): Promise<never> {
    const existing = old ? this.runItems.decode(old) : await this.runItems.get(runId);
    throw new AlreadyFiredError(runId, existing ?? undefined);
  }
}

/**
 * A new run's put condition: no run with its id yet — or, for a precise job's fire decided at its
 * instant (`replacesPlan`), that fire's planned placeholder under exactly that fence (RunSchema).
 */
function createCondition(run: Run, expr: Expr): string {
  const absent = `attribute_not_exists(${expr.name('runId')})`;
  if (run.replacesPlan === undefined) return absent;
  return (
    `${absent} OR (${expr.name('status')} = ${expr.value('PENDING')} AND ` +
    `${expr.name('reason')} = ${expr.value(PLANNED_REASON)} AND ${expr.name('fence')} = ${expr.value(run.replacesPlan)})`
  );
}
