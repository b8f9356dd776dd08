/**
 * The management API's other resources through real HTTP on the emulator: runs (list by job,
 * status, worker and window, newest first; one run; its log from a cursor; cancel; error search),
 * workers (list, drain), contacts (CRUD, subscriptions, jobs naming unknown contacts), alerts,
 * stats, audit, and the agents' declared-job route — each with its error codes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoSeconds, type Run } from '../../core/model';
import { sampleRun } from '../../core/testing/contracts/fixtures';
import { apiError, useApi } from './helpers';

const api = useApi();

const HOUR = 3600_000;
/** Runs an hour apart ending an hour ago, inside the default 7-day window. */
const base = Date.now() - 30 * HOUR;

async function seedRuns(): Promise<Run[]> {
  const runs: Run[] = [];
  for (let i = 0; i < 12; i++) {
    const at = base + i * 2 * HOUR;
    const status = i % 3 === 0 ? 'FAILED' : i % 3 === 1 ? 'SUCCEEDED' : 'RUNNING';
    const run = sampleRun({
      jobId: i % 2 ? 'rs-odd' : 'rs-even',
      scheduledTime: isoSeconds(at),
      runId: `rs-${i}`,
      status,
      workerId: i % 4 === 0 ? 'w-four' : 'w-other',
      startedAt: at + 1000 + i * 100,
      ...(status === 'RUNNING' ? {} : { finishedAt: at + 5000 + i * 1000 }),
      log: [`line one of ${i}`, i === 5 ? 'Disk QUOTA exceeded on /data' : `line two of ${i}`],
      ...(status === 'FAILED' ? { error: { code: 'handler', message: `boom number ${i}` } } : {}),
    });
    await api.plane.runs.create(run);
    runs.push(run);
  }
  return runs;
}

let seeded: Promise<Run[]> | undefined;
const ready = async () => {
  await api.ready();
  seeded ??= seedRuns();
  return seeded;
};

test('runs: newest first, by job, status, worker and window, with cursors that keep the window', async () => {
  await ready();
  const viewer = api.as('viewer');
  const all = await viewer.call('listRuns', { query: { limit: 200 } });
  const ours = all.items.filter((r) => r.runId.startsWith('rs-'));
  assert.deepEqual(
    ours.map((r) => r.runId),
    Array.from({ length: 12 }, (_, i) => `rs-${11 - i}`),
  );
  assert.equal((ours[0] as Record<string, unknown>).log, undefined, 'lists leave the log out');
  // Eight day partitions, most empty: empty days cost none of the page's read budget, and a page
  // holding the last run offers no cursor (it led to an empty page before).
  assert.equal(all.nextCursor, undefined);

  const odd = await viewer.call('listRuns', { query: { jobId: 'rs-odd' } });
  assert.deepEqual(
    odd.items.map((r) => r.runId),
    ['rs-11', 'rs-9', 'rs-7', 'rs-5', 'rs-3', 'rs-1'],
  );
  const failedOdd = await viewer.call('listRuns', { query: { jobId: 'rs-odd', status: 'FAILED' } });
  assert.deepEqual(
    failedOdd.items.map((r) => r.runId),
    ['rs-9', 'rs-3'],
  );
  const four = await viewer.call('listRuns', { query: { workerId: 'w-four' } });
  assert.deepEqual(
    four.items.map((r) => r.runId),
    ['rs-8', 'rs-4', 'rs-0'],
  );
  const window = await viewer.call('listRuns', {
    query: { from: isoSeconds(base + 3 * HOUR), to: isoSeconds(base + 9 * HOUR) },
  });
  assert.deepEqual(
    window.items.map((r) => r.runId),
    ['rs-4', 'rs-3', 'rs-2'],
  );

  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await viewer.call('listRuns', {
      query: { status: 'SUCCEEDED', limit: 2, ...(cursor ? { cursor } : {}) },
    });
    seen.push(...page.items.map((r) => r.runId));
    cursor = page.nextCursor;
  } while (cursor);
  assert.deepEqual(
    seen.filter((id) => id.startsWith('rs-')),
    ['rs-10', 'rs-7', 'rs-4', 'rs-1'],
  );

  const wide = await apiError(viewer.call('listRuns', { query: { from: '2020-01-01T00:00:00Z' } }));
  assert.equal(wide.status, 400);
  assert.equal(wide.fields[0]?.path, 'query.from');
  const badStatus = await apiError(viewer.call('listRuns', { query: { status: 'DONE' as never } }));
  assert.equal(badStatus.fields[0]?.path, 'query.status');
  const badTime = await apiError(viewer.call('listRuns', { query: { to: 'tomorrow' } }));
  assert.equal(badTime.fields[0]?.path, 'query.to');
});

