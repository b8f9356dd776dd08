/**
 * `clover jobs apply -f jobs.yaml`: the file is the truth for the jobs it owns (docs/cli.md, "Declarative
 * jobs"). This module is the pure part — reading the file, and the plan: what to create, update
 * (with the fields that change), delete (only with --prune), leave alone, or refuse.
 *
 * Ownership. Applied jobs carry the owner id `cli:<name>` (Job.owner), `<name>` being the file's
 * `owner:` key, else `--owner`, else the file's base name (`jobs/nightly.yaml` → `cli:nightly`). The
 * plan compares the file only with the jobs of that owner; a job id that exists under another owner
 * (or none: made in the console) is a conflict, and nothing is written. The writes themselves go
 * through the API's declared-job sync (PUT /api/agents/{owner}/declared-jobs), the same code an agent's
 * config uses, so both follow one set of ownership rules.
 *
 * Content. A job is unchanged when its spec, with defaults filled in, equals the stored one field by
 * field — except `paused`, which is operator state: a `paused:` in the file applies when the job is
 * created, and a later pause or resume from the CLI or console survives every apply.
 */
import { basename, extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import type { JobViewSchema } from '../core/api/schemas';
import { type FieldIssue, ValidationError } from '../core/errors';
import { fieldIssues, type JobSpec, JobSpecSchema } from '../core/model';

type StoredJob = z.output<typeof JobViewSchema>;

export const APPLY_OWNER_PREFIX = 'cli:';
const OWNER_NAME = /^[A-Za-z0-9._-]{1,100}$/;

export interface JobsFile {
  /** `cli:<name>`. */
  readonly owner: string;
  /** Parsed specs, defaults filled in, in file order. */
  readonly jobs: readonly JobSpec[];
}

/**
 * Parses a jobs file (YAML or JSON): either `{owner?: name, jobs: [spec, ...]}` or a bare list of
 * specs. Throws ValidationError naming every bad field (`jobs.2.schedule.expression`).
 */
export function parseJobsFile(text: string, path: string, ownerFlag?: string): JobsFile {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw ValidationError.field(
      '(file)',
      `is not valid YAML: ${error instanceof Error ? error.message : error}`,
    );
  }
  const doc: Record<string, unknown> = Array.isArray(data)
    ? { jobs: data }
    : data !== null && typeof data === 'object'
      ? (data as Record<string, unknown>)
      : {};
  const issues: FieldIssue[] = [];
  for (const key of Object.keys(doc)) {
    if (key !== 'owner' && key !== 'jobs')
      issues.push({ field: key, reason: 'is not a known field (owner, jobs)' });
  }
  if (!Array.isArray(doc.jobs)) issues.push({ field: 'jobs', reason: 'must be a list of job specs' });
  const fromFile = typeof doc.owner === 'string' ? doc.owner : undefined;
  if (doc.owner !== undefined && fromFile === undefined)
    issues.push({ field: 'owner', reason: 'must be a string' });
  if (ownerFlag !== undefined && fromFile !== undefined && ownerFlag !== fromFile) {
    issues.push({ field: 'owner', reason: `is "${fromFile}" in the file but --owner says "${ownerFlag}"` });
  }
  const name = ownerFlag ?? fromFile ?? basename(path, extname(path));
  if (!OWNER_NAME.test(name)) {
    issues.push({
      field: 'owner',
      reason: `"${name}" must be 1-100 of letters, digits, ".", "_", "-" (set owner: in the file or --owner)`,
    });
  }
  const jobs: JobSpec[] = [];
  const seen = new Map<string, number>();
  for (const [index, input] of (Array.isArray(doc.jobs) ? doc.jobs : []).entries()) {
    const result = JobSpecSchema.safeParse(input);
    if (!result.success) {
      issues.push(...fieldIssues(result.error, `jobs.${index}`));
      continue;
    }
    const first = seen.get(result.data.jobId);
    if (first !== undefined) {
      issues.push({ field: `jobs.${index}.jobId`, reason: `"${result.data.jobId}" is also jobs.${first}` });
    }
    seen.set(result.data.jobId, index);
    jobs.push(result.data);
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return { owner: `${APPLY_OWNER_PREFIX}${name}`, jobs };
}

export interface FieldChange {
  /** Dotted path in the spec: `schedule.expression`, `target.labels.env`. */
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
}

export type PlanEntry =
  | { readonly action: 'create'; readonly jobId: string }
  | { readonly action: 'update'; readonly jobId: string; readonly changes: readonly FieldChange[] }
  | { readonly action: 'delete'; readonly jobId: string }
  | { readonly action: 'unchanged'; readonly jobId: string }
  /** Owned, not in the file, and no --prune: left as it is. */
  | { readonly action: 'keep'; readonly jobId: string }
  /** The id exists under another owner (or none): nothing is written. */
  | { readonly action: 'conflict'; readonly jobId: string; readonly owner: string | undefined };

export interface Plan {
  readonly owner: string;
  readonly entries: readonly PlanEntry[];
  /** What to send to the declared-job sync: the file's jobs, plus the kept ones unless pruning. */
  readonly declared: readonly JobSpec[];
  readonly counts: Readonly<Record<PlanEntry['action'], number>>;
  /** True when applying would write something. */
  readonly changes: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The fields that differ between two JSON values, by dotted path; undefined and absent are the same. */
export function diffValues(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => diffValues(before[key], after[key], path ? `${path}.${key}` : key));
  }
  // Arrays (handlers' payload lists, contacts, pinned workers) are compared whole: their order matters.
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  if (isRecord(before) && after === undefined) return diffValues(before, {}, path);
  if (before === undefined && isRecord(after)) return diffValues({}, after, path);
  return [{ path: path || '(spec)', before, after }];
}

