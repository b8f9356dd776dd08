/**
 * Reading what happened: `clover alerts list`, `clover search errors`, `clover audit`, `clover stats`;
 * and taking alerts: `clover alerts ack|silence|silences|unsilence`.
 */
import type { ResponseOf } from './client';
import { type ActionDef, group, listPages, PAGE_HELP, PAGE_OPTIONS, single } from './command';
import { EXIT_OK, UsageError } from './io';
import { type Column, formatDuration, formatFields, formatTable, formatTime } from './table';

type Alert = ResponseOf<'listAlerts'>['items'][number];
type Silence = ResponseOf<'listSilences'>['items'][number];
type Hit = ResponseOf<'searchErrors'>['items'][number];
type Audit = ResponseOf<'listAudit'>['items'][number];

const WINDOW_OPTIONS = { from: { type: 'string' }, to: { type: 'string' } } as const;
const WINDOW_HELP = `  --from T        Window start: ISO-8601 (2026-01-30T10:00:00Z) or epoch ms (default 7 days ago)
  --to T          Window end (default now); a window spans at most 31 days`;

const ALERT_COLUMNS: readonly Column<Alert>[] = [
  { header: 'AT', value: (a) => formatTime(a.createdAt) },
  { header: 'ALERT', value: (a) => a.alertId, shrink: 20 },
  { header: 'KIND', value: (a) => (a.digest ? `${a.kind} (digest of ${a.digest.count})` : a.kind) },
  { header: 'JOB', value: (a) => a.jobId, shrink: 16 },
  { header: 'STATUS', value: (a) => a.status },
  { header: 'ACK', value: (a) => a.acknowledgement?.by ?? '', shrink: 12 },
  { header: 'TO', value: (a) => a.recipients.join(','), shrink: 12 },
  {
    // Per webhook/chat channel: contact/channel, its status and HTTP attempts (`--json` has each attempt).
    header: 'CHANNELS',
    value: (a) =>
      (a.deliveries ?? []).map((d) => `${d.contactId}/${d.channel}:${d.status}(${d.attempts})`).join(','),
    shrink: 12,
  },
  {
    header: 'REASON',
    value: (a) => a.reason ?? (a.foldedInto ? `in digest ${a.foldedInto}` : ''),
    shrink: 16,
  },
  { header: 'MESSAGE', value: (a) => a.message, shrink: 20 },
];

const alertsList: ActionDef = {
  name: 'list',
  summary: 'list alerts, newest first, with their delivery state',
  synopsis: '[--job JOB] [--kind KIND] [--status STATUS] [--from T] [--to T]',
  description:
    "List alerts newest first with their delivery state: SENT, SUPPRESSED (nobody to tell, folded into a digest, or acknowledged before it went out), SILENCED (a silence covered it), FAILED (with the mail provider's reason), PENDING; ACK shows who acknowledged it.",
  options: {
    job: { type: 'string' },
    kind: { type: 'string' },
    status: { type: 'string' },
    ...WINDOW_OPTIONS,
    ...PAGE_OPTIONS,
  },
  optionHelp: `  --job JOB       Only this job's alerts
  --kind KIND     failure, recovery, timeout, lost, no_worker, job_unavailable, misfire, runaway
  --status S      PENDING, SENT, SUPPRESSED, FAILED, SILENCED; or OPEN (not acknowledged, and
                  sent or on its way) or ACKNOWLEDGED
${WINDOW_HELP}
${PAGE_HELP}`,
  examples: [
    'clover alerts list --job nightly-report',
    'clover alerts list --status OPEN',
    'clover alerts list --status FAILED --from 2026-01-01T00:00:00Z',
  ],
  args: [],
  async run(ctx) {
    const page = await listPages(ctx, 'listAlerts', {
      jobId: ctx.string('job'),
      kind: ctx.string('kind'),
      status: ctx.string('status')?.toUpperCase(),
      from: ctx.string('from'),
      to: ctx.string('to'),
    });
    ctx.print(page, () => (page.items.length ? ctx.table(ALERT_COLUMNS, page.items) : ['No alerts.']));
    return EXIT_OK;
  },
};

const SILENCE_COLUMNS: readonly Column<Silence>[] = [
  { header: 'SILENCE', value: (s) => s.silenceId },
  { header: 'JOB', value: (s) => s.jobId ?? '(every job)', shrink: 16 },
  { header: 'KIND', value: (s) => s.kind ?? '(every kind)' },
  { header: 'UNTIL', value: (s) => formatTime(s.endsAt) },
  { header: 'BY', value: (s) => s.createdBy, shrink: 12 },
  { header: 'COMMENT', value: (s) => s.comment ?? '', shrink: 20 },
];

