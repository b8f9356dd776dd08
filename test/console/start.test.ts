/**
 * The README's promise, as a user meets it: the real `npm start` (no flags, its own moto, the demo
 * agents) and Debian's Chromium. The console loads, the printed admin password signs in, the four demo
 * jobs are listed, and each gets runs that its handler actually ran (the demo agents' own log lines,
 * not only the ledger). Ctrl-C then stops the product with exit 0. How long each stage took is printed
 * (README, "Quick start" quotes it); it is measured here, not asserted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Browser } from 'playwright-core';
import { jsonLogger } from '../../core/log';
import { ensureConsoleBuilt } from '../../functions/local/console-build';
import { uniquePrefix } from '../harness';
import { alive, StartProcess } from '../local/start-process';
import { checkPage, launchChromium } from './browser';

const DEMO_JOBS = ['disk-report', 'export-orders', 'heartbeat', 'inventory-sync'];

test('npm start: the console loads, signs in with the printed password, and shows the demo jobs with their runs', async () => {
  // The build npm start would make on a fresh clone, made first so no other console test rebuilds under it.
  await ensureConsoleBuilt(jsonLogger({ level: 'warn' }));
  const cwd = await mkdtemp(join(tmpdir(), 'clover-start-console-'));
  const spawnedAt = Date.now();
  const start = new StartProcess({ cwd, env: { PORT: '0', CLOVER_PREFIX: uniquePrefix() } });
  let browser: Browser | undefined;
  try {
    const [, url] = await start.waitFor(
      /Clover is ready in [\d.]+ s at (http:\/\/127\.0\.0\.1:\d+)/,
      180_000,
    );
    const readyAt = Date.now();
    const password = start.stdout.match(/Sign in as admin with password (\S+)/)?.[1];
    assert.ok(url && password, start.output);

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(30_000);
    const page = await context.newPage();
    await page.goto(`${url}/jobs`);
    await page.waitForURL(/\/sign-in/);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    for (const jobId of DEMO_JOBS) await page.getByRole('link', { name: jobId, exact: true }).waitFor();

    // Every demo job's runs appear on the runs page (reloaded: its time window ends when it loads).
    await page.goto(`${url}/runs`);
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    const until = Date.now() + 180_000;
    let shown = new Set<string>();
    for (;;) {
      // The runs query can take seconds on a busy machine: let it answer before looking (or reloading).
      await page.getByText('Loading runs…').waitFor({ state: 'hidden', timeout: 90_000 });
      const links = await page.locator('table tbody tr a[href^="/jobs/"]').allTextContents();
      shown = new Set(links.map((text) => text.trim()));
      if (DEMO_JOBS.every((jobId) => shown.has(jobId))) break;
      if (Date.now() > until) {
        const text = await page.locator('main, body').first().innerText();
        assert.fail(`runs shown only for ${[...shown].join(', ')}; the page says:\n${text}\n${start.output}`);
      }
      await new Promise((r) => setTimeout(r, 5_000));
      await page.reload();
      await page.getByRole('heading', { name: 'Runs' }).waitFor();
    }
    const runsShownAt = Date.now();
    await checkPage(page, 'demo-runs');

    // What ran, by each handler's own output in its run's log (read through the API with the CLI's token).
    const token = (await readFile(join(cwd, '.clover/local-token'), 'utf8')).trim();
    const get = async <T>(path: string): Promise<T> => {
      const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
      return (await response.json()) as T;
    };
    const marker: Record<string, RegExp> = {
      'disk-report': /^disk report for run disk-report@/,
      'export-orders': /^exporting orders for /,
      heartbeat: /^tick heartbeat@/,
      'inventory-sync': /^calling the inventory service$/,
    };
    for (const jobId of DEMO_JOBS) {
      const logged = async () => {
        const runs = await get<{ items: { runId: string; status: string }[] }>(`/api/runs?jobId=${jobId}`);
        for (const run of runs.items.filter((r) => ['SUCCEEDED', 'FAILED'].includes(r.status))) {
          const log = await get<{ lines: { message: string }[] }>(
            `/api/runs/${encodeURIComponent(run.runId)}/log`,
          );
          if (log.lines.some((line) => marker[jobId]?.test(line.message))) return true;
        }
        return false;
      };
      const deadline = Date.now() + 120_000;
      while (!(await logged())) {
        assert.ok(
          Date.now() < deadline,
          `no finished ${jobId} run with its handler's log line:\n${start.output}`,
        );
        await new Promise((r) => setTimeout(r, 2_000));
      }
    }
    console.log(
      `measured: ready ${((readyAt - spawnedAt) / 1000).toFixed(1)} s after spawn; runs of all ${DEMO_JOBS.length} demo jobs in the console ${((runsShownAt - spawnedAt) / 1000).toFixed(1)} s after spawn`,
    );

    await browser.close();
    browser = undefined;
    start.interrupt();
    assert.equal((await start.exited).code, 0, start.output);
    assert.equal(start.stderr, '', start.output);
    assert.deepEqual([...start.descendants].filter(alive), []);
  } finally {
    await browser?.close();
    start.kill();
  }
});
