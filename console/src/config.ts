/**
 * Run-time settings, read from /config.json when the app starts, so one build deploys to any stage:
 * the CDK stack writes the file beside the bundle, the local runtime serves its own.
 *
 * { "apiUrl": "",                        // API origin; "" = same origin as the console
 *   "auth": { "mode": "local" } }         // local sign-in form against POST /api/auth/local/login
 * { "apiUrl": "https://api.example.com",
 *   "auth": { "mode": "cognito", "region": "eu-west-1", "userPoolId": "eu-west-1_abc",
 *             "clientId": "…", "domain": "https://clover.auth.eu-west-1.amazoncognito.com" },
 *   "region": "eu-west-1" }               // a deployed stage's region: run pages link to their trace
 * In cognito mode, `issuer` instead of `region` and `userPoolId` names any issuer shaped like a pool.
 * The top-level `region` is written only by the CDK stack: without it (the local runtime) the run
 * page shows a run's trace id but links nowhere, there being no X-Ray behind the emulator.
 */
export interface LocalAuthConfig {
  readonly mode: 'local';
}

export interface CognitoAuthConfig {
  readonly mode: 'cognito';
  /** The OIDC issuer: `https://cognito-idp.<region>.amazonaws.com/<userPoolId>` unless given. */
  readonly issuer: string;
  readonly clientId: string;
  /** The hosted UI's origin, used for sign-out (Cognito's /logout is not in the OIDC discovery document). */
  readonly domain: string;
  /** @default ['openid', 'email', 'profile'] */
  readonly scopes?: readonly string[];
}

export interface ConsoleConfig {
  readonly apiUrl: string;
  readonly auth: LocalAuthConfig | CognitoAuthConfig;
  /** The AWS region of a deployed stage, where its X-Ray traces are; absent locally. */
  readonly region?: string;
}

export class ConfigError extends Error {}

/** Checks the shape by hand: the console bundles no schema library, and each error names its field. */
export function parseConfig(raw: unknown): ConsoleConfig {
  const fail = (field: string, reason: string): never => {
    throw new ConfigError(`config.json: ${field} ${reason}`);
  };
  if (typeof raw !== 'object' || raw === null) return fail('(root)', 'must be a JSON object');
  const { apiUrl = '', auth, region } = raw as Record<string, unknown>;
  if (typeof apiUrl !== 'string') fail('apiUrl', 'must be a string (empty for the same origin)');
  if (region !== undefined && (typeof region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)))
    fail('region', 'must be an AWS region such as "eu-west-1" (or absent when not deployed)');
  const stage = typeof region === 'string' ? { region } : {};
  if (typeof auth !== 'object' || auth === null) return fail('auth', 'must be an object with a mode');
  const a = auth as Record<string, unknown>;
  if (a.mode === 'local')
    return { apiUrl: String(apiUrl).replace(/\/+$/, ''), auth: { mode: 'local' }, ...stage };
  if (a.mode !== 'cognito') return fail('auth.mode', 'must be "local" or "cognito"');
  const given = (field: string) => typeof a[field] === 'string' && a[field] !== '';
  const required = ['clientId', 'domain', ...(given('issuer') ? [] : ['region', 'userPoolId'])];
  for (const field of required) {
    if (!given(field)) fail(`auth.${field}`, 'is required in cognito mode');
  }
  return {
    apiUrl: String(apiUrl).replace(/\/+$/, ''),
    auth: {
      mode: 'cognito',
      issuer: given('issuer')
        ? (a.issuer as string).replace(/\/+$/, '')
        : `https://cognito-idp.${a.region}.amazonaws.com/${a.userPoolId}`,
      clientId: a.clientId as string,
      domain: (a.domain as string).replace(/\/+$/, ''),
      scopes: Array.isArray(a.scopes) ? a.scopes.map(String) : undefined,
    },
    ...stage,
  };
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch('/config.json', { cache: 'no-store' });
  if (!response.ok) throw new ConfigError(`config.json: HTTP ${response.status} when loading it`);
  return parseConfig(await response.json());
}
