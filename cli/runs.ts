/** `clover runs list|get|log|cancel`, and the run watching that `jobs trigger --wait` shares. */
import type { Run, RunStatus } from '../core/model';
import { isFinal } from '../core/model';
import type { ResponseOf } from './client';
import { type ActionDef, type Ctx, group, listPages, PAGE_HELP, PAGE_OPTIONS } from './command';
import { EXIT_OK, UsageError } from './io';
import { type Column, formatDuration, formatFields, formatTable, formatTime, printable } from './table';

type RunSummary = ResponseOf<'listRuns'>['items'][number];

/**
 * How `jobs trigger --wait` exits for each final status (docs/cli.md, "Exit codes"). PENDING,
 * DISPATCHED and RUNNING are not final; NO_WORKER is final only when no retry is scheduled.
 */
export const OUTCOME_EXIT: Readonly<Record<RunStatus, number>> = {
  SUCCEEDED: 0,
  FAILED: 10,
  TIMED_OUT: 11,
  CANCELLED: 12,
  LOST: 13,
  SKIPPED: 14,
  NO_WORKER: 15,
  PENDING: 16,
  DISPATCHED: 16,
  RUNNING: 16,
};
/** `--timeout` ran out while the run was still going. */
export const EXIT_STILL_RUNNING = 16;

export const DEFAULT_POLL_MS = 1000;

const WATCH_OPTIONS = { interval: { type: 'string' } } as const;
const WATCH_HELP = '  --interval MS   How often to poll the API, 100-60000 ms (default 1000)';

export function pollInterval(ctx: Ctx): number {
  return ctx.int('interval', 100, 60_000) ?? DEFAULT_POLL_MS;
}

function durationOf(run: Pick<Run, 'startedAt' | 'finishedAt'>): number | undefined {
  return run.startedAt !== undefined && run.finishedAt !== undefined
    ? run.finishedAt - run.startedAt
    : undefined;
}

// The run id is never cut: it is what `runs get` takes. It holds the job, the scheduled time and
// (`@manual-...`) a manual trigger: those columns are for --wide.
const RUN_COLUMNS: readonly Column<RunSummary>[] = [
  { header: 'RUN', value: (r) => r.runId },
  { header: 'JOB', value: (r) => r.jobId, wideOnly: true },
  { header: 'STATUS', value: (r) => r.status },
  { header: 'TRIGGER', value: (r) => r.trigger, wideOnly: true },
  { header: 'SCHEDULED', value: (r) => r.scheduledTime, wideOnly: true },
  { header: 'WORKER', value: (r) => r.workerId, shrink: 12 },
  { header: 'ATTEMPT', value: (r) => r.attempt, right: true },
  { header: 'DURATION', value: (r) => formatDuration(durationOf(r)), right: true },
  {
    header: 'PROGRESS',
    value: (r) => (r.progress ? `${r.progress.percent}% ${r.progress.message}` : ''),
    shrink: 12,
  },
  { header: 'REASON', value: (r) => r.reason, shrink: 12 },
];

export function formatRun(run: Run): string[] {
  const lines = formatFields([
    ['run', run.runId],
    ['job', run.jobId],
    ['status', run.status + (run.reason ? ` (${run.reason})` : '')],
    ['trigger', run.trigger],
    ['handler', run.handler],
    ['scheduled', run.scheduledTime],
    ['attempt', run.attempt],
    ['worker', run.workerId],
    ['created', formatTime(run.createdAt)],
    ['started', formatTime(run.startedAt)],
    ['finished', formatTime(run.finishedAt)],
    ['duration', formatDuration(durationOf(run))],
    ['deadline', formatTime(run.deadlineAt)],
    ['next attempt', formatTime(run.nextAttemptAt)],
    ['progress', run.progress ? `${run.progress.percent}% ${run.progress.message}` : undefined],
    ['error', run.error ? `${run.error.code}: ${run.error.message}` : undefined],
    ['result', run.result === undefined ? undefined : JSON.stringify(run.result)],
    ['chain', run.chainId],
    ['upstream', run.upstream?.map((u) => `${u.runId} (${u.status})`).join(', ')],
    ['downstream', run.downstreamRuns?.join(', ')],
    ['log', run.log?.length ? `${run.log.length} lines (clover runs log ${run.runId})` : undefined],
    ['trace', run.traceId],
  ]);
  lines.push('', 'History:');
  lines.push(
    ...formatTable(
      [
        { header: 'AT', value: (h) => formatTime(h.at) },
        { header: 'STATUS', value: (h) => h.status },
        { header: 'ATTEMPT', value: (h) => h.attempt, right: true },
        { header: 'WORKER', value: (h) => h.workerId },
        { header: 'NOTE', value: (h) => h.note },
      ],
      run.history,
    ).map((l) => `  ${l}`),
  );
  return lines;
}

