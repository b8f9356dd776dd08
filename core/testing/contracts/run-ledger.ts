import { describe } from 'node:test';
import { claimCases } from './run-ledger-claim';
import { creationCases } from './run-ledger-creation';
import { jobLockCases } from './run-ledger-locks';
import { outcomeCases } from './run-ledger-outcomes';
import { readCases } from './run-ledger-reads';
import type { RunLedgerSubjectMaker } from './run-ledger-subject';
import { transitionCases } from './run-ledger-transitions';

export type { RunLedgerSubject } from './run-ledger-subject';

/**
 * The RunLedger + LockStore contract: one run per fire, no overlap, fenced transitions (ARCHITECTURE.md
 * invariants 1-3), each failure a domain error carrying the current record. The cases live by operation
 * family, as the DynamoDB adapter does (core/adapters/dynamo-run-*.ts): creation, the job's lock, fenced
 * transitions, the claim, outcomes and reads; a new case goes in its family's file.
 */
export function runLedgerContract(name: string, makeSubject: RunLedgerSubjectMaker): void {
  describe(`RunLedger contract: ${name}`, () => {
    creationCases(makeSubject);
    jobLockCases(makeSubject);
    transitionCases(makeSubject);
    claimCases(makeSubject);
    outcomeCases(makeSubject);
    readCases(makeSubject);
  });
}
