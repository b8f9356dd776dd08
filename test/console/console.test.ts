// One file on purpose (~600 lines): every test drives the one local runtime, agent and Chromium that
// `before` starts; a second file would start them all again.
/**
 * The web console in Debian's Chromium against the real local runtime: the emulator, the management
 * API serving the built console, and a real agent process running the `steps` handler. Each test is
 * a user's task end to end; every page visited gets an axe check (no serious or critical violations)
 * and a screenshot under docs/screenshots/ (shown in docs/console.md and the README).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { JobView } from '../../core/api/schemas';
import type { Run } from '../../core/model';
import { checkPage, launchChromium } from './browser';
import { type ConsoleStack, startConsoleStack } from './stack';

let stack: ConsoleStack;
let browser: Browser;
let admin: BrowserContext;
/** A webhook receiver on loopback (the local runtime allows http to it): answers 200, counts posts. */
const hooks = { url: '', posts: 0 };
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    hooks.posts += 1;
    res.writeHead(200).end('ok');
  });
});

const VIEWPORT = { width: 1280, height: 900 };

before(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hooks.url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  stack = await startConsoleStack();
  browser = await launchChromium();
  admin = await newContext();
});

after(async () => {
  // When the worker went away, its own words say why.
  if (stack && !stack.agent.running)
    console.error(`agent console-w1 exited:\n${stack.agent.text.slice(-4000)}`);
  await browser?.close();
  await stack?.stop();
  receiver.close();
});

/**
 * A fresh browser profile. Each step waits for its condition and goes on at once; 45 s is only the
 * bound after which a step that cannot happen fails, generous for a loaded CI machine.
 */
async function newContext(viewport = VIEWPORT): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(45_000);
  return context;
}

async function signIn(page: Page, role: 'admin' | 'operator' | 'viewer', returnTo = '/'): Promise<void> {
  await page.goto(`${stack.url}/sign-in?returnTo=${encodeURIComponent(returnTo)}`);
  await page.getByLabel('Username').fill(role);
  await page.getByLabel('Password').fill(stack.passwords[role]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === returnTo.split('?')[0]);
}

let adminPage: Page;
const page = () => adminPage;

test('sign-in: the local form signs an admin in and lands where they were going', async () => {
  adminPage = await admin.newPage();
  await adminPage.goto(`${stack.url}/jobs`);
  await adminPage.waitForURL(/\/sign-in\?returnTo=%2Fjobs/);
  await checkPage(adminPage, 'sign-in');
  await adminPage.getByLabel('Username').fill('admin');
  await adminPage.getByLabel('Password').fill('wrong password');
  await adminPage.getByRole('button', { name: 'Sign in' }).click();
  await adminPage.getByRole('alert').filter({ hasText: 'UNAUTHENTICATED' }).waitFor();
  await signIn(adminPage, 'admin', '/jobs');
  await adminPage.getByRole('heading', { name: 'Jobs' }).waitFor();
  await adminPage.getByText('No jobs yet.').waitFor();
});

