/**
 * The LockStore fake: job locks, their owners and expiry.
 * One fake per port (memory-stores.ts lists them); it passes the port's contract suite.
 */
import { LockHeldError } from '../errors';
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

  /** @internal The lock condition of createWithLock: free, expired, or held by `takeOverFrom`. */
  checkClaim(claim: LockClaim): void {
    const lock = this.locks.get(claim.key);
    if (!lock || lock.owner === undefined || lock.expiresAt <= claim.now) return;
    if (claim.takeOverFrom !== undefined && lock.owner === claim.takeOverFrom) return;
    throw new LockHeldError(claim.key, lock.owner);
  }

  /** @internal */
  take(claim: LockClaim): void {
    const lock = this.locks.get(claim.key);
    const fence = (lock?.fence ?? 0) + 1;
    // An update, as in DynamoDB: what else the item holds (the job's health) stays.
    this.locks.set(claim.key, {
      ...lock,
      lockKey: claim.key,
      owner: claim.owner,
      fence,
      expiresAt: claim.expiresAt,
    });
  }
}
