import { NotFoundError, ValidationError } from './errors';
import type { Logger } from './log';
import {
  dependencyIssues,
  isLive,
  isPrecise,
  type Job,
  type JobSpec,
  JobSpecSchema,
  parseOrThrow,
} from './model';
import {
  type Clock,
  type GraphRead,
  type JobStore,
  MAX_GRAPH_CHECKS,
  type ScheduleEntry,
  type ScheduleGateway,
  type WorkerRegistry,
} from './ports';
import { parseSchedule } from './schedule';

export interface JobServiceDeps {
  readonly jobs: JobStore;
  readonly schedules: ScheduleGateway;
  /** Read to refuse a precise job on a pool where no live agent can hold planned fires. */
  readonly workers: Pick<WorkerRegistry, 'list'>;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface DefineOptions {
  /** Only replace the job if it is still at this version (optimistic concurrency for editors). */
  readonly expectedVersion?: number;
  /** Declarative jobs: the agent config that owns the job. */
  readonly owner?: string;
}

/**
 * Defining, changing and deleting jobs (ARCHITECTURE.md, "Define a job"). The job is written first,
 * marked OUT_OF_SYNC, then its EventBridge schedule; only then is it marked IN_SYNC. A failure
 * between the writes leaves an out-of-sync job for the monitor to repair, never an orphan schedule.
 * Deletion removes the schedule before the job for the same reason.
 */
export class JobService {
  constructor(private readonly deps: JobServiceDeps) {}

  /**
   * Validates and stores a job spec (create or update). Invalid input throws ValidationError and
   * writes nothing — including an `after` naming a job that does not exist or closing a cycle.
   * Then each upstream job lists this one in its `downstream` (a crash in between is repaired by the monitor).
   *
   * The graph stays acyclic under concurrent edits: a define that adds to `after` writes the job in
   * one atomic write with a check that every job of the upstream graph it read is unchanged (or still
   * absent), so of two edits that together would close a cycle one fails with GraphChangedError
   * (docs/dependent-jobs.md, "Cycles and concurrent edits").
   */
  async define(input: unknown, options: DefineOptions = {}): Promise<Job> {
    const spec = parseOrThrow(JobSpecSchema, input);
    await this.checkPreciseSupport(spec);
    const current = await this.deps.jobs.get(spec.jobId);
    let unchanged: GraphRead[] = [];
    if (spec.after.length) {
      const upstream = await this.upstreamGraph(spec);
      const issues = dependencyIssues(spec, (jobId) => upstream.get(jobId)?.spec.after);
      if (issues.length) throw new ValidationError(issues);
      // Removing or keeping edges cannot close a cycle; only a define that adds one needs the check.
      const before = new Set(current?.spec.after.map((d) => d.jobId));
      if (spec.after.some((d) => !before.has(d.jobId))) unchanged = graphReads(upstream);
    }
    return this.write(
      spec,
      current,
      options.expectedVersion ?? current?.version ?? 0,
      options.owner,
      unchanged,
    );
  }

  /**
   * A precise job needs a live agent of its pool that holds planned fires (feature `precise`); without
   * one its fires could only be NO_WORKER, so it is refused here, naming `precision`. Paused jobs are
   * let through: they fire nothing until resumed (a resume does not check; a fire with no such agent
   * is recorded NO_WORKER with the reason, as for any job).
   */
  private async checkPreciseSupport(spec: JobSpec): Promise<void> {
    if (!isPrecise(spec) || spec.paused) return;
    const now = this.deps.clock.now();
    const live = (await this.deps.workers.list(spec.target.pool)).filter((w) => isLive(w, now));
    if (live.some((w) => w.features?.includes('precise'))) return;
    const why =
      live.length === 0
        ? `pool ${spec.target.pool} has no live agent`
        : `no live agent of pool ${spec.target.pool} supports precise jobs (${live.map((w) => w.workerId).join(', ')}: upgrade them)`;
    throw ValidationError.field(
      'precision',
      `SECOND needs an agent that holds planned fires, and ${why}; start one first, or define the job paused`,
    );
  }

  private async write(
    spec: JobSpec,
    current: Job | null,
    expectedVersion: number,
    owner: string | undefined,
    unchanged: readonly GraphRead[],
  ): Promise<Job> {
    const now = this.deps.clock.now();
    const job: Job = {
      spec,
      version: expectedVersion + 1,
      createdAt: current?.createdAt ?? now,
      updatedAt: now,
      syncState: 'OUT_OF_SYNC',
      ...((owner ?? current?.owner) ? { owner: owner ?? current?.owner } : {}),
      ...(current?.downstream?.length ? { downstream: current.downstream } : {}),
    };
    await this.deps.jobs.put(job, expectedVersion, unchanged);
    await this.linkUpstreams(spec.jobId, spec.after, current?.spec.after ?? []);
    await this.syncSchedule(job);
    return { ...job, syncState: 'IN_SYNC' };
  }

