/** `clover jobs ...`: define, inspect, steer and fire jobs; `jobs apply` makes a file of jobs true. */
import type { JobSpec, JobSpecInput } from '../core/model';
import { computePlan, formatPlan, parseJobsFile } from './apply';
import { CloverApiError, type ResponseOf } from './client';
import { type ActionDef, group, listPages, PAGE_HELP, PAGE_OPTIONS } from './command';
import { readObject, readText } from './files';
import { EXIT_CONFLICT, EXIT_OK, UsageError } from './io';
import { jsonOption, SPEC_HELP, SPEC_OPTIONS, traceparentOption, withFlags } from './job-flags';
import { EXIT_STILL_RUNNING, OUTCOME_EXIT, pollInterval, watchRun } from './runs';
import { type Column, formatFields, formatTime, json, printable, truncate } from './table';

type JobView = ResponseOf<'getJob'>;

function scheduleText(spec: JobSpec): string {
  if (!spec.schedule) return '(manual)';
  return spec.schedule.timezone === 'UTC'
    ? spec.schedule.expression
    : `${spec.schedule.expression} ${spec.schedule.timezone}`;
}

const JOB_COLUMNS: readonly Column<JobView>[] = [
  { header: 'JOB', value: (j) => j.spec.jobId, shrink: 24 },
  { header: 'HANDLER', value: (j) => j.spec.handler, shrink: 16 },
  { header: 'MODE', value: (j) => j.spec.mode },
  { header: 'SCHEDULE', value: (j) => scheduleText(j.spec), shrink: 20 },
  { header: 'POOL', value: (j) => j.spec.target.pool, shrink: 12 },
  { header: 'PAUSED', value: (j) => (j.spec.paused ? 'yes' : '') },
  { header: 'VERSION', value: (j) => j.version, right: true },
  { header: 'OWNER', value: (j) => j.owner, shrink: 12 },
];

function formatJob(job: JobView): string[] {
  const { spec } = job;
  const lines = formatFields([
    ['job', spec.jobId],
    ['description', spec.description],
    ['handler', spec.handler],
    ['mode', spec.mode],
    ['schedule', scheduleText(spec)],
    ['starts', spec.schedule?.startDate],
    ['ends', spec.schedule?.endDate],
    ['paused', spec.paused ? 'yes' : 'no'],
    ['delivery', spec.delivery],
    [
      'target',
      `pool ${spec.target.pool}${Object.keys(spec.target.labels).length ? `, labels ${JSON.stringify(spec.target.labels)}` : ''}${spec.target.workerIds.length ? `, workers ${spec.target.workerIds.join(',')}` : ''}`,
    ],
    ['routing', spec.routing],
    ['concurrency', spec.concurrency.policy],
    ['misfire', `${spec.misfire.policy} within ${spec.misfire.windowSeconds}s`],
    [
      'retry',
      `${spec.retry.maxAttempts} attempts, backoff ${spec.retry.backoffSeconds}-${spec.retry.maxBackoffSeconds}s`,
    ],
    ['timeout', `${spec.timeoutSeconds}s`],
    ['recover', spec.recoverOnWorkerLoss ? 'on worker loss' : 'no (LOST)'],
    ['contacts', spec.contacts.join(', ')],
    ['group', spec.group],
    ['after', formatAfter(spec)],
    ['downstream', job.downstream?.join(', ')],
    ['payload', truncate(JSON.stringify(spec.payload), 200)],
    ['version', job.version],
    ['owner', job.owner],
    ['sync', job.syncState],
    ['created', formatTime(job.createdAt)],
    ['updated', formatTime(job.updatedAt)],
  ]);
  if (job.nextFires?.length) lines.push('next fires:', ...job.nextFires.map((t) => `  ${t}`));
  for (const problem of job.dependencyProblems ?? []) lines.push(`! ${problem.reason}`);
  return lines;
}

/** `after` as `extract (SUCCEEDED), load (COMPLETED); waits for all`. */
function formatAfter(spec: JobView['spec']): string | undefined {
  if (spec.after.length === 0) return undefined;
  const list = spec.after.map((d) => `${d.jobId} (${d.on})`).join(', ');
  return spec.waitFor === 'ALL' && spec.after.length > 1 ? `${list}; waits for all` : list;
}

