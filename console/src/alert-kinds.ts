import type { AlertKind, AlertListStatus } from './api/types';

/** Alert kinds in words, in the API's order (core/model's AlertKinds). */
export const KINDS: Readonly<Record<AlertKind, string>> = {
  failure: 'failure',
  recovery: 'recovery',
  timeout: 'timeout',
  lost: 'worker lost',
  no_worker: 'no worker',
  job_unavailable: 'job unavailable',
  misfire: 'misfire',
  runaway: 'run-away chain',
};
export const ALL_KINDS = Object.keys(KINDS) as AlertKind[];

/** What the alert list filters on (core/api's AlertListStatuses), in words. */
export const LIST_STATUSES: Readonly<Record<AlertListStatus, string>> = {
  OPEN: 'open (not acknowledged)',
  ACKNOWLEDGED: 'acknowledged',
  PENDING: 'pending',
  SENT: 'sent',
  FAILED: 'failed',
  SUPPRESSED: 'suppressed',
  SILENCED: 'silenced',
};
