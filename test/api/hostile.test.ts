/**
 * The API against a hostile caller, by real HTTP on the emulator (docs/security.md, "The API's
 * limits"): payloads and bodies nested 5,000-10,000 levels deep, sign-in names that live on
 * Object.prototype, a 100 MB chunked body, throttling with a rotated X-Forwarded-For and with bad
 * bearer tokens, the refusal log, and the admin-only payload override. Each of these answered 500 or
 * read the whole body before; each now answers a 4xx with a code naming the field or reason, writes
 * nothing, and leaves the process's memory within a bounded margin.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { API_LIMITS } from '../../core/api/schemas';
import { jsonLogger } from '../../core/log';
import { MAX_PAYLOAD_DEPTH } from '../../core/model';
import { createApiApp } from '../../functions/api/app';
import { LocalAuthenticator } from '../../functions/api/auth';
import { managementApi } from '../../functions/api/wiring';
import { type LocalApi, startLocalApi } from '../../functions/local/api-server';
import { emfMetrics } from '../../functions/metrics';
import { apiError, useApi } from './helpers';

const api = useApi();

/** A JSON text nested `depth` levels: objects and arrays by turns, built without recursion. */
function nestedText(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 ? '[' : '{"k":';
    close = (i % 2 ? ']' : '}') + close;
  }
  return `${open}1${close}`;
}

const spec = (jobId: string) => ({
  jobId,
  handler: 'reports.daily',
  schedule: { expression: 'rate(5 minutes)' },
});

/** Item counts of the jobs and runs the tests touch, and of the audit trail: "nothing written". */
async function written(jobPrefix: string): Promise<string> {
  const jobs = (await api.plane.jobs.list()).filter((j) => j.spec.jobId.startsWith(jobPrefix)).length;
  const audit = await api.as('admin').call('listAudit', { query: { limit: 200 } });
  return JSON.stringify({ jobs, audit: audit.items.length });
}

test('payloads and bodies nested 5,000 and 10,000 levels: 400 naming the field, nothing written', async () => {
  await api.ready();
  const admin = api.as('admin');
  await admin.call('createJob', { body: spec('deep-base') });
  const before = await written('deep');
  const version = (await admin.call('getJob', { params: { jobId: 'deep-base' } })).version;
  for (const depth of [5000, 10_000]) {
    const deep = nestedText(depth);
    const base = JSON.stringify(spec(`deep-${depth}`)).slice(0, -1);
    const cases: [string, string, string, string][] = [
      ['POST', '/api/jobs', `${base},"payload":${deep}}`, 'payload'],
      ['POST', '/api/jobs', `${base},"description":${deep}}`, 'description'],
      ['POST', '/api/jobs', deep, 'k'],
      ['POST', '/api/jobs', `[${deep}]`, '(body)'],
      [
        'PUT',
        '/api/jobs/deep-base',
        `{"version":${version},"spec":${JSON.stringify(spec('deep-base')).slice(0, -1)},"payload":${deep}}}`,
        'spec.payload',
      ],
      ['POST', '/api/jobs/deep-base/trigger', `{"payload":${deep}}`, 'payload'],
      [
        'PUT',
        '/api/agents/deep-owner/declared-jobs',
        `{"jobs":[${base},"payload":${deep}}]}`,
        'jobs.0.payload',
      ],
      ['POST', '/api/schedules/preview', `{"expression":${deep}}`, 'expression'],
      [
        'POST',
        '/api/contacts',
        `{"contactId":"deep","name":"n","email":"a@b.co","channels":${deep}}`,
        'channels',
      ],
    ];
    for (const [method, path, body, field] of cases) {
      const error = await apiError(admin.request(method, path, body));
      assert.equal(error.status, 400, `${method} ${path} at ${depth}: ${error.code} ${error.message}`);
      assert.equal(error.code, 'VALIDATION_FAILED');
      assert.deepEqual(
        error.fields.map((f) => f.path),
        [field],
        `${method} ${path} at ${depth} names ${field}: ${error.message}`,
      );
      assert.match(error.message, /levels deep/);
    }
  }
  // Just inside the limit is accepted, one level more is refused.
  const atLimit = JSON.parse(nestedText(MAX_PAYLOAD_DEPTH));
  await admin.call('createJob', { body: { ...spec('deep-limit'), payload: atLimit } });
  const over = await apiError(
    admin.call('createJob', {
      body: { ...spec('deep-over'), payload: JSON.parse(nestedText(MAX_PAYLOAD_DEPTH + 1)) },
    }),
  );
  assert.equal(over.fields[0]?.path, 'payload');
  await admin.call('deleteJob', { params: { jobId: 'deep-limit' } });
  assert.equal((await api.plane.jobs.list()).filter((j) => j.spec.jobId === 'deep-over').length, 0);
  // The create and delete of deep-limit are the only changes.
  const after = JSON.parse(await written('deep')) as { jobs: number; audit: number };
  const start = JSON.parse(before) as { jobs: number; audit: number };
  assert.deepEqual(after, { jobs: start.jobs, audit: start.audit + 2 });
});