const list: ActionDef = {
  name: 'list',
  summary: 'list jobs',
  synopsis: '[--pool P] [--handler H] [--mode M] [--paused|--active] [--group G] [--owner O] [--search TEXT]',
  description: 'List jobs by id, filtered.',
  options: {
    pool: { type: 'string' },
    handler: { type: 'string' },
    mode: { type: 'string' },
    paused: { type: 'boolean' },
    active: { type: 'boolean' },
    group: { type: 'string' },
    owner: { type: 'string' },
    search: { type: 'string' },
    ...PAGE_OPTIONS,
  },
  optionHelp: `  --pool POOL     Jobs targeting this pool
  --handler NAME  Jobs running this handler
  --mode MODE     REMOTE or LOCAL
  --paused        Only paused jobs (--active: only unpaused ones)
  --group GROUP   Jobs in this group
  --owner OWNER   Jobs owned by an apply file (cli:<name>) or an agent config (agent:<pool>:<name>)
  --search TEXT   Text in the job id or description
${PAGE_HELP}`,
  examples: ['clover jobs list --pool batch', 'clover jobs list --owner cli:nightly --json'],
  args: [],
  async run(ctx) {
    if (ctx.flag('paused') && ctx.flag('active'))
      throw new UsageError('--paused and --active exclude each other', ctx.command);
    const page = await listPages(ctx, 'listJobs', {
      pool: ctx.string('pool'),
      handler: ctx.string('handler'),
      mode: ctx.string('mode')?.toUpperCase(),
      paused: ctx.flag('paused') ? true : ctx.flag('active') ? false : undefined,
      group: ctx.string('group'),
      owner: ctx.string('owner'),
      q: ctx.string('search'),
    });
    ctx.print(page, () => (page.items.length ? ctx.table(JOB_COLUMNS, page.items) : ['No jobs.']));
    return EXIT_OK;
  },
};

const get: ActionDef = {
  name: 'get',
  summary: 'show one job and its next fire times',
  synopsis: 'JOB',
  description:
    'Show one job: its spec, version, owner and, for a scheduled unpaused job, its next fire times.',
  args: ['JOB'],
  async run(ctx) {
    const job = await ctx.client.call('getJob', { params: { jobId: ctx.arg(0) } });
    ctx.print(job, () => formatJob(job));
    return EXIT_OK;
  },
};

const create: ActionDef = {
  name: 'create',
  summary: 'define a new job (from flags or a file)',
  synopsis: '[JOB] [-f FILE] [--handler NAME] [--schedule EXPR] [...]',
  description:
    'Define a new job. Give the spec as a file (-f), as flags, or both (flags win). Unset fields take their defaults (docs/agent.md lists them). Needs the admin role; a job id in use answers ALREADY_EXISTS (exit 5).',
  options: SPEC_OPTIONS,
  optionHelp: SPEC_HELP,
  examples: [
    "clover jobs create hello --handler hello --schedule 'rate(5 minutes)'",
    "clover jobs create nightly --handler report --schedule 'cron(0 2 * * ? *)' --tz Europe/London --payload '{\"full\":true}'",
    'clover jobs create -f nightly.yaml',
  ],
  args: [],
  optionalArgs: ['JOB'],
  async run(ctx) {
    const file = ctx.string('file');
    const spec = withFlags(ctx, file === undefined ? {} : readObject(file, 'job spec', ctx.command));
    const jobId = ctx.positionals[0];
    if (jobId !== undefined) {
      if (spec.jobId !== undefined && spec.jobId !== jobId) {
        throw new UsageError(
          `the file defines job "${String(spec.jobId)}" but the argument says "${jobId}"`,
          ctx.command,
        );
      }
      spec.jobId = jobId;
    }
    if (spec.jobId === undefined)
      throw new UsageError('missing argument JOB (or jobId in the file)', ctx.command);
    const job = await ctx.client.call('createJob', { body: spec as JobSpecInput });
    ctx.print(job, () => [`created ${job.spec.jobId} (version ${job.version})`]);
    return EXIT_OK;
  },
};

const update: ActionDef = {
  name: 'update',
  summary: "change a job's spec (flags patch it; a file replaces it)",
  synopsis: 'JOB [-f FILE] [--handler NAME] [--schedule EXPR] [...] [--version N]',
  description:
    'Change a job. Flags change those fields of the current spec; -f replaces the whole spec (fields it leaves out take their defaults). The update is made at the version read (or --version): if someone changed the job meanwhile, it answers VERSION_CONFLICT (exit 5) and changes nothing. Needs the admin role.',
  options: { ...SPEC_OPTIONS, version: { type: 'string' } },
  optionHelp: `${SPEC_HELP}
  --version N         Only update if the job is still at version N`,
  examples: [
    "clover jobs update nightly --schedule 'cron(30 2 * * ? *)'",
    'clover jobs update nightly -f nightly.yaml --version 3',
  ],
  args: ['JOB'],
  async run(ctx) {
    const jobId = ctx.arg(0);
    const file = ctx.string('file');
    const current = await ctx.client.call('getJob', { params: { jobId } });
    const base =
      file === undefined
        ? (current.spec as Record<string, unknown>)
        : readObject(file, 'job spec', ctx.command);
    const spec = withFlags(ctx, { ...base, jobId });
    const version = ctx.int('version', 1, Number.MAX_SAFE_INTEGER) ?? current.version;
    const job = await ctx.client.call('updateJob', {
      params: { jobId },
      body: { version, spec: spec as JobSpecInput },
    });
    ctx.print(job, () => [`updated ${jobId} (version ${job.version})`]);
    return EXIT_OK;
  },
};

