import { jobLockKey, type Run } from '../../model';
import type { LockClaim, LockStore, RunLedger } from '../../ports';
import { T0 } from './fixtures';

export interface RunLedgerSubject {
  readonly ledger: RunLedger;
  readonly locks: LockStore;
}

/** Makes a fresh subject for one case (the DynamoDB suite's share one stage, hence unique ids throughout). */
export type RunLedgerSubjectMaker = () => Promise<RunLedgerSubject>;

export const LEASE = 60_000;

export function claimFor(run: Run, now = T0, extra: Partial<LockClaim> = {}): LockClaim {
  return { key: jobLockKey(run.jobId), owner: run.runId, expiresAt: now + LEASE, now, ...extra };
}
