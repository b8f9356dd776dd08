/**
 * The management API on loopback for the local runtime (`npm start`): the same Hono app as the
 * Lambda, with local JWTs (functions/api/auth.ts, LocalAuthenticator) and, when `console/dist`
 * exists, the built console at `/` (unknown non-API paths fall back to its index.html: an SPA).
 * With `cognito`, users sign in through that issuer instead (the console's config.json says so) and
 * the API verifies their tokens as the Lambda verifies Cognito's; the local issuer's tokens (api.json,
 * the demo agents) keep working beside them.
 * Writes `.clover/api.json` ({endpoint, token}) so the CLI needs no flags against the local stack.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import type { ControlPlane } from '../../core/adapters/control-plane';
import type { Logger } from '../../core/log';
import { writePrivateFile } from '../../core/private-files';
import { createApiApp } from '../api/app';
import {
  type Authenticator,
  CognitoAuthenticator,
  issuedLocally,
  LOCAL_USERS_FILE,
  LocalAuthenticator,
} from '../api/auth';
import { socketAddress } from '../api/client-address';
import { managementApi } from '../api/wiring';

/** Where `npm run build:console` writes the console, found from this file (not the working directory). */
export const CONSOLE_DIST = resolve(import.meta.dirname, '../../console/dist');

export interface LocalApiOptions {
  readonly plane: ControlPlane;
  readonly log: Logger;
  /** @default 8080; 0 picks a free port */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Where the key, users and api.json live. @default '.clover' */
  readonly stateDir?: string;
  /** @default CONSOLE_DIST */
  readonly consoleDir?: string;
  readonly rateLimit?: { readonly perSecond: number; readonly burst: number };
  /**
   * Proxies whose `X-Forwarded-For` is believed (addresses, CIDR ranges, `loopback`…): throttling
   * keys on the socket's peer otherwise. `npm start` reads `CLOVER_API_TRUSTED_PROXIES`. @default []
   */
  readonly trustedProxies?: readonly string[];
  readonly cognito?: LocalCognito;
}

/** A Cognito user pool, or an issuer shaped like one, for the console's sign-in and the API's tokens. */
export interface LocalCognito {
  readonly issuer: string;
  readonly clientId: string;
  /** The hosted UI's origin (its /logout ends the session). */
  readonly domain: string;
}

export interface LocalApi {
  /** `http://127.0.0.1:<port>` (the API is under /api). */
  readonly url: string;
  readonly auth: LocalAuthenticator;
  /** The admin token written to api.json (30 days). */
  readonly adminToken: string;
  readonly apiFile: string;
  close(): Promise<void>;
}

export async function startLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  const stateDir = options.stateDir ?? '.clover';
  const auth = await LocalAuthenticator.open(stateDir);
  if (auth.migrated.length > 0)
    options.log.log('info', 'local passwords were kept in plain text: now stored as scrypt hashes', {
      users: auth.migrated.join(','),
      file: join(stateDir, LOCAL_USERS_FILE),
      note: 'the passwords are unchanged',
    });
  const { cognito } = options;
  const app = createApiApp({
    api: managementApi(options.plane),
    auth: cognito ? byIssuer(auth, new CognitoAuthenticator(cognito)) : auth,
    ...(cognito ? {} : { localLogin: auth }),
    log: options.log,
    clientAddress: socketAddress(options.trustedProxies),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
  });
  if (cognito) {
    const { issuer, clientId, domain } = cognito;
    app.get('/config.json', (c) =>
      c.json({ apiUrl: '', auth: { mode: 'cognito', issuer, clientId, domain } }),
    );
  }
  const consoleDir = resolve(options.consoleDir ?? CONSOLE_DIST);
  if (existsSync(join(consoleDir, 'index.html'))) {
    const index = await readFile(join(consoleDir, 'index.html'), 'utf8');
    app.use('/*', serveStatic({ root: consoleDir }));
    app.get('*', (c, next) => (c.req.path.startsWith('/api/') ? next() : c.html(index)));
  }
  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<ReturnType<typeof serve>>((ready, fail) => {
    const s = serve({ fetch: app.fetch, port: options.port ?? 8080, hostname: host }, () => ready(s));
    s.once('error', fail);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;
  const { token } = await auth.issue('admin', 'admin', 30 * 24 * 3600);
  const apiFile = join(stateDir, 'api.json');
  await writePrivateFile(apiFile, `${JSON.stringify({ endpoint: url, token }, null, 2)}\n`);
  options.log.log('info', 'management API listening', { url: `${url}/api`, apiFile });
  return {
    url,
    auth,
    adminToken: token,
    apiFile,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/** Tokens of the local issuer go to it, every other token to the Cognito path. */
function byIssuer(local: LocalAuthenticator, cognito: Authenticator): Authenticator {
  return { verify: (token) => (issuedLocally(token) ? local : cognito).verify(token) };
}
