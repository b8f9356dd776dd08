import { CloverError, NotFoundError, RunNotInStateError, StaleFenceError } from '../errors';
import {
  CLAIM_CHECKED_FIELDS,
  checkTransitionFields,
  claimJson,
  claimRefusal,
  isClaimJsonField,
  isOpenStatus,
  type JobHealth,
  jobLockKey,
  type Run,
  type RunClaim,
} from '../model';
import type { Clock, RunFinish, RunFinished, RunPatch, RunTransition } from '../ports';
import { type DynamoTable, Expr, ttlSeconds } from './dynamo-items';
import { type DynamoLockStore, lockKey } from './dynamo-lock-store';
import {
  encodeField,
  marshalEntry,
  openKey,
  RUN_RETENTION_MS,
  type RunItems,
  runKey,
} from './dynamo-run-items';

/**
 * Every write of an existing run, each one conditional UpdateItem fenced on what the writer read:
 * a worker's claim, status transitions, finishing (with the job's lock and health), progress
 * patches, and the dispatcher's and monitor's marks. A failed condition becomes the domain error it
 * means, read from the `ALL_OLD` item; a retried write that finds its own first attempt landed
 * answers as if it had just written.
 */
export class RunUpdates {
  private readonly runs: DynamoTable;

  constructor(
    private readonly runItems: RunItems,
    private readonly locks: DynamoLockStore,
    /** Wall clock for TTL attributes only. */
    private readonly clock: Clock,
  ) {
    this.runs = runItems.table;
  }

  async claim(runId: string, claim: RunClaim): Promise<Run> {
    const expr = new Expr();
    const workerId = expr.name('workerId');
    const me = expr.value(claim.workerId);
    const history = expr.name('history');
    // The condition holds the attempt to the envelope's, so the entry can name it exactly.
    const entry = {
      at: claim.at,
      status: 'RUNNING',
      attempt: claim.expect.attempt,
      workerId: claim.workerId,
    };
    const update =
      `SET ${expr.name('status')} = ${expr.value('RUNNING')}, ${workerId} = ${me}, ` +
      `${expr.name('startedAt')} = ${expr.value(claim.at)}, ${expr.name('updatedAt')} = ${expr.value(claim.at)}, ` +
      `${history} = list_append(${history}, ${expr.value([entry])})`;
    const conditions = [
      `${expr.name('status')} = ${expr.value('DISPATCHED')}`,
      `${expr.name('fence')} = ${expr.value(claim.fence)}`,
      // Dispatched to this worker, or to no one (the pool queue): then this write assigns it.
      `(attribute_not_exists(${workerId}) OR ${workerId} = ${me})`,
      ...CLAIM_CHECKED_FIELDS.map((field) => {
        const expected = isClaimJsonField(field) ? claimJson(claim.expect[field]) : claim.expect[field];
        return expected === undefined
          ? `attribute_not_exists(${expr.name(field)})`
          : `${expr.name(field)} = ${expr.value(expected)}`;
      }),
    ];
    return this.conditionalUpdate(
      'claim',
      runId,
      { UpdateExpression: update, ConditionExpression: conditions.join(' AND ') },
      expr,
      (current, { retried }) => {
        // A retried claim whose first attempt landed finds the run claimed by this worker at this instant.
        const ours =
          current.status === 'RUNNING' &&
          current.workerId === claim.workerId &&
          current.fence === claim.fence &&
          current.startedAt === claim.at;
        if (retried && ours) return current;
        throw claimRefusal(runId, current, claim);
      },
    );
  }

  async transition(runId: string, change: RunTransition): Promise<Run> {
    const { expr, write } = transitionWrite(runId, change);
    return this.fencedUpdate('update', runId, change, write, expr);
  }

  /**
   * Two single-item writes, no transaction (a transaction writes each item twice, at twice the
   * price): the run's fenced transition, then one conditional write of the job's lock item that
   * releases the lock (if this run owns it) and records the job's health, returning the item as it
   * was (was the job failing: a recovery). The lock is released only after the run is final, so no
   * overlap can follow from the order; a crash between the two leaves the lock held by a final run,
   * which the monitor's stale-lock step releases (core/monitor/stale-locks.ts), and the health as it was.
   */
  async finish(run: Run, change: RunFinish): Promise<RunFinished> {
    const { expr, write } = transitionWrite(run.runId, change);
    const written = await this.conditionalUpdate('update', run.runId, write, expr, (current, { retried }) => {
      // A retried transition whose first attempt landed finds the run as this change leaves it: written.
      if (retried && isOwnTransition(current, change)) return current;
      if (!change.from.includes(current.status))
        throw new RunNotInStateError(run.runId, change.from, current);
      throw new StaleFenceError(`run ${run.runId}`, change.fence, current);
    });
    if (change.release === true) {
      const released = await this.releaseWithHealth(run, change.health);
      if (released) return { run: written, released: true, recovered: released.recovered };
    }
    return { run: written, released: false, recovered: await this.recordHealth(run, change.health) };
  }