test('runs of one instant spread over the day shards page out once each, in order, across pages', async () => {
  await ready();
  // 30 runs at one instant: the byDay shards hold them under 16 keys, merged by `<time> <runId>`.
  const at = isoSeconds(base + 25 * HOUR);
  const ids = Array.from({ length: 30 }, (_, i) => `tie-${String(i).padStart(2, '0')}`);
  for (const runId of ids)
    await api.plane.runs.create(sampleRun({ jobId: 'rs-tie', runId, scheduledTime: at }));
  const window = { from: isoSeconds(base + 24 * HOUR), to: isoSeconds(base + 26 * HOUR) };
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await api.as('viewer').call('listRuns', {
      query: { ...window, limit: 7, ...(cursor ? { cursor } : {}) },
    });
    seen.push(...page.items.map((r) => r.runId));
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor && pages < 20);
  assert.deepEqual(seen, [...ids].reverse(), 'newest first, then by run id, each once');
  assert.equal(pages, 5);
});

test('one run, its log from a cursor, and cancel', async () => {
  await ready();
  const viewer = api.as('viewer');
  const run = await viewer.call('getRun', { params: { runId: 'rs-2' } });
  assert.equal(run.status, 'RUNNING');
  assert.equal(run.history.length, 1);
  const first = await viewer.call('getRunLog', { params: { runId: 'rs-2' }, query: { limit: 1 } });
  assert.deepEqual(first.lines, [{ index: 0, message: 'line one of 2' }]);
  assert.equal(first.complete, false);
  const second = await viewer.call('getRunLog', {
    params: { runId: 'rs-2' },
    query: { cursor: first.nextCursor },
  });
  assert.deepEqual(second.lines, [{ index: 1, message: 'line two of 2' }]);
  const foreign = await apiError(
    viewer.call('getRunLog', { params: { runId: 'rs-5' }, query: { cursor: first.nextCursor } }),
  );
  assert.equal(foreign.code, 'INVALID_CURSOR');
  const missing = await apiError(viewer.call('getRun', { params: { runId: 'nope' } }));
  assert.equal(missing.status, 404);

  const cancelled = await api.as('operator').call('cancelRun', { params: { runId: 'rs-2' } });
  assert.equal(cancelled.status, 'CANCELLED');
  assert.equal(cancelled.cancelRequested, true);
  const again = await apiError(api.as('operator').call('cancelRun', { params: { runId: 'rs-2' } }));
  assert.equal(again.status, 409);
  assert.equal(again.code, 'RUN_NOT_IN_STATE');
  const tail = await viewer.call('getRunLog', {
    params: { runId: 'rs-2' },
    query: { cursor: second.nextCursor },
  });
  assert.deepEqual(tail.lines, []);
  assert.equal(tail.complete, true);
  const audit = await viewer.call('listAudit', { query: { entity: 'run:rs-2' } });
  assert.equal(audit.items[0]?.action, 'run.cancel');
  assert.equal((audit.items[0]?.before as { status?: string } | undefined)?.status, 'RUNNING');
});

