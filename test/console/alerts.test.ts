/**
 * The alerts page in Debian's Chromium against the real local runtime (see console.test.ts): its
 * filters live in the URL, an operator acknowledges an alert once, silences a job for a chosen time
 * and removes the silence; a viewer sees neither action. Alerts come from jobs whose handler no
 * worker offers (their runs end NO_WORKER, alerting `no_worker`).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Page as ApiPage } from '../../core/api/schemas';
import type { AlertRecord, Silence } from '../../core/model';
import { waitFor } from '../harness/wait';
import { assertAccessible, checkPage, launchChromium } from './browser';
import { type ConsoleStack, startConsoleStack } from './stack';

let stack: ConsoleStack;
let browser: Browser;
let context: BrowserContext;

before(async () => {
  stack = await startConsoleStack();
  browser = await launchChromium();
  // Steps wait for their condition; 45 s only bounds one that cannot happen, on a loaded machine.
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(45_000);
  await stack.api('admin', 'POST', '/api/contacts', {
    contactId: 'ops',
    name: 'Ops',
    email: 'ops@example.com',
  });
  for (const jobId of ['orphan-a', 'orphan-b']) {
    await stack.api('admin', 'POST', '/api/jobs', { jobId, handler: 'nobody-has-this', contacts: ['ops'] });
    await stack.api('admin', 'POST', `/api/jobs/${jobId}/trigger`, {});
  }
  for (const jobId of ['orphan-a', 'orphan-b'])
    await waitFor(
      () => stack.api<ApiPage<AlertRecord>>('viewer', 'GET', `/api/alerts?jobId=${jobId}`),
      (page) => page.items.length > 0,
      `an alert of ${jobId}`,
    );
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function signIn(page: Page, role: 'operator' | 'viewer', returnTo: string): Promise<void> {
  await page.goto(`${stack.url}/sign-in?returnTo=${encodeURIComponent(returnTo)}`);
  await page.getByLabel('Username').fill(role);
  await page.getByLabel('Password').fill(stack.passwords[role]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === returnTo.split('?')[0]);
}

test('alerts: filters survive a reload, an operator acknowledges once, silences a job and removes it', async () => {
  const p = await context.newPage();
  await signIn(p, 'operator', '/alerts');
  const filters = p.getByRole('form', { name: 'Filter alerts' });
  const alerts = p.locator('table:not([aria-label])');
  await alerts.getByRole('link', { name: 'orphan-b' }).first().waitFor();

  await filters.getByLabel('Window').selectOption({ label: 'Last 24 hours' });
  await filters.getByLabel('Kind').selectOption({ label: 'no worker' });
  await filters.getByLabel('Status').selectOption('OPEN');
  await filters.getByRole('textbox', { name: 'Job' }).fill('orphan-a');
  await p.waitForURL((url) => url.searchParams.get('jobId') === 'orphan-a');
  await p.reload();
  await alerts.getByRole('link', { name: 'orphan-a' }).first().waitFor();
  const url = new URL(p.url());
  assert.deepEqual(
    ['hours', 'kind', 'status', 'jobId'].map((name) => url.searchParams.get(name)),
    ['24', 'no_worker', 'OPEN', 'orphan-a'],
  );
  assert.equal(await filters.getByLabel('Kind').inputValue(), 'no_worker');
  assert.equal(await filters.getByLabel('Status').inputValue(), 'OPEN');
  assert.equal(await filters.getByRole('textbox', { name: 'Job' }).inputValue(), 'orphan-a');
  assert.equal(await alerts.getByRole('link', { name: 'orphan-b' }).count(), 0, 'the job filter holds');
  await assertAccessible(p, 'alerts, filtered');

  // Acknowledge the newest alert of orphan-a: the row says who took it and offers no second click.
  await filters.getByLabel('Status').selectOption('');
  const row = alerts.locator('tbody tr').first();
  await row.getByRole('button', { name: /^Acknowledge/ }).click();
  await row.getByText(/^by operator/).waitFor();
  assert.equal(await row.getByRole('button', { name: /^Acknowledge/ }).count(), 0);
  const [taken] = (
    await stack.api<ApiPage<AlertRecord>>('viewer', 'GET', '/api/alerts?jobId=orphan-a&status=ACKNOWLEDGED')
  ).items;
  assert.ok(taken?.acknowledgement, 'the API has the acknowledgement');
  await assert.rejects(
    stack.api('operator', 'POST', `/api/alerts/${encodeURIComponent(taken.alertId)}/acknowledge`, {}),
    /409.*ALREADY_ACKNOWLEDGED/,
  );
  // It has left the open ones.
  await filters.getByLabel('Status').selectOption('OPEN');
  await p.waitForURL((u) => u.searchParams.get('status') === 'OPEN');
  await p
    .locator('table:not([aria-label]) tbody tr', { hasText: 'acknowledged' })
    .first()
    .waitFor({ state: 'detached' });

  // Silence orphan-b's no-worker alerts for 4 hours; the silence is listed, then removed.
  const form = p.getByRole('form', { name: 'Silence a job' });
  await form.getByRole('textbox', { name: 'Job' }).fill('orphan-b');
  await form.getByLabel('Kind').selectOption({ label: 'no worker' });
  await form.getByLabel('For').selectOption({ label: '4 hours' });
  await form.getByRole('button', { name: 'Silence job' }).click();
  const silences = p.getByRole('table', { name: 'Silences in force' });
  const silenceRow = silences.locator('tbody tr', { hasText: 'orphan-b' });
  await silenceRow.getByText('no worker').waitFor();
  await silenceRow.getByText(/operator/).waitFor();
  const { items } = await stack.api<{ items: Silence[] }>('viewer', 'GET', '/api/silences');
  assert.equal(items.length, 1);
  const hours = ((items[0]?.endsAt ?? 0) - (items[0]?.createdAt ?? 0)) / 3_600_000;
  assert.ok(hours > 3.9 && hours <= 4, `the silence lasts 4 hours: ${hours}`);
  // Captured with every status shown: the acknowledged alert beside the silence.
  await filters.getByLabel('Status').selectOption('');
  await alerts
    .getByText(/^by operator/)
    .first()
    .waitFor();
  await checkPage(p, 'alerts-operator');

  await silenceRow.getByRole('button', { name: /^Remove/ }).click();
  await p.getByText('No silences in force.').waitFor();
  assert.deepEqual((await stack.api<{ items: Silence[] }>('viewer', 'GET', '/api/silences')).items, []);
});

test('alerts: a viewer sees the alerts and silences but neither action', async () => {
  const p = await context
    .browser()
    ?.newContext()
    .then((c) => c.newPage());
  assert.ok(p);
  p.setDefaultTimeout(45_000);
  await signIn(p, 'viewer', '/alerts');
  await p.locator('table').getByRole('link', { name: 'orphan-b' }).first().waitFor();
  await p.getByRole('heading', { name: 'Silences' }).waitFor();
  assert.equal(await p.getByRole('button', { name: /^Acknowledge/ }).count(), 0);
  assert.equal(await p.getByRole('form', { name: 'Silence a job' }).count(), 0);
  await assertAccessible(p, 'alerts as a viewer');
});