  async get(jobId: string): Promise<Job> {
    const job = await this.deps.jobs.get(jobId);
    if (!job) throw new NotFoundError('job', jobId);
    return job;
  }

  list(): Promise<Job[]> {
    return this.deps.jobs.list();
  }

  /**
   * Pauses or resumes a job: its stored spec with `paused` changed, written at its version. Nothing
   * else is validated again — not the dependency graph either — so pause works whatever the graph
   * holds (a cycle stored by an older version, an upstream since deleted): the way to stop a chain.
   */
  async setPaused(jobId: string, paused: boolean): Promise<Job> {
    const job = await this.get(jobId);
    return this.write({ ...job.spec, paused }, job, job.version, undefined, []);
  }

  /**
   * Deletes a job and its schedule. Jobs that run after it stay, and report it (JobUseCases.get in
   * core/api/use-cases/jobs.ts, `dependencyProblems`) until their `after` is changed: they no longer
   * fire from it.
   */
  async delete(jobId: string): Promise<void> {
    const job = await this.get(jobId);
    await this.deps.schedules.remove(jobId);
    await this.deps.jobs.delete(jobId, job.version);
    await this.linkUpstreams(jobId, [], job.spec.after);
    this.deps.log.log('info', 'job deleted', { jobId });
  }

  /**
   * The jobs reachable up `spec.after` (null for ids that do not exist), read breadth-first: what
   * cycle detection needs. Defining a job without `after` reads none.
   */
  private async upstreamGraph(spec: JobSpec): Promise<Map<string, Job | null>> {
    const known = new Map<string, Job | null>();
    let frontier = new Set(spec.after.map((d) => d.jobId));
    while (frontier.size) {
      const ids = [...frontier].filter((id) => id !== spec.jobId && !known.has(id));
      if (known.size + ids.length > MAX_GRAPH_CHECKS) {
        throw new ValidationError([
          {
            field: 'after',
            reason: `runs after more than ${MAX_GRAPH_CHECKS} jobs, directly or through others; a define checks each of them in one write`,
          },
        ]);
      }
      const loaded = await Promise.all(ids.map(async (id) => [id, await this.deps.jobs.get(id)] as const));
      frontier = new Set();
      for (const [id, job] of loaded) {
        known.set(id, job);
        for (const dependency of job?.spec.after ?? []) frontier.add(dependency.jobId);
      }
    }
    return known;
  }

  /** Keeps upstream jobs' `downstream` lists: adds `jobId` to each of `after` (idempotent), removes it from those only in `before`. */
  private async linkUpstreams(
    jobId: string,
    after: JobSpec['after'],
    before: JobSpec['after'],
  ): Promise<void> {
    const now = new Set(after.map((d) => d.jobId));
    for (const upstreamId of now) await this.deps.jobs.linkDownstream(upstreamId, jobId, true);
    for (const { jobId: upstreamId } of before) {
      if (!now.has(upstreamId)) await this.deps.jobs.linkDownstream(upstreamId, jobId, false);
    }
  }

  /** Makes the EventBridge schedule match the job (REMOTE with a schedule) or removes it, then marks the job IN_SYNC. */
  async syncSchedule(job: Job): Promise<void> {
    const entry = scheduleEntryFor(job.spec);
    if (entry) await this.deps.schedules.upsert(entry);
    else await this.deps.schedules.remove(job.spec.jobId);
    await this.deps.jobs.setSyncState(job.spec.jobId, job.version, 'IN_SYNC');
    this.deps.log.log('info', 'job defined', {
      jobId: job.spec.jobId,
      version: job.version,
      schedule: entry?.expression,
    });
  }
}

/** The upstream graph as read: what the write checks is still so. */
function graphReads(upstream: ReadonlyMap<string, Job | null>): GraphRead[] {
  return [...upstream].map(([jobId, job]) =>
    job ? { jobId, version: job.version, updatedAt: job.updatedAt } : { jobId, absent: true },
  );
}

/**
 * The EventBridge schedule a job needs: REMOTE jobs with a schedule have one; LOCAL, precise (the
 * planner fires them: core/planner.ts) and manual-only jobs have none.
 */
export function scheduleEntryFor(spec: JobSpec): ScheduleEntry | null {
  if (spec.mode !== 'REMOTE' || isPrecise(spec) || !spec.schedule) return null;
  return {
    jobId: spec.jobId,
    // Validation already rejected REMOTE expressions that EventBridge cannot express exactly.
    expression: parseSchedule(spec.schedule, spec.mode).awsExpression ?? spec.schedule.expression,
    timezone: spec.schedule.timezone,
    ...(spec.schedule.startDate ? { startDate: spec.schedule.startDate } : {}),
    ...(spec.schedule.endDate ? { endDate: spec.schedule.endDate } : {}),
    enabled: true,
  };
}
