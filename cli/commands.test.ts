/**
 * The CLI's argument parsing, output and exit codes, in process (runClover with captured output),
 * against a small HTTP server on loopback that records each request and answers what the test
 * scripts. The real API is exercised in test/cli/ (integration, through the local runtime).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { routes } from '../core/api/routes';
import { runClover } from './clover';
import type { CliIo } from './io';

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  traceparent: string | undefined;
  body: unknown;
}
type Answer = { status: number; body?: unknown };

let seen: Seen[] = [];
let answer: (req: Seen) => Answer = () => ({ status: 200, body: {} });
let endpoint = '';
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let text = '';
  req.on('data', (c: Buffer) => {
    text += c.toString();
  });
  req.on('end', () => {
    const s: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      auth: req.headers.authorization,
      traceparent: req.headers.traceparent as string | undefined,
      body: text ? JSON.parse(text) : undefined,
    };
    seen.push(s);
    const a = answer(s);
    res.writeHead(a.status, { 'content-type': 'application/json' });
    res.end(a.body === undefined ? '' : JSON.stringify(a.body));
  });
});
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

async function clover(
  args: string[],
  respond?: (req: Seen) => Answer,
  env: Readonly<Record<string, string>> = {},
) {
  seen = [];
  if (respond) answer = respond;
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env: { CLOVER_API_URL: endpoint, CLOVER_TOKEN: 'tok', ...env },
    cwd: '/',
    sleep: async () => {},
  };
  const code = await runClover(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

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

describe('errors and exit codes', () => {
  const cases: Array<[string, number, number]> = [
    ['VALIDATION_FAILED', 400, 2],
    ['INVALID_SCHEDULE', 400, 2],
    ['PAYLOAD_TOO_LARGE', 413, 2],
    ['UNSUPPORTED_MEDIA_TYPE', 415, 2],
    ['UNAUTHENTICATED', 401, 3],
    ['TOKEN_EXPIRED', 401, 3],
    ['FORBIDDEN', 403, 3],
    ['NOT_FOUND', 404, 4],
    ['ALREADY_EXISTS', 409, 5],
    ['VERSION_CONFLICT', 409, 5],
    ['RUN_NOT_IN_STATE', 409, 5],
    ['THROTTLED', 429, 6],
    ['UNAVAILABLE', 503, 6],
    ['INTERNAL', 500, 1],
  ];
  for (const [code, status, exit] of cases) {
    test(`${code} exits ${exit} and prints the code, message and fields`, async () => {
      const r = await clover(['jobs', 'get', 'x'], () => ({
        status,
        body: {
          code,
          message: 'the reason',
          fields: [{ path: 'schedule.timezone', message: 'is not a zone' }],
        },
      }));
      assert.equal(r.code, exit);
      assert.equal(r.out, '');
      assert.match(r.err, new RegExp(`^error: ${code}: the reason\n  schedule.timezone: is not a zone`));
    });
  }

  test('an unreachable API exits 6 and says where the endpoint came from', async () => {
    const io: CliIo = {
      out: () => {},
      err: (l) => errs.push(l),
      env: { CLOVER_API_URL: 'http://127.0.0.1:1' },
      cwd: '/',
    };
    const errs: string[] = [];
    assert.equal(await runClover(['jobs', 'list'], io), 6);
    assert.match(
      errs.join('\n'),
      /cannot reach the Clover API at http:\/\/127\.0\.0\.1:1[\s\S]*CLOVER_API_URL/,
    );
  });

  test('usage mistakes exit 2 before any request', async () => {
    for (const args of [
      ['jobs', 'get'],
      ['jobs', 'get', 'a', 'b'],
      ['jobs', 'list', '--bogus'],
      ['jobs', 'list', '--limit', '0'],
      ['jobs', 'trigger', 'a', '--timeout', '5'],
      ['jobs', 'create', 'a', '--payload', '{bad'],
      ['jobs', 'apply'],
      ['runs', 'list', '--status', 'DONE'],
      ['nope'],
      ['jobs', 'nope'],
    ]) {
      const r = await clover(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^error: .*\nRun 'clover[^']*--help' for usage\.$/, args.join(' '));
      assert.equal(seen.length, 0, `${args.join(' ')} sent nothing`);
    }
  });
});

test("jobs trigger sends the caller's traceparent (--traceparent, else TRACEPARENT) and refuses a malformed one naming its source, sending nothing", async () => {
  const mine = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const theirs = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const fired = () => ({
    status: 202,
    body: {
      runId: 'r1',
      outcome: 'dispatched',
      status: 'DISPATCHED',
      traceId: '1-4bf92f35-77b34da6a3ce929d0e0e4736',
    },
  });
  const flag = await clover(['jobs', 'trigger', 'j', '--traceparent', mine], fired, { TRACEPARENT: theirs });
  assert.equal(flag.code, 0, flag.err);
  assert.equal(seen[0]?.traceparent, mine, 'the flag wins over the environment');
  assert.equal(flag.out, 'triggered j: run r1 (DISPATCHED), trace 1-4bf92f35-77b34da6a3ce929d0e0e4736');

  assert.equal((await clover(['jobs', 'trigger', 'j'], fired, { TRACEPARENT: theirs })).code, 0);
  assert.equal(seen[0]?.traceparent, theirs, 'TRACEPARENT from the environment');
  assert.equal(
    (await clover(['jobs', 'trigger', 'j', '--traceparent', ''], fired, { TRACEPARENT: theirs })).code,
    0,
  );
  assert.equal(seen[0]?.traceparent, undefined, "--traceparent '' sends none");
  assert.equal((await clover(['jobs', 'trigger', 'j'], fired)).code, 0);
  assert.equal(seen[0]?.traceparent, undefined, 'none given, none sent');

  const badFlag = await clover(['jobs', 'trigger', 'j', '--traceparent', mine.replace(/^00/, 'ff')], fired);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.err, /^error: --traceparent has version ff, which W3C Trace Context forbids\n/);
  assert.equal(seen.length, 0, 'nothing sent');
  const badEnv = await clover(['jobs', 'trigger', 'j'], fired, { TRACEPARENT: mine.toUpperCase() });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.err, /^error: TRACEPARENT \(from the environment\) must be lowercase hex\n/);
  assert.equal(seen.length, 0, 'nothing sent');
});

test('jobs trigger --wait exits with the code of each final status, and keeps waiting through a scheduled retry', async () => {
  const expected: Record<string, number> = {
    SUCCEEDED: 0,
    FAILED: 10,
    TIMED_OUT: 11,
    CANCELLED: 12,
    LOST: 13,
    SKIPPED: 14,
    NO_WORKER: 15,
  };
  for (const [status, exit] of Object.entries(expected)) {
    let polls = 0;
    const r = await clover(['jobs', 'trigger', 'j', '--wait'], (req) => {
      if (req.method === 'POST')
        return { status: 202, body: { runId: 'r1', outcome: 'dispatched', status: 'DISPATCHED' } };
      if (req.url.startsWith('/api/runs/r1/log'))
        return {
          status: 200,
          body: { runId: 'r1', status, lines: [], nextCursor: 'c', complete: polls > 1 },
        };
      polls += 1;
      // First a NO_WORKER with a retry scheduled (not final), then the final status.
      const run = polls === 1 ? { status: 'NO_WORKER', nextAttemptAt: 1 } : { status };
      return { status: 200, body: { runId: 'r1', jobId: 'j', attempt: 1, history: [], ...run } };
    });
    assert.equal(r.code, exit, `${status}: ${r.out}${r.err}`);
    assert.match(r.out, new RegExp(`^${status}`, 'm'));
  }
});

test('every command and action has help that names its usage and the connection options', async () => {
  const main = await clover(['--help']);
  assert.equal(main.code, 0);
  const groups = [...main.out.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1] ?? '');
  assert.ok(groups.includes('jobs') && groups.includes('runs') && groups.includes('stats'), groups.join());
  for (const name of groups.filter((g) => g !== 'schedule')) {
    const help = await clover([name, '--help']);
    assert.equal(help.code, 0, name);
    assert.match(help.out, new RegExp(`^Usage: clover ${name}`));
    const actions = [...help.out.matchAll(/^ {2}([a-z]+) {3,}/gm)].map((m) => m[1] ?? '');
    for (const action of actions) {
      const a = await clover([name, action, '--help']);
      assert.equal(a.code, 0, `${name} ${action}`);
      assert.match(a.out, new RegExp(`^Usage: clover ${name} ${action}`));
      assert.match(a.out, /--endpoint URL/);
    }
  }
  assert.equal(seen.length, 0);
});

test('every API route except login, health and the agent-only ones is reachable from a command', async () => {
  const { readFile } = await import('node:fs/promises');
  const { readdir } = await import('node:fs/promises');
  const dir = new URL('.', import.meta.url);
  const sources = (
    await Promise.all(
      (
        await readdir(dir)
      )
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
        .map((f) => readFile(new URL(f, dir), 'utf8')),
    )
  ).join('\n');
  const unused = routes
    .map((r) => r.id)
    .filter((id) => !['health', 'localLogin', 'previewSchedule'].includes(id))
    .filter((id) => !sources.includes(`'${id}'`));
  assert.deepEqual(unused, []);
});