/**
 * Prints a run's log from `cursor` until the run is final and every line is read (the API says
 * `complete`), or once when `follow` is false.
 */
async function tailLog(
  ctx: Ctx,
  runId: string,
  follow: boolean,
  write: (line: string) => void,
): Promise<void> {
  let cursor: string | undefined;
  const interval = pollInterval(ctx);
  for (;;) {
    const page = await ctx.client.call('getRunLog', { params: { runId }, query: { cursor } });
    for (const line of page.lines) write(ctx.json ? JSON.stringify(line) : printable(line.message));
    cursor = page.nextCursor;
    if (page.complete || !follow) return;
    // A full page means more is waiting: read on at once.
    if (page.lines.length === 0) await ctx.sleep(interval);
  }
}

/**
 * Watches a run until it is final (or `timeoutMs` passes), printing each status change, new log
 * line and progress change in the order they happened: a status the run moved to, then the lines
 * and progress the worker wrote (it writes them together, lines first), and the final status only
 * after every log line, as the last line. Lines and progress come from one read of the run, so they
 * agree: a second read for the lines could see a write the first missed, and print a step's line
 * before the previous step's progress. Polls every `--interval` from the start of one poll to
 * the next, so a progress step that stays up longer than that is never skipped. Lines go to `write`
 * (stdout, or stderr under --json); server text is made printable.
 */
export async function watchRun(
  ctx: Ctx,
  runId: string,
  timeoutMs: number | undefined,
  write: (line: string) => void,
): Promise<{ run: Run; final: boolean }> {
  const interval = pollInterval(ctx);
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  const say = (line: string) => write(printable(line));
  let status: string | undefined;
  let progress: string | undefined;
  let printed = 0;
  for (;;) {
    const polled = Date.now();
    const run = await ctx.client.call('getRun', { params: { runId } });
    const final = isFinal(run);
    if (!final && run.status !== status) {
      status = run.status;
      const where = run.workerId ? ` on ${run.workerId}` : '';
      say(
        `${formatTime(Date.now())}  ${run.status}${run.reason ? ` (${run.reason})` : ''}  attempt ${run.attempt}${where}`,
      );
    }
    const lines = run.log ?? [];
    for (const line of lines.slice(printed)) say(`  | ${line}`);
    printed = Math.max(printed, lines.length);
    const p = run.progress ? `${run.progress.percent}% ${run.progress.message}` : undefined;
    if (p !== undefined && p !== progress) {
      progress = p;
      say(`${formatTime(Date.now())}  progress ${p}`);
    }
    if (final) {
      // The final record holds every line: the worker writes its last lines before the outcome.
      const took = durationOf(run);
      const where = run.workerId ? ` on ${run.workerId}` : '';
      say(
        `${run.status}${run.reason ? ` (${run.reason})` : ''}${took === undefined ? '' : ` in ${formatDuration(took)}`}` +
          `, attempt ${run.attempt}${where}` +
          (run.error ? `: ${run.error.code}: ${run.error.message}` : ''),
      );
      return { run, final: true };
    }
    if (deadline !== undefined && Date.now() >= deadline) return { run, final: false };
    await ctx.sleep(Math.max(0, interval - (Date.now() - polled)));
  }
}