test('create a job with a cron schedule: the builder validates as you type and shows the description and next fires', async () => {
  const p = page();
  await p.getByRole('link', { name: 'New job' }).click();
  await p.waitForURL(/\/jobs\/new$/);
  await p.getByLabel('Job id').fill('nightly-report');
  // The handler picker offers what the live worker offers, and warns about what none offers.
  const handlerField = p.locator('.field').filter({ has: p.getByLabel('Handler') });
  await handlerField.locator('datalist option[value="steps"]').waitFor({ state: 'attached' });
  await p.getByLabel('Handler').fill('stepz');
  await handlerField.getByText('No live worker in pool "default" offers "stepz"').waitFor();
  await p.getByLabel('Handler').fill('steps');
  await handlerField.getByText(/handlers? offered by live workers in pool "default"/).waitFor();
  await p.getByLabel('Description').fill('Builds the nightly report in four steps');
  await p.getByLabel('Payload (JSON)').fill('{"steps": 4, "stepMs": 600}');
  await p.getByLabel('Time zone').fill('Europe/London');

  // Bad input first: the API's reason appears next to the field.
  await p.getByLabel('Expression').fill('cron(75 9 ? * MON-FRI *)');
  const preview = p.getByTestId('schedule-preview');
  await p
    .locator('.field.invalid')
    .filter({ has: p.getByLabel('Expression') })
    .waitFor();
  const reason = await p.locator('.field.invalid .field-error').first().textContent();
  assert.match(reason ?? '', /minute/i, 'the error names what is wrong with the expression');

  await p.getByLabel('Expression').fill('cron(30 9 ? * MON-FRI *)');
  await preview.getByText('At 09:30, on Monday through Friday (Europe/London)').waitFor();
  const fires = await preview.locator('ol.fires li').allTextContents();
  assert.equal(fires.length, 5, 'five next fires');
  for (const fire of fires) assert.match(fire, /09:30:00/, `shown in the job's zone: ${fire}`);

  // A preset fills the expression, and the preview follows.
  await p.getByLabel('Preset', { exact: true }).selectOption('lastDay');
  await p.getByLabel('Time', { exact: true }).fill('18:15');
  await p.getByRole('button', { name: 'Use preset' }).click();
  assert.equal(await p.getByLabel('Expression').inputValue(), 'cron(15 18 L * ? *)');
  await preview.getByText(/18:15.*last day of the month/i).waitFor();
  await p.getByLabel('Expression').fill('cron(30 9 ? * MON-FRI *)');
  await preview.getByText('At 09:30, on Monday through Friday (Europe/London)').waitFor();
  await checkPage(p, 'job-new');

  await p.getByRole('button', { name: 'Create job' }).click();
  await p.waitForURL(/\/jobs\/nightly-report$/);
  await p.getByRole('heading', { name: /nightly-report/ }).waitFor();
  const job = await stack.api<JobView>('admin', 'GET', '/api/jobs/nightly-report');
  assert.equal(job.spec.schedule?.expression, 'cron(30 9 ? * MON-FRI *)');
  assert.equal(job.spec.schedule?.timezone, 'Europe/London');
  assert.deepEqual(job.spec.payload, { steps: 4, stepMs: 600 });
});

