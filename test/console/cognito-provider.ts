/**
 * A local stand-in for a Cognito user pool and its hosted UI, for the browser test of Cognito sign-in:
 * the `oidc-provider` package (a certified OpenID Provider) configured the way Cognito behaves, so the
 * console's oidc-client-ts flow and the API's aws-jwt-verify path run against a real issuer.
 *
 * What is shaped like Cognito (https://docs.aws.amazon.com/cognito/latest/developerguide/):
 * - the discovery document, `/oauth2/authorize`, `/oauth2/token`, `/oauth2/userInfo`, `/oauth2/revoke`,
 *   and the JWKS at `<issuer>/.well-known/jwks.json` (where aws-jwt-verify looks for a pool's keys);
 * - authorization code with PKCE for a public app client, a refresh token with every code grant
 *   (Cognito issues one without `offline_access`);
 * - ID tokens with `aud` = the client id, `token_use: "id"`, `cognito:username`, `cognito:groups`;
 *   access tokens (JWT, RS256) with `client_id`, `token_use: "access"`, `username`, `cognito:groups`;
 * - `GET /logout?client_id=&logout_uri=`: ends the hosted-UI session and returns to `logout_uri`, which
 *   must be one of the client's sign-out URLs.
 * What differs: the issuer is also the hosted UI's domain (one origin); access tokens carry an `aud`
 * (oidc-provider will not sign a JWT access token without one; Cognito's have none, and the API does
 * not read it); the TLS certificate is self-signed for 127.0.0.1.
 *
 * Test infrastructure only: nothing under functions/, console/ or infra/ imports it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Role } from '../../core/api/schemas';
import { selfSignedCertificate } from '../harness/tls';

export interface CognitoUser {
  readonly username: string;
  readonly password: string;
  readonly groups: readonly string[];
}

export interface CognitoProviderOptions {
  readonly clientId: string;
  /** The console's origin: its callback and sign-out URLs are registered as Cognito's app client would have them. */
  readonly consoleOrigin: string;
  /** Access and ID token lifetime. */
  readonly tokenSeconds: number;
}

export interface CognitoProvider {
  /** `https://127.0.0.1:<port>`: issuer, hosted-UI domain and JWKS host in one. */
  readonly issuer: string;
  /** The self-signed certificate (PEM) the API and Chromium must trust. */
  readonly certificate: string;
  readonly users: Readonly<Record<Role, CognitoUser>>;
  close(): Promise<void>;
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head><body><main>${body}</main></body></html>`,
  );
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function loginForm(uid: string, error = ''): string {
  return `<h1>Sign in</h1>${error ? `<p role="alert">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`;
}

export async function startCognitoProvider(options: CognitoProviderOptions): Promise<CognitoProvider> {
  const users: Record<Role, CognitoUser> = {
    admin: { username: 'admin', password: randomBytes(12).toString('base64url'), groups: ['admin'] },
    operator: { username: 'operator', password: randomBytes(12).toString('base64url'), groups: ['operator'] },
    viewer: { username: 'viewer', password: randomBytes(12).toString('base64url'), groups: ['viewer'] },
  };
  const byName = new Map(Object.values(users).map((user) => [user.username, user]));
  const passwordMatches = (user: CognitoUser | undefined, password: string): boolean =>
    user !== undefined &&
    user.password.length === password.length &&
    timingSafeEqual(Buffer.from(user.password), Buffer.from(password));

  const tls = await selfSignedCertificate();
  const server = createServer({ key: tls.key, cert: tls.cert });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signingKey = await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey);
  const resource = 'urn:clover:api';
  const signIn = `${options.consoleOrigin}/sign-in`;

