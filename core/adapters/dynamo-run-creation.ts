import { type TransactWriteItem, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { AlreadyFiredError, CloverError, LockHeldError, VersionConflictError } from '../errors';
import { PLANNED_REASON, type Run } from '../model';
import type { JobExpectation, LockClaim } from '../ports';
import {
  type CancellationReason,
  type DynamoTable,
  dynamoCall,
  Expr,
  type Item,
  unmarshalItem,
} from './dynamo-items';
import { type DynamoLockStore, lockKey } from './dynamo-lock-store';
import type { RunItems } from './dynamo-run-items';

/** Attempts at a transaction that DynamoDB cancelled for a conflicting concurrent transaction. */
const TRANSACTION_CONFLICT_ATTEMPTS = 5;

/** Before attempt `attempt + 1` of a conflicted transaction: a random pause, doubling its bound each time. */
function conflictPause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt * Math.random()));
}

/**
 * Creating runs (RunLedger.create and createWithLock): one conditional put on the run id not
 * existing (one run per fire), or one TransactWriteItems that also takes the job's lock and checks
 * the job the fire was built from. A failed condition or a cancelled transaction becomes the domain
 * error of the first item that refused, carrying what it found.
 */
export class RunCreation {
  private readonly runs: DynamoTable;

  constructor(
    private readonly runItems: RunItems,
    private readonly locks: DynamoLockStore,
    /** The jobs table a fire written with a JobExpectation checks. */
    private readonly jobs: DynamoTable | undefined,
  ) {
    this.runs = runItems.table;
  }

