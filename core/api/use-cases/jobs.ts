import {
  AlreadyExistsError,
  NotFoundError,
  PayloadTooLargeError,
  ValidationError,
  VersionConflictError,
} from '../../errors';
import {
  isoSeconds,
  type Job,
  type JobSpec,
  jsonSize,
  MAX_PAYLOAD_BYTES,
  MAX_PAYLOAD_DEPTH,
  scheduleModeOf,
  type TraceId,
  tooDeep,
} from '../../model';
import { parseSchedule } from '../../schedule';
import { ApiError } from '../errors';
import type { JobFilter } from '../ports';
import {
  API_LIMITS,
  type JobPage,
  type JobView,
  type SchedulePreview,
  type TriggerResponse,
} from '../schemas';
import { type PageInput, type Principal, UseCases } from './shared';

/** Defining, reading, pausing and firing jobs, and previewing schedules. */
export class JobUseCases extends UseCases {
  async list(
    query: PageInput & {
      pool?: string | undefined;
      handler?: string | undefined;
      mode?: 'REMOTE' | 'LOCAL' | undefined;
      paused?: boolean | undefined;
      group?: string | undefined;
      owner?: string | undefined;
      q?: string | undefined;
    },
  ): Promise<JobPage> {
    const { limit, cursor, ...filter } = query;
    const filtered = Object.values(filter).some((v) => v !== undefined);
    const [page, total] = await Promise.all([
      this.page(
        { list: 'jobs', ...filter },
        cursor,
        limit,
        () => ({}),
        (visit, options) => this.deps.reads.walkJobs(filter, visit, options),
        // The next fire only (computed from the spec, no extra read): the list's "next fire" column.
        (job: Job): JobView => ({ ...job, ...this.nextFires(job, 1) }),
        // A filter the index does not cover is applied to what the index reads: read more per request.
        filtered ? Math.max(limit, 100) : limit,
      ),
      this.count(filter),
    ]);
    return { ...page, ...(total === undefined ? {} : { total }) };
  }

  /** How many jobs match `filter`, or undefined when counting them would take more than maxCountReads. */
  private async count(filter: JobFilter): Promise<number | undefined> {
    let total = 0;
    const counted = await this.deps.reads.walkJobs(
      filter,
      () => {
        total += 1;
        return true;
      },
      { maxReads: API_LIMITS.maxCountReads, pageSize: 1000 },
    );
    return counted.next ? undefined : total;
  }

  async create(principal: Principal, spec: JobSpec): Promise<Job> {
    await this.checkContacts(spec.contacts, 'contacts');
    let job: Job;
    try {
      job = await this.deps.jobService.define(spec, { expectedVersion: 0 });
    } catch (error) {
      if (error instanceof VersionConflictError) throw new AlreadyExistsError('job', spec.jobId);
      throw error;
    }
    await this.record(principal, 'job.create', `job:${spec.jobId}`, undefined, job);
    return job;
  }

  async get(jobId: string): Promise<JobView> {
    const job = await this.deps.jobService.get(jobId);
    const [problems, audience] = await Promise.all([
      this.dependencyProblems(job),
      this.deps.contacts.audienceOf(job.spec),
    ]);
    const alertsGoTo = audience.members.map(({ contact, via, alertKinds }) => ({
      contactId: contact.contactId,
      name: contact.name,
      email: contact.email,
      channels: contact.channels.map((c) => `${c.type}:${c.name}`),
      via: [...via],
      alertKinds: [...alertKinds],
    }));
    return { ...job, ...this.nextFires(job), ...problems, alertsGoTo };
  }

  /** Upstream jobs that are gone (deleted after this job was defined; JobService.delete allows it). */
  private async dependencyProblems(job: Job): Promise<Pick<JobView, 'dependencyProblems'>> {
    const upstream = await Promise.all(job.spec.after.map((d) => this.deps.jobs.get(d.jobId)));
    const problems = job.spec.after
      .filter((_, index) => upstream[index] === null)
      .map((d) => ({
        jobId: d.jobId,
        reason: `upstream job ${d.jobId} does not exist (deleted?): this job no longer fires after it; change its after`,
      }));
    return problems.length ? { dependencyProblems: problems } : {};
  }

  async update(principal: Principal, jobId: string, body: { version: number; spec: JobSpec }): Promise<Job> {
    if (body.spec.jobId !== jobId) {
      throw ValidationError.field('spec.jobId', `must be the job id in the path (${JSON.stringify(jobId)})`);
    }
    const before = await this.deps.jobService.get(jobId);
    if (before.version !== body.version)
      throw new VersionConflictError('job', jobId, body.version, before.version);
    await this.checkContacts(body.spec.contacts, 'spec.contacts');
    const job = await this.deps.jobService.define(body.spec, { expectedVersion: body.version });
    await this.record(principal, 'job.update', `job:${jobId}`, before, job);
    return job;
  }