test('trigger now: the run page follows the run to 100 % with its log lines as they arrive', async () => {
  const p = page();
  await p.getByRole('button', { name: 'Trigger now' }).click();
  await p.waitForURL(/\/runs\//);
  const runId = decodeURIComponent(new URL(p.url()).pathname.slice('/runs/'.length));
  // A line from the middle of the run shows while it is still running: the tail is live.
  await p.getByTestId('log').getByText('step 1 of 4 done').waitFor();
  const midRun = await stack.api<Run>('admin', 'GET', `/api/runs/${encodeURIComponent(runId)}`);
  assert.ok(['RUNNING', 'SUCCEEDED'].includes(midRun.status), midRun.status);
  await p.getByTestId('log').getByText('step 4 of 4 done').waitFor();
  await p.getByText('SUCCEEDED', { exact: true }).first().waitFor();
  assert.equal(await p.getByTestId('progress-percent').textContent(), '100 %');
  assert.equal(await p.locator('#run-progress').getAttribute('value'), '100');
  // The handler's result (the steps handler returns how many steps it ran).
  assert.deepEqual(JSON.parse((await p.getByTestId('result').textContent()) ?? ''), { steps: 4 });
  // The fire's trace id, as the run record has it, copyable; the local runtime is no stage, so no link.
  assert.match(midRun.traceId ?? '', /^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
  assert.equal(await p.getByTestId('trace-id').textContent(), midRun.traceId);
  assert.equal(await p.getByRole('link', { name: /Open the trace/ }).count(), 0);
  await admin.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.url });
  await p.getByRole('button', { name: 'Copy trace id' }).click();
  await p.getByText('Copied the trace id.').waitFor();
  assert.equal(await p.evaluate(() => navigator.clipboard.readText()), midRun.traceId);
  await checkPage(p, 'run-detail');
  // The URL is a deep link (alert mail points here): loaded afresh, the server answers with the app.
  await p.reload();
  await p.getByTestId('log').getByText('step 4 of 4 done').waitFor();
  // What actually ran: the handler's own marker in the agent's process.
  assert.match(
    await readFile(stack.agent.execFile, 'utf8'),
    new RegExp(runId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
  );
});

test('cancel a running run: the confirmation, then the run ends CANCELLED on the worker', async () => {
  const p = page();
  await stack.api('admin', 'POST', '/api/jobs', {
    jobId: 'long-export',
    handler: 'steps',
    description: 'Sixty slow steps',
    payload: { steps: 60, stepMs: 500 },
  });
  await p.goto(`${stack.url}/jobs/long-export`);
  await p.getByRole('button', { name: 'Trigger now' }).click();
  await p.waitForURL(/\/runs\//);
  await p.getByTestId('log').getByText('step 1 of 60 done').waitFor();
  await p.getByRole('button', { name: 'Cancel run' }).click();
  const dialog = p.getByRole('dialog', { name: 'Cancel this run?' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Cancel the run' }).click();
  await p.locator('h1').getByText('CANCELLED').waitFor();
  const runId = decodeURIComponent(new URL(p.url()).pathname.slice('/runs/'.length));
  const run = await stack.api<Run>('admin', 'GET', `/api/runs/${encodeURIComponent(runId)}`);
  assert.equal(run.status, 'CANCELLED');
  assert.ok((run.progress?.percent ?? 0) < 100, 'stopped part-way');
});

test('pause and resume from the job page', async () => {
  const p = page();
  await p.goto(`${stack.url}/jobs/nightly-report`);
  await p.getByRole('button', { name: 'Pause' }).click();
  await p.locator('h1').getByText('paused').waitFor();
  assert.equal((await stack.api<JobView>('admin', 'GET', '/api/jobs/nightly-report')).spec.paused, true);
  await p.getByText('none while paused').waitFor();
  await p.getByRole('button', { name: 'Resume' }).click();
  await p.locator('h1').getByText('active').waitFor();
  assert.equal((await stack.api<JobView>('admin', 'GET', '/api/jobs/nightly-report')).spec.paused, false);
  await p.locator('ol.fires li').first().waitFor();
  await p.getByRole('img').or(p.locator('figure.chart')).first().waitFor();
  await checkPage(p, 'job-detail');
});

test('editing a job someone else changed shows the conflict and reloads their version', async () => {
  const p = page();
  await p.goto(`${stack.url}/jobs/nightly-report/edit`);
  await p.getByLabel('Description').fill('My edit');
  // Someone else saves first.
  const current = await stack.api<JobView>('admin', 'GET', '/api/jobs/nightly-report');
  await stack.api('admin', 'PUT', '/api/jobs/nightly-report', {
    version: current.version,
    spec: { ...current.spec, description: 'Their edit' },
  });
  await p.getByRole('button', { name: 'Save changes' }).click();
  const banner = p.getByRole('alert').filter({ hasText: 'VERSION_CONFLICT' });
  await banner.getByText('Someone else changed this job').waitFor();
  await checkPage(p, 'job-edit-conflict');
  await banner.getByRole('button', { name: 'Reload the latest version' }).click();
  await banner.waitFor({ state: 'detached' });
  assert.equal(await p.getByLabel('Description').inputValue(), 'Their edit');
  assert.equal(
    (await stack.api<JobView>('admin', 'GET', '/api/jobs/nightly-report')).spec.description,
    'Their edit',
  );
});

test('a lost session returns to sign-in and brings the half-filled form back', async () => {
  const context = await newContext();
  const p = await context.newPage();
  await signIn(p, 'admin', '/jobs/new');
  await p.getByLabel('Job id').fill('half-filled');
  await p.getByLabel('Handler').fill('steps');
  // The session's token stops being accepted (as when it expires): the next request gets 401.
  await p.evaluate(() =>
    sessionStorage.setItem(
      'clover.session',
      JSON.stringify({ token: 'no-longer-valid', expiresAt: Date.now() + 3_600_000 }),
    ),
  );
  await p.reload();
  await p.waitForURL(/\/sign-in\?returnTo=%2Fjobs%2Fnew/);
  await p.getByText('Your session ended').waitFor();
  await p.getByLabel('Username').fill('admin');
  await p.getByLabel('Password').fill(stack.passwords.admin);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.waitForURL(/\/jobs\/new$/);
  await p.getByText('Restored your unsaved changes').waitFor();
  assert.equal(await p.getByLabel('Job id').inputValue(), 'half-filled');
  assert.equal(await p.getByLabel('Handler').inputValue(), 'steps');
  await context.close();
});

test('a viewer sees no edit controls, and a mutating call from their session is refused', async () => {
  const context = await newContext();
  const p = await context.newPage();
  await signIn(p, 'viewer', '/jobs/nightly-report');
  await p.getByRole('heading', { name: /nightly-report/ }).waitFor();
  await p.getByText('viewer', { exact: true }).waitFor();
  for (const name of ['Trigger now', 'Pause', 'Resume', 'Delete']) {
    assert.equal(await p.getByRole('button', { name }).count(), 0, `no ${name} button`);
  }
  assert.equal(await p.getByRole('link', { name: 'Edit' }).count(), 0, 'no Edit link');
  await checkPage(p, 'job-detail-viewer');
  await p.goto(`${stack.url}/jobs`);
  await p.getByRole('link', { name: 'nightly-report' }).waitFor();
  assert.equal(await p.getByRole('link', { name: 'New job' }).count(), 0, 'no New job link');

  const refused = await p.evaluate(async () => {
    const session = JSON.parse(sessionStorage.getItem('clover.session') ?? '{}') as { token?: string };
    const response = await fetch('/api/jobs/nightly-report/pause', {
      method: 'POST',
      headers: { authorization: `Bearer ${session.token}` },
    });
    return { status: response.status, body: (await response.json()) as { code: string } };
  });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.code, 'FORBIDDEN');
  assert.equal(
    (await stack.api<JobView>('admin', 'GET', '/api/jobs/nightly-report')).spec.paused,
    false,
    'unchanged',
  );
  await context.close();
});

test('every other page renders its data, passes axe and is captured', async () => {
  const p = page();
  // Something to alert about: a job no worker can run.
  await stack.api('admin', 'POST', '/api/contacts', {
    contactId: 'ops',
    name: 'Ops on call',
    email: 'ops@example.com',
    subscriptions: [{ jobId: 'nightly-report', alertKinds: ['failure', 'timeout'] }],
    channels: [{ type: 'webhook', name: 'pager', url: `${hooks.url}/ops` }],
  });
  await stack.api('admin', 'POST', '/api/jobs', {
    jobId: 'orphan',
    handler: 'nobody-has-this',
    contacts: ['ops'],
  });
  await stack.api('admin', 'POST', '/api/jobs/orphan/trigger', {});
  await stack.api('admin', 'POST', '/api/jobs', {
    jobId: 'cleanup-after',
    handler: 'nobody-has-this',
    after: [{ jobId: 'orphan', on: 'FAILED' }],
    paused: true, // not an unavailable job on the dashboard
  });

  await p.goto(`${stack.url}/alerts`);
  await p.getByRole('link', { name: 'orphan' }).first().waitFor();
  // Each alert shows its channel deliveries; a reload picks up the notifier's post.
  for (
    let i = 0;
    i < 100 && (await p.locator('details.delivery', { hasText: 'SENT' }).count()) === 0;
    i += 1
  ) {
    await new Promise((r) => setTimeout(r, 300));
    await p.reload();
    await p.getByRole('link', { name: 'orphan' }).first().waitFor();
  }
  const delivery = p.locator('details.delivery', { hasText: 'ops/pager (webhook)' }).first();
  await delivery.getByText('SENT').waitFor();
  await delivery.locator('summary').click();
  await delivery.getByText(/HTTP 200/).waitFor();
  assert.ok(hooks.posts >= 1, 'the receiver got the alert');
  await checkPage(p, 'alerts');

  // The alert mail's link opens the run in the console: the notifier links to /runs/:runId.
  let link: string | undefined;
  for (let i = 0; i < 100 && !link; i += 1) {
    const mail = (await stack.sentEmails()).find(
      (m) => m.to.includes('ops@example.com') && m.body.includes('/runs/'),
    );
    link = mail && /href="([^"]*\/runs\/[^"]+)"/.exec(mail.body)?.[1];
    if (!link) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(link?.startsWith(`${stack.url}/runs/orphan`), `a run link to this console: ${link}`);
  await p.goto(link ?? '');
  await p.getByRole('heading', { name: /Run of orphan/ }).waitFor();
  await p.locator('h1').getByText('NO_WORKER').waitFor();

  await p.goto(`${stack.url}/`);
  await p.locator('.tile-value').first().waitFor();
  await p.getByText(/default: 1 worker/).waitFor();
  await p.locator('ul.failing').getByRole('link', { name: 'orphan' }).waitFor();
  await checkPage(p, 'dashboard');

  // Dependent jobs: each job page links the other way along `after`.
  await p.goto(`${stack.url}/jobs/cleanup-after`);
  await p.locator('dl.facts').getByText('failed').waitFor();
  await p.locator('dl.facts').getByRole('link', { name: 'orphan', exact: true }).click();
  await p.locator('dl.facts').getByRole('link', { name: 'cleanup-after' }).waitFor();

  // Where a job's alerts go: ops subscribes to nightly-report for two kinds, orphan names ops, cleanup-after nobody.
  await p.goto(`${stack.url}/jobs/nightly-report`);
  await p
    .locator('ul.audience li', { hasText: 'Ops on call <ops@example.com> and webhook:pager' })
    .getByText('subscribed to this job; failure, timeout')
    .waitFor();
  await p.goto(`${stack.url}/jobs/orphan`);
  await p
    .locator('ul.audience li', { hasText: 'Ops on call' })
    .getByText('named by this job; every alert kind')
    .waitFor();
  await p.goto(`${stack.url}/jobs/cleanup-after`);
  await p
    .locator('dl.facts')
    .getByText(/^nobody: the job names no contact/)
    .waitFor();

  await p.goto(`${stack.url}/jobs`);
  await p.getByRole('link', { name: 'long-export' }).waitFor();
  await p.getByLabel('Search').fill('nightly');
  await p.getByRole('link', { name: 'long-export' }).waitFor({ state: 'detached' });
  await p.getByLabel('Search').fill('');
  await p.getByRole('link', { name: 'orphan' }).waitFor();
  // Each row: the last run's status (linked to the run) and the next fire.
  const row = (jobId: string) =>
    p.getByRole('row').filter({ has: p.getByRole('link', { name: jobId, exact: true }) });
  await row('orphan').getByRole('link', { name: 'NO_WORKER' }).waitFor();
  await row('long-export').getByRole('link', { name: 'CANCELLED' }).waitFor();
  const nextFire = (jobId: string) => row(jobId).getByRole('cell').nth(7);
  assert.equal(await nextFire('orphan').textContent(), '—', 'a manual job never fires');
  assert.match((await nextFire('nightly-report').textContent()) ?? '', /\d\d:\d\d:\d\d/);
  const nightly = await stack.api<{ items: JobView[] }>('admin', 'GET', '/api/jobs?q=nightly');
  assert.equal(nightly.items[0]?.nextFires?.length, 1, 'the list carries the next fire');
  const all = await stack.api<{ total: number }>('admin', 'GET', '/api/jobs');
  assert.equal(await p.getByTestId('jobs-total').textContent(), `${all.total} jobs in all`);
  // Sort and filters live in the URL: a reload keeps them.
  await p.getByLabel('Sort page by').selectOption('next');
  await p.waitForURL(/[?&]sort=next/);
  const firstJob = () => p.locator('tbody tr').first().getByRole('link').first().textContent();
  // The rows re-render after the URL changes: wait for the order itself (CI once read the old one).
  await p.locator('tbody tr').first().getByRole('link', { name: 'nightly-report', exact: true }).waitFor();
  assert.equal(await firstJob(), 'nightly-report', 'the only scheduled job fires soonest');
  await p.getByLabel('Mode').selectOption('REMOTE');
  await p.waitForURL(/[?&]mode=REMOTE/);
  await p.reload();
  assert.equal(await p.getByLabel('Sort page by').inputValue(), 'next');
  assert.equal(await p.getByLabel('Mode').inputValue(), 'REMOTE');
  await p.getByRole('link', { name: 'orphan' }).waitFor();
  assert.equal(await firstJob(), 'nightly-report');
  await checkPage(p, 'jobs');

  await p.goto(`${stack.url}/runs`);
  await p.locator('.badge', { hasText: 'CANCELLED' }).first().waitFor();
  await checkPage(p, 'runs');

  await p.goto(`${stack.url}/workers`);
  await p.getByRole('cell', { name: /console-w1/ }).waitFor();
  await checkPage(p, 'workers');

  await p.goto(`${stack.url}/contacts`);
  await p.getByRole('cell', { name: /Ops on call/ }).waitFor();
  await checkPage(p, 'contacts');

  await p.goto(`${stack.url}/errors?q=${encodeURIComponent('step 4 of 4')}`);
  await p.locator('ul.hits li').first().waitFor();
  await checkPage(p, 'error-search');

  await p.goto(`${stack.url}/audit`);
  await p.getByText('job.create').first().waitFor();
  await checkPage(p, 'audit');

  await p.goto(`${stack.url}/no/such/page`);
  await p.getByRole('heading', { name: 'Page not found' }).waitFor();
  await checkPage(p, 'not-found');
  await p.getByRole('link', { name: 'Back to the dashboard' }).click();
  await p.waitForURL(`${stack.url}/`);

  // A job that does not exist: the API's answer, and no "Try again" (asking again cannot help).
  await p.goto(`${stack.url}/jobs/no-such-job`);
  await p.getByRole('alert').getByText('NOT_FOUND').waitFor();
  assert.equal(await p.getByRole('button', { name: 'Try again' }).count(), 0);
});

test('jobs list: its page, sort and filters live in the URL; a reload and Back restore them', async () => {
  // 30 manual jobs in a group of their own: two pages of 25, created one after another.
  const ids = Array.from({ length: 30 }, (_, i) => `bulk-${String(i).padStart(2, '0')}`);
  for (const jobId of ids)
    await stack.api('admin', 'POST', '/api/jobs', { jobId, handler: 'steps', group: 'bulk' });
  const p = page();
  const link = (jobId: string) => p.getByRole('link', { name: jobId, exact: true });
  const params = () => new URL(p.url()).searchParams;
  await p.goto(`${stack.url}/jobs?group=bulk`);
  await link('bulk-24').waitFor();
  assert.equal(
    await p.getByTestId('jobs-total').textContent(),
    '30 jobs match these filters; this page shows 25',
  );
  assert.equal(await link('bulk-25').count(), 0);

  await p.getByRole('button', { name: 'Next →' }).click();
  await link('bulk-29').waitFor();
  assert.equal(params().getAll('page').length, 1, 'the page turned is in the URL');
  await p.reload();
  await link('bulk-29').waitFor();
  await p.getByText('Page 2', { exact: true }).waitFor();
  assert.equal(await link('bulk-00').count(), 0);

  // The newest first: bulk-29 was created last.
  await p.getByLabel('Sort page by').selectOption('updated');
  await p.waitForURL((url) => url.searchParams.get('sort') === 'updated');
  // The URL changes before the rows are drawn again: wait for the first row (a wrong order times out).
  const firstRowIs = (jobId: string) =>
    p.locator('tbody tr').first().getByRole('link', { name: jobId, exact: true }).waitFor();
  await firstRowIs('bulk-29');

  // A job, then Back: the same page, sorted the same way.
  await link('bulk-27').click();
  await p.getByRole('heading', { name: 'bulk-27' }).waitFor();
  await p.goBack();
  await link('bulk-29').waitFor();
  assert.equal(params().get('sort'), 'updated');
  assert.equal(params().get('group'), 'bulk');
  assert.equal(await p.getByLabel('Sort page by').inputValue(), 'updated');
  assert.equal(await p.getByLabel('Group').inputValue(), 'bulk');
  await firstRowIs('bulk-29');
  // Back once more: the first page (each page turned is a step in the history).
  await p.goBack();
  await link('bulk-00').waitFor();
  await p.getByText('Page 1', { exact: true }).waitFor();

  // A new filter starts again from the first page.
  await p.getByRole('button', { name: 'Next →' }).click();
  await link('bulk-29').waitFor();
  await p.getByLabel('Search').fill('bulk-2');
  await link('bulk-20').waitFor();
  assert.equal(params().getAll('page').length, 0);
  assert.equal(await p.getByTestId('jobs-total').textContent(), '10 jobs match these filters');
});

test('a narrow window: navigation wraps and the run page stays readable', async () => {
  const context = await newContext({ width: 390, height: 844 });
  const p = await context.newPage();
  await signIn(p, 'operator', '/jobs/nightly-report');
  await p.getByRole('heading', { name: /nightly-report/ }).waitFor();
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling of the page (${overflow} px)`);
  // Keyboard: the skip link is the first stop and moves focus to the content.
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await checkPage(p, 'job-detail-narrow');
  await context.close();
});

test('delete a job after confirming, add a contact with the form, drain a worker', async () => {
  const p = page();
  await p.goto(`${stack.url}/jobs/orphan`);
  await p.getByRole('button', { name: 'Delete' }).click();
  const dialog = p.getByRole('dialog', { name: 'Delete orphan?' });
  await dialog.getByRole('button', { name: 'Keep it' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await stack.api('admin', 'GET', '/api/jobs/orphan'); // still there
  await p.getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('button', { name: 'Delete the job' }).click();
  await p.waitForURL(`${stack.url}/jobs`);
  await assert.rejects(stack.api('admin', 'GET', '/api/jobs/orphan'), /404/);

  await p.goto(`${stack.url}/contacts`);
  await p.getByRole('button', { name: 'New contact' }).click();
  await p.getByLabel('Contact id').fill('dev-lead');
  await p.getByLabel('Name').fill('Dev lead');
  await p.getByLabel('Email').fill('not-an-email');
  await p.getByRole('button', { name: 'Add contact' }).click();
  await p
    .locator('.field.invalid')
    .filter({ has: p.getByLabel('Email') })
    .getByRole('alert')
    .waitFor();
  await p.getByLabel('Email').fill('lead@example.com');
  await p.getByRole('button', { name: 'Add channel' }).click();
  await p.getByLabel('Channel name').fill('pager');
  await p.getByLabel('URL').fill('https://169.254.169.254/latest/meta-data');
  await p.getByRole('button', { name: 'Add contact' }).click();
  await p
    .getByRole('alert')
    .filter({ hasText: /link-local/ })
    .waitFor();
  await p.getByLabel('URL').fill(`${hooks.url}/lead`);
  await p.getByRole('button', { name: 'Add contact' }).click();
  // The generated signing secret is shown once, then only "secret set".
  const secret = await p
    .getByRole('status')
    .filter({ hasText: 'Store the signing secret now' })
    .locator('code')
    .textContent();
  assert.match(secret ?? '', /^[0-9a-f]{64}$/);
  await p.getByRole('button', { name: 'I have stored it' }).click();
  await p.getByRole('cell', { name: /Dev lead/ }).waitFor();
  await p
    .getByText(/secret set/)
    .first()
    .waitFor();
  const stored = await stack.api<{ channels: { secretSet: boolean; secret?: string }[] }>(
    'admin',
    'GET',
    '/api/contacts/dev-lead',
  );
  assert.deepEqual(
    stored.channels.map((c) => [c.secretSet, c.secret]),
    [[true, undefined]],
  );
  assert.equal(
    (await stack.api<{ email: string }>('admin', 'GET', '/api/contacts/dev-lead')).email,
    'lead@example.com',
  );

  await p.goto(`${stack.url}/workers`);
  await p.getByRole('button', { name: 'Drain' }).click();
  // The dialog says in plain words that the agent process exits and that there is no undo.
  const drainDialog = p.getByRole('dialog', { name: 'Drain console-w1?' });
  await drainDialog.getByText(/the agent process on .+ exits/).waitFor();
  await drainDialog.getByText(/There is no undo/).waitFor();
  await drainDialog.getByRole('button', { name: 'Drain and stop the agent' }).click();
  // An idle agent told to drain finishes at once and leaves (GONE, no longer listed): on a busy machine
  // it may be gone before the list is read again, so the row says draining or is no longer there.
  await p.waitForFunction(() => {
    const row = Array.from(document.querySelectorAll('tr')).find((r) =>
      r.textContent?.includes('console-w1'),
    );
    return row === undefined || row.textContent?.includes('draining') === true;
  });
  // And the same for the API: the registry says DRAINING, or the agent has gone after logging the drain
  // it was told of.
  const { items } = await stack.api<{ items: { workerId: string; status: string }[] }>(
    'admin',
    'GET',
    '/api/workers',
  );
  const status = items.find((w) => w.workerId === 'console-w1')?.status;
  if (status !== 'DRAINING') {
    assert.equal(status, undefined, 'console-w1 is draining or has left');
    await stack.agent.waitForLog(/drain requested through the API/);
  }
  assert.equal(await p.locator('.state.error').count(), 0, 'no error shown');
});
