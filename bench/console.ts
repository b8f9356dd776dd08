/**
 * The console's weight and speed: the production bundle's gzipped JS and CSS (all of it, and what
 * the first page — the dashboard — actually loads), and how soon the dashboard is useful in Chromium
 * against the real local runtime: first contentful paint, and first meaningful paint, taken as the
 * moment the dashboard shows its figures from the API. The aim is under 250 kB of JS gzipped on the
 * first page.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { launchChromium } from '../test/console/browser';
import { buildConsole, CONSOLE_DIST, startConsoleStack } from '../test/console/stack';
import { percentile } from './stats';

const kB = (bytes: number) => Math.round(bytes / 102.4) / 10;

async function gzippedSizes(): Promise<Map<string, { raw: number; gzip: number }>> {
  const assets = join(CONSOLE_DIST, 'assets');
  const sizes = new Map<string, { raw: number; gzip: number }>();
  for (const name of await readdir(assets)) {
    const bytes = await readFile(join(assets, name));
    sizes.set(`/assets/${name}`, { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length });
  }
  return sizes;
}

export async function consoleBench(loads = 5) {
  await buildConsole();
  const sizes = await gzippedSizes();
  const sum = (ext: string) =>
    [...sizes].filter(([name]) => name.endsWith(ext)).reduce((n, [, s]) => n + s.gzip, 0);

  const stack = await startConsoleStack({ agents: 1 });
  const browser = await launchChromium();
  try {
    const token = await stack.token('viewer');
    const fcp: number[] = [];
    const fmp: number[] = [];
    let firstPageJs = 0;
    let firstPageCss = 0;
    for (let i = 0; i < loads; i += 1) {
      // A fresh context each time: a cold cache, as a first visit.
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.addInitScript(
        ([t]) =>
          sessionStorage.setItem(
            'clover.session',
            JSON.stringify({ token: t, expiresAt: Date.now() + 3_600_000 }),
          ),
        [token],
      );
      const page = await context.newPage();
      const loaded = new Set<string>();
      page.on('response', (response) => loaded.add(new URL(response.url()).pathname));
      await page.goto(`${stack.url}/`);
      const meaningful = await page.waitForFunction(
        () => document.querySelector('.tile-value') && performance.now(),
        undefined,
        { timeout: 30_000 },
      );
      fmp.push(Number(await meaningful.jsonValue()));
      fcp.push(
        await page.evaluate(
          () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
        ),
      );
      if (i === 0) {
        for (const path of loaded) {
          const size = sizes.get(path);
          if (path.endsWith('.js')) firstPageJs += size?.gzip ?? 0;
          if (path.endsWith('.css')) firstPageCss += size?.gzip ?? 0;
        }
      }
      await context.close();
    }
    return {
      bundle: {
        jsGzipKB: kB(sum('.js')),
        cssGzipKB: kB(sum('.css')),
        firstPageJsGzipKB: kB(firstPageJs),
        firstPageCssGzipKB: kB(firstPageCss),
        largestChunks: [...sizes]
          .sort((a, b) => b[1].gzip - a[1].gzip)
          .slice(0, 4)
          .map(([name, s]) => `${name} ${kB(s.gzip)} kB`),
      },
      dashboardLoads: loads,
      firstContentfulPaintMs: { p50: Math.round(percentile(fcp, 50)), max: Math.round(Math.max(...fcp)) },
      firstMeaningfulPaintMs: { p50: Math.round(percentile(fmp, 50)), max: Math.round(Math.max(...fmp)) },
    };
  } finally {
    await browser.close();
    await stack.stop();
  }
}
