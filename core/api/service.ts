/**
 * The management API's use cases, one method per route (core/api/routes.ts), over the core services
 * and ports. Inputs arrive already validated against the route's schemas; every accepted change is
 * written, then recorded in the audit log with who, what, when, before and after. Rejected input
 * throws before anything is written, so it changes nothing and leaves no audit record.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { ContactService } from '../contacts';
import type { Dispatcher } from '../dispatch';
import {
  AlreadyExistsError,
  CloverError,
  NotFoundError,
  PayloadTooLargeError,
  RunNotInStateError,
  ValidationError,
  VersionConflictError,
} from '../errors';
import type { JobService } from '../jobs';
import type { Logger } from '../log';
import {
  type AlertRecord,
  type Contact,
  type ContactView,
  contactView,
  isFinal,
  isLive,
  isoSeconds,
  type Job,
  type JobSpec,
  jsonSize,
  MAX_PAYLOAD_BYTES,
  MAX_PAYLOAD_DEPTH,
  MAX_SILENCES,
  type Run,
  type Silence,
  scheduleModeOf,
  tooDeep,
  type Worker,
} from '../model';
import type { AlertStore, Clock, ContactStore, JobStore, RunLedger, WorkerRegistry } from '../ports';
import { parseSchedule } from '../schedule';
import { type CursorState, decodeCursor, encodeCursor, type Position } from './cursor';
import { ApiError } from './errors';
import type { ApiReads, AuditLog, JobFilter, Visit, WalkOptions, WalkResult } from './ports';
import {
  type AlertListStatus,
  API_LIMITS,
  type AuditAction,
  type AuditRecord,
  type ErrorSearchResult,
  type JobPage,
  type JobView,
  MAX_SILENCE_DAYS,
  type Me,
  type Page,
  type Role,
  type RunLog,
  type RunSummary,
  type SchedulePreview,
  type SilenceSpec,
  type Stats,
  type SyncResultBody,
  type TriggerResponse,
  type WorkerView,
} from './schemas';

/** Who is calling: from a verified JWT (role from its groups) or, for agents in AWS, IAM (SigV4). */
export interface Principal {
  readonly subject: string;
  readonly role: Role;
  readonly via: 'jwt' | 'iam';
}

/** The declared-job sync (worker-agent/job-sync.ts), injected so core does not depend on the agent. */
export type DeclaredJobSync = (input: {
  readonly owner: string;
  readonly declared: readonly JobSpec[];
}) => Promise<SyncResultBody>;

export interface ManagementDeps {
  readonly jobService: JobService;
  readonly jobs: JobStore;
  readonly runs: RunLedger;
  readonly dispatcher: Dispatcher;
  readonly workers: WorkerRegistry;
  readonly contacts: ContactService;
  readonly contactStore: ContactStore;
  /** Acknowledgements and silences. */
  readonly alerts: AlertStore;
  readonly reads: ApiReads;
  readonly audit: AuditLog;
  readonly declaredSync: DeclaredJobSync;
  readonly clock: Clock;
  readonly log: Logger;
}

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

/** Query inputs as the route schemas parse them. */
interface PageInput {
  readonly limit: number;
  readonly cursor?: string | undefined;
}
interface WindowInput {
  readonly from?: number | undefined;
  readonly to?: number | undefined;
}

export class ManagementApi {
  constructor(private readonly deps: ManagementDeps) {}

  me(principal: Principal): Me {
    return { subject: principal.subject, role: principal.role, via: principal.via };
  }

  // -------------------------------------------------------------------------------------------
  // Jobs

