/**
 * The management API's job routes and error shape, through real HTTP against the emulator:
 * create/get/list/update/delete/pause/resume/trigger/preview, dependencies, paging, the OpenAPI
 * document, and the codes every failure answers with. Nothing rejected is written (tables and
 * schedules checked). Tokens and roles: auth.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routes } from '../../core/api/routes';
import { API_LIMITS } from '../../core/api/schemas';
import { MAX_PAYLOAD_BYTES } from '../../core/model';
import { apiError, useApi } from './helpers';

const api = useApi();

const spec = (jobId: string, extra: Record<string, unknown> = {}) => ({
  jobId,
  handler: 'reports.daily',
  schedule: { expression: 'rate(5 minutes)' },
  ...extra,
});

test('health and the OpenAPI document need no token; the document lists every route with its error codes and limits', async () => {
  await api.ready();
  assert.deepEqual(await api.anonymous.call('health', {}), { ok: true });
  const response = await api.anonymous.request('GET', '/api/openapi.json');
  const doc = (await response.json()) as {
    openapi: string;
    info: Record<string, unknown>;
    paths: Record<string, Record<string, { responses: Record<string, unknown>; operationId: string }>>;
  };
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(
    (doc.info['x-clover-limits'] as { maxPageSize: number }).maxPageSize,
    API_LIMITS.maxPageSize,
  );
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const op = doc.paths[path]?.[route.method];
    assert.ok(op, `${route.method} ${path} is documented`);
    assert.equal(op.operationId, route.id);
    if (route.access !== 'public')
      assert.ok(op.responses['401'] && op.responses['403'], `${route.id} lists 401/403`);
  }
  const create = doc.paths['/api/jobs']?.post;
  assert.ok(
    create?.responses['409'] && create.responses['413'] && create.responses['400'] && create.responses['429'],
  );
});

test('create, get, list, update, pause, resume, trigger and delete a job', async () => {
  await api.ready();
  const admin = api.as('admin');
  const created = await admin.call('createJob', {
    body: spec('api-crud', { description: 'Nightly Billing' }),
  });
  assert.equal(created.version, 1);
  assert.equal(created.syncState, 'IN_SYNC');
  const schedule = await api.plane.schedules.get('api-crud');
  assert.equal(schedule?.expression, 'rate(5 minutes)');

  const got = await api.as('viewer').call('getJob', { params: { jobId: 'api-crud' } });
  assert.equal(got.spec.description, 'Nightly Billing');
  assert.equal(got.nextFires?.length, 5);

  const listed = await api.as('viewer').call('listJobs', { query: { q: 'billing' } });
  assert.ok(listed.items.some((j) => j.spec.jobId === 'api-crud'));
  // The list carries each job's next fire only (the job itself, its next five).
  assert.equal(listed.items.find((j) => j.spec.jobId === 'api-crud')?.nextFires?.length, 1);

  const updated = await admin.call('updateJob', {
    params: { jobId: 'api-crud' },
    body: { version: 1, spec: spec('api-crud', { schedule: { expression: 'rate(10 minutes)' } }) },
  });
  assert.equal(updated.version, 2);
  assert.equal((await api.plane.schedules.get('api-crud'))?.expression, 'rate(10 minutes)');

  const paused = await api.as('operator').call('pauseJob', { params: { jobId: 'api-crud' } });
  assert.equal(paused.spec.paused, true);
  const resumed = await api.as('operator').call('resumeJob', { params: { jobId: 'api-crud' } });
  assert.equal(resumed.spec.paused, false);

  const fired = await api.as('operator').call('triggerJob', { params: { jobId: 'api-crud' }, body: {} });
  assert.match(fired.runId, /^api-crud@manual-/);
  const run = await api.as('viewer').call('getRun', { params: { runId: fired.runId } });
  assert.equal(run.trigger, 'MANUAL');

  await admin.call('deleteJob', { params: { jobId: 'api-crud' }, query: { version: 4 } });
  assert.equal(await api.plane.jobs.get('api-crud'), null);
  assert.equal(await api.plane.schedules.get('api-crud'), null);
  const gone = await apiError(api.as('viewer').call('getJob', { params: { jobId: 'api-crud' } }));
  assert.equal(gone.status, 404);
  assert.equal(gone.code, 'NOT_FOUND');
});

test("trigger with a W3C traceparent: the run and the answer carry the caller's trace id; without one Clover makes its own; a malformed one is a 400 naming the header and fires nothing", async () => {
  await api.ready();
  await api.as('admin').call('createJob', { body: spec('api-traced') });
  const operator = api.as('operator');
  const params = { jobId: 'api-traced' };
  const CALLER = '1-4bf92f35-77b34da6a3ce929d0e0e4736';

  const fired = await operator.call('triggerJob', {
    params,
    headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    body: {},
  });
  assert.equal(fired.traceId, CALLER, 'the answer');
  assert.equal((await api.plane.runs.get(fired.runId))?.traceId, CALLER, 'the run record');

  // A version this reader does not know is read by the spec's forward-compatible rule.
  const future = (await (
    await operator.request(
      'POST',
      '/api/jobs/api-traced/trigger',
      {},
      {
        traceparent: 'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-more',
      },
    )
  ).json()) as { runId: string; traceId: string };
  assert.equal(future.traceId, CALLER);

  const own = await operator.call('triggerJob', { params, body: {} });
  assert.match(own.traceId ?? '', /^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
  assert.notEqual(own.traceId, CALLER);
  assert.equal((await api.plane.runs.get(own.runId))?.traceId, own.traceId);

  const runs = async () =>
    (await api.as('viewer').call('listRuns', { query: { jobId: 'api-traced', limit: 50 } })).items.length;
  const audits = async () =>
    (await api.as('admin').call('listAudit', { query: { entity: 'job:api-traced', limit: 50 } })).items
      .length;
  const before = { runs: await runs(), audits: await audits() };
  assert.equal(before.runs, 3);
  for (const [traceparent, reason] of [
    [
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'has version ff, which W3C Trace Context forbids',
    ],
    ['00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01', 'must be lowercase hex'],
    [
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      'has an all-zero trace id, which W3C Trace Context forbids',
    ],
  ] as const) {
    const refused = await apiError(
      operator.call('triggerJob', { params, headers: { traceparent }, body: {} }),
    );
    assert.equal(refused.status, 400, traceparent);
    assert.equal(refused.code, 'VALIDATION_FAILED');
    assert.deepEqual(refused.fields, [{ path: 'header.traceparent', message: reason }]);
  }
  assert.deepEqual({ runs: await runs(), audits: await audits() }, before, 'nothing fired or recorded');
});

test('schedule preview lists the next fires, or names the field of a bad expression', async () => {
  await api.ready();
  const viewer = api.as('viewer');
  const preview = await viewer.call('previewSchedule', {
    body: {
      expression: 'cron(0 10 * * ? *)',
      timezone: 'Europe/London',
      count: 3,
      from: '2026-01-01T00:00:00Z',
    },
  });
  assert.deepEqual(preview.nextFires, [
    '2026-01-01T10:00:00Z',
    '2026-01-02T10:00:00Z',
    '2026-01-03T10:00:00Z',
  ]);
  const bad = await apiError(viewer.call('previewSchedule', { body: { expression: 'cron(bogus)' } }));
  assert.equal(bad.status, 400);
  assert.equal(bad.code, 'INVALID_SCHEDULE');
  assert.equal(bad.fields[0]?.path, 'schedule.expression');
});

test('errors: 400 with field paths, 409 on a taken id and a stale version, 413, 404, unknown fields and query params rejected', async () => {
  await api.ready();
  const admin = api.as('admin');
  await admin.call('createJob', { body: spec('api-errors') });

  const invalid = await apiError(
    admin.call('createJob', {
      body: { ...spec('api-bad'), schedule: { expression: 'rate(5 minutes)', timezone: 'Mars/Base' } },
    }),
  );
  assert.equal(invalid.status, 400);
  assert.ok(
    invalid.fields.some((f) => f.path === 'schedule.timezone'),
    JSON.stringify(invalid.fields),
  );

  const unknown = await apiError(
    admin.call('createJob', { body: { ...spec('api-bad'), command: 'rm -rf /' } as never }),
  );
  assert.equal(unknown.code, 'VALIDATION_FAILED');
  assert.deepEqual(unknown.fields, [{ path: 'command', message: 'is not a known field' }]);

  const taken = await apiError(admin.call('createJob', { body: spec('api-errors') }));
  assert.equal(taken.status, 409);
  assert.equal(taken.code, 'ALREADY_EXISTS');

  const stale = await apiError(
    admin.call('updateJob', {
      params: { jobId: 'api-errors' },
      body: { version: 7, spec: spec('api-errors') },
    }),
  );
  assert.equal(stale.status, 409);
  assert.equal(stale.code, 'VERSION_CONFLICT');

  const renamed = await apiError(
    admin.call('updateJob', { params: { jobId: 'api-errors' }, body: { version: 1, spec: spec('other') } }),
  );
  assert.equal(renamed.fields[0]?.path, 'spec.jobId');

  const big = await apiError(
    admin.call('createJob', { body: spec('api-big', { payload: 'x'.repeat(MAX_PAYLOAD_BYTES + 1) }) }),
  );
  assert.equal(big.status, 413);
  assert.equal(big.code, 'PAYLOAD_TOO_LARGE');
  const huge = await apiError(
    admin.request(
      'POST',
      '/api/jobs',
      `{"jobId":"h","handler":"h","description":"${'y'.repeat(API_LIMITS.maxBodyBytes)}"}`,
    ),
  );
  assert.equal(huge.status, 413);

  const notJson = await apiError(admin.request('POST', '/api/jobs', '{"jobId":'));
  assert.equal(notJson.status, 400);
  assert.equal(notJson.fields[0]?.path, '(body)');

  const badQuery = await apiError(admin.request('GET', '/api/jobs?limit=abc&color=red'));
  assert.equal(badQuery.status, 400);
  assert.deepEqual(badQuery.fields.map((f) => f.path).sort(), ['query.color', 'query.limit']);

  const twice = await apiError(admin.request('GET', '/api/jobs?pool=a&pool=b'));
  assert.equal(twice.fields[0]?.path, 'query.pool');

  const noRoute = await apiError(admin.request('GET', '/api/nothing-here'));
  assert.equal(noRoute.status, 404);

  for (const id of ['api-bad', 'api-big', 'h']) {
    assert.equal(await api.plane.jobs.get(id), null, `${id} was not written`);
    assert.equal(await api.plane.schedules.get(id), null, `${id} has no schedule`);
  }
});

test('dependencies over HTTP: bad `after` input and cycles are 400s naming the field, nothing written; a deleted upstream is reported on the downstream job', async () => {
  await api.ready();
  const admin = api.as('admin');
  await admin.call('createJob', { body: spec('dep-a') });
  await admin.call('createJob', {
    body: spec('dep-b', { after: [{ jobId: 'dep-a', on: 'SUCCEEDED' }], schedule: null }),
  });
  const fields = async (body: Record<string, unknown>) => {
    const error = await apiError(admin.call('createJob', { body: body as never }));
    assert.equal(error.status, 400);
    assert.equal(error.code, 'VALIDATION_FAILED');
    return error.fields;
  };
  assert.deepEqual(await fields(spec('dep-x', { after: [{ jobId: 'nope', on: 'SUCCEEDED' }] })), [
    { path: 'after.0.jobId', message: 'no job "nope" exists' },
  ]);
  assert.deepEqual(await fields(spec('dep-x', { after: [{ jobId: 'dep-x', on: 'SUCCEEDED' }] })), [
    { path: 'after.0.jobId', message: 'a job cannot run after itself' },
  ]);
  assert.deepEqual(await fields(spec('dep-x', { after: [{ jobId: 'dep-a', on: 'SOMETIMES' }] })), [
    { path: 'after.0.on', message: 'must be one of SUCCEEDED, FAILED, COMPLETED' },
  ]);
  const a = await admin.call('getJob', { params: { jobId: 'dep-a' } });
  const stored = await api.plane.jobs.get('dep-a');
  const cycle = await apiError(
    admin.call('updateJob', {
      params: { jobId: 'dep-a' },
      body: { version: a.version, spec: spec('dep-a', { after: [{ jobId: 'dep-b', on: 'COMPLETED' }] }) },
    }),
  );
  assert.deepEqual(cycle.fields, [{ path: 'after', message: 'cycle dep-a → dep-b → dep-a' }]);
  assert.deepEqual(await api.plane.jobs.get('dep-a'), stored, 'nothing written');
  assert.equal(await api.plane.jobs.get('dep-x'), null);
  assert.deepEqual(a.downstream, ['dep-b']);

  await admin.call('deleteJob', { params: { jobId: 'dep-a' }, query: {} });
  const b = await admin.call('getJob', { params: { jobId: 'dep-b' } });
  assert.deepEqual(
    b.dependencyProblems?.map((p) => p.jobId),
    ['dep-a'],
  );
  assert.match(b.dependencyProblems?.[0]?.reason ?? '', /does not exist/);
});

test('a cursor from another query is rejected; pages follow one another without repeats', async () => {
  await api.ready();
  const admin = api.as('admin');
  for (let i = 0; i < 5; i++)
    await admin.call('createJob', { body: spec(`page-${i}`, { target: { pool: 'paging' } }) });
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await admin.call('listJobs', {
      query: { pool: 'paging', limit: 2, ...(cursor ? { cursor } : {}) },
    });
    seen.push(...page.items.map((j) => j.spec.jobId));
    cursor = page.nextCursor;
  } while (cursor);
  assert.deepEqual(seen, ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
  // Every page says how many match in all, the filter a text search and a pool at once.
  const two = await admin.call('listJobs', { query: { pool: 'paging', limit: 2 } });
  assert.equal(two.total, 5);
  const text = await admin.call('listJobs', { query: { pool: 'paging', q: 'PAGE-3', limit: 2 } });
  assert.equal(text.total, 1);
  assert.equal((await admin.call('listJobs', { query: { pool: 'nobody-here' } })).total, 0);
  // A cursor means more exist: a page that holds the last job carries none.
  const whole = await admin.call('listJobs', { query: { pool: 'paging', limit: 5 } });
  assert.equal(whole.items.length, 5);
  assert.equal(whole.nextCursor, undefined);
  const four = await admin.call('listJobs', { query: { pool: 'paging', limit: 4 } });
  const rest = await admin.call('listJobs', { query: { pool: 'paging', limit: 4, cursor: four.nextCursor } });
  assert.deepEqual(
    rest.items.map((j) => j.spec.jobId),
    ['page-4'],
  );
  assert.equal(rest.nextCursor, undefined);

  const first = await admin.call('listJobs', { query: { pool: 'paging', limit: 2 } });
  assert.ok(first.nextCursor);
  const foreign = await apiError(
    admin.call('listJobs', { query: { pool: 'default', limit: 2, cursor: first.nextCursor } }),
  );
  assert.equal(foreign.status, 400);
  assert.equal(foreign.code, 'INVALID_CURSOR');
  const garbage = await apiError(admin.call('listJobs', { query: { cursor: 'not-a-cursor' } }));
  assert.equal(garbage.code, 'INVALID_CURSOR');
  const runsCursor = await apiError(admin.call('listRuns', { query: { cursor: first.nextCursor } }));
  assert.equal(runsCursor.code, 'INVALID_CURSOR');
});
