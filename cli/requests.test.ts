/**
 * What the CLI's commands send and print: jobs (list, create, update, dependent jobs), contacts and
 * their channels, alerts, runs. In process, against the scripted server of cli/testing/scripted-api.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clover, seen, useScriptedApi } from './testing/scripted-api';

useScriptedApi();

const job = (jobId: string, extra: Record<string, unknown> = {}) => ({
  spec: {
    jobId,
    description: '',
    handler: 'reports.daily',
    payload: null,
    schedule: { expression: 'rate(5 minutes)', timezone: 'UTC' },
    mode: 'REMOTE',
    delivery: 'SQS',
    target: { pool: 'default', labels: {}, workerIds: [] },
    routing: 'ROUND_ROBIN',
    concurrency: { policy: 'FORBID', maxQueued: 10 },
    misfire: { policy: 'FIRE_ONCE_NOW', windowSeconds: 3600 },
    retry: { maxAttempts: 1, backoffSeconds: 10, maxBackoffSeconds: 600 },
    timeoutSeconds: 3600,
    recoverOnWorkerLoss: true,
    contacts: [],
    paused: false,
    ...extra,
  },
  version: 2,
  createdAt: 0,
  updatedAt: 0,
  syncState: 'IN_SYNC',
});

describe('requests', () => {
  test('jobs list sends the filters as query parameters with the bearer token, and prints an aligned table', async () => {
    const r = await clover(
      ['jobs', 'list', '--pool', 'batch', '--paused', '--search', 'bill', '--limit', '2'],
      () => ({
        status: 200,
        body: { items: [job('billing'), job('billing-eu', { paused: true })], nextCursor: 'CUR' },
      }),
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(seen[0]?.method, 'GET');
    assert.equal(seen[0]?.url, '/api/jobs?pool=batch&paused=true&q=bill&limit=2');
    assert.equal(seen[0]?.auth, 'Bearer tok');
    const lines = r.out.split('\n');
    assert.match(lines[0] ?? '', /^JOB\s+HANDLER\s+MODE\s+SCHEDULE\s+POOL\s+PAUSED\s+VERSION\s+OWNER$/);
    assert.equal(lines[1]?.indexOf('reports.daily'), lines[0]?.indexOf('HANDLER'));
    assert.match(r.err, /--cursor CUR/);
  });

  test('--all follows the cursor; --json prints the items as the API sent them', async () => {
    const r = await clover(['jobs', 'list', '--all', '--json'], (req) => ({
      status: 200,
      body: req.url.includes('cursor=') ? { items: [job('b')] } : { items: [job('a')], nextCursor: 'N' },
    }));
    assert.equal(r.code, 0, r.err);
    assert.equal(seen.length, 2);
    assert.deepEqual(
      (JSON.parse(r.out) as { items: { spec: { jobId: string } }[] }).items.map((j) => j.spec.jobId),
      ['a', 'b'],
    );
  });

  test('jobs create from flags posts a spec; update patches the current spec at its version', async () => {
    const created = await clover(
      [
        'jobs',
        'create',
        'hello',
        '--handler',
        'hello',
        '--schedule',
        'rate(1 hour)',
        '--tz',
        'Europe/Lisbon',
        '--payload',
        '{"a":1}',
        '--pool',
        'batch',
      ],
      () => ({ status: 201, body: job('hello') }),
    );
    assert.equal(created.code, 0, created.err);
    assert.deepEqual(seen[0]?.body, {
      handler: 'hello',
      payload: { a: 1 },
      target: { pool: 'batch' },
      schedule: { expression: 'rate(1 hour)', timezone: 'Europe/Lisbon' },
      jobId: 'hello',
    });
    const updated = await clover(['jobs', 'update', 'hello', '--schedule', 'rate(2 hours)'], (req) =>
      req.method === 'GET' ? { status: 200, body: job('hello') } : { status: 200, body: job('hello') },
    );
    assert.equal(updated.code, 0, updated.err);
    const put = seen[1]?.body as { version: number; spec: { schedule: unknown; handler: string } };
    assert.equal(seen[1]?.method, 'PUT');
    assert.equal(put.version, 2);
    assert.deepEqual(put.spec.schedule, { expression: 'rate(2 hours)', timezone: 'UTC' });
    assert.equal(put.spec.handler, 'reports.daily');
  });

  test('contacts create/update with channels: flags become channels, secrets print once, others are kept', async () => {
    const view = (channels: unknown[]) => ({
      contactId: 'ops',
      name: 'Ops',
      email: 'ops@example.com',
      alertKinds: ['failure'],
      groups: [],
      subscriptions: [],
      channels,
    });
    const created = await clover(
      [
        'contacts',
        'create',
        'ops',
        '--name',
        'Ops',
        '--email',
        'ops@example.com',
        '--webhook',
        'pager=https://a.example.com/h',
        '--slack',
        'chat=https://hooks.slack.com/services/T/B/x',
      ],
      () => ({
        status: 201,
        body: view([
          {
            type: 'webhook',
            name: 'pager',
            url: 'https://a.example.com/h',
            secretSet: true,
            secret: 'f'.repeat(64),
          },
          { type: 'slack', name: 'chat', url: 'https://hooks.slack.com/…/B/x', secretSet: false },
        ]),
      }),
    );
    assert.equal(created.code, 0, created.err);
    assert.deepEqual((seen[0]?.body as { channels?: unknown } | undefined)?.channels, [
      { type: 'webhook', name: 'pager', url: 'https://a.example.com/h' },
      { type: 'slack', name: 'chat', url: 'https://hooks.slack.com/services/T/B/x' },
    ]);
    assert.match(
      created.out,
      new RegExp(`webhook pager signing secret \\(shown once, store it now\\): ${'f'.repeat(64)}`),
    );
    const stored = view([
      { type: 'webhook', name: 'pager', url: 'https://a.example.com/h', secretSet: true },
      { type: 'slack', name: 'chat', url: 'https://hooks.slack.com/…/B/x', secretSet: false },
    ]);
    const updated = await clover(
      [
        'contacts',
        'update',
        'ops',
        '--teams',
        'team=https://t.example.com/workflows/1',
        '--remove-channel',
        'chat',
        '--rotate-secret',
        'pager',
      ],
      (req) => ({ status: 200, body: req.method === 'GET' ? stored : stored }),
    );
    assert.equal(updated.code, 0, updated.err);
    assert.equal(seen[1]?.method, 'PUT');
    assert.deepEqual(seen[1]?.body, {
      channels: [
        { type: 'webhook', name: 'pager', rotateSecret: true },
        { type: 'teams', name: 'team', url: 'https://t.example.com/workflows/1' },
      ],
    });
    const listed = await clover(['contacts', 'list'], () => ({ status: 200, body: { items: [stored] } }));
    assert.match(listed.out, /CHANNELS[\s\S]*pager\(webhook\),chat\(slack\)/);
    const alerts = await clover(['alerts', 'list'], () => ({
      status: 200,
      body: {
        items: [
          {
            alertId: 'a1',
            kind: 'failure',
            jobId: 'nightly',
            message: 'boom',
            createdAt: 1_769_767_200_000,
            updatedAt: 1_769_767_200_000,
            status: 'FAILED',
            attempts: 1,
            recipients: ['ops@example.com'],
            deliveries: [
              {
                contactId: 'ops',
                channel: 'pager',
                type: 'webhook',
                target: 'https://a.example.com/h',
                status: 'FAILED',
                attempts: 3,
                history: [],
              },
            ],
          },
        ],
      },
    }));
    assert.equal(alerts.code, 0, alerts.err);
    assert.match(alerts.out, /CHANNELS[\s\S]*ops\/pager:FAILED\(3\)/);
    const bad = await clover(['contacts', 'create', 'ops', '--webhook', 'https://no-name.example.com']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--webhook takes NAME=URL/);
  });

  test('path parameters are encoded (run ids hold ":" and "@")', async () => {
    const r = await clover(['runs', 'cancel', 'job@2026-01-30T10:00:00Z'], () => ({
      status: 200,
      body: { runId: 'job@2026-01-30T10:00:00Z', status: 'CANCELLED' },
    }));
    assert.equal(r.code, 0, r.err);
    assert.equal(seen[0]?.url, '/api/runs/job%402026-01-30T10%3A00%3A00Z/cancel');
  });
});

describe('dependent jobs', () => {
  test('jobs create --after/--wait-for sends after entries; jobs get prints after, downstream and problems; runs get prints the chain', async () => {
    const created = await clover(
      ['jobs', 'create', 'load', '--handler', 'h', '--after', 'extract,clean:completed', '--wait-for', 'all'],
      () => ({ status: 201, body: job('load') }),
    );
    assert.equal(created.code, 0, created.err);
    const body = seen[0]?.body as { after: unknown; waitFor: unknown };
    assert.deepEqual(body.after, [
      { jobId: 'extract', on: 'SUCCEEDED' },
      { jobId: 'clean', on: 'COMPLETED' },
    ]);
    assert.equal(body.waitFor, 'ALL');
    const shown = await clover(['jobs', 'get', 'load'], () => ({
      status: 200,
      body: {
        ...job('load', {
          after: [
            { jobId: 'extract', on: 'SUCCEEDED' },
            { jobId: 'clean', on: 'COMPLETED' },
          ],
          waitFor: 'ALL',
        }),
        downstream: ['report'],
        dependencyProblems: [{ jobId: 'clean', reason: 'upstream job clean does not exist (deleted?)' }],
      },
    }));
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /after:\s+extract \(SUCCEEDED\), clean \(COMPLETED\); waits for all/);
    assert.match(shown.out, /downstream:\s+report/);
    assert.match(shown.out, /! upstream job clean does not exist/);
    const run = await clover(['runs', 'get', 'load@chain:extract@t'], () => ({
      status: 200,
      body: {
        runId: 'load@chain:extract@t',
        jobId: 'load',
        scheduledTime: '2026-01-30T10:00:00Z',
        trigger: 'DEPENDENT',
        handler: 'h',
        payload: null,
        status: 'SUCCEEDED',
        attempt: 1,
        fence: 1,
        jobVersion: 1,
        concurrency: 'FORBID',
        createdAt: 0,
        updatedAt: 0,
        history: [],
        chainId: 'extract@t',
        upstream: [{ runId: 'extract@t', jobId: 'extract', status: 'SUCCEEDED' }],
        downstreamRuns: ['report@after:load@chain:extract@t'],
      },
    }));
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /chain:\s+extract@t/);
    assert.match(run.out, /upstream:\s+extract@t \(SUCCEEDED\)/);
    assert.match(run.out, /downstream:\s+report@after:load@chain:extract@t/);
  });
});