test('signing in as a name on Object.prototype is 401, never 500', async () => {
  await api.ready();
  for (const username of [
    'constructor',
    'hasOwnProperty',
    'isPrototypeOf',
    '__defineGetter__',
    '__proto__',
    'toString',
    'valueOf',
  ]) {
    for (const password of ['x', 'function Object() { [native code] }']) {
      const error = await apiError(
        api.anonymous.request('POST', '/api/auth/local/login', JSON.stringify({ username, password })),
      );
      assert.equal(error.status, 401, `${username}: ${error.code} ${error.message}`);
      assert.equal(error.code, 'UNAUTHENTICATED');
    }
  }
});

/**
 * Sends a chunked body of `total` bytes (no Content-Length) and stops writing when the answer comes
 * or the connection closes; returns the status and how many bytes the client managed to send.
 */
function sendChunked(url: string, token: string, total: number): Promise<{ status: number; sent: number }> {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  chunk.write('{"jobId":"big","description":"');
  return new Promise((resolve, reject) => {
    let sent = 0;
    let done = false;
    const finish = (status: number) => {
      if (done) return;
      done = true;
      resolve({ status, sent });
      req.destroy();
    };
    const req = httpRequest(`${url}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });
    req.on('response', (res) => {
      res.resume();
      finish(res.statusCode ?? 0);
    });
    req.on('error', (error) => (done ? undefined : reject(error)));
    const pump = () => {
      while (!done && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!done) req.end();
    };
    pump();
  });
}

test('a 100 MB chunked body is refused (413) after at most a few MB, and memory stays bounded', async () => {
  await api.ready();
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const { status, sent } = await sendChunked(api.server.url, api.server.adminToken, 100 * 1024 * 1024);
  assert.equal(status, 413);
  console.log(`100 MB chunked body: 413 after the client sent ${(sent / 1e6).toFixed(2)} MB`);
  // The server stops reading at the limit; what the client sent beyond it sat in socket buffers.
  assert.ok(sent <= 8 * 1024 * 1024, `the client sent ${(sent / 1e6).toFixed(1)} MB before the 413`);
  const rssAfter = process.memoryUsage().rss;
  // Reading the whole body raised the process by ~234 MB before; the limit allows a generous margin.
  assert.ok(
    rssAfter - rssBefore < 64 * 1024 * 1024,
    `RSS grew ${((rssAfter - rssBefore) / 1e6).toFixed(0)} MB (before ${(rssBefore / 1e6).toFixed(0)} MB)`,
  );
  // A declared Content-Length over the limit is refused before any of it is read.
  const declared = await apiError(
    api.as('admin').request('POST', '/api/jobs', 'x'.repeat(API_LIMITS.maxBodyBytes + 1)),
  );
  assert.equal(declared.code, 'PAYLOAD_TOO_LARGE');
  assert.equal((await api.plane.jobs.list()).filter((j) => j.spec.jobId === 'big').length, 0);
});

/** A second API server on the same plane with a tight limit and a log the test reads. */
async function strictServer(trustedProxies: string[] = []): Promise<{ server: LocalApi; lines: string[] }> {
  const lines: string[] = [];
  const server = await startLocalApi({
    plane: api.plane,
    log: jsonLogger({ write: (line) => lines.push(line) }),
    port: 0,
    stateDir: await mkdtemp(join(tmpdir(), 'clover-hostile-')),
    rateLimit: { perSecond: 0.001, burst: 5 },
    trustedProxies,
  });
  return { server, lines };
}

async function send(
  server: LocalApi,
  path: string,
  init: { method?: string; token?: string; forwardedFor?: string; body?: unknown },
): Promise<number> {
  const response = await fetch(`${server.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.forwardedFor ? { 'x-forwarded-for': init.forwardedFor } : {}),
      ...(init.body ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
  await response.arrayBuffer();
  return response.status;
}

test('throttling keys on the socket address: a rotated X-Forwarded-For does not escape it, bad tokens count, refusals are logged without secrets', async () => {
  await api.ready();
  const { server, lines } = await strictServer();
  try {
    const password = 'not-the-password-1234';
    const logins: number[] = [];
    for (let i = 0; i < 8; i++) {
      logins.push(
        await send(server, '/api/auth/local/login', {
          method: 'POST',
          forwardedFor: `203.0.113.${i + 1}`,
          body: { username: 'admin', password },
        }),
      );
    }
    assert.deepEqual(logins, [401, 401, 401, 401, 401, 429, 429, 429]);
    const signIns = lines.filter((l) => l.includes('"sign-in refused"')).map((l) => JSON.parse(l));
    assert.equal(signIns.length, 5);
    assert.equal(signIns[0].username, 'admin');
    assert.equal(signIns[0].address, '127.0.0.1');
    assert.ok(!lines.some((l) => l.includes(password)), 'no password in the log');

    // Bad bearer tokens from the same address are throttled too, before any is verified…
    const forged = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA';
    assert.equal(await send(server, '/api/jobs', { token: forged, forwardedFor: '198.51.100.1' }), 429);
    // …and so is a valid token from that address until it refills: failures spend the address.
    assert.equal(await send(server, '/api/jobs', { token: server.adminToken }), 429);
  } finally {
    await server.close();
  }

  const second = await strictServer();
  try {
    const forged = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA';
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push(await send(second.server, '/api/jobs', { token: forged, forwardedFor: `192.0.2.${i}` }));
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
    const tokens = second.lines.filter((l) => l.includes('"token refused"')).map((l) => JSON.parse(l));
    assert.equal(tokens.length, 5);
    assert.equal(tokens[0].reason, 'UNAUTHENTICATED');
    assert.equal(tokens[0].route, 'listJobs');
    assert.match(tokens[0].token, /^sha256:[0-9a-f]{12}$/);
    assert.ok(!second.lines.some((l) => l.includes('c2lnbmF0dXJl')), 'no token content in the log');
  } finally {
    await second.server.close();
  }
});

test('with loopback a trusted proxy, X-Forwarded-For names the caller: each address has its own budget', async () => {
  await api.ready();
  const { server, lines } = await strictServer(['loopback']);
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push(
        await send(server, '/api/auth/local/login', {
          method: 'POST',
          forwardedFor: `203.0.113.${i + 1}`,
          body: { username: 'nobody', password: 'x' },
        }),
      );
    }
    assert.deepEqual(statuses, Array(8).fill(401));
    const addresses = lines.filter((l) => l.includes('"sign-in refused"')).map((l) => JSON.parse(l).address);
    assert.deepEqual(addresses.slice(0, 2), ['203.0.113.1', '203.0.113.2']);
  } finally {
    await server.close();
  }
});

test('refused sign-ins and tokens are counted in the AuthFailures metric (EMF)', async () => {
  await api.ready();
  const emf: string[] = [];
  const metrics = emfMetrics({ stage: 'clover-test', fn: 'api', write: (line) => emf.push(line) });
  const auth = await LocalAuthenticator.open(await mkdtemp(join(tmpdir(), 'clover-emf-')));
  const app = createApiApp({
    api: managementApi(api.plane),
    auth,
    localLogin: auth,
    log: jsonLogger({ write: () => {} }),
    metrics,
    clientAddress: () => '192.0.2.10',
  });
  const login = await app.request('/api/auth/local/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'wrong' }),
  });
  assert.equal(login.status, 401);
  const bad = await app.request('/api/me', { headers: { authorization: 'Bearer not.a.token' } });
  assert.equal(bad.status, 401);
  metrics.flush();
  const counted = emf.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(counted.map((l) => [l.Kind, l.AuthFailures]).sort(), [
    ['sign_in', 1],
    ['token', 1],
  ]);
  const emfBlock = counted[0]?._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] };
  assert.equal(emfBlock.CloudWatchMetrics[0]?.Metrics[0]?.Name, 'AuthFailures');
});