/** What applying would change: content changes only (`paused` is operator state, see the module comment). */
export function specChanges(stored: JobSpec, desired: JobSpec): FieldChange[] {
  const { paused: _a, ...current } = stored;
  const { paused: _b, ...next } = desired;
  return diffValues(current, next);
}

export interface PlanInput {
  readonly file: JobsFile;
  /** Every job the owner owns now (GET /api/jobs?owner=...). */
  readonly owned: readonly StoredJob[];
  /** Jobs with an id from the file that exist but are not owned (from GET /api/jobs/{jobId}). */
  readonly others: readonly StoredJob[];
  readonly prune: boolean;
}

export function computePlan(input: PlanInput): Plan {
  const { file, prune } = input;
  const owned = new Map(input.owned.map((job) => [job.spec.jobId, job]));
  const others = new Map(input.others.map((job) => [job.spec.jobId, job]));
  const inFile = new Set(file.jobs.map((spec) => spec.jobId));
  const entries: PlanEntry[] = [];
  for (const spec of file.jobs) {
    const current = owned.get(spec.jobId);
    const other = others.get(spec.jobId);
    if (current) {
      const changes = specChanges(current.spec, spec);
      entries.push(
        changes.length
          ? { action: 'update', jobId: spec.jobId, changes }
          : { action: 'unchanged', jobId: spec.jobId },
      );
    } else if (other) {
      entries.push({ action: 'conflict', jobId: spec.jobId, owner: other.owner });
    } else {
      entries.push({ action: 'create', jobId: spec.jobId });
    }
  }
  const kept: JobSpec[] = [];
  for (const job of [...owned.values()].sort((a, b) => (a.spec.jobId < b.spec.jobId ? -1 : 1))) {
    if (inFile.has(job.spec.jobId)) continue;
    entries.push({ action: prune ? 'delete' : 'keep', jobId: job.spec.jobId });
    if (!prune) kept.push(job.spec);
  }
  const counts = { create: 0, update: 0, delete: 0, unchanged: 0, keep: 0, conflict: 0 };
  for (const entry of entries) counts[entry.action] += 1;
  return {
    owner: file.owner,
    entries,
    declared: [...file.jobs, ...kept],
    counts,
    changes: counts.create + counts.update + counts.delete > 0,
  };
}

const SIGN: Readonly<Record<PlanEntry['action'], string>> = {
  create: '+ create   ',
  update: '~ update   ',
  delete: '- delete   ',
  unchanged: '= unchanged',
  keep: '  keep     ',
  conflict: '! conflict ',
};

function show(value: unknown): string {
  return value === undefined ? '(none)' : JSON.stringify(value);
}

/** The plan as people read it: one line per job, changed fields under updates, then the totals. */
export function formatPlan(plan: Plan): string[] {
  const lines = [`Plan for owner ${plan.owner}:`];
  for (const entry of plan.entries) {
    const note =
      entry.action === 'keep'
        ? '  (not in the file; --prune deletes it)'
        : entry.action === 'conflict'
          ? `  (exists and ${entry.owner === undefined ? 'was not created by an apply or agent config' : `is owned by ${entry.owner}`}; rename it in the file or delete the existing job)`
          : '';
    lines.push(`${SIGN[entry.action]} ${entry.jobId}${note}`);
    if (entry.action === 'update') {
      for (const change of entry.changes)
        lines.push(`      ${change.path}: ${show(change.before)} → ${show(change.after)}`);
    }
  }
  if (plan.entries.length === 0) lines.push('  (no jobs in the file and none owned)');
  const { create, update, delete: del, unchanged, keep, conflict } = plan.counts;
  lines.push(
    `${create} to create, ${update} to update, ${del} to delete, ${unchanged} unchanged` +
      (keep ? `, ${keep} kept (not in the file)` : '') +
      (conflict ? `, ${conflict} in conflict` : '') +
      '.',
  );
  return lines;
}