test('error search finds text in errors and log lines, case-insensitively, newest first', async () => {
  await ready();
  const viewer = api.as('viewer');
  const quota = await viewer.call('searchErrors', { query: { q: 'quota' } });
  assert.deepEqual(
    quota.items.map((h) => [h.runId, h.kind, h.text]),
    [['rs-5', 'log', 'Disk QUOTA exceeded on /data']],
  );
  assert.ok(quota.scanned >= 12);
  const boom = await viewer.call('searchErrors', { query: { q: 'BOOM', jobId: 'rs-even', limit: 1 } });
  assert.deepEqual(
    boom.items.map((h) => h.runId),
    ['rs-6'],
  );
  assert.ok(boom.nextCursor);
  const more = await viewer.call('searchErrors', {
    query: { q: 'BOOM', jobId: 'rs-even', limit: 5, cursor: boom.nextCursor },
  });
  assert.deepEqual(
    more.items.map((h) => h.runId),
    ['rs-0'],
  );
  const noQuery = await apiError(viewer.call('searchErrors', { query: {} as never }));
  assert.equal(noQuery.fields[0]?.path, 'query.q');
});

test('stats: runs per status per hour, success rate, p50/p95 duration and lateness', async () => {
  await ready();
  const stats = await api.as('viewer').call('getStats', {
    query: { from: isoSeconds(base - HOUR), to: isoSeconds(base + 23 * HOUR), jobId: 'rs-even' },
  });
  // rs-0, 2, 4, 6, 8, 10: FAILED (0, 6), RUNNING then CANCELLED (2), RUNNING (8), SUCCEEDED (4, 10).
  assert.equal(stats.runs, 6);
  assert.equal(stats.totals.FAILED, 2);
  assert.equal(stats.totals.SUCCEEDED, 2);
  assert.equal(stats.successRate, 0.5);
  assert.equal(stats.hours.length, 6);
  assert.ok(stats.durationMs.p50 !== null && stats.durationMs.p95 !== null);
  assert.ok(stats.latenessMs.p50 !== null && stats.latenessMs.p50 >= 1000);
  assert.equal(stats.truncated, false);
});

test('workers: list with running count and lease age; drain; unknown → 404', async () => {
  await ready();
  const now = Date.now();
  await api.plane.workers.register(
    {
      workerId: 'w-api',
      host: 'h1',
      pool: 'default',
      handlers: ['reports.daily'],
      labels: {},
      capacity: 4,
      priority: 100,
      endpoints: {},
    },
    now,
    60_000,
  );
  const list = await api.as('viewer').call('listWorkers', { query: {} });
  const worker = list.items.find((w) => w.workerId === 'w-api');
  assert.equal(worker?.status, 'ACTIVE');
  assert.equal(worker?.running, 0);
  assert.equal(worker?.live, true);
  assert.ok((worker?.leaseAgeMs ?? -1) >= 0);
  const drained = await api.as('operator').call('drainWorker', { params: { workerId: 'w-api' } });
  assert.equal(drained.status, 'DRAINING');
  assert.equal((await api.plane.workers.get('w-api'))?.status, 'DRAINING');
  const missing = await apiError(api.as('operator').call('drainWorker', { params: { workerId: 'w-none' } }));
  assert.equal(missing.status, 404);
});