function statusOf(text: string | undefined, command: string): RunStatus | undefined {
  if (text === undefined) return undefined;
  const status = text.toUpperCase();
  if (!(status in OUTCOME_EXIT)) {
    throw new UsageError(
      `--status must be one of ${Object.keys(OUTCOME_EXIT).join(', ')}, got "${text}"`,
      command,
    );
  }
  return status as RunStatus;
}

const list: ActionDef = {
  name: 'list',
  summary: 'list runs, newest first',
  synopsis: '[--job JOB] [--status STATUS] [--worker WORKER] [--from T] [--to T]',
  description:
    'List runs newest first, by job, status, worker and time window (by scheduled time; default the last 7 days, at most 31).',
  options: {
    job: { type: 'string' },
    status: { type: 'string' },
    worker: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    ...PAGE_OPTIONS,
  },
  optionHelp: `  --job JOB       Only this job's runs
  --status S      PENDING, DISPATCHED, RUNNING, SUCCEEDED, FAILED, TIMED_OUT, CANCELLED, LOST, SKIPPED, NO_WORKER
  --worker ID     Only runs on this worker
  --from T        Window start: ISO-8601 (2026-01-30T10:00:00Z) or epoch ms (default 7 days ago)
  --to T          Window end (default now)
${PAGE_HELP}`,
  examples: [
    'clover runs list --job nightly-report --status FAILED',
    'clover runs list --from 2026-01-30T00:00:00Z --all --json',
  ],
  args: [],
  async run(ctx) {
    const page = await listPages(ctx, 'listRuns', {
      jobId: ctx.string('job'),
      status: statusOf(ctx.string('status'), ctx.command),
      workerId: ctx.string('worker'),
      from: ctx.string('from'),
      to: ctx.string('to'),
    });
    ctx.print(page, () => (page.items.length ? ctx.table(RUN_COLUMNS, page.items) : ['No runs.']));
    return EXIT_OK;
  },
};

const get: ActionDef = {
  name: 'get',
  summary: 'show one run: status, attempts, progress, error, history',
  synopsis: 'RUN',
  description: 'Show one run with its status, attempts, worker, progress, error, result and history.',
  examples: ["clover runs get 'nightly-report@2026-01-30T02:00:00Z'"],
  args: ['RUN'],
  async run(ctx) {
    const run = await ctx.client.call('getRun', { params: { runId: ctx.arg(0) } });
    ctx.print(run, () => formatRun(run));
    return EXIT_OK;
  },
};

const log: ActionDef = {
  name: 'log',
  summary: "print a run's log; --follow tails it until the run ends",
  synopsis: 'RUN [--follow]',
  description:
    "Print a run's log lines. With --follow, keep printing new lines as the worker writes them and stop when the run has finished and every line is printed. With --json, one JSON object per line ({index, message}).",
  options: { follow: { type: 'boolean', short: 'f' }, ...WATCH_OPTIONS },
  optionHelp: `  -f, --follow    Keep printing new lines until the run ends
${WATCH_HELP}`,
  examples: ["clover runs log 'nightly-report@2026-01-30T02:00:00Z' --follow"],
  args: ['RUN'],
  async run(ctx) {
    await tailLog(ctx, ctx.arg(0), ctx.flag('follow'), (line) => ctx.io.out(line));
    return EXIT_OK;
  },
};

const cancel: ActionDef = {
  name: 'cancel',
  summary: 'cancel a pending, dispatched or running run',
  synopsis: 'RUN',
  description:
    'Cancel a run that has not finished. Its worker is told to abort the handler; the run is CANCELLED at once. A finished run answers RUN_NOT_IN_STATE (exit 5). Needs the operator role.',
  args: ['RUN'],
  async run(ctx) {
    const run = await ctx.client.call('cancelRun', { params: { runId: ctx.arg(0) } });
    ctx.print(run, () => [`${run.runId}: ${run.status}`]);
    return EXIT_OK;
  },
};

export const runsCommand = group(
  'runs',
  'list runs, read their logs, cancel them',
  'List and inspect runs, read or tail their logs, cancel them.',
  [list, get, log, cancel],
);
