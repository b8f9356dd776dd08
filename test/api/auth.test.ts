/**
 * Who may call the management API, through real HTTP against the emulator: tokens (missing,
 * malformed, expired, forged), local sign-in, and every route's answer to every caller (none, viewer,
 * operator, admin, agent) as docs/api.md's role table says. A refused call writes nothing.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { serve } from '@hono/node-server';
import { SignJWT } from 'jose';
import { CloverApiClient, CloverApiError } from '../../core/api/client';
import { routes } from '../../core/api/routes';
import { createApiApp } from '../../functions/api/app';
import { managementApi } from '../../functions/api/wiring';
import { apiError, useApi } from './helpers';

const api = useApi();

test('tokens: missing, malformed, expired or wrongly signed → 401; /api/me names the caller', async () => {
  await api.ready();
  const none = await apiError(api.anonymous.call('listJobs', { query: {} }));
  assert.equal(none.status, 401);
  assert.equal(none.code, 'UNAUTHENTICATED');
  const malformed = await apiError(api.anonymous.withToken('abc.def.ghi').call('me', {}));
  assert.equal(malformed.status, 401);

  const wrongKey = await new SignJWT({ 'cognito:groups': ['admin'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('mallory')
    .setIssuer('clover-local')
    .setAudience('clover-api')
    .setExpirationTime('1h')
    .sign(new Uint8Array(32).fill(7));
  const forged = await apiError(api.anonymous.withToken(wrongKey).call('me', {}));
  assert.equal(forged.status, 401);
  assert.equal(forged.code, 'UNAUTHENTICATED');

  const expired = await api.server.auth.issue('old', 'admin', -60);
  const late = await apiError(api.anonymous.withToken(expired.token).call('me', {}));
  assert.equal(late.status, 401);
  assert.equal(late.code, 'TOKEN_EXPIRED');

  const me = await api.as('operator').call('me', {});
  assert.deepEqual(me, { subject: 'operator-user', role: 'operator', via: 'jwt' });
});

test('local sign-in issues a token for the generated passwords and refuses wrong ones', async () => {
  await api.ready();
  // From the creation result: the users file keeps only hashes.
  const password = api.server.auth.newPasswords.viewer;
  assert.ok(password, 'a new state directory gets new passwords');
  const login = await api.anonymous.call('localLogin', { body: { username: 'viewer', password } });
  assert.equal(login.role, 'viewer');
  const me = await api.anonymous.withToken(login.token).call('me', {});
  assert.equal(me.role, 'viewer');
  const wrong = await apiError(
    api.anonymous.call('localLogin', { body: { username: 'admin', password: 'guess' } }),
  );
  assert.equal(wrong.status, 401);
});

/**
 * Who may call what, written out by hand from docs/api.md's route table (not derived from
 * core/api/routes.ts, which is what is under test): each route's least role.
 */
const LEAST_ROLE: Record<string, 'none' | 'viewer' | 'operator' | 'admin' | 'agent'> = {
  'GET /api/health': 'none',
  'GET /api/openapi.json': 'none',
  'POST /api/auth/local/login': 'none',
  'GET /api/me': 'viewer',
  'GET /api/jobs': 'viewer',
  'GET /api/jobs/{jobId}': 'viewer',
  'POST /api/schedules/preview': 'viewer',
  'GET /api/runs': 'viewer',
  'GET /api/runs/{runId}': 'viewer',
  'GET /api/runs/{runId}/log': 'viewer',
  'GET /api/search/errors': 'viewer',
  'GET /api/workers': 'viewer',
  'GET /api/contacts': 'viewer',
  'GET /api/contacts/{contactId}': 'viewer',
  'GET /api/alerts': 'viewer',
  'GET /api/silences': 'viewer',
  'GET /api/stats': 'viewer',
  'GET /api/audit': 'viewer',
  'POST /api/jobs/{jobId}/pause': 'operator',
  'POST /api/jobs/{jobId}/resume': 'operator',
  'POST /api/jobs/{jobId}/trigger': 'operator',
  'POST /api/runs/{runId}/cancel': 'operator',
  'POST /api/workers/{workerId}/drain': 'operator',
  'POST /api/alerts/{alertId}/acknowledge': 'operator',
  'POST /api/silences': 'operator',
  'DELETE /api/silences/{silenceId}': 'operator',
  'POST /api/jobs': 'admin',
  'PUT /api/jobs/{jobId}': 'admin',
  'DELETE /api/jobs/{jobId}': 'admin',
  'POST /api/contacts': 'admin',
  'PUT /api/contacts/{contactId}': 'admin',
  'DELETE /api/contacts/{contactId}': 'admin',
  'PUT /api/agents/{owner}/declared-jobs': 'agent',
};
/** The callers each least role admits (docs/api.md, Auth and roles); the rest get 401 (none) or 403. */
const ADMITS = {
  none: ['none', 'viewer', 'operator', 'admin', 'agent'],
  viewer: ['viewer', 'operator', 'admin'],
  operator: ['operator', 'admin'],
  admin: ['admin'],
  // An IAM caller in AWS; the admin token locally.
  agent: ['agent', 'admin'],
} as const;

