/**
 * What the management API reads and writes beyond the core ports: paged, bounded reads over the
 * indexes infra/resources.ts declares for it, and the audit log. Adapter: core/adapters/dynamo-api-reads.ts.
 *
 * Every walk reads at most `maxReads` pages of its index and calls `visit` for each item in order;
 * `visit` returns false once the caller's page is full. The answer's `next` is where the next page
 * starts (absent when the walk reached the end), so a page costs a bounded number of reads whatever
 * the table size, and a short page may still have a next one.
 */
import type { AlertKind, AlertRecord, AlertStatus, Job, JobMode, Run, RunStatus } from '../model';
import type { Position } from './cursor';
import type { AuditRecord } from './schemas';

export interface WalkOptions {
  readonly start?: Position;
  readonly maxReads: number;
  /** Items asked of DynamoDB per read. */
  readonly pageSize: number;
}

export interface WalkResult {
  readonly next?: Position;
  readonly reads: number;
  /** Items visited. */
  readonly visited: number;
}

export type Visit<T> = (item: T) => boolean;

export interface JobFilter {
  readonly pool?: string;
  readonly handler?: string;
  readonly mode?: JobMode;
  readonly paused?: boolean;
  readonly group?: string;
  readonly owner?: string;
  /** Lower-cased text to find in the job id or description. */
  readonly q?: string;
}

/** A time window in epoch ms, inclusive; runs by scheduled time, alerts and audit by creation time. */
export interface Window {
  readonly from: number;
  readonly to: number;
}

export interface RunFilter extends Window {
  readonly jobId?: string;
  readonly status?: RunStatus;
  readonly workerId?: string;
}

export interface AlertFilter extends Window {
  readonly jobId?: string;
  readonly kind?: AlertKind;
  readonly status?: AlertStatus;
}

export interface AuditFilter extends Window {
  readonly entity?: string;
}

export interface ApiReads {
  /** Jobs in id order. */
  walkJobs(filter: JobFilter, visit: Visit<Job>, options: WalkOptions): Promise<WalkResult>;
  /** Runs newest first (by scheduled time). */
  walkRuns(filter: RunFilter, visit: Visit<Run>, options: WalkOptions): Promise<WalkResult>;
  /** Alerts newest first. */
  walkAlerts(filter: AlertFilter, visit: Visit<AlertRecord>, options: WalkOptions): Promise<WalkResult>;
  /** Audit records newest first. */
  walkAudit(filter: AuditFilter, visit: Visit<AuditRecord>, options: WalkOptions): Promise<WalkResult>;
}

export interface AuditLog {
  append(record: AuditRecord): Promise<void>;
}