test('contacts: CRUD with subscriptions; a job naming an unknown contact is rejected', async () => {
  await ready();
  const admin = api.as('admin');
  const created = await admin.call('createContact', {
    body: {
      contactId: 'ops',
      name: 'Ops',
      email: 'ops@example.com',
      subscriptions: [
        { jobId: 'nightly', alertKinds: ['failure'] },
        { group: 'billing', alertKinds: ['lost', 'timeout'] },
      ],
    },
  });
  assert.equal(created.subscriptions.length, 2);
  const taken = await apiError(
    admin.call('createContact', { body: { contactId: 'ops', name: 'x', email: 'x@example.com' } }),
  );
  assert.equal(taken.code, 'ALREADY_EXISTS');
  const badEmail = await apiError(
    admin.call('createContact', { body: { contactId: 'c2', name: 'x', email: 'nope' } }),
  );
  assert.equal(badEmail.fields[0]?.path, 'email');
  const badSub = await apiError(
    admin.call('createContact', {
      body: {
        contactId: 'c3',
        name: 'x',
        email: 'x@example.com',
        subscriptions: [{ jobId: 'a', group: 'b' }],
      },
    }),
  );
  assert.equal(badSub.fields[0]?.path, 'subscriptions.0');

  const updated = await admin.call('updateContact', {
    params: { contactId: 'ops' },
    body: { name: 'Operations' },
  });
  assert.equal(updated.name, 'Operations');
  assert.equal(
    (await api.as('viewer').call('getContact', { params: { contactId: 'ops' } })).name,
    'Operations',
  );
  const listed = await api.as('viewer').call('listContacts', { query: {} });
  assert.ok(listed.items.some((c) => c.contactId === 'ops'));
  // The notifier's recipients follow the subscriptions' own alert kinds.
  const forFailure = await api.plane.contacts.recipientsFor({ jobId: 'nightly', contacts: [] }, 'failure');
  assert.deepEqual(forFailure.emails, ['ops@example.com']);
  const forLost = await api.plane.contacts.recipientsFor({ jobId: 'nightly', contacts: [] }, 'lost');
  assert.deepEqual(forLost.emails, []);

  const unknown = await apiError(
    admin.call('createJob', {
      body: { jobId: 'needs-contacts', handler: 'h.x', contacts: ['ops', 'ghost'] },
    }),
  );
  assert.equal(unknown.status, 400);
  assert.deepEqual(
    unknown.fields.map((f) => f.path),
    ['contacts.1'],
  );
  assert.equal(await api.plane.jobs.get('needs-contacts'), null);
  await admin.call('createJob', { body: { jobId: 'needs-contacts', handler: 'h.x', contacts: ['ops'] } });

  // Where a job's alerts go, and why: ops is named and subscribes to the group (all its kinds, once);
  // dev subscribes to the group for failures only; nobody else.
  await admin.call('createContact', {
    body: {
      contactId: 'dev',
      name: 'Dev',
      email: 'dev@example.com',
      alertKinds: ['failure'],
      groups: ['billing'],
    },
  });
  await admin.call('createJob', {
    body: { jobId: 'billing-run', handler: 'h.x', group: 'billing', contacts: ['ops'] },
  });
  const billing = await api.as('viewer').call('getJob', { params: { jobId: 'billing-run' } });
  assert.deepEqual(
    billing.alertsGoTo?.map((m) => [m.contactId, m.via, m.alertKinds.length]),
    [
      ['ops', ['contacts', 'group-subscription'], 8],
      ['dev', ['group'], 1],
    ],
  );
  assert.deepEqual(
    (await admin.call('getJob', { params: { jobId: 'needs-contacts' } })).alertsGoTo?.map((m) => m.contactId),
    ['ops'],
  );

  await admin.call('deleteContact', { params: { contactId: 'ops' } });
  const gone = await apiError(api.as('viewer').call('getContact', { params: { contactId: 'ops' } }));
  assert.equal(gone.status, 404);
  const audit = await api.as('viewer').call('listAudit', { query: { entity: 'contact:ops' } });
  assert.deepEqual(
    audit.items.map((a) => a.action),
    ['contact.delete', 'contact.update', 'contact.create'],
  );
});