test('a per-run payload override needs the admin role, and its audit entry records the payload', async () => {
  await api.ready();
  const admin = api.as('admin');
  await admin.call('createJob', { body: { ...spec('override'), payload: { mine: true } } });
  const refused = await apiError(
    api
      .as('operator')
      .call('triggerJob', { params: { jobId: 'override' }, body: { payload: { theirs: 1 } } }),
  );
  assert.equal(refused.status, 403);
  assert.equal(refused.code, 'FORBIDDEN');
  assert.deepEqual(
    refused.fields.map((f) => f.path),
    ['payload'],
  );
  const plain = await api.as('operator').call('triggerJob', { params: { jobId: 'override' }, body: {} });
  const overridden = await admin.call('triggerJob', {
    params: { jobId: 'override' },
    body: { payload: { theirs: 2 } },
  });
  assert.notEqual(plain.runId, overridden.runId);
  const audit = await admin.call('listAudit', { query: { entity: 'job:override' } });
  const triggers = audit.items.filter((a) => a.action === 'job.trigger');
  assert.deepEqual(
    triggers.map((a) => [a.actor.role, (a.after as { payload?: unknown }).payload]),
    [
      ['admin', { theirs: 2 }],
      ['operator', undefined],
    ],
  );
  assert.deepEqual((await api.plane.runs.get(overridden.runId))?.payload, { theirs: 2 });
  // The refused override fired nothing: two runs, two audit entries.
  const runs = await admin.call('listRuns', { query: { jobId: 'override' } });
  assert.deepEqual(runs.items.map((r) => r.runId).sort(), [plain.runId, overridden.runId].sort());
});