  async delete(principal: Principal, jobId: string, version?: number): Promise<void> {
    const before = await this.deps.jobService.get(jobId);
    // Checked before the schedule goes, so a stale version removes nothing.
    if (version !== undefined && before.version !== version) {
      throw new VersionConflictError('job', jobId, version, before.version);
    }
    await this.deps.jobService.delete(jobId);
    await this.record(principal, 'job.delete', `job:${jobId}`, before, undefined);
  }

  async setPaused(principal: Principal, jobId: string, paused: boolean): Promise<Job> {
    const before = await this.deps.jobService.get(jobId);
    const job = before.spec.paused === paused ? before : await this.deps.jobService.setPaused(jobId, paused);
    if (job !== before) {
      await this.record(principal, paused ? 'job.pause' : 'job.resume', `job:${jobId}`, before, job);
    }
    return job;
  }

  /**
   * Fires the job now. Replacing its payload for this one run is defining what the handler gets, so
   * it needs the admin role like defining the payload does (docs/api.md); the audit entry records
   * the payload given. `traceId` is the caller's trace (its `traceparent`), which the run continues.
   */
  async trigger(
    principal: Principal,
    jobId: string,
    payload: unknown,
    traceId?: TraceId,
  ): Promise<TriggerResponse> {
    if (payload !== undefined && principal.role !== 'admin') {
      throw new ApiError(
        'FORBIDDEN',
        `a payload override needs the admin role; ${principal.subject} is ${principal.role} (trigger without "payload" to run the job's own)`,
        [{ field: 'payload', reason: 'needs the admin role' }],
      );
    }
    await this.deps.jobService.get(jobId);
    const outcome = await this.deps.dispatcher.fire({
      jobId,
      trigger: 'MANUAL',
      ...(payload === undefined ? {} : { payload }),
      ...(traceId === undefined ? {} : { traceId }),
    });
    const run =
      outcome.kind === 'dispatched'
        ? outcome.runs[0]
        : outcome.kind === 'duplicate'
          ? await this.deps.runs.get(outcome.runId)
          : outcome.run;
    if (!run) throw new NotFoundError('run', outcome.kind === 'duplicate' ? outcome.runId : jobId);
    const answer = {
      runId: run.runId,
      outcome: outcome.kind,
      status: run.status,
      ...(run.traceId ? { traceId: run.traceId } : {}),
    };
    await this.record(
      principal,
      'job.trigger',
      `job:${jobId}`,
      undefined,
      payload === undefined ? answer : { ...answer, payload },
    );
    return answer;
  }

  previewSchedule(body: {
    expression: string;
    timezone?: string | undefined;
    startDate?: string | undefined;
    endDate?: string | undefined;
    mode: 'REMOTE' | 'LOCAL';
    count: number;
    from?: string | undefined;
  }): SchedulePreview {
    let from = new Date(this.deps.clock.now());
    if (body.from !== undefined) {
      from = new Date(body.from);
      if (!/^\d{4}-\d{2}-\d{2}T/.test(body.from) || Number.isNaN(from.getTime())) {
        throw ValidationError.field('from', 'must be an ISO-8601 instant such as 2026-01-30T10:00:00Z');
      }
    }
    const schedule = parseSchedule(
      {
        expression: body.expression,
        ...(body.timezone === undefined ? {} : { timezone: body.timezone }),
        ...(body.startDate === undefined ? {} : { startDate: body.startDate }),
        ...(body.endDate === undefined ? {} : { endDate: body.endDate }),
      },
      body.mode,
    );
    return {
      expression: body.expression,
      awsExpression: schedule.awsExpression,
      description: schedule.describe(),
      nextFires: schedule.next(from, body.count).map((d) => isoSeconds(d.getTime())),
    };
  }

  private nextFires(job: Job, count = 5): { nextFires?: string[] } {
    const schedule = job.spec.schedule;
    if (!schedule || job.spec.paused) return {};
    try {
      const fires = parseSchedule(schedule, scheduleModeOf(job.spec)).next(
        new Date(this.deps.clock.now()),
        count,
      );
      return { nextFires: fires.map((d) => isoSeconds(d.getTime())) };
    } catch {
      return {};
    }
  }
}

/**
 * The payload checks that run before the schema's field checks: too deep is 400 naming `field`
 * (checked first and without recursion, because measuring the size recurses), oversized is 413.
 */
export function checkPayloadSize(value: unknown, field: string): void {
  if (value === undefined) return;
  if (tooDeep(value, MAX_PAYLOAD_DEPTH)) {
    throw ValidationError.field(
      field,
      `must nest arrays and objects at most ${MAX_PAYLOAD_DEPTH} levels deep`,
    );
  }
  let size: number;
  try {
    size = jsonSize(value);
  } catch {
    return; // not JSON-serializable: the schema names it
  }
  if (size > MAX_PAYLOAD_BYTES) throw new PayloadTooLargeError(field, size, MAX_PAYLOAD_BYTES);
}