test('roles: every route answers every caller (none, viewer, operator, admin, agent) as docs/api.md says', async () => {
  await api.ready();
  // Every route the server has is in the table above, so a new route needs a written-down role.
  for (const route of routes) {
    const key = `${route.method.toUpperCase()} ${route.path.replace(/:([A-Za-z]+)/g, '{$1}')}`;
    assert.ok(key in LEAST_ROLE, `${key} is missing from the role table`);
  }
  // The agent caller: an IAM principal that API Gateway's IAM authorizer verified. The same app with
  // the caller taken from a header in place of the Lambda event (functions/api/handler.ts, iamCallerOf).
  const iamApp = createApiApp({
    api: managementApi(api.plane),
    auth: api.server.auth,
    log: api.plane.log,
    rateLimit: { perSecond: 10_000, burst: 10_000 },
    iamCaller: (request) => request.headers.get('x-test-iam-caller') ?? undefined,
  });
  const iamServer = serve({ fetch: iamApp.fetch, port: 0, hostname: '127.0.0.1' });
  await once(iamServer, 'listening');
  const iamUrl = `http://127.0.0.1:${(iamServer.address() as AddressInfo).port}`;
  const callers = {
    none: api.anonymous,
    viewer: api.as('viewer'),
    operator: api.as('operator'),
    admin: api.as('admin'),
    agent: new CloverApiClient({
      baseUrl: iamUrl,
      headers: { 'x-test-iam-caller': 'arn:aws:sts::123456789012:assumed-role/agent/i-1' },
    }),
  };
  const ids = {
    jobId: 'role-job',
    runId: 'role-job@x',
    workerId: 'w-1',
    contactId: 'c-1',
    alertId: 'role-alert',
    silenceId: 's-role',
    owner: 'role-owner',
  };
  const wrong: string[] = [];
  try {
    for (const [key, least] of Object.entries(LEAST_ROLE)) {
      const [method, template] = key.split(' ') as [string, string];
      const path = template.replace(/\{([A-Za-z]+)\}/g, (_, name: keyof typeof ids) => ids[name]);
      for (const [caller, client] of Object.entries(callers)) {
        // An empty body: an admitted caller gets past auth to validation or NOT_FOUND, and nothing is written.
        const status = await client.request(method, path, method === 'GET' ? undefined : {}).then(
          (response) => response.status,
          (error: unknown) => (error instanceof CloverApiError ? error.status : Promise.reject(error)),
        );
        const admitted = (ADMITS[least] as readonly string[]).includes(caller);
        const expected = admitted ? 'not 401/403' : caller === 'none' ? '401' : '403';
        const ok = admitted ? status !== 401 && status !== 403 : String(status) === expected;
        if (!ok) wrong.push(`${caller} ${key}: ${status}, expected ${expected}`);
      }
    }
  } finally {
    await new Promise((done) => iamServer.close(done));
  }
  assert.deepEqual(wrong, []);
  assert.equal(await api.plane.jobs.get('role-job'), null);
});