test('a body that is not JSON by its content type is 415; a body sent to a route that takes none is 400; neither writes', async () => {
  await api.ready();
  const admin = api.as('admin');
  await admin.call('createJob', { body: spec('bodyless') });
  const version = (await admin.call('getJob', { params: { jobId: 'bodyless' } })).version;
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const response = await fetch(`${api.server.url}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.server.adminToken}`, 'content-type': type },
      body: JSON.stringify(spec('bodyless-2')),
    });
    const body = (await response.json()) as { code: string; fields: { path: string }[] };
    assert.equal(response.status, 415, type);
    assert.equal(body.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.equal(body.fields[0]?.path, '(body)');
  }
  const paused = await apiError(admin.request('POST', '/api/jobs/bodyless/pause', '{"paused": false}'));
  assert.equal(paused.code, 'VALIDATION_FAILED');
  assert.equal(paused.fields[0]?.path, '(body)');
  // Nothing written: no second job, the first not paused and at its version.
  const job = await admin.call('getJob', { params: { jobId: 'bodyless' } });
  assert.equal(job.version, version);
  assert.equal(job.spec.paused, false);
  assert.equal(await api.plane.jobs.get('bodyless-2'), null);
  // An empty object (what some clients send) is no body.
  assert.equal((await admin.request('POST', '/api/jobs/bodyless/pause', '{}')).status, 200);
});
