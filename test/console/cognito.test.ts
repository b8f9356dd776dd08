/**
 * Cognito sign-in, end to end in Chromium: the console in cognito mode (oidc-client-ts, authorization
 * code + PKCE) against a local OpenID provider shaped like a Cognito user pool and hosted UI
 * (cognito-provider.ts), and the management API verifying its tokens through the Lambda's path
 * (CognitoAuthenticator, aws-jwt-verify, the issuer's JWKS over TLS). Users admin, operator and viewer
 * are in the groups of those names; each must see and be allowed what docs/security.md's table says.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import { globalAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { rootCertificates } from 'node:tls';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Role } from '../../core/api/schemas';
import { jsonLogger } from '../../core/log';
import { ensureConsoleBuilt } from '../../functions/local/console-build';
import { type LocalRuntime, startLocalRuntime } from '../../functions/local/runtime';
import { uniquePrefix } from '../harness/index';
import { waitFor } from '../harness/wait';
import { launchChromium } from './browser';
import { type CognitoProvider, startCognitoProvider } from './cognito-provider';

const CLIENT_ID = 'clover-console';
/** Short, so the refresh test waits for a real expiry; long enough for a sign-in on a loaded machine. */
const TOKEN_SECONDS = 30;
const JOB = 'cognito-report';

let provider: CognitoProvider;
let runtime: LocalRuntime;
let browser: Browser;
let url: string;

/** A free loopback port: the provider registers the console's callback URL before the API listens. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((ready) => probe.listen(0, '127.0.0.1', ready));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((closed) => probe.close(() => closed()));
  return port;
}

before(async () => {
  const log = jsonLogger({ level: 'warn' });
  await ensureConsoleBuilt(log);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  provider = await startCognitoProvider({
    clientId: CLIENT_ID,
    consoleOrigin: url,
    tokenSeconds: TOKEN_SECONDS,
  });
  // The API (in this process) fetches the issuer's JWKS over TLS: trust the provider's certificate,
  // as a host trusts Cognito's through the system's CAs.
  globalAgent.options.ca = [...rootCertificates, provider.certificate];
  const dir = await mkdtemp(join(tmpdir(), 'clover-cognito-'));
  runtime = await startLocalRuntime({
    log,
    prefix: uniquePrefix(),
    envFile: join(dir, 'local.env'),
    apiPort: port,
    stateDir: join(dir, 'state'),
    cognito: { issuer: provider.issuer, clientId: CLIENT_ID, domain: provider.issuer },
  });
  // Set up with the local admin token (api.json's, still accepted beside Cognito's).
  const response = await fetch(`${url}/api/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${runtime.api?.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jobId: JOB, handler: 'steps', description: 'Reports for the sign-in test' }),
  });
  assert.equal(response.status, 201, await response.text());
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await runtime?.stop();
  await provider?.close();
});

interface SignedIn {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every URL the page loaded after signing in (a redirect to the provider would show here). */
  readonly visited: string[];
  /** The form bodies posted to the provider's token endpoint. */
  readonly tokenRequests: string[];
}

/** Opens the job's page signed out, goes through the provider's sign-in form, lands back on the job. */
async function signIn(role: Role): Promise<SignedIn> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(45_000);
  const page = await context.newPage();
  const tokenRequests: string[] = [];
  page.on('request', (request) => {
    if (request.url() === `${provider.issuer}/oauth2/token`) tokenRequests.push(request.postData() ?? '');
  });
  await page.goto(`${url}/jobs/${JOB}`);
  await page.waitForURL(/\/sign-in\?returnTo=/);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.toString().startsWith(`${provider.issuer}/interaction/`));
  const user = provider.users[role];
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/jobs/${JOB}`);
  await page.getByRole('heading', { name: new RegExp(JOB) }).waitFor();
  await page.getByText(role, { exact: true }).waitFor();
  const visited: string[] = [];
  page.on('framenavigated', (frame) => visited.push(frame.url()));
  return { context, page, visited, tokenRequests };
}

/** Calls the API from the page with the session's bearer token, as the console does. */
async function callApi(page: Page, method: string, path: string, body?: unknown) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const session = JSON.parse(sessionStorage.getItem('clover.session') ?? '{}') as { token?: string };
      const response = await fetch(path, {
        method,
        headers: {
          authorization: `Bearer ${session.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: (text ? JSON.parse(text) : {}) as { code?: string; role?: string },
      };
    },
    { method, path, body },
  );
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

async function sessionToken(page: Page): Promise<string> {
  const raw = await page.evaluate(() => sessionStorage.getItem('clover.session'));
  return (JSON.parse(raw ?? '{}') as { token: string }).token;
}

