/**
 * Declarative jobs: the jobs an agent's config file declares (`jobs:`) are made to exist in the
 * control plane when the agent starts — ADD what is new, UPDATE what changed, DELETE what this config
 * declared before and no longer does. Jobs created anywhere else (API, CLI, console, another config)
 * are never updated or deleted.
 *
 * Ownership. Every job written here carries an `owner` id (Job.owner). The owner id names the
 * *config*, not the process, so every agent started from the same config (three hosts running one
 * `agent.yaml`) shares it and they agree instead of fighting: `agent:<pool>:<config name>`, where the
 * config name is the config file's base name without extension (`/etc/clover/batch.yaml` in pool
 * `batch` → `agent:batch:batch`). See `ownerIdFor`. Two *different* configs in one pool must have
 * different file names (or pass `owner` explicitly): a sync deletes every job its owner id owns that
 * it does not declare.
 *
 * Content. A declared job is compared with the stored one by its parsed spec (defaults filled in),
 * as canonical JSON (keys sorted), so a reordered or reformatted config changes nothing. `paused` is
 * operator state, not content: an operator's pause (console, CLI) survives agent restarts, and a
 * declared `paused` applies only when the job is first added.
 *
 * Concurrency. Every write names the version it read (`expectedVersion`; 0 to create). A write that
 * loses a race is re-read once: if the job now holds the declared content (another agent with the
 * same config synced it first) it counts as unchanged; otherwise it is reported in `conflicts` and
 * left as the other writer made it — never overwritten blindly. The next start syncs again.
 *
 * Failures. A declared job whose id exists without this owner is a JobOwnershipError naming the job
 * and its owner, thrown before anything is written; invalid specs are a ValidationError, also before
 * anything is written — so is an `after` naming a job that neither exists nor is declared, or one
 * that closes a cycle in the jobs as they would be after the sync. Jobs are written upstreams first.
 *
 * Decorator-declared jobs (`@handler('name', { job })`) are not supported yet: registry.ts's decorator
 * takes only a name. Programmatic callers can pass any JobSpecInput list as `declared`.
 *
 * @example
 * const result = await syncDeclaredJobs({
 *   jobService: plane.jobService,
 *   jobs: plane.jobs,
 *   owner: ownerIdFor({ pool: config.pool, configFile: config.file }),
 *   declared: config.jobs,
 * });
 * log.log('info', 'declared jobs synced', { ...result });
 */
import { basename, extname } from 'node:path';
import { CloverError, NotFoundError, ValidationError, VersionConflictError } from '../core/errors';
import type { JobService } from '../core/jobs';
import { type Logger, silentLogger } from '../core/log';
import {
  dependencyIssues,
  type Job,
  type JobSpec,
  type JobSpecInput,
  JobSpecSchema,
  parseOrThrow,
  upstreamsFirst,
} from '../core/model';
import type { JobStore } from '../core/ports';

/** Owner ids are stored on jobs (at most 128 characters). */
const MAX_OWNER_LENGTH = 128;

/** What a sync needs of the control plane: JobService writes (job then schedule), JobStore reads. */
export interface SyncDeclaredJobsOptions {
  readonly jobService: Pick<JobService, 'define' | 'delete'>;
  readonly jobs: Pick<JobStore, 'get' | 'list'>;
  /** This config's owner id; see `ownerIdFor`. */
  readonly owner: string;
  /** The jobs the config declares (config.jobs, or any JobSpecInput list). */
  readonly declared: readonly JobSpecInput[];
  readonly log?: Logger;
}

/** A job whose write lost a race to an edit made elsewhere; left as that edit made it. */
export interface SyncConflict {
  readonly jobId: string;
  readonly action: 'add' | 'update' | 'delete';
  readonly reason: string;
}

/** Job ids by what the sync did with them, each list sorted. */
export interface SyncResult {
  readonly added: readonly string[];
  readonly updated: readonly string[];
  readonly deleted: readonly string[];
  readonly unchanged: readonly string[];
  readonly conflicts: readonly SyncConflict[];
}

/**
 * A declared job's id is taken by a job this config does not own (created through the API, the
 * console, or declared by another config). Nothing was written.
 */
export class JobOwnershipError extends CloverError {
  constructor(
    readonly jobId: string,
    readonly owner: string | undefined,
    readonly declaredBy: string,
  ) {
    const holder = owner === undefined ? 'was created outside any agent config' : `is owned by ${owner}`;
    super(
      'already_exists',
      `declared job ${JSON.stringify(jobId)} already exists and ${holder}; ${declaredBy} may not change it (rename the declared job, or delete the existing one first)`,
      { details: { jobId, owner, declaredBy } },
    );
  }
}

/**
 * The owner id of a config's declared jobs: `agent:<pool>:<config name>`, the config name being the
 * file's base name without its extension (`agent` when there is no file). Stable across restarts and
 * hosts; the same for every agent started from one config. `name` overrides the file-derived name.
 *
 * @example
 * ownerIdFor({ pool: 'batch', configFile: '/etc/clover/reports.yaml' }); // 'agent:batch:reports'
 */
export function ownerIdFor(input: {
  readonly pool: string;
  readonly configFile?: string | undefined;
  readonly name?: string;
}): string {
  const fromFile =
    input.configFile === undefined ? 'agent' : basename(input.configFile, extname(input.configFile));
  const name = (input.name ?? fromFile).replace(/[^A-Za-z0-9._-]/g, '-') || 'agent';
  return `agent:${input.pool}:${name}`.slice(0, MAX_OWNER_LENGTH);
}

