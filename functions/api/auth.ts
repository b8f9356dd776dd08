/**
 * Who is calling the management API. Bearer JWTs only: in AWS, Cognito user-pool tokens verified by
 * aws-jwt-verify; in the local runtime, tokens of a local issuer (HS256 key under `.clover/`) made
 * and verified with jose. Either way the role is the caller's highest Cognito group among admin,
 * operator and viewer (`cognito:groups`). Which role a route needs is in core/api/routes.ts.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CognitoJwtVerifier, JwtVerifier } from 'aws-jwt-verify';
import { validateCognitoJwtFields } from 'aws-jwt-verify/cognito-verifier';
import { JwtExpiredError } from 'aws-jwt-verify/error';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import { decodeJwt, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { ApiError } from '../../core/api/errors';
import type { LoginResponse, Role } from '../../core/api/schemas';
import { Roles } from '../../core/api/schemas';
import type { Principal } from '../../core/api/service';

export interface Authenticator {
  /** The caller of a bearer token; ApiError UNAUTHENTICATED (bad) or TOKEN_EXPIRED (expired) otherwise. */
  verify(token: string): Promise<Principal>;
}

/** The highest of admin, operator, viewer among the token's groups; undefined when it has none of them. */
export function roleFromGroups(groups: unknown): Role | undefined {
  const list = Array.isArray(groups) ? groups : typeof groups === 'string' ? groups.split(',') : [];
  return [...Roles].reverse().find((role) => list.includes(role));
}

function principalOf(claims: Record<string, unknown>): Principal {
  const role = roleFromGroups(claims['cognito:groups']);
  if (!role)
    throw new ApiError('FORBIDDEN', 'the token carries none of the groups admin, operator or viewer');
  const subject = String(claims['cognito:username'] ?? claims.username ?? claims.sub ?? 'unknown');
  return { subject, role, via: 'jwt' };
}

/** Where a Cognito user pool's tokens come from: the pool itself, or an issuer shaped like it. */
export type CognitoIssuer =
  | { readonly userPoolId: string; readonly clientId: string }
  /**
   * Any OpenID Connect issuer whose tokens carry Cognito's claims (`token_use`, `client_id` or `aud`,
   * `cognito:groups`); its JWKS at `<issuer>/.well-known/jwks.json` unless `jwksUri` says otherwise.
   * The local OIDC provider of test/console/cognito.test.ts is one.
   */
  | { readonly issuer: string; readonly clientId: string; readonly jwksUri?: string };

/**
 * Cognito (AWS): ID or access tokens of one user pool and app client. The pool's issuers (regional
 * and global form) and JWKS come from aws-jwt-verify; the checks Cognito's own verifier makes
 * (`token_use`, `client_id` on access tokens, `aud` on ID tokens) are the library's too, so a pool
 * and a configured issuer are verified by the same code.
 *
 * @example
 * const auth = new CognitoAuthenticator({ userPoolId: 'eu-west-1_abc', clientId: '1example' });
 */
export class CognitoAuthenticator implements Authenticator {
  private readonly verifier;

  constructor(options: CognitoIssuer) {
    const issuers =
      'issuer' in options
        ? [{ issuer: options.issuer, jwksUri: options.jwksUri ?? `${options.issuer}/.well-known/jwks.json` }]
        : [
            CognitoJwtVerifier.parseUserPoolId(options.userPoolId),
            // Any issuer claim naming the global form gets that form back.
            CognitoJwtVerifier.parseUserPoolId(options.userPoolId, 'https://issuer-cognito-idp'),
          ];
    this.verifier = JwtVerifier.create(
      issuers.map(({ issuer, jwksUri }) => ({
        issuer,
        jwksUri,
        audience: null,
        customJwtCheck: ({ payload }: { payload: JwtPayload }) =>
          validateCognitoJwtFields(payload, { tokenUse: null, clientId: options.clientId }),
      })),
    );
  }