const alertsAck: ActionDef = {
  name: 'ack',
  summary: 'acknowledge an alert: you have it; its pending or retried delivery stops',
  synopsis: 'ALERT [--comment TEXT]',
  description:
    'Acknowledge an alert (its id is in `clover alerts list`, the mail and the webhook body). An alert is acknowledged once: a second time is refused (ALREADY_ACKNOWLEDGED, exit 5) naming who took it. If it was still waiting to go out (a digest before its window ends, a delivery being retried) it is not sent. Audited; needs the operator role.',
  options: { comment: { type: 'string' } },
  optionHelp: '  --comment TEXT  What you are doing about it (500 characters at most)',
  examples: ["clover alerts ack 20260130T100000Z-failure-1a2b3c4d --comment 'rerunning by hand'"],
  args: ['ALERT'],
  async run(ctx) {
    const comment = ctx.string('comment');
    const alert = await ctx.client.call('acknowledgeAlert', {
      params: { alertId: ctx.arg(0) },
      body: comment === undefined ? {} : { comment },
    });
    ctx.print(alert, () => [
      `${alert.alertId}: acknowledged by ${alert.acknowledgement?.by} (${alert.kind} of ${alert.jobId}, ${alert.status})`,
    ]);
    return EXIT_OK;
  },
};

