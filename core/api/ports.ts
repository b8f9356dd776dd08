/**
 * What the management API reads and writes beyond the core ports: paged, bounded reads over the
 * indexes infra/resources.ts declares for it, and the audit log. Adapter: core/adapters/dynamo-api-reads.ts.
 *
 * Every walk reads at most `maxReads` pages of its index that hold items (a read of an empty
 * partition — a day without runs — is not counted: there are at most maxWindowDays + 1 of them) and
 * calls `visit` for each item in order; `visit` returns false to stop the walk. The answer's `next`
 * is where a next page starts after that item (absent when the walk reached the end), `before` where
 * it starts with it: a page that asks for one item more than it shows and stops on that one knows
 * more exist. A short page has a next one only when the read budget ran out.
 */
import type { AlertKind, AlertRecord, Job, JobMode, Run, RunStatus } from '../model';
import type { Position } from './cursor';
import type { AlertListStatus, AuditRecord } from './schemas';

export interface WalkOptions {
  readonly start?: Position;
  readonly maxReads: number;
  /** Items asked of DynamoDB per read. */
  readonly pageSize: number;
}

export interface WalkResult {
  /** After the last item visited: where the walk would go on (absent at the end). */
  readonly next?: Position;
  /** When `visit` stopped the walk: the position just before that item, so a next page starts with it. */
  readonly before?: Position;
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
  /** A delivery status, or OPEN / ACKNOWLEDGED (AlertListStatuses). */
  readonly status?: AlertListStatus;
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