test('alerts: listed newest first with their delivery state, by job and status', async () => {
  await ready();
  const now = Date.now();
  for (const [i, status] of (['SENT', 'FAILED', 'SUPPRESSED'] as const).entries()) {
    await api.plane.alertStore.create({
      alertId: `al-${i}`,
      kind: 'failure',
      jobId: 'al-job',
      runId: `run-${i}`,
      message: `alert ${i}`,
      createdAt: now - (3 - i) * 60_000,
      updatedAt: now,
      status,
      attempts: 1,
      recipients: ['ops@example.com'],
      ...(status === 'FAILED' ? { reason: 'MessageRejected: address is not verified' } : {}),
    });
  }
  const byJob = await api.as('viewer').call('listAlerts', { query: { jobId: 'al-job' } });
  assert.deepEqual(
    byJob.items.map((a) => [a.alertId, a.status]),
    [
      ['al-2', 'SUPPRESSED'],
      ['al-1', 'FAILED'],
      ['al-0', 'SENT'],
    ],
  );
  assert.match(byJob.items[1]?.reason ?? '', /not verified/);
  const failed = await api.as('viewer').call('listAlerts', { query: { status: 'FAILED' } });
  assert.deepEqual(
    failed.items.filter((a) => a.jobId === 'al-job').map((a) => a.alertId),
    ['al-1'],
  );
});

test('declared jobs: an agent (admin locally) syncs its jobs; ownership holds; operators and viewers are refused', async () => {
  await ready();
  const admin = api.as('admin');
  const owner = 'agent:default:batch';
  const jobs = [
    { jobId: 'decl-a', handler: 'batch.a', schedule: { expression: 'rate(1 hour)' } },
    { jobId: 'decl-b', handler: 'batch.b' },
  ];
  const first = await admin.call('syncDeclaredJobs', { params: { owner }, body: { jobs } });
  assert.deepEqual(first.added, ['decl-a', 'decl-b']);
  assert.equal((await api.plane.jobs.get('decl-a'))?.owner, owner);
  assert.equal((await api.plane.schedules.get('decl-a'))?.expression, 'rate(1 hour)');
  const again = await admin.call('syncDeclaredJobs', { params: { owner }, body: { jobs } });
  assert.deepEqual(again.unchanged, ['decl-a', 'decl-b']);
  const pruned = await admin.call('syncDeclaredJobs', { params: { owner }, body: { jobs: [jobs[0]!] } });
  assert.deepEqual(pruned.deleted, ['decl-b']);

  await admin.call('createJob', { body: { jobId: 'not-theirs', handler: 'h.x' } });
  const stolen = await apiError(
    admin.call('syncDeclaredJobs', {
      params: { owner },
      body: { jobs: [{ jobId: 'not-theirs', handler: 'batch.z' }] },
    }),
  );
  assert.equal(stolen.status, 409);
  assert.equal(stolen.code, 'ALREADY_EXISTS');
  assert.equal((await api.plane.jobs.get('not-theirs'))?.spec.handler, 'h.x');
  const badSpec = await apiError(
    admin.call('syncDeclaredJobs', {
      params: { owner },
      body: { jobs: [{ jobId: 'x', handler: 'ok', mode: 'NOPE' }] as never },
    }),
  );
  assert.equal(badSpec.fields[0]?.path, 'jobs.0.mode');
  const op = await apiError(
    api.as('operator').call('syncDeclaredJobs', { params: { owner }, body: { jobs } }),
  );
  assert.equal(op.status, 403);
  const audit = await api.as('viewer').call('listAudit', { query: { entity: `agent:${owner}` } });
  assert.equal(audit.items.length, 2, 'one record per sync that changed something');
});

test('throttling: past the burst a caller gets 429 THROTTLED', async () => {
  await ready();
  // A server of its own with a tiny bucket, on the same plane.
  const { startLocalApi } = await import('../../functions/local/api-server');
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { CloverApiClient } = await import('../../core/api/client');
  const server = await startLocalApi({
    plane: api.plane,
    log: api.plane.log,
    port: 0,
    stateDir: await mkdtemp(join(tmpdir(), 'clover-api-')),
    rateLimit: { perSecond: 0.001, burst: 3 },
  });
  try {
    const { token } = await server.auth.issue('busy', 'viewer');
    const client = new CloverApiClient({ baseUrl: server.url, token });
    for (let i = 0; i < 3; i++) await client.call('me', {});
    const throttled = await apiError(client.call('me', {}));
    assert.equal(throttled.status, 429);
    assert.equal(throttled.code, 'THROTTLED');
  } finally {
    await server.close();
  }
});
