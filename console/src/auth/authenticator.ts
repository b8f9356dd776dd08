/**
 * The two ways to sign in. Local: a username and password against the local runtime's
 * POST /api/auth/local/login. Cognito: the hosted UI, OIDC authorization code with PKCE, through
 * oidc-client-ts (loaded only in that mode, so the local bundle does not carry it).
 */
import type { User } from 'oidc-client-ts';
import type { ApiClient } from '../api/client';
import type { LocalLoginResponse } from '../api/types';
import type { CognitoAuthConfig, ConsoleConfig } from '../config';
import type { SessionStore } from './session';

export interface Authenticator {
  readonly mode: 'local' | 'cognito';
  /** The bearer token for the next API call; Cognito renews an expired one with the refresh token first. */
  token(): Promise<string | undefined>;
  /** Local mode only. */
  signInWithPassword?(username: string, password: string): Promise<void>;
  /** Cognito mode: leaves the page for the hosted UI; comes back to /auth/callback. */
  redirectToSignIn?(returnTo: string): Promise<void>;
  /** Cognito mode: finishes the code exchange on /auth/callback and says where to go next. */
  completeSignIn?(): Promise<string>;
  signOut(): Promise<void>;
}

export function makeAuthenticator(
  config: ConsoleConfig,
  api: ApiClient,
  session: SessionStore,
): Authenticator {
  if (config.auth.mode === 'local') {
    return {
      mode: 'local',
      token: async () => session.token(),
      async signInWithPassword(username, password) {
        const out = await api.post<LocalLoginResponse>('/api/auth/local/login', { username, password });
        session.set({
          token: out.token,
          expiresAt: Date.parse(String(out.expiresAt)) || Number(out.expiresAt),
        });
      },
      async signOut() {
        session.clear();
      },
    };
  }
  return cognitoAuthenticator(config.auth, session);
}

function cognitoAuthenticator(auth: CognitoAuthConfig, session: SessionStore): Authenticator {
  const origin = window.location.origin;
  const manager = import('oidc-client-ts').then(
    ({ UserManager, WebStorageStateStore }) =>
      new UserManager({
        authority: auth.issuer,
        client_id: auth.clientId,
        redirect_uri: `${origin}/auth/callback`,
        post_logout_redirect_uri: `${origin}/sign-in`,
        response_type: 'code',
        scope: (auth.scopes ?? ['openid', 'email', 'profile']).join(' '),
        userStore: new WebStorageStateStore({ store: window.sessionStorage }),
        automaticSilentRenew: false,
      }),
  );
  // The API's JWT authorizer checks Cognito access tokens (client_id claim, cognito:groups for the role).
  const keep = (user: User) =>
    session.set({
      token: user.access_token,
      expiresAt: (user.expires_at ?? 0) * 1000,
      renewable: !!user.refresh_token,
    });
  let renewing: Promise<string | undefined> | undefined;
  // Cognito's token endpoint trades the refresh token (grant_type=refresh_token) for new ID and access
  // tokens; signinSilent does that when the stored user has one. A refused refresh ends the session.
  const renew = async (): Promise<string | undefined> => {
    try {
      const user = await (await manager).signinSilent();
      if (user) {
        keep(user);
        return user.access_token;
      }
    } catch {
      // expired or revoked refresh token: sign in again
    }
    session.clear(true);
    return undefined;
  };
  return {
    mode: 'cognito',
    async token() {
      const token = session.token();
      if (token || !session.get()?.renewable) return token;
      renewing ??= renew().finally(() => {
        renewing = undefined;
      });
      return renewing;
    },
    async redirectToSignIn(returnTo) {
      await (await manager).signinRedirect({ state: { returnTo } });
    },
    async completeSignIn() {
      const user = await (await manager).signinRedirectCallback();
      keep(user);
      const state = user.state as { returnTo?: string } | undefined;
      return state?.returnTo ?? '/';
    },
    async signOut() {
      session.clear();
      await (await manager).removeUser();
      const logoutUri = encodeURIComponent(`${origin}/sign-in`);
      window.location.assign(`${auth.domain}/logout?client_id=${auth.clientId}&logout_uri=${logoutUri}`);
    },
  };
}