  async verify(token: string): Promise<Principal> {
    let claims: Record<string, unknown>;
    try {
      claims = (await this.verifier.verify(token)) as Record<string, unknown>;
    } catch (error) {
      // The library's errors keep Error's `name`: only the class tells an expired token apart.
      const expired = error instanceof JwtExpiredError;
      throw new ApiError(
        expired ? 'TOKEN_EXPIRED' : 'UNAUTHENTICATED',
        expired ? 'the token has expired; sign in again' : 'the token is not valid for this API',
      );
    }
    return principalOf(claims);
  }
}

const LOCAL_ISSUER = 'clover-local';
const LOCAL_AUDIENCE = 'clover-api';

/** Whether `token` claims the local issuer (unverified: it only picks the authenticator that checks it). */
export function issuedLocally(token: string): boolean {
  try {
    return decodeJwt(token).iss === LOCAL_ISSUER;
  } catch {
    return false;
  }
}

/**
 * The local runtime's issuer: an HS256 key in `.clover/api-key` (created on first start, mode 0600,
 * git-ignored), local users admin, operator and viewer with generated passwords in
 * `.clover/local-users.json`, and a long-lived admin token for the CLI in `.clover/api.json`.
 */
export class LocalAuthenticator implements Authenticator {
  constructor(
    private readonly key: Uint8Array,
    readonly users: Readonly<Record<Role, string>>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Loads the key and users from `dir`, creating them on first use. */
  static async open(dir: string): Promise<LocalAuthenticator> {
    await mkdir(dir, { recursive: true });
    const key = await readOrCreate(join(dir, 'api-key'), () => randomBytes(32).toString('base64'));
    const users = JSON.parse(
      await readOrCreate(join(dir, 'local-users.json'), () =>
        JSON.stringify(
          Object.fromEntries(Roles.map((role) => [role, randomBytes(9).toString('base64url')])),
          null,
          2,
        ),
      ),
    ) as Record<Role, string>;
    return new LocalAuthenticator(Buffer.from(key.trim(), 'base64'), users);
  }

  /** A token for `subject` with `role`, valid `ttlSeconds`. */
  async issue(subject: string, role: Role, ttlSeconds = 12 * 3600): Promise<LoginResponse> {
    const issuedAt = Math.floor(this.now() / 1000);
    const expires = issuedAt + ttlSeconds;
    const token = await new SignJWT({ 'cognito:groups': [role], username: subject })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject)
      .setIssuer(LOCAL_ISSUER)
      .setAudience(LOCAL_AUDIENCE)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expires)
      .sign(this.key);
    return { token, role, expiresAt: new Date(expires * 1000).toISOString() };
  }

  /** POST /api/auth/local/login: the user's password, compared in constant time. */
  async login(username: string, password: string): Promise<LoginResponse> {
    // Own properties only: a name like `constructor` or `__proto__` must not find Object.prototype's.
    const expected = Object.hasOwn(this.users, username)
      ? (this.users as Record<string, unknown>)[username]
      : undefined;
    const ok =
      typeof expected === 'string' &&
      expected.length === password.length &&
      timingSafeEqual(Buffer.from(expected), Buffer.from(password));
    if (!ok) throw new ApiError('UNAUTHENTICATED', 'unknown user or wrong password');
    return this.issue(username, username as Role);
  }

  async verify(token: string): Promise<Principal> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: LOCAL_ISSUER,
        audience: LOCAL_AUDIENCE,
        algorithms: ['HS256'],
        currentDate: new Date(this.now()),
      });
      return principalOf(payload as Record<string, unknown>);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      if (error instanceof joseErrors.JWTExpired)
        throw new ApiError('TOKEN_EXPIRED', 'the token has expired; sign in again');
      throw new ApiError('UNAUTHENTICATED', 'the token is not valid for this API');
    }
  }
}

async function readOrCreate(path: string, create: () => string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const value = create();
    await writeFile(path, value, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    await chmod(path, 0o600);
    return readFile(path, 'utf8');
  }
}