  /**
   * Releases the job's lock held by `run` and records `health` in the same write: undefined when the
   * run no longer owns the lock (then nothing was written).
   */
  private async releaseWithHealth(
    run: Run,
    health: JobHealth | undefined,
  ): Promise<{ recovered: boolean } | undefined> {
    const expr = new Expr();
    const remove = [expr.name('owner')];
    const set: string[] = [];
    if (health === 'failing') set.push(...this.failingAssignments(expr));
    if (health === 'healthy') remove.push(expr.name('failing'));
    const out = await this.locks.table.update(
      {
        Key: lockKey(jobLockKey(run.jobId)),
        UpdateExpression: `${set.length ? `SET ${set.join(', ')} ` : ''}REMOVE ${remove.join(', ')}`,
        ConditionExpression: `${expr.name('owner')} = ${expr.value(run.runId)}`,
        ReturnValues: 'ALL_OLD',
        ...expr.params(),
      },
      { conditionFailed: () => undefined },
    );
    if (!out) return undefined;
    return { recovered: health === 'healthy' && out.Attributes?.failing?.BOOL === true };
  }

  /**
   * The job's health on its lock item, without the lock: `failing` sets it (creating the item for
   * a job that never takes its lock), `healthy` clears it only where it is set, so of concurrent
   * successes one is the recovery. True for that one.
   */
  private async recordHealth(run: Run, health: JobHealth | undefined): Promise<boolean> {
    const expr = new Expr();
    const key = lockKey(jobLockKey(run.jobId));
    if (health === 'failing') {
      await this.locks.table.update({
        Key: key,
        UpdateExpression: `SET ${this.failingAssignments(expr).join(', ')}`,
        ...expr.params(),
      });
      return false;
    }
    if (health !== 'healthy') return false;
    return this.locks.table.updateIf({
      Key: key,
      UpdateExpression: `REMOVE ${expr.name('failing')}`,
      ConditionExpression: `${expr.name('failing')} = ${expr.value(true)}`,
      ...expr.params(),
    });
  }

  /** `failing` set on the job's lock item, which lives as long as the runs it sums up (a lock's own TTL is a day after its lease). */
  private failingAssignments(expr: Expr): string[] {
    const zero = expr.value(0);
    return [
      `${expr.name('failing')} = ${expr.value(true)}`,
      `${expr.name('fence')} = if_not_exists(${expr.name('fence')}, ${zero})`,
      `${expr.name('expiresAt')} = if_not_exists(${expr.name('expiresAt')}, ${zero})`,
      `${expr.name('ttl')} = ${expr.value(ttlSeconds(this.clock.now() + RUN_RETENTION_MS))}`,
    ];
  }

  async patch(runId: string, change: RunPatch): Promise<Run> {
    const expr = new Expr();
    const assignments = [`${expr.name('updatedAt')} = ${expr.value(change.at)}`];
    if (change.progress) assignments.push(`${expr.name('progress')} = ${expr.value(change.progress)}`);
    if (change.appendLog?.length) {
      const log = expr.name('log');
      assignments.push(
        `${log} = list_append(if_not_exists(${log}, ${expr.value([])}), ${expr.value([...change.appendLog])})`,
      );
    }
    const from = change.from.map((status) => expr.value(status));
    const condition = `${expr.name('status')} IN (${from.join(', ')}) AND ${expr.name('fence')} = ${expr.value(change.fence)}`;
    return this.fencedUpdate(
      'patch',
      runId,
      change,
      { UpdateExpression: `SET ${assignments.join(', ')}`, ConditionExpression: condition },
      expr,
    );
  }

  markResent(runId: string, fence: number, at: number, note: string): Promise<boolean> {
    const expr = new Expr();
    const resent = expr.name('resentFence');
    const fenceValue = expr.value(fence);
    const history = expr.name('history');
    const entry = expr.value([marshalEntry({ at, status: 'DISPATCHED', note })]);
    return this.runs.updateIf({
      Key: runKey(runId),
      UpdateExpression:
        `SET ${resent} = ${fenceValue}, ${expr.name('updatedAt')} = ${expr.value(at)}, ` +
        `${history} = list_append(${history}, ${entry})`,
      ConditionExpression:
        `${expr.name('status')} = ${expr.value('DISPATCHED')} AND ${expr.name('fence')} = ${fenceValue} ` +
        `AND (attribute_not_exists(${resent}) OR ${resent} <> ${fenceValue})`,
      ...expr.params(),
    });
  }

