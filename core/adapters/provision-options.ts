/** What provisioning reports and takes, shared by provision.ts and its tables and queues rooms. */
export type ProvisionAction = 'created' | 'updated' | 'unchanged' | 'deleted' | 'absent';

export interface ProvisionProgress {
  readonly resource: 'table' | 'queue' | 'scheduleGroup';
  /** The physical name. */
  readonly name: string;
  readonly action: ProvisionAction;
  /** What was changed, for `updated`. */
  readonly detail?: string;
}

export interface ProvisionOptions {
  /** Called once per resource with what was done to it. */
  readonly onProgress?: (progress: ProvisionProgress) => void;
  /** How long to wait for a table or index to become ACTIVE. @default 120000 */
  readonly timeoutMs?: number;
}
