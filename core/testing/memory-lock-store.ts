/**
 * The LockStore fake: job locks, their owners and expiry.
 * One fake per port (memory-stores.ts lists them); it passes the port's contract suite.
 */
import { isHeld, type Lock } from '../model';
import type { LockClaim, LockStore } from '../ports';
import { copiesById, copyOf } from './memory-copies';

export class MemoryLockStore implements LockStore {
  readonly locks = new Map<string, Lock>();

  async get(key: string): Promise<Lock | null> {
    return copyOf(this.locks, key);
  }

  async listHeld(now: number): Promise<Lock[]> {
    return copiesById(
      [...this.locks.values()].filter((lock) => isHeld(lock, now)),
      (lock) => lock.lockKey,
    );
  }

  async release(key: string, owner: string): Promise<boolean> {
    const lock = this.locks.get(key);
    if (lock?.owner !== owner) return false;
    delete lock.owner;
    return true;
  }

  async handOver(key: string, from: string, to: string, expiresAt: number): Promise<boolean> {
    const lock = this.locks.get(key);
    if (lock?.owner !== from) return false;
    this.locks.set(key, { ...lock, owner: to, fence: lock.fence + 1, expiresAt });
    return true;
  }

  /**
   * @internal createWithLock's lock take (dynamo-run-creation.ts): free, expired, or held by
   * `takeOverFrom` — true, written; already named for the claim's owner — false, left as it is;
   * held by another owner — that owner.
   */
  take(claim: LockClaim): boolean | { readonly heldBy: string | undefined } {
    const lock = this.locks.get(claim.key);
    const free =
      !lock ||
      lock.owner === undefined ||
      lock.expiresAt <= claim.now ||
      (claim.takeOverFrom !== undefined && lock.owner === claim.takeOverFrom);
    if (!free) return lock.owner === claim.owner ? false : { heldBy: lock.owner };
    // An update, as in DynamoDB: what else the item holds (the job's health) stays.
    this.locks.set(claim.key, {
      ...lock,
      lockKey: claim.key,
      owner: claim.owner,
      fence: (lock?.fence ?? 0) + 1,
      expiresAt: claim.expiresAt,
      takenAt: claim.now,
    });
    return true;
  }
}