const del: ActionDef = {
  name: 'delete',
  summary: 'delete a job and its schedule',
  synopsis: 'JOB [--version N]',
  description: 'Delete a job and its EventBridge schedule. Its runs stay listable. Needs the admin role.',
  options: { version: { type: 'string' } },
  optionHelp:
    '  --version N     Only delete if the job is still at version N (else VERSION_CONFLICT, exit 5)',
  args: ['JOB'],
  async run(ctx) {
    const jobId = ctx.arg(0);
    await ctx.client.call('deleteJob', {
      params: { jobId },
      query: { version: ctx.int('version', 1, Number.MAX_SAFE_INTEGER) },
    });
    ctx.print({ deleted: jobId }, () => [`deleted ${jobId}`]);
    return EXIT_OK;
  },
};

function pauseAction(name: 'pause' | 'resume'): ActionDef {
  return {
    name,
    summary:
      name === 'pause' ? 'pause a job: its fires are recorded as SKIPPED(paused)' : 'resume a paused job',
    synopsis: 'JOB',
    description:
      name === 'pause'
        ? 'Pause a job: its fires still happen and are recorded as SKIPPED (paused); nothing runs. Needs the operator role.'
        : 'Resume a paused job. Needs the operator role.',
    args: ['JOB'],
    async run(ctx) {
      const job = await ctx.client.call(name === 'pause' ? 'pauseJob' : 'resumeJob', {
        params: { jobId: ctx.arg(0) },
      });
      ctx.print(job, () => [
        `${name === 'pause' ? 'paused' : 'resumed'} ${job.spec.jobId} (version ${job.version})`,
      ]);
      return EXIT_OK;
    },
  };
}

const trigger: ActionDef = {
  name: 'trigger',
  summary: 'fire a job now; --wait follows the run and exits with its outcome',
  synopsis: 'JOB [--payload JSON] [--traceparent TP] [--wait [--timeout SECONDS]]',
  description: `Fire a job now (even when paused) and print the run id. With --wait, print the run's status
changes, progress and log lines as they happen, and exit with its outcome:
  0 SUCCEEDED, 10 FAILED, 11 TIMED_OUT, 12 CANCELLED, 13 LOST, 14 SKIPPED, 15 NO_WORKER,
  16 still running when --timeout ran out (the run goes on).
With --json, the progress goes to stderr and the final run to stdout. Needs the operator role.
The run continues the caller's trace given by --traceparent, else by TRACEPARENT in the
environment (W3C Trace Context): its trace id is the traceparent's.`,
  options: {
    payload: { type: 'string' },
    traceparent: { type: 'string' },
    wait: { type: 'boolean', short: 'w' },
    timeout: { type: 'string' },
    interval: { type: 'string' },
  },
  optionHelp: `  --payload JSON      This run's payload instead of the job's
  --traceparent TP    The caller's W3C traceparent for the run to continue (default: TRACEPARENT;
                      '' sends none)
  -w, --wait          Follow the run until it ends; exit with its outcome
  --timeout SECONDS   Stop waiting after this long (exit 16); default: wait until it ends
  --interval MS       How often to poll while waiting, 100-60000 ms (default 1000)`,
  examples: [
    'clover jobs trigger nightly',
    'clover jobs trigger nightly --payload \'{"day":"2026-01-30"}\' --wait --timeout 600',
  ],
  args: ['JOB'],
  async run(ctx) {
    const jobId = ctx.arg(0);
    const timeout = ctx.int('timeout', 1, 7 * 24 * 3600);
    if (timeout !== undefined && !ctx.flag('wait'))
      throw new UsageError('--timeout needs --wait', ctx.command);
    pollInterval(ctx); // checked before anything is fired
    const payload = jsonOption(ctx, 'payload');
    const traceparent = traceparentOption(ctx);
    const fired = await ctx.client.call('triggerJob', {
      params: { jobId },
      ...(traceparent === undefined ? {} : { headers: { traceparent } }),
      body: payload === undefined ? {} : { payload },
    });
    if (!ctx.flag('wait')) {
      ctx.print(fired, () => [
        `triggered ${jobId}: run ${fired.runId} (${fired.status})${fired.traceId ? `, trace ${fired.traceId}` : ''}`,
      ]);
      return EXIT_OK;
    }
    const write = (line: string) => (ctx.json ? ctx.io.err(line) : ctx.io.out(line));
    write(`triggered ${jobId}: run ${fired.runId}`);
    const { run, final } = await watchRun(
      ctx,
      fired.runId,
      timeout === undefined ? undefined : timeout * 1000,
      write,
    );
    if (ctx.json) ctx.io.out(json(run));
    if (!final) {
      write(`still ${run.status} after ${timeout}s; the run goes on (clover runs get ${run.runId})`);
      return EXIT_STILL_RUNNING;
    }
    return OUTCOME_EXIT[run.status];
  },
};