/** `30m`, `2h`, `1d` → milliseconds. */
function durationMs(text: string, command: string): number {
  const match = /^(\d{1,5})([mhd])$/.exec(text.trim());
  if (!match) {
    throw new UsageError(
      `--for takes minutes, hours or days such as 30m, 2h, 1d; got ${JSON.stringify(text)}`,
      command,
    );
  }
  return Number(match[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd'];
}

const alertsSilence: ActionDef = {
  name: 'silence',
  summary: "silence a job's alerts, a kind of alert, or both, for a while",
  synopsis: '(--job JOB | --kind KIND | both) (--for DURATION | --until T) [--comment TEXT]',
  description:
    'Silence alerts until a time in the future (31 days at most): those of a job, of a kind (of every job), or of one kind of one job. The notifier records the alerts a silence covers as SILENCED and mails and posts nothing; the console and `clover alerts list --status SILENCED` show them. Audited; needs the operator role.',
  options: {
    job: { type: 'string' },
    kind: { type: 'string' },
    for: { type: 'string' },
    until: { type: 'string' },
    comment: { type: 'string' },
  },
  optionHelp: `  --job JOB       Silence this job's alerts
  --kind KIND     Silence alerts of this kind: failure, recovery, timeout, lost, no_worker,
                  job_unavailable, misfire, runaway
  --for DURATION  For this long from now: 30m, 2h, 1d
  --until T       Until this instant (ISO-8601, 2026-01-30T18:00:00Z)
  --comment TEXT  Why (shown in the list and the audit)`,
  examples: [
    "clover alerts silence --job nightly-report --for 2h --comment 'database migration'",
    'clover alerts silence --kind no_worker --until 2026-01-30T18:00:00Z',
  ],
  args: [],
  async run(ctx) {
    const forText = ctx.string('for');
    const until = ctx.string('until');
    if ((forText === undefined) === (until === undefined)) {
      throw new UsageError('give --for DURATION or --until T (one of them)', ctx.command);
    }
    const endsAt =
      forText === undefined
        ? (until as string)
        : new Date(Date.now() + durationMs(forText, ctx.command)).toISOString();
    const comment = ctx.string('comment');
    const silence = await ctx.client.call('createSilence', {
      body: {
        jobId: ctx.string('job'),
        kind: ctx.string('kind') as never,
        endsAt,
        ...(comment === undefined ? {} : { comment }),
      },
    });
    ctx.print(silence, () => [
      `${silence.silenceId}: ${silence.jobId ?? 'every job'}, ${silence.kind ?? 'every kind'} silenced until ${formatTime(silence.endsAt)}`,
    ]);
    return EXIT_OK;
  },
};

const alertsSilences: ActionDef = {
  name: 'silences',
  summary: 'list the silences in force',
  synopsis: '',
  description:
    'List the silences in force, ending soonest first. End one early with `clover alerts unsilence`.',
  args: [],
  async run(ctx) {
    const page = await ctx.client.call('listSilences', {});
    ctx.print(page, () => (page.items.length ? ctx.table(SILENCE_COLUMNS, page.items) : ['No silences.']));
    return EXIT_OK;
  },
};

const alertsUnsilence: ActionDef = {
  name: 'unsilence',
  summary: 'end a silence now',
  synopsis: 'SILENCE',
  description:
    'End a silence now (its id is in `clover alerts silences`): alerts raised from now on are sent again. Alerts it silenced stay SILENCED. Audited; needs the operator role.',
  examples: ['clover alerts unsilence s-1a2b3c4d'],
  args: ['SILENCE'],
  async run(ctx) {
    await ctx.client.call('deleteSilence', { params: { silenceId: ctx.arg(0) } });
    ctx.print({ silenceId: ctx.arg(0), ended: true }, () => [`${ctx.arg(0)}: ended`]);
    return EXIT_OK;
  },
};

export const alertsCommand = group(
  'alerts',
  'list, acknowledge and silence alerts',
  'List alerts and their delivery state; acknowledge one; silence alerts for a while.',
  [alertsList, alertsAck, alertsSilence, alertsSilences, alertsUnsilence],
);

const searchErrors: ActionDef = {
  name: 'errors',
  summary: 'find text in run errors and log lines',
  synopsis: 'TEXT [--job JOB] [--from T] [--to T]',
  description:
    'Find TEXT (case-insensitive) in run error messages and log lines within a time window. Each page examines a bounded number of runs, so a page may be short and still have a next one.',
  options: { job: { type: 'string' }, ...WINDOW_OPTIONS, ...PAGE_OPTIONS },
  optionHelp: `  --job JOB       Only this job's runs
${WINDOW_HELP}
${PAGE_HELP}`,
  examples: ["clover search errors 'connection refused' --job nightly-report"],
  args: ['TEXT'],
  async run(ctx) {
    const page = await listPages(ctx, 'searchErrors', {
      q: ctx.arg(0),
      jobId: ctx.string('job'),
      from: ctx.string('from'),
      to: ctx.string('to'),
    });
    const columns: readonly Column<Hit>[] = [
      { header: 'AT', value: (h) => h.at },
      { header: 'JOB', value: (h) => h.jobId },
      { header: 'RUN', value: (h) => h.runId },
      { header: 'KIND', value: (h) => h.kind },
      { header: 'TEXT', value: (h) => h.text, shrink: 20 },
    ];
    ctx.print(page, () => (page.items.length ? ctx.table(columns, page.items) : ['No matches.']));
    return EXIT_OK;
  },
};

export const searchCommand = group('search', 'search run errors and logs', 'Search across runs.', [
  searchErrors,
]);

export const auditCommand = single({
  name: 'audit',
  summary: 'list changes: who, what, when, before and after',
  synopsis: '[--entity job:ID|run:ID|worker:ID|contact:ID] [--from T] [--to T]',
  description:
    'List every accepted change, newest first: who made it (and how they signed in), the action, the entity, and with --json the before and after.',
  options: { entity: { type: 'string' }, ...WINDOW_OPTIONS, ...PAGE_OPTIONS },
  optionHelp: `  --entity E      Only changes to this entity: job:<id>, run:<id>, worker:<id>, contact:<id>, agent:<owner>
${WINDOW_HELP}
${PAGE_HELP}`,
  examples: ['clover audit --entity job:nightly-report', 'clover audit --from 2026-01-30T00:00:00Z --json'],
  args: [],
  async run(ctx) {
    const page = await listPages(ctx, 'listAudit', {
      entity: ctx.string('entity'),
      from: ctx.string('from'),
      to: ctx.string('to'),
    });
    const columns: readonly Column<Audit>[] = [
      { header: 'AT', value: (a) => formatTime(a.at) },
      { header: 'WHO', value: (a) => `${a.actor.subject} (${a.actor.role})` },
      { header: 'ACTION', value: (a) => a.action },
      { header: 'ENTITY', value: (a) => a.entity },
    ];
    ctx.print(page, () => (page.items.length ? ctx.table(columns, page.items) : ['No changes.']));
    return EXIT_OK;
  },
});

export const statsCommand = single({
  name: 'stats',
  summary: 'runs per status, success rate, duration and lateness over a window',
  synopsis: '[--job JOB] [--from T] [--to T]',
  description:
    'Runs per status per hour, the success rate, p50/p95 duration and p50/p95 lateness (start minus scheduled time) over a window (default the last 7 days).',
  options: { job: { type: 'string' }, ...WINDOW_OPTIONS },
  optionHelp: `  --job JOB       Only this job
${WINDOW_HELP}`,
  args: [],
  async run(ctx) {
    const stats = await ctx.client.call('getStats', {
      query: { jobId: ctx.string('job'), from: ctx.string('from'), to: ctx.string('to') },
    });
    ctx.print(stats, () => {
      const statuses = [...new Set(stats.hours.flatMap((h) => Object.keys(h.counts)))].sort();
      const lines = formatFields([
        ['window', `${stats.from} to ${stats.to}`],
        ['runs', `${stats.runs}${stats.truncated ? ' (truncated: narrow the window)' : ''}`],
        [
          'totals',
          Object.entries(stats.totals)
            .map(([s, n]) => `${s} ${n}`)
            .join(', ') || 'none',
        ],
        ['success rate', stats.successRate === null ? 'n/a' : `${(stats.successRate * 100).toFixed(1)}%`],
        [
          'duration',
          `p50 ${formatDuration(stats.durationMs.p50) || 'n/a'}, p95 ${formatDuration(stats.durationMs.p95) || 'n/a'}`,
        ],
        [
          'lateness',
          `p50 ${formatDuration(stats.latenessMs.p50) || 'n/a'}, p95 ${formatDuration(stats.latenessMs.p95) || 'n/a'}`,
        ],
      ]);
      if (stats.hours.length) {
        lines.push(
          '',
          ...formatTable(
            [
              { header: 'HOUR', value: (h: (typeof stats.hours)[number]) => h.hour },
              ...statuses.map((s) => ({
                header: s,
                value: (h: (typeof stats.hours)[number]) => h.counts[s] ?? 0,
                right: true,
              })),
            ],
            stats.hours,
          ),
        );
      }
      return lines;
    });
    return EXIT_OK;
  },
});