  async listJobs(
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
      this.countJobs(filter),
    ]);
    return { ...page, ...(total === undefined ? {} : { total }) };
  }

  /** How many jobs match `filter`, or undefined when counting them would take more than maxCountReads. */
  private async countJobs(filter: JobFilter): Promise<number | undefined> {
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

  async createJob(principal: Principal, spec: JobSpec): Promise<Job> {
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

  async getJob(jobId: string): Promise<JobView> {
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

  async updateJob(
    principal: Principal,
    jobId: string,
    body: { version: number; spec: JobSpec },
  ): Promise<Job> {
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

  async deleteJob(principal: Principal, jobId: string, version?: number): Promise<void> {
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
   * the payload given.
   */
  async trigger(principal: Principal, jobId: string, payload: unknown): Promise<TriggerResponse> {
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
    });
    const run =
      outcome.kind === 'dispatched'
        ? outcome.runs[0]
        : outcome.kind === 'duplicate'
          ? await this.deps.runs.get(outcome.runId)
          : outcome.run;
    if (!run) throw new NotFoundError('run', outcome.kind === 'duplicate' ? outcome.runId : jobId);
    const answer = { runId: run.runId, outcome: outcome.kind, status: run.status };
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

  /**
   * The payload checks that run before the schema's field checks: too deep is 400 naming `field`
   * (checked first and without recursion, because measuring the size recurses), oversized is 413.
   */
  static checkPayloadSize(value: unknown, field: string): void {
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

  // -------------------------------------------------------------------------------------------
  // Runs

  async listRuns(
    query: PageInput &
      WindowInput & {
        jobId?: string | undefined;
        status?: Run['status'] | undefined;
        workerId?: string | undefined;
      },
  ): Promise<Page<RunSummary>> {
    const { limit, cursor, from, to, ...filter } = query;
    const window = this.window({ from, to }, cursor, { list: 'runs', from, to, ...filter });
    return this.page(
      { list: 'runs', from, to, ...filter },
      cursor,
      limit,
      () => window.state,
      (visit, options) => this.deps.reads.walkRuns({ ...filter, ...window }, visit, options),
      summary,
      limit,
    );
  }

  async getRun(runId: string): Promise<Run> {
    const run = await this.deps.runs.get(runId);
    if (!run) throw new NotFoundError('run', runId);
    return run;
  }

  async runLog(runId: string, query: { cursor?: string | undefined; limit: number }): Promise<RunLog> {
    const run = await this.getRun(runId);
    const key = { list: 'log', runId };
    const start = query.cursor ? Number(decodeCursor(query.cursor, key).position.key?.index ?? 0) : 0;
    const log = run.log ?? [];
    const lines = log.slice(start, start + query.limit).map((message, i) => ({ index: start + i, message }));
    const next = start + lines.length;
    return {
      runId,
      status: run.status,
      lines,
      nextCursor: encodeCursor(key, { segment: 'log', key: { index: next } }),
      complete: isFinal(run) && next >= log.length,
    };
  }

  async cancelRun(principal: Principal, runId: string): Promise<Run> {
    const before = await this.getRun(runId);
    if (isFinal(before))
      throw new RunNotInStateError(runId, ['PENDING', 'DISPATCHED', 'RUNNING', 'NO_WORKER'], before);
    const now = this.deps.clock.now();
    // Fenced on what was read: if the run moved meanwhile, this is a 409, never an overwrite.
    const run = await this.deps.runs.transition(runId, {
      from: [before.status],
      fence: before.fence,
      to: 'CANCELLED',
      at: now,
      note: `cancelled by ${principal.subject}`,
      set: { cancelRequested: true, finishedAt: now, reason: 'cancelled' },
      unset: ['nextAttemptAt'],
    });
    await this.deps.dispatcher.settle(run);
    await this.record(principal, 'run.cancel', `run:${runId}`, summary(before), summary(run));
    return run;
  }

  async searchErrors(
    query: PageInput & WindowInput & { q: string; jobId?: string | undefined },
  ): Promise<ErrorSearchResult> {
    const { limit, cursor, from, to, q, jobId } = query;
    const key = { list: 'search', from, to, q, jobId };
    const window = this.window({ from, to }, cursor, key);
    const needle = q.toLowerCase();
    const items: ErrorSearchResult['items'] = [];
    const start = cursor ? decodeCursor(cursor, key).position : undefined;
    const pageSize = 200;
    const result = await this.deps.reads.walkRuns(
      { ...(jobId ? { jobId } : {}), ...window },
      (run) => {
        const base = { runId: run.runId, jobId: run.jobId, at: run.scheduledTime };
        if (run.error?.message.toLowerCase().includes(needle)) {
          items.push({ ...base, kind: 'error', text: run.error.message });
        }
        for (const line of run.log ?? []) {
          if (line.toLowerCase().includes(needle)) items.push({ ...base, kind: 'log', text: line });
        }
        return items.length < limit;
      },
      {
        ...(start ? { start } : {}),
        maxReads: Math.ceil(API_LIMITS.maxSearchedRunsPerPage / pageSize),
        pageSize,
      },
    );
    return {
      items,
      ...(result.next ? { nextCursor: encodeCursor(key, result.next, window.state) } : {}),
      scanned: result.visited,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Workers

  async listWorkers(pool?: string): Promise<Page<WorkerView>> {
    const now = this.deps.clock.now();
    const workers = await this.deps.workers.list(pool);
    return {
      items: workers.sort((a, b) => a.workerId.localeCompare(b.workerId)).map((w) => workerView(w, now)),
    };
  }

  async drainWorker(principal: Principal, workerId: string): Promise<WorkerView> {
    const before = await this.deps.workers.get(workerId);
    const now = this.deps.clock.now();
    if (!before || !isLive(before, now)) throw new NotFoundError('live worker', workerId);
    if (before.status !== 'DRAINING') {
      await this.deps.workers.setStatus(workerId, before.leaseFence, 'DRAINING', now);
    }
    const after = (await this.deps.workers.get(workerId)) ?? before;
    await this.record(
      principal,
      'worker.drain',
      `worker:${workerId}`,
      workerView(before, now),
      workerView(after, now),
    );
    return workerView(after, now);
  }

  // -------------------------------------------------------------------------------------------
  // Contacts

  async listContacts(query: PageInput): Promise<Page<ContactView>> {
    // Contacts are people: a small table read whole, then paged by id.
    const all = (await this.deps.contacts.list()).sort((a, b) => a.contactId.localeCompare(b.contactId));
    const key = { list: 'contacts' };
    const after = query.cursor ? String(decodeCursor(query.cursor, key).position.key?.contactId ?? '') : '';
    const rest = all.filter((c) => c.contactId > after);
    const items = rest.slice(0, query.limit);
    const last = items.at(-1);
    return {
      items: items.map((c) => contactView(c)),
      ...(rest.length > items.length && last
        ? { nextCursor: encodeCursor(key, { segment: 'all', key: { contactId: last.contactId } }) }
        : {}),
    };
  }

  /** The response shows each webhook secret once (generated or given); reads and the audit trail never do. */
  async createContact(principal: Principal, contact: unknown): Promise<ContactView> {
    const created = await this.deps.contacts.create(contact);
    await this.record(
      principal,
      'contact.create',
      `contact:${created.contactId}`,
      undefined,
      contactView(created),
    );
    return contactView(created, newSecrets(created));
  }

  async getContact(contactId: string): Promise<ContactView> {
    return contactView(await this.deps.contacts.get(contactId));
  }

  /** The response shows a webhook secret this update generated, rotated or set. */
  async updateContact(
    principal: Principal,
    contactId: string,
    changes: Record<string, unknown>,
  ): Promise<ContactView> {
    const before = await this.deps.contacts.get(contactId);
    const after = await this.deps.contacts.update(contactId, changes);
    await this.record(
      principal,
      'contact.update',
      `contact:${contactId}`,
      contactView(before),
      contactView(after),
    );
    return contactView(after, newSecrets(after, before));
  }

  async deleteContact(principal: Principal, contactId: string): Promise<void> {
    const before = await this.deps.contacts.get(contactId);
    await this.deps.contacts.delete(contactId);
    await this.record(principal, 'contact.delete', `contact:${contactId}`, contactView(before), undefined);
  }

  // -------------------------------------------------------------------------------------------
  // Alerts, stats, audit

  async listAlerts(
    query: PageInput &
      WindowInput & {
        jobId?: string | undefined;
        kind?: AlertRecord['kind'] | undefined;
        status?: AlertListStatus | undefined;
      },
  ): Promise<Page<AlertRecord>> {
    const { limit, cursor, from, to, ...filter } = query;
    const key = { list: 'alerts', from, to, ...filter };
    const window = this.window({ from, to }, cursor, key);
    return this.page(
      key,
      cursor,
      limit,
      () => window.state,
      (visit, options) => this.deps.reads.walkAlerts({ ...filter, ...window }, visit, options),
      (a: AlertRecord) => a,
      filter.kind || filter.status ? Math.max(limit, 100) : limit,
    );
  }

  /** Takes an alert, once (a second acknowledgement is 409 ALREADY_ACKNOWLEDGED and changes nothing). */
  async acknowledgeAlert(principal: Principal, alertId: string, comment?: string): Promise<AlertRecord> {
    const acknowledgement = {
      at: this.deps.clock.now(),
      by: principal.subject,
      ...(comment === undefined ? {} : { comment }),
    };
    let alert: AlertRecord;
    try {
      alert = await this.deps.alerts.acknowledge(alertId, acknowledgement);
    } catch (error) {
      if (error instanceof NotFoundError) {
        throw new CloverError('not_found', `alert ${JSON.stringify(alertId)} does not exist`, {
          details: { field: 'alertId' },
        });
      }
      throw error;
    }
    const { kind, jobId, status } = alert;
    await this.record(principal, 'alert.acknowledge', `alert:${alertId}`, undefined, {
      alertId,
      kind,
      jobId,
      status,
      acknowledgement,
    });
    return alert;
  }

  async listSilences(): Promise<Page<Silence>> {
    const now = this.deps.clock.now();
    const active = (await this.deps.alerts.silences()).filter((s) => s.endsAt > now);
    return { items: active.sort((a, b) => a.endsAt - b.endsAt || a.silenceId.localeCompare(b.silenceId)) };
  }

  /** Checked whole before anything is written: an end in the past, no scope, an unknown job, too many. */
  async createSilence(principal: Principal, spec: SilenceSpec): Promise<Silence> {
    const now = this.deps.clock.now();
    const issues: { field: string; reason: string }[] = [];
    if (spec.jobId === undefined && spec.kind === undefined) {
      issues.push({ field: 'jobId', reason: 'give jobId, kind or both: a silence of everything is not one' });
    }
    if (spec.endsAt <= now) {
      issues.push({ field: 'endsAt', reason: `must be in the future (it is now ${isoSeconds(now)})` });
    } else if (spec.endsAt > now + MAX_SILENCE_DAYS * DAY_MS) {
      issues.push({ field: 'endsAt', reason: `must be at most ${MAX_SILENCE_DAYS} days ahead` });
    }
    if (spec.jobId !== undefined && (await this.deps.jobs.get(spec.jobId)) === null) {
      issues.push({
        field: 'jobId',
        reason: `names job ${JSON.stringify(spec.jobId)}, which does not exist`,
      });
    }
    if (issues.length) throw new ValidationError(issues);
    const active = (await this.deps.alerts.silences()).filter((s) => s.endsAt > now);
    if (active.length >= MAX_SILENCES) {
      throw ValidationError.field(
        '(body)',
        `at most ${MAX_SILENCES} silences may be in force; end some first`,
      );
    }
    const silence: Silence = {
      silenceId: `s-${randomUUID().slice(0, 8)}`,
      ...(spec.jobId === undefined ? {} : { jobId: spec.jobId }),
      ...(spec.kind === undefined ? {} : { kind: spec.kind }),
      createdAt: now,
      endsAt: spec.endsAt,
      createdBy: principal.subject,
      ...(spec.comment === undefined ? {} : { comment: spec.comment }),
    };
    await this.deps.alerts.addSilence(silence, now);
    await this.record(principal, 'silence.create', `silence:${silence.silenceId}`, undefined, silence);
    return silence;
  }

  async deleteSilence(principal: Principal, silenceId: string): Promise<void> {
    const before = (await this.deps.alerts.silences()).find((s) => s.silenceId === silenceId);
    if (!before || !(await this.deps.alerts.removeSilence(silenceId))) {
      throw new NotFoundError('silence', silenceId);
    }
    await this.record(principal, 'silence.delete', `silence:${silenceId}`, before, undefined);
  }

  async stats(query: WindowInput & { jobId?: string | undefined }): Promise<Stats> {
    const window = this.window(query, undefined, {}, DAY_MS);
    const hours = new Map<string, Record<string, number>>();
    const totals: Record<string, number> = {};
    const durations: number[] = [];
    const lateness: number[] = [];
    let runs = 0;
    const pageSize = 1000;
    const result = await this.deps.reads.walkRuns(
      { ...(query.jobId ? { jobId: query.jobId } : {}), ...window },
      (run) => {
        runs++;
        const hour = `${run.scheduledTime.slice(0, 13)}:00:00Z`;
        const counts = hours.get(hour) ?? {};
        counts[run.status] = (counts[run.status] ?? 0) + 1;
        hours.set(hour, counts);
        totals[run.status] = (totals[run.status] ?? 0) + 1;
        if (run.startedAt !== undefined && run.finishedAt !== undefined)
          durations.push(run.finishedAt - run.startedAt);
        // The handler's own start when the worker recorded it (a fire decided ahead is claimed early).
        const late = run.startLateMs ?? (run.startedAt ?? Number.NaN) - Date.parse(run.scheduledTime);
        if (!Number.isNaN(late)) lateness.push(Math.max(0, late));
        return runs < API_LIMITS.maxStatsRuns;
      },
      { maxReads: Math.ceil(API_LIMITS.maxStatsRuns / pageSize) + API_LIMITS.maxWindowDays, pageSize },
    );
    const finished = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'LOST', 'NO_WORKER'].reduce(
      (sum, s) => sum + (totals[s] ?? 0),
      0,
    );
    return {
      from: new Date(window.from).toISOString(),
      to: new Date(window.to).toISOString(),
      hours: [...hours.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([hour, counts]) => ({ hour, counts })),
      totals,
      successRate: finished ? (totals.SUCCEEDED ?? 0) / finished : null,
      durationMs: percentiles(durations),
      latenessMs: percentiles(lateness),
      runs,
      truncated: result.next !== undefined,
    };
  }

  async listAudit(
    query: PageInput & WindowInput & { entity?: string | undefined },
  ): Promise<Page<AuditRecord>> {
    const { limit, cursor, from, to, entity } = query;
    const key = { list: 'audit', from, to, entity };
    const window = this.window({ from, to }, cursor, key);
    return this.page(
      key,
      cursor,
      limit,
      () => window.state,
      (visit, options) =>
        this.deps.reads.walkAudit({ ...(entity ? { entity } : {}), ...window }, visit, options),
      (a: AuditRecord) => a,
      limit,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Agents

  async syncDeclaredJobs(
    principal: Principal,
    owner: string,
    jobs: readonly JobSpec[],
  ): Promise<SyncResultBody> {
    const ids = new Set<string>();
    for (const [i, job] of jobs.entries()) {
      if (ids.has(job.jobId)) throw ValidationError.field(`jobs.${i}.jobId`, `declares ${job.jobId} twice`);
      ids.add(job.jobId);
      await this.checkContacts(job.contacts, `jobs.${i}.contacts`);
    }
    let result: SyncResultBody;
    try {
      result = await this.deps.declaredSync({ owner, declared: jobs });
    } catch (error) {
      // A declared id held by another owner: name the entry, so an agent can leave it out and retry.
      const jobId = error instanceof CloverError ? error.details.jobId : undefined;
      const index = jobs.findIndex((job) => job.jobId === jobId);
      if (error instanceof CloverError && error.code === 'already_exists' && index >= 0) {
        throw new CloverError('already_exists', error.message, {
          details: { ...error.details, issues: [{ field: `jobs.${index}.jobId`, reason: error.message }] },
        });
      }
      throw error;
    }
    if (result.added.length || result.updated.length || result.deleted.length) {
      await this.record(principal, 'agent.declared-jobs', `agent:${owner}`, undefined, result);
    }
    return result;
  }

  // -------------------------------------------------------------------------------------------

  /** A job naming a contact that does not exist is rejected, naming the entry. */
  private async checkContacts(contactIds: readonly string[], field: string): Promise<void> {
    const found = await Promise.all(contactIds.map((id) => this.deps.contactStore.get(id)));
    const issues = contactIds
      .map((id, i) => ({ id, i }))
      .filter(({ i }) => found[i] === null)
      .map(({ id, i }) => ({
        field: `${field}.${i}`,
        reason: `names contact ${JSON.stringify(id)}, which does not exist`,
      }));
    if (issues.length) throw new ValidationError(issues);
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

  /**
   * Resolves a list's time window: `to` defaults to now (kept in the cursor, so later pages read the
   * same window), `from` to `defaultSpan` before `to`; at most maxWindowDays wide.
   */
  private window(
    input: WindowInput,
    cursor: string | undefined,
    key: unknown,
    defaultSpan = API_LIMITS.defaultWindowDays * DAY_MS,
  ): { from: number; to: number; state: CursorState } {
    const state = cursor ? decodeCursor(cursor, key).state : {};
    const to = input.to ?? (typeof state.to === 'number' ? state.to : this.deps.clock.now());
    const from = input.from ?? to - defaultSpan;
    if (from > to) throw ValidationError.field('query.from', 'must not be after query.to');
    if (to - from > API_LIMITS.maxWindowDays * DAY_MS) {
      throw ValidationError.field(
        'query.from',
        `the window may span at most ${API_LIMITS.maxWindowDays} days`,
      );
    }
    return { from, to, state: { to } };
  }

  /** One page of a walk: decode the cursor, visit until `limit` items, encode where to go on. */
  private async page<T, V>(
    key: unknown,
    cursor: string | undefined,
    limit: number,
    state: () => CursorState,
    walk: (visit: Visit<T>, options: WalkOptions) => Promise<WalkResult>,
    view: (item: T) => V,
    pageSize: number,
  ): Promise<Page<V>> {
    const start: Position | undefined = cursor ? decodeCursor(cursor, key).position : undefined;
    const items: V[] = [];
    // One item past the page is read and left for the next page: a cursor means more exist (or the
    // read budget ran out before the window did).
    const result = await walk(
      (item) => {
        if (items.length === limit) return false;
        items.push(view(item));
        return true;
      },
      { ...(start ? { start } : {}), maxReads: API_LIMITS.maxReadsPerPage, pageSize: pageSize + 1 },
    );
    const next = result.before ?? result.next;
    return { items, ...(next ? { nextCursor: encodeCursor(key, next, state()) } : {}) };
  }

  private async record(
    principal: Principal,
    action: AuditAction,
    entity: string,
    before: unknown,
    after: unknown,
  ): Promise<void> {
    const at = this.deps.clock.now();
    const record: AuditRecord = {
      auditId: `${new Date(at).toISOString()}#${randomBytes(4).toString('hex')}`,
      at,
      actor: { subject: principal.subject, role: principal.role, via: principal.via },
      action,
      entity,
      ...(before === undefined ? {} : { before }),
      ...(after === undefined ? {} : { after }),
    };
    try {
      await this.deps.audit.append(record);
    } catch (error) {
      // The change itself is done and cannot be taken back; losing its record is logged loudly.
      this.deps.log.log('error', 'audit record not written', { action, entity, error: error as CloverError });
      throw error;
    }
  }
}

function summary(run: Run): RunSummary {
  const { log: _log, payload: _payload, result: _result, ...rest } = run;
  return rest;
}

function workerView(worker: Worker, now: number): WorkerView {
  return {
    ...worker,
    running: worker.load,
    leaseAgeMs: Math.max(0, now - worker.heartbeatAt),
    live: isLive(worker, now),
  };
}

function percentiles(values: number[]): { p50: number | null; p95: number | null } {
  if (values.length === 0) return { p50: null, p95: null };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? null;
  return { p50: at(0.5), p95: at(0.95) };
}

/** Webhook secrets of `after` that `before` did not have: shown once, in the write's response. */
function newSecrets(after: Contact, before?: Contact): Map<string, string> {
  const old = new Set(before?.channels.flatMap((c) => (c.type === 'webhook' && c.secret ? [c.secret] : [])));
  return new Map(
    after.channels.flatMap((c) =>
      c.type === 'webhook' && c.secret && !old.has(c.secret) ? [[c.name, c.secret]] : [],
    ),
  );
}