  async create(run: Run, expect?: JobExpectation): Promise<void> {
    if (expect) return this.createTransacted(run, undefined, expect);
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

  createWithLock(run: Run, lock: LockClaim, expect?: JobExpectation): Promise<void> {
    return this.createTransacted(run, lock, expect);
  }

  /** One TransactWriteItems: the new run, the lock taken, the job checked — in that order, as the cancellation reasons are. */
  private async createTransacted(
    run: Run,
    lock: LockClaim | undefined,
    expect: JobExpectation | undefined,
  ): Promise<void> {
    const runExpr = new Expr();
    const items: TransactWriteItem[] = [
      {
        Put: {
          TableName: this.runs.name,
          Item: this.runItems.encode(run),
          ConditionExpression: createCondition(run, runExpr),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ...runExpr.params(),
        },
      },
    ];
    if (lock) items.push(this.lockTake(lock));
    if (expect) items.push({ ConditionCheck: this.jobCheck(expect) });
    const tables = [
      this.runs.name,
      ...(lock ? [this.locks.table.name] : []),
      ...(expect ? [this.jobsTable()] : []),
    ];
    for (let attempt = 1; ; attempt++) {
      const outcome = await dynamoCall<'ok' | 'retry'>(
        `tables ${tables.join(' + ')}`,
        async (): Promise<'ok' | 'retry'> => {
          await this.runs.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
          return 'ok';
        },
        {
          cancelled: async (reasons, { retried }): Promise<'ok' | 'retry'> => {
            // A retried transaction whose first attempt landed finds this very run and its lock: created.
            if (retried && this.ownCreate(run, lock, reasons)) return 'ok';
            if (
              reasons.some((r) => r.code === 'TransactionConflict') &&
              attempt < TRANSACTION_CONFLICT_ATTEMPTS
            ) {
              return 'retry';
            }
            return this.cancelledCreate(run.runId, lock?.key, expect, reasons);
          },
        },
      );
      if (outcome === 'ok') return;
      await conflictPause(attempt);
    }
  }

  /** The cancelled create found the run it writes (and its lock held by it): its own earlier attempt. */
  private ownCreate(run: Run, lock: LockClaim | undefined, reasons: readonly CancellationReason[]): boolean {
    const [runReason, lockReason] = reasons;
    if (runReason?.code !== 'ConditionalCheckFailed' || !runReason.item) return false;
    if (!this.runItems.holds(runReason.item, run)) return false;
    return (
      !lock || (lockReason?.item !== undefined && this.locks.decode(lockReason.item).owner === run.runId)
    );
  }

  private lockTake(lock: LockClaim): TransactWriteItem {
    const expr = new Expr();
    const owner = expr.name('owner');
    const expiresAt = expr.name('expiresAt');
    let condition = `attribute_not_exists(${owner}) OR ${expiresAt} <= ${expr.value(lock.now)}`;
    if (lock.takeOverFrom !== undefined) condition += ` OR ${owner} = ${expr.value(lock.takeOverFrom)}`;
    return {
      Update: {
        TableName: this.locks.table.name,
        Key: lockKey(lock.key),
        UpdateExpression:
          `SET ${owner} = ${expr.value(lock.owner)}, ${expiresAt} = ${expr.value(lock.expiresAt)}, ` +
          `${expr.name('ttl')} = ${expr.value(this.locks.ttlFor(lock.expiresAt))} ` +
          `ADD ${expr.name('fence')} ${expr.value(1)}`,
        ConditionExpression: condition,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...expr.params(),
      },
    };
  }

  /** The stored job is still the one the fire was built from: same version, written at the same instant, dependents or none. */
  private jobCheck(expect: JobExpectation): NonNullable<TransactWriteItem['ConditionCheck']> {
    const expr = new Expr();
    return {
      TableName: this.jobsTable(),
      Key: { jobId: { S: expect.jobId } },
      ConditionExpression:
        `${expr.name('version')} = ${expr.value(expect.version)} AND ${expr.name('updatedAt')} = ${expr.value(expect.updatedAt)} AND ` +
        // An empty string set is no attribute at all: removing the last dependent removes `downstream`.
        `${expect.hasDownstream ? 'attribute_exists' : 'attribute_not_exists'}(${expr.name('downstream')})`,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      ...expr.params(),
    };
  }

  private jobsTable(): string {
    if (!this.jobs)
      throw new CloverError('internal', 'DynamoRunLedger: a job expectation needs the jobsTable option');
    return this.jobs.name;
  }

  /** Maps a cancelled create: the run item first (one run per fire), then the lock, then the job. */
  private async cancelledCreate(
    runId: string,
    key: string | undefined,
    expect: JobExpectation | undefined,
    reasons: readonly CancellationReason[],
  ): Promise<never> {
    const [runReason] = reasons;
    const lockReason = key === undefined ? undefined : reasons[1];
    const jobReason = expect === undefined ? undefined : reasons[key === undefined ? 1 : 2];
    // No reasons at all (some emulators): read the items to find out which condition failed.
    if (!runReason || runReason.code === 'ConditionalCheckFailed') {
      const existing = runReason?.item
        ? this.runItems.decode(runReason.item)
        : await this.runItems.get(runId);
      if (existing || runReason) throw new AlreadyFiredError(runId, existing ?? undefined);
    }
    if (expect && (!jobReason || jobReason.code === 'ConditionalCheckFailed')) {
      const current = jobReason
        ? jobReason.item && unmarshalItem(jobReason.item)
        : await this.jobItem(expect.jobId);
      const hasDownstream = current?.downstream !== undefined;
      if (
        jobReason ||
        current?.version !== expect.version ||
        current?.updatedAt !== expect.updatedAt ||
        hasDownstream !== expect.hasDownstream
      ) {
        const version = typeof current?.version === 'number' ? current.version : undefined;
        throw new VersionConflictError('job', expect.jobId, expect.version, version);
      }
    }
    if (key !== undefined && (!lockReason || lockReason.code === 'ConditionalCheckFailed')) {
      const current = lockReason?.item ? this.locks.decode(lockReason.item) : await this.locks.get(key);
      throw new LockHeldError(key, current?.owner);
    }
    throw new CloverError(
      'unavailable',
      `creating run ${runId} was cancelled: ${reasons.map((r) => r.code).join(', ')}`,
      {
        retryable: true,
        details: { runId, reasons: reasons.map((r) => r.code) },
      },
    );
  }

  private async jobItem(jobId: string): Promise<Record<string, unknown> | undefined> {
    const item = await this.jobs?.get({ jobId: { S: jobId } });
    return item ? unmarshalItem(item) : undefined;
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