test('each Cognito group sees and may do what its role allows', async () => {
  // viewer: reads, no controls, every mutation refused.
  const viewer = await signIn('viewer');
  for (const name of ['Trigger now', 'Pause', 'Delete']) {
    assert.equal(await viewer.page.getByRole('button', { name }).count(), 0, `viewer: no ${name} button`);
  }
  assert.equal(await viewer.page.getByRole('link', { name: 'Edit' }).count(), 0, 'viewer: no Edit link');
  const access = claimsOf(await sessionToken(viewer.page));
  assert.equal(access.token_use, 'access', 'the console sends the access token');
  assert.equal(access.client_id, CLIENT_ID);
  assert.deepEqual(access['cognito:groups'], ['viewer']);
  assert.equal((await callApi(viewer.page, 'GET', '/api/me')).body.role, 'viewer');
  assert.equal(
    (await callApi(viewer.page, 'POST', `/api/jobs/${JOB}/trigger`)).status,
    403,
    'viewer cannot trigger',
  );
  assert.equal(
    (await callApi(viewer.page, 'DELETE', `/api/jobs/${JOB}`)).status,
    403,
    'viewer cannot delete',
  );
  await viewer.context.close();

  // operator: triggers from the page; cannot define or delete.
  const operator = await signIn('operator');
  await operator.page.getByRole('button', { name: 'Pause' }).waitFor();
  assert.equal(await operator.page.getByRole('link', { name: 'Edit' }).count(), 0, 'operator: no Edit link');
  assert.equal(await operator.page.getByRole('button', { name: 'Delete' }).count(), 0, 'operator: no Delete');
  await operator.page.getByRole('button', { name: 'Trigger now' }).click();
  await operator.page.waitForURL(/\/runs\//);
  const define = await callApi(operator.page, 'POST', '/api/jobs', {
    jobId: 'by-operator',
    handler: 'steps',
  });
  assert.equal(define.status, 403, 'operator cannot define');
  assert.equal(define.body.code, 'FORBIDDEN');
  assert.equal(
    (await callApi(operator.page, 'DELETE', `/api/jobs/${JOB}`)).status,
    403,
    'operator cannot delete',
  );
  await operator.context.close();

  // admin: every control; defines a job with its Cognito token.
  const admin = await signIn('admin');
  for (const name of ['Trigger now', 'Pause', 'Delete'])
    await admin.page.getByRole('button', { name }).waitFor();
  await admin.page.getByRole('link', { name: 'Edit' }).waitFor();
  const created = await callApi(admin.page, 'POST', '/api/jobs', { jobId: 'by-admin', handler: 'steps' });
  assert.equal(created.status, 201, 'admin defines');
  await admin.page.goto(`${url}/jobs`);
  await admin.page.getByRole('link', { name: 'New job' }).waitFor();
  await admin.page.getByRole('link', { name: 'by-admin' }).waitFor();
  await admin.context.close();
});

test('an expired access token is renewed with the refresh token: the next call succeeds without signing in', async () => {
  const { context, page, visited, tokenRequests } = await signIn('operator');
  const first = await sessionToken(page);
  const expiresAt = Number(claimsOf(first).exp) * 1000;
  await waitFor(
    () => Date.now(),
    (now) => now > expiresAt + 1000,
    'the first access token to expire',
    {
      timeoutMs: (TOKEN_SECONDS + 60) * 1000,
      intervalMs: 1000,
    },
  );
  const stale = await fetch(`${url}/api/jobs`, { headers: { authorization: `Bearer ${first}` } });
  assert.equal(stale.status, 401, 'the API refuses the expired token');
  assert.equal(((await stale.json()) as { code: string }).code, 'TOKEN_EXPIRED');

  await page.getByRole('button', { name: 'Trigger now' }).click();
  await page.waitForURL(/\/runs\//);
  assert.notEqual(await sessionToken(page), first, 'a new access token');
  assert.ok(
    tokenRequests.some((body) => new URLSearchParams(body).get('grant_type') === 'refresh_token'),
    `the token endpoint saw a refresh grant: ${tokenRequests.join(' | ')}`,
  );
  assert.deepEqual(
    visited.filter((u) => u.startsWith(provider.issuer) || u.includes('/sign-in')),
    [],
    'never sent back to sign in',
  );
  await context.close();
});

test('sign-out clears the session and the hosted-UI session: the next sign-in asks for the password', async () => {
  const { context, page } = await signIn('admin');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${url}/sign-in`);
  const stored = await page.evaluate(() => Object.keys(sessionStorage));
  assert.deepEqual(
    stored.filter((key) => key === 'clover.session' || key.startsWith('oidc.user')),
    [],
    'no token left in the browser',
  );
  await page.goto(`${url}/jobs/${JOB}`);
  await page.waitForURL(/\/sign-in\?returnTo=/);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.toString().startsWith(`${provider.issuer}/interaction/`));
  await page.getByLabel('Password').waitFor();
  await context.close();
});