  const configuration: Configuration = {
    clients: [
      {
        client_id: options.clientId,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [`${options.consoleOrigin}/auth/callback`],
        post_logout_redirect_uris: [signIn],
      },
    ],
    jwks: { keys: [{ ...signingKey, alg: 'RS256', use: 'sig', kid: 'clover-test' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    routes: {
      authorization: '/oauth2/authorize',
      token: '/oauth2/token',
      userinfo: '/oauth2/userInfo',
      revocation: '/oauth2/revoke',
      jwks: '/.well-known/jwks.json',
    },
    claims: {
      openid: ['sub', 'cognito:username', 'cognito:groups', 'token_use'],
      email: ['email', 'email_verified'],
    },
    // Cognito's ID token carries the user's claims in the code flow too.
    conformIdTokenClaims: false,
    ttl: {
      AccessToken: options.tokenSeconds,
      IdToken: options.tokenSeconds,
      RefreshToken: 3600,
      Session: 3600,
      Grant: 3600,
      Interaction: 600,
      AuthorizationCode: 120,
    },
    async findAccount(_ctx, sub) {
      const user = byName.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        claims: (use: string) => ({
          sub,
          'cognito:username': sub,
          'cognito:groups': [...user.groups],
          email: `${sub}@example.com`,
          email_verified: true,
          ...(use === 'id_token' ? { token_use: 'id' } : {}),
        }),
      };
    },
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const user = byName.get(token.accountId);
      return { token_use: 'access', username: token.accountId, 'cognito:groups': [...(user?.groups ?? [])] };
    },
    // The console calls the token endpoint from its own origin.
    clientBasedCORS: (_ctx, origin) => origin === options.consoleOrigin,
    // Cognito returns a refresh token with every code grant; oidc-provider's default asks for offline_access.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Cognito's hosted UI asks no consent for its own app clients: grant what the client asked for.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const { provider, session, client, params } = ctx.oidc;
      if (!session?.accountId || !client) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      const existing = grantId ? await provider.Grant.find(grantId) : undefined;
      if (existing) return existing;
      const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(String(params?.scope ?? 'openid'));
      grant.addResourceScope(resource, String(params?.scope ?? 'openid'));
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          scope: 'openid email profile',
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: options.tokenSeconds,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
      rpInitiatedLogout: {
        enabled: true,
        // Cognito's /logout asks nothing: the confirmation form submits itself with "yes".
        async logoutSource(ctx, form) {
          ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signing out</title></head><body>${form.replace(
            '</form>',
            '<input type="hidden" name="logout" value="yes"></form>',
          )}<script>document.forms[0].submit()</script></body></html>`;
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error</title></head><body><main><h1>Sign-in error</h1><pre>${JSON.stringify(out)}</pre></main></body></html>`;
    },
  };
  const provider = new Provider(issuer, configuration);
  const providerCallback = provider.callback();

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer);
    const interaction = /^\/interaction\/([^/]+)(\/login)?$/.exec(url.pathname);
    const answer = async (): Promise<void> => {
      if (url.pathname === '/logout' && req.method === 'GET') {
        // Cognito: GET /logout?client_id=<id>&logout_uri=<one of the client's sign-out URLs>.
        const clientId = url.searchParams.get('client_id');
        const logoutUri = url.searchParams.get('logout_uri');
        if (clientId !== options.clientId || logoutUri !== signIn)
          return html(res, 400, '<h1>Bad logout request</h1>');
        const end = new URL('/session/end', issuer);
        end.searchParams.set('client_id', clientId);
        end.searchParams.set('post_logout_redirect_uri', logoutUri);
        res.writeHead(302, { location: end.toString() }).end();
        return;
      }
      if (!interaction) return providerCallback(req, res);
      const details = await provider.interactionDetails(req, res);
      if (!interaction[2]) return html(res, 200, loginForm(details.uid));
      const form = await formBody(req);
      const user = byName.get(form.get('username') ?? '');
      if (!passwordMatches(user, form.get('password') ?? ''))
        return html(res, 200, loginForm(details.uid, 'Incorrect username or password.'));
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: (user as CognitoUser).username } },
        { mergeWithLastSubmission: false },
      );
    };
    answer().catch((error: Error) => html(res, 500, `<h1>Provider error</h1><pre>${error.message}</pre>`));
  });

  return {
    issuer,
    certificate: tls.cert,
    users,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