const apply: ActionDef = {
  name: 'apply',
  summary: 'make the jobs in a file exist as written (plan, then apply; --prune deletes)',
  synopsis: '-f FILE [--prune] [--dry-run] [--owner NAME]',
  description: `Make the jobs in FILE exist as written. Prints the plan first:
  + create   a job the file adds
  ~ update   a job whose spec differs (the changed fields are listed)
  - delete   a job the file no longer has (only with --prune)
  = unchanged
then applies it. The file owns the jobs it creates (owner cli:<name>, <name> from the file's
"owner:" key, --owner, or the file's base name); it never changes jobs it does not own, and a job
id taken by another owner is a conflict (exit 5, nothing written). "paused" in the file applies
when a job is created; pausing and resuming later survives every apply. Needs the admin role.

File: YAML or JSON, {owner: name, jobs: [spec, ...]} or a bare list of specs.`,
  options: {
    file: { type: 'string', short: 'f' },
    prune: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    owner: { type: 'string' },
  },
  optionHelp: `  -f, --file FILE  The jobs file (- for stdin)
  --prune          Delete owned jobs the file no longer has
  --dry-run        Print the plan; change nothing
  --owner NAME     Owner name when the file has no owner: key (default: the file's base name)`,
  examples: ['clover jobs apply -f jobs.yaml --dry-run', 'clover jobs apply -f jobs.yaml --prune'],
  args: [],
  async run(ctx) {
    const path = ctx.string('file');
    if (path === undefined) throw new UsageError('missing -f FILE', ctx.command);
    const file = parseJobsFile(
      readText(path, ctx.command),
      path === '-' ? 'stdin' : path,
      ctx.string('owner'),
    );
    const owned: JobView[] = [];
    let cursor: string | undefined;
    do {
      const page = await ctx.client.call('listJobs', { query: { owner: file.owner, limit: 200, cursor } });
      owned.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    const ownedIds = new Set(owned.map((j) => j.spec.jobId));
    const others: JobView[] = [];
    for (const spec of file.jobs) {
      if (ownedIds.has(spec.jobId)) continue;
      try {
        others.push(await ctx.client.call('getJob', { params: { jobId: spec.jobId } }));
      } catch (error) {
        if (!(error instanceof CloverApiError && error.code === 'NOT_FOUND')) throw error;
      }
    }
    const plan = computePlan({ file, owned, others, prune: ctx.flag('prune') });
    const say = (line: string) => (ctx.json ? ctx.io.err(printable(line)) : ctx.io.out(printable(line)));
    for (const line of formatPlan(plan)) say(line);
    const summary = {
      owner: plan.owner,
      plan: plan.entries,
      applied: false as boolean,
      result: undefined as unknown,
    };
    if (plan.counts.conflict > 0) {
      say('Nothing applied: resolve the conflicts first.');
      if (ctx.json) ctx.io.out(json(summary));
      return EXIT_CONFLICT;
    }
    if (ctx.flag('dry-run') || !plan.changes) {
      say(plan.changes ? 'Dry run: nothing applied.' : 'No changes.');
      if (ctx.json) ctx.io.out(json(summary));
      return EXIT_OK;
    }
    const result = await ctx.client.call('syncDeclaredJobs', {
      params: { owner: plan.owner },
      body: { jobs: plan.declared as JobSpecInput[] },
    });
    say(
      `Applied: ${result.added.length} created, ${result.updated.length} updated, ${result.deleted.length} deleted, ${result.unchanged.length} unchanged.`,
    );
    for (const c of result.conflicts) say(`! ${c.action} ${c.jobId} not applied: ${c.reason}`);
    if (ctx.json) ctx.io.out(json({ ...summary, applied: true, result }));
    return result.conflicts.length ? EXIT_CONFLICT : EXIT_OK;
  },
};

export const jobsCommand = group(
  'jobs',
  'define, list, change, pause, trigger and apply jobs',
  'Define, inspect, change, pause, resume, delete and fire jobs; apply a file of jobs declaratively.',
  [list, get, create, update, del, pauseAction('pause'), pauseAction('resume'), trigger, apply],
);