/** JSON with object keys sorted at every level and undefined members dropped: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const child = (value as Record<string, unknown>)[key];
      if (child !== undefined) out[key] = sortKeys(child);
    }
    return out;
  }
  return value;
}

/** The part of a spec the config decides: everything but `paused` (operator state). */
function contentOf(spec: JobSpec): string {
  const { paused: _paused, ...rest } = spec;
  return canonicalJson(rest);
}

/**
 * Makes the control plane hold exactly the declared jobs for `owner` (see the module comment).
 * Returns what it did; throws JobOwnershipError or ValidationError before writing anything.
 */
export async function syncDeclaredJobs(options: SyncDeclaredJobsOptions): Promise<SyncResult> {
  const { jobService, jobs, owner } = options;
  const log = (options.log ?? silentLogger).child({ owner });
  if (owner.length === 0 || owner.length > MAX_OWNER_LENGTH) {
    throw ValidationError.field('owner', `must be 1-${MAX_OWNER_LENGTH} characters`);
  }

  // Validate everything, and check ownership, before the first write.
  const declared = options.declared.map((input, index) =>
    parseOrThrow(JobSpecSchema, input, `jobs.${index}`),
  );
  const seen = new Set<string>();
  declared.forEach((spec, index) => {
    if (seen.has(spec.jobId)) throw ValidationError.field(`jobs.${index}.jobId`, 'is declared twice');
    seen.add(spec.jobId);
  });
  const stored = new Map((await jobs.list()).map((job) => [job.spec.jobId, job]));
  for (const spec of declared) {
    const current = stored.get(spec.jobId);
    if (current && current.owner !== owner) throw new JobOwnershipError(spec.jobId, current.owner, owner);
  }
  // Dependencies as they will be once the whole set is written: unknown upstreams and cycles, named
  // by the declared job's index, before anything is written.
  const declaredById = new Map(declared.map((spec) => [spec.jobId, spec]));
  const afterOf = (jobId: string) => (declaredById.get(jobId) ?? stored.get(jobId)?.spec)?.after;
  const dependencyProblems = declared.flatMap((spec, index) =>
    dependencyIssues(spec, afterOf, `jobs.${index}`),
  );
  if (dependencyProblems.length) throw new ValidationError(dependencyProblems);

  const added: string[] = [];
  const updated: string[] = [];
  const deleted: string[] = [];
  const unchanged: string[] = [];
  const conflicts: SyncConflict[] = [];

  // Upstreams first: each define finds the jobs it runs after already written.
  for (const spec of upstreamsFirst(declared)) {
    const current = stored.get(spec.jobId);
    if (current && contentOf(current.spec) === contentOf(spec)) {
      unchanged.push(spec.jobId);
      continue;
    }
    const action = current ? 'update' : 'add';
    // An update keeps the operator's pause; an add takes the declared one.
    const next: JobSpec = current ? { ...spec, paused: current.spec.paused } : spec;
    try {
      await jobService.define(next, { expectedVersion: current?.version ?? 0, owner });
      (current ? updated : added).push(spec.jobId);
      log.log('info', current ? 'declared job updated' : 'declared job added', {
        jobId: spec.jobId,
        fromVersion: current?.version,
      });
    } catch (error) {
      if (!isLostRace(error)) throw error;
      const now = await jobs.get(spec.jobId);
      if (now && now.owner === owner && contentOf(now.spec) === contentOf(spec)) {
        unchanged.push(spec.jobId);
        continue;
      }
      const reason = describeRace(now, owner, error);
      conflicts.push({ jobId: spec.jobId, action, reason });
      log.log('warn', 'declared job changed concurrently; left as it is', { jobId: spec.jobId, reason });
    }
  }

  for (const job of stored.values()) {
    if (job.owner !== owner || seen.has(job.spec.jobId)) continue;
    try {
      await deleteIfStill(jobService, jobs, job);
      deleted.push(job.spec.jobId);
      log.log('info', 'declared job no longer declared; deleted', { jobId: job.spec.jobId });
    } catch (error) {
      if (error instanceof NotFoundError) continue; // another agent of this config deleted it first
      if (!isLostRace(error)) throw error;
      const reason = describeRace(await jobs.get(job.spec.jobId), owner, error);
      conflicts.push({ jobId: job.spec.jobId, action: 'delete', reason });
      log.log('warn', 'undeclared job changed concurrently; not deleted', { jobId: job.spec.jobId, reason });
    }
  }

  const sorted = (ids: string[]) => ids.sort();
  return {
    added: sorted(added),
    updated: sorted(updated),
    deleted: sorted(deleted),
    unchanged: sorted(unchanged),
    conflicts: conflicts.sort((a, b) => (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0)),
  };
}

/**
 * Deletes the job only if it is still the version (and owner) the sync read. JobService.delete reads
 * the job again and deletes by that version, so a change between our read and its read is caught
 * here, and one between its read and its write by the store's version condition.
 */
async function deleteIfStill(
  jobService: Pick<JobService, 'delete'>,
  jobs: Pick<JobStore, 'get'>,
  job: Job,
): Promise<void> {
  const now = await jobs.get(job.spec.jobId);
  if (!now) throw new NotFoundError('job', job.spec.jobId);
  if (now.version !== job.version || now.owner !== job.owner) {
    throw new VersionConflictError('job', job.spec.jobId, job.version, now.version);
  }
  await jobService.delete(job.spec.jobId);
}

function isLostRace(error: unknown): boolean {
  return error instanceof VersionConflictError || error instanceof NotFoundError;
}

function describeRace(now: Job | null, owner: string, error: unknown): string {
  if (!now) return 'the job was deleted by someone else';
  if (now.owner !== owner) return `the job is now owned by ${now.owner ?? 'no agent config'}`;
  const message = error instanceof Error ? error.message : String(error);
  return `the job was changed by someone else (now version ${now.version}): ${message}`;
}