  markDependentsFired(runId: string, downstreamRuns: readonly string[], at: number): Promise<boolean> {
    const expr = new Expr();
    const pending = expr.name('dependentsPending');
    return this.runs.updateIf({
      Key: runKey(runId),
      UpdateExpression:
        `REMOVE ${pending} SET ${expr.name('downstreamRuns')} = ${expr.value([...downstreamRuns])}, ` +
        `${expr.name('updatedAt')} = ${expr.value(at)}`,
      ConditionExpression: `attribute_exists(${pending})`,
      ...expr.params(),
    });
  }

  /**
   * The one conditional UpdateItem of `transition` and `patch`: both are fenced on the run's status
   * and fence, so a failed condition means the same thing for both (the run is missing, in another
   * state, or fenced off), read from the `ALL_OLD` item.
   */
  private fencedUpdate(
    verb: 'update' | 'patch',
    runId: string,
    change: Pick<RunPatch, 'from' | 'fence'>,
    write: { readonly UpdateExpression: string; readonly ConditionExpression: string },
    expr: Expr,
  ): Promise<Run> {
    return this.conditionalUpdate(verb, runId, write, expr, (current) => {
      if (!change.from.includes(current.status)) throw new RunNotInStateError(runId, change.from, current);
      throw new StaleFenceError(`run ${runId}`, change.fence, current);
    });
  }

  /** One conditional UpdateItem returning the run as written; a failed condition on an existing run goes to `refused`. */
  private async conditionalUpdate(
    verb: 'update' | 'patch' | 'claim',
    runId: string,
    write: { readonly UpdateExpression: string; readonly ConditionExpression: string },
    expr: Expr,
    /** A failed condition on an existing run: throw the refusal, or return the run when it shows this write landed. */
    refused: (current: Run, attempt: { readonly retried: boolean }) => Run,
  ): Promise<Run> {
    let landed: Run | undefined;
    const out = await this.runs.update(
      {
        Key: runKey(runId),
        ...write,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...expr.params(),
      },
      {
        conditionFailed: (old, attempt) => {
          if (!old) throw new NotFoundError('run', runId);
          landed = refused(this.runItems.decode(old), attempt);
          return undefined;
        },
      },
    );
    if (landed) return landed;
    if (!out?.Attributes)
      throw new CloverError('internal', `table ${this.runs.name}: ${verb} of ${runId} returned no item`);
    return this.runItems.decode(out.Attributes);
  }
}

/** `current` is what `change` wrote: its status, fence and instant, and the history entry it appended. */
function isOwnTransition(current: Run, change: RunTransition): boolean {
  const last = current.history.at(-1);
  return (
    current.status === change.to &&
    current.fence === (change.newFence ?? change.fence) &&
    current.updatedAt === change.at &&
    last?.status === change.to &&
    last.at === change.at
  );
}

/** The update and condition of a fenced transition (RunLedger.transition and the run's part of finish). */
function transitionWrite(
  runId: string,
  change: RunTransition,
): {
  expr: Expr;
  write: { readonly UpdateExpression: string; readonly ConditionExpression: string };
} {
  const set = checkTransitionFields(change.set, change.unset);
  const unset: string[] = (change.unset ?? []).filter((field) => set[field] === undefined);
  // A final status leaves `byOpenKeys`; an open one stays in (or, in principle, re-enters) its shard.
  if (!isOpenStatus(change.to)) unset.push('open');
  const expr = new Expr();
  const assignments: string[] = [
    `${expr.name('status')} = ${expr.value(change.to)}`,
    `${expr.name('updatedAt')} = ${expr.value(change.at)}`,
  ];
  if (change.attempt !== undefined)
    assignments.push(`${expr.name('attempt')} = ${expr.value(change.attempt)}`);
  if (change.newFence !== undefined)
    assignments.push(`${expr.name('fence')} = ${expr.value(change.newFence)}`);
  if (isOpenStatus(change.to)) assignments.push(`${expr.name('open')} = ${expr.value(openKey(runId))}`);
  for (const [field, value] of Object.entries(set)) {
    if (value !== undefined)
      assignments.push(`${expr.name(field)} = ${expr.value(encodeField(field, value))}`);
  }
  const entry = {
    at: change.at,
    status: change.to,
    attempt: change.attempt,
    workerId: typeof set.workerId === 'string' ? set.workerId : undefined,
    note: change.note,
  };
  const history = expr.name('history');
  assignments.push(`${history} = list_append(${history}, ${expr.value([marshalEntry(entry)])})`);
  let update = `SET ${assignments.join(', ')}`;
  if (unset.length) update += ` REMOVE ${unset.map((f) => expr.name(f)).join(', ')}`;
  const from = change.from.map((status) => expr.value(status));
  const condition = from.length
    ? `${expr.name('status')} IN (${from.join(', ')}) AND ${expr.name('fence')} = ${expr.value(change.fence)}`
    : `attribute_not_exists(${expr.name('runId')}) AND attribute_exists(${expr.name('runId')})`;
  return { expr, write: { UpdateExpression: update, ConditionExpression: condition } };
}
