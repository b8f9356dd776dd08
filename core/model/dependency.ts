import { createHash } from 'node:crypto';
import type { FieldIssue } from '../errors';
import { jsonSize } from './common';
import type { Dependency, DependencyOutcome } from './job';
import { MAX_UPSTREAM_RESULT_BYTES, type Run, type RunStatus, type UpstreamRef } from './run';

/*
 * Dependent jobs, the pure part: which upstream outcomes fire what, the run ids of dependent runs,
 * fan-in joins and cycle detection. Core/dependents.ts does the writes.
 *
 * A chain is identified by the run that started it: a scheduled, manual or catch-up run starts one
 * (its `chainId` is its own run id), and every run it fires, directly or not, carries that id.
 */

/** The final statuses an `on` value fires on; every other outcome (CANCELLED, SKIPPED, NO_WORKER) fires nothing. */
const FIRES_ON: Readonly<Record<DependencyOutcome, readonly RunStatus[]>> = {
  SUCCEEDED: ['SUCCEEDED'],
  FAILED: ['FAILED', 'TIMED_OUT', 'LOST'],
  COMPLETED: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'LOST'],
};

/** Final statuses that may fire a dependent: a run reaching one of these with `hasDependents` is marked `dependentsPending`. */
export const DEPENDENCY_FIRING_STATUSES: readonly RunStatus[] = FIRES_ON.COMPLETED;

export function outcomeMatches(on: DependencyOutcome, status: RunStatus): boolean {
  return FIRES_ON[on].includes(status);
}

/** The chain a run belongs to: the run that started it. */
export function chainOf(run: Pick<Run, 'runId' | 'chainId'>): string {
  return run.chainId ?? run.runId;
}

/** Run ids are at most 256 characters; a derived id past this length uses a digest of its source instead. */
const MAX_READABLE_SOURCE = 180;

function derived(jobId: string, kind: 'after' | 'chain', source: string): string {
  const tail =
    source.length <= MAX_READABLE_SOURCE
      ? source
      : `#${createHash('sha256').update(source).digest('hex').slice(0, 32)}`;
  return `${jobId}@${kind}:${tail}`;
}

/**
 * The run id of `jobId`'s run fired by the upstream run `upstreamRunId` (`waitFor: ANY`). Derived
 * from the upstream run, so every attempt to fire it — the completing worker, a retry of its
 * write, the monitor — collides on one conditional put: one dependent run per upstream outcome.
 */
export function dependentRunId(jobId: string, upstreamRunId: string): string {
  return derived(jobId, 'after', upstreamRunId);
}

/** The run id of `jobId`'s fan-in run (`waitFor: ALL`) in chain `chainId`: one per chain. */
export function joinRunId(jobId: string, chainId: string): string {
  return derived(jobId, 'chain', chainId);
}

/** What a dependent run records about an upstream run; results over the limit are left out and flagged. */
export function upstreamRefOf(run: Pick<Run, 'runId' | 'jobId' | 'status' | 'result'>): UpstreamRef {
  const ref: UpstreamRef = { runId: run.runId, jobId: run.jobId, status: run.status };
  if (run.result === undefined) return ref;
  return jsonSize(run.result) <= MAX_UPSTREAM_RESULT_BYTES
    ? { ...ref, result: run.result }
    : { ...ref, resultOmitted: true };
}

/**
 * Fan-in: the arrivals in listed order when every upstream in `after` has arrived, else null.
 * `arrivals` holds the first arrival recorded per upstream job id.
 */
export function completeJoin(
  after: readonly Dependency[],
  arrivals: ReadonlyMap<string, UpstreamRef>,
): UpstreamRef[] | null {
  const refs: UpstreamRef[] = [];
  for (const dependency of after) {
    const ref = arrivals.get(dependency.jobId);
    if (!ref) return null;
    refs.push(ref);
  }
  return refs;
}

/**
 * A dependency cycle through `jobId`, in firing order (`['A', 'B', 'A']`: B runs after A, A after
 * B), or null. `upstreamsOf` gives a job's `after` job ids (with the job being defined already
 * holding its new list); unknown jobs have none.
 */
export function findCycle(
  jobId: string,
  upstreamsOf: (jobId: string) => readonly string[] | undefined,
): string[] | null {
  // Depth-first up the `after` edges from jobId; reaching jobId again closes a cycle.
  const done = new Set<string>();
  const path: string[] = [jobId];
  const walk = (current: string): boolean => {
    for (const upstream of upstreamsOf(current) ?? []) {
      if (upstream === jobId) return true;
      if (done.has(upstream) || path.includes(upstream)) continue;
      path.push(upstream);
      if (walk(upstream)) return true;
      path.pop();
      done.add(upstream);
    }
    return false;
  };
  if (!walk(jobId)) return null;
  // `path` runs upstream (jobId, its upstream, that one's upstream, ...): reverse it into firing order.
  return [jobId, ...path.slice(1).reverse(), jobId];
}

/** How a cycle is named in errors: `A → B → A`. */
export function describeCycle(cycle: readonly string[]): string {
  return cycle.join(' → ');
}

/**
 * `specs` reordered so that each comes after the specs it runs after (those in the list), for a
 * batch of defines that must each find their upstreams already written. Cycles keep their order.
 */
export function upstreamsFirst<T extends { readonly jobId: string; readonly after: readonly Dependency[] }>(
  specs: readonly T[],
): T[] {
  const byId = new Map(specs.map((spec) => [spec.jobId, spec]));
  const ordered: T[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const place = (spec: T) => {
    if (placed.has(spec.jobId) || visiting.has(spec.jobId)) return;
    visiting.add(spec.jobId);
    for (const dependency of spec.after) {
      const upstream = byId.get(dependency.jobId);
      if (upstream) place(upstream);
    }
    visiting.delete(spec.jobId);
    placed.add(spec.jobId);
    ordered.push(spec);
  };
  for (const spec of specs) place(spec);
  return ordered;
}

/**
 * What is wrong with `spec.after` against the jobs that exist (`afterOf` gives a job's `after`, or
 * undefined when there is no such job): an upstream that does not exist (`after.N.jobId`) and a
 * cycle through the job (`after`: `cycle A → B → A`). Self-dependencies and duplicates are the
 * schema's (JobSpecSchema); `prefix` names where the spec sits (`jobs.3` in a batch).
 */
export function dependencyIssues(
  spec: { readonly jobId: string; readonly after: readonly Dependency[] },
  afterOf: (jobId: string) => readonly Dependency[] | undefined,
  prefix = '',
): FieldIssue[] {
  const at = (field: string) => (prefix ? `${prefix}.${field}` : field);
  const issues: FieldIssue[] = [];
  spec.after.forEach((dependency, index) => {
    if (dependency.jobId !== spec.jobId && afterOf(dependency.jobId) === undefined) {
      issues.push({
        field: at(`after.${index}.jobId`),
        reason: `no job ${JSON.stringify(dependency.jobId)} exists`,
      });
    }
  });
  const cycle = findCycle(spec.jobId, (jobId) =>
    (jobId === spec.jobId ? spec.after : afterOf(jobId))?.map((d) => d.jobId),
  );
  if (cycle) issues.push({ field: at('after'), reason: `cycle ${describeCycle(cycle)}` });
  return issues;
}
