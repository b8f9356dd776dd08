/**
 * In-memory implementations of the ports, for unit tests. They keep the same semantics as the
 * DynamoDB / SQS / Scheduler / SES adapters — the same conditions, fences and domain errors — and
 * pass the same contract suites (core/testing/contracts/). Values are copied in and out
 * (memory-copies.ts), so a caller mutating what it got back changes nothing stored, as with a database.
 *
 * One file per port: memory-job-store.ts, memory-lock-store.ts, memory-run-ledger.ts,
 * memory-dependency-joins.ts, memory-watch-store.ts, memory-worker-registry.ts,
 * memory-schedule-gateway.ts, memory-delivery.ts, memory-mailer.ts (the alerting ports are in
 * memory-alerts.ts); this file exports them all.
 *
 * Not modelled: eventual consistency of index reads, TTL deletion, size limits other than the
 * envelope's JSON limit (the frame limit needs Snappy, which belongs to the adapters).
 *
 * @example
 * const locks = new MemoryLockStore();
 * const ledger = new MemoryRunLedger(locks);
 * await ledger.createWithLock(run, { key: jobLockKey(run.jobId), owner: run.runId, expiresAt, now });
 */
export { MemoryDelivery, type RecordedDelivery } from './memory-delivery';
export { MemoryDependencyJoins } from './memory-dependency-joins';
export { MemoryJobStore } from './memory-job-store';
export { MemoryLockStore } from './memory-lock-store';
export { MEMORY_MAX_RECIPIENTS, MemoryMailer } from './memory-mailer';
export { MemoryRunLedger } from './memory-run-ledger';
export { MemoryScheduleGateway } from './memory-schedule-gateway';
export { MemoryWatchStore } from './memory-watch-store';
export { MemoryWorkerRegistry } from './memory-worker-registry';
