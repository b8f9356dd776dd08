/**
 * The agent's start-up sync of its declared jobs: the config's `jobs:` and the jobs declared on
 * `@handler` decorators, under the config's owner id (job-sync.ts), through the management API
 * (api-sync.ts) when one is wired, else through the job store. A conflict is logged as an error,
 * never fatal; no sync failure stops the agent.
 *
 * @example
 * const result = await syncAgentJobs({ config, declaredOnHandlers: registry.declaredJobs(), deps, log });
 * // result: what was added, updated, deleted, unchanged and left in conflict; undefined when not synced
 */
import type { Logger } from '../core/log';
import type { JobSpec } from '../core/model';
import type { AgentDeps } from './agent-deps';
import type { DeclaredJobSync } from './api-sync';
import type { AgentConfig } from './config';
import {
  JobOwnershipError,
  ownerIdFor,
  type SyncConflict,
  type SyncResult,
  syncDeclaredJobs,
} from './job-sync';

export interface SyncAgentJobsOptions {
  readonly config: Pick<AgentConfig, 'jobs' | 'jobsOwner' | 'pool' | 'file'>;
  /** Jobs declared on the registered handlers (HandlerRegistry.declaredJobs). */
  readonly declaredOnHandlers: readonly JobSpec[];
  readonly deps: Pick<AgentDeps, 'jobs' | 'jobService' | 'declaredJobSync'>;
  readonly log: Logger;
}

/**
 * Syncs the declared jobs. Runs when jobs are declared or `jobsOwner` is set (so that an agent
 * without `jobs:` never deletes jobs of a config that shares its file name). A declared id held by a
 * job this config does not own is a conflict: logged as an error, that job left alone, the rest
 * synced. Resolves to what the sync did, or undefined when it did not run or failed.
 */
export async function syncAgentJobs(options: SyncAgentJobsOptions): Promise<SyncResult | undefined> {
  const { config, log } = options;
  const declaredHere = [...config.jobs, ...options.declaredOnHandlers];
  if (declaredHere.length === 0 && config.jobsOwner === undefined) return undefined;
  const owner = ownerIdFor({
    pool: config.pool,
    configFile: config.file,
    ...(config.jobsOwner === undefined ? {} : { name: config.jobsOwner }),
  });
  const { jobs, jobService, declaredJobSync } = options.deps;
  const sync: DeclaredJobSync | undefined =
    declaredJobSync ??
    (jobs && jobService ? (input) => syncDeclaredJobs({ jobService, jobs, ...input, log }) : undefined);
  if (!sync) {
    log.log('warn', 'declared jobs not synced: no job store or API wired into this agent', { owner });
    return undefined;
  }
  const taken: SyncConflict[] = [];
  let declared = declaredHere;
  let result: SyncResult;
  try {
    for (;;) {
      try {
        result = await sync({ owner, declared });
        break;
      } catch (error) {
        if (!(error instanceof JobOwnershipError)) throw error;
        // Leave that job alone and sync the others (it is not ours, so it is never deleted either).
        taken.push({ jobId: error.jobId, action: 'add', reason: error.message });
        declared = declared.filter((spec) => spec.jobId !== error.jobId);
      }
    }
  } catch (error) {
    log.log('error', 'declared jobs could not be synced; running on without the sync', { owner, error });
    return undefined;
  }
  const conflicts = [...taken, ...result.conflicts].sort((a, b) => a.jobId.localeCompare(b.jobId));
  for (const conflict of conflicts) {
    log.log('error', 'declared job conflict: left as it is', { owner, ...conflict });
  }
  log.log('info', 'declared jobs synced', {
    owner,
    added: result.added,
    updated: result.updated,
    deleted: result.deleted,
    unchanged: result.unchanged,
    conflicts: conflicts.map((c) => c.jobId),
  });
  return { ...result, conflicts };
}
