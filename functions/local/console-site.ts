/**
 * The local runtime's one origin: the management API under /api and the built console (console/dist,
 * `npm run build:console`) everywhere else, with the SPA fallback to index.html so deep links such as
 * /runs/:runId work when pasted. The console's config.json is served from the build (local sign-in,
 * same-origin API) unless the runtime passes its own.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';

/** Where `npm run build:console` writes the console. */
export const CONSOLE_DIST = resolve(import.meta.dirname, '../../console/dist');

export interface ConsoleSiteOptions {
  /** @default CONSOLE_DIST */
  readonly dir?: string;
  /** Replaces the build's config.json (e.g. a different API URL). */
  readonly config?: unknown;
}

type Fetch = (request: Request, env?: unknown) => Response | Promise<Response>;

/**
 * Routes /api/* to `api` and the rest to the console. Without a build, every page says how to make
 * one instead of a bare 404.
 */
export function withConsole(api: { fetch: Fetch }, options: ConsoleSiteOptions = {}): Fetch {
  const dir = options.dir ?? CONSOLE_DIST;
  const indexFile = join(dir, 'index.html');
  const site = new Hono();
  if (!existsSync(indexFile)) {
    site.get('*', (c) =>
      c.text(`The console is not built: run \`npm run build:console\` (expected ${indexFile}).\n`, 404),
    );
  } else {
    const index = readFileSync(indexFile, 'utf8');
    site.use('/assets/*', async (c, next) => {
      await next();
      // File names carry a content hash: a browser may keep them for good.
      if (c.res.ok) c.header('cache-control', 'public, max-age=31536000, immutable');
    });
    site.use('/assets/*', serveStatic({ root: dir }));
    if (options.config !== undefined) {
      const config = options.config as object;
      site.get('/config.json', (c) => c.json(config, 200, { 'cache-control': 'no-store' }));
    } else {
      site.get('/config.json', serveStatic({ root: dir, path: 'config.json' }));
    }
    site.get('*', (c) => c.html(index, 200, { 'cache-control': 'no-cache' }));
  }
  return (request, env) => {
    const { pathname } = new URL(request.url);
    return pathname === '/api' || pathname.startsWith('/api/')
      ? api.fetch(request, env)
      : site.fetch(request, env);
  };
}
