/**
 * Who is calling the management API. Bearer JWTs only: in AWS, Cognito user-pool tokens verified by
 * aws-jwt-verify; in the local runtime, tokens of a local issuer (HS256 key under `.clover/`) made
 * and verified with jose. Either way the role is the caller's highest Cognito group among admin,
 * operator and viewer (`cognito:groups`). Which role a route needs is in core/api/routes.ts.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
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
import { openPrivate, privateDir, writePrivateFile } from '../../core/private-files';
import { checkPasswordHash, hashPassword, isPasswordHash, verifyPassword } from './passwords';

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

/** The local users' file, beside the API key. */
export const LOCAL_USERS_FILE = 'local-users.json';

/**
 * The local runtime's issuer: an HS256 key in `.clover/api-key` (created on first start, mode 0600,
 * git-ignored), local users admin, operator and viewer whose passwords are generated and stored as
 * scrypt hashes in `.clover/local-users.json` (passwords.ts), and a long-lived admin token for the
 * CLI in `.clover/api.json`.
 */
export class LocalAuthenticator implements Authenticator {
  constructor(
    private readonly key: Uint8Array,
    /** Each user's stored hash (`scrypt$...`). */
    private readonly hashes: Readonly<Record<Role, string>>,
    /**
     * The passwords this process generated (a new users file, or users missing from it): the only
     * time they exist in plain text, so the only time they can be shown.
     */
    readonly newPasswords: Readonly<Partial<Record<Role, string>>> = {},
    /** Users whose plain-text password (a file from before hashing) was hashed by this process. */
    readonly migrated: readonly Role[] = [],
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Loads the key and users from `dir` (made 0700), creating what is missing: a password is generated
   * for each user the file lacks, a plain-text one (older files, or one a user wrote in) is hashed, and
   * the file is then rewritten atomically, mode 0600.
   */
  static async open(dir: string): Promise<LocalAuthenticator> {
    await privateDir(dir);
    const key = await readOrCreate(join(dir, 'api-key'), () => randomBytes(32).toString('base64'));
    const users = await openUsers(join(dir, LOCAL_USERS_FILE));
    return new LocalAuthenticator(
      Buffer.from(key.trim(), 'base64'),
      users.hashes,
      users.created,
      users.migrated,
    );
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

  /** POST /api/auth/local/login: the password against the user's scrypt hash (passwords.ts). */
  async login(username: string, password: string): Promise<LoginResponse> {
    // Own properties only: a name like `constructor` or `__proto__` must not find Object.prototype's.
    // An unknown name is checked against a dummy hash: as slow as a known one, so timing tells nothing.
    const stored = Object.hasOwn(this.hashes, username) ? this.hashes[username as Role] : undefined;
    if (!(await verifyPassword(stored, password)))
      throw new ApiError('UNAUTHENTICATED', 'unknown user or wrong password');
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

/** The file's content; when it is missing, `create()`'s, written 0600 unless another process got there first. */
async function readOrCreate(path: string, create: () => string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const value = create();
  try {
    const handle = await openPrivate(path, 'wx');
    await handle.writeFile(value, 'utf8').finally(() => handle.close());
    return value;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readFile(path, 'utf8');
  }
}

interface LocalUsers {
  readonly hashes: Record<Role, string>;
  readonly created: Partial<Record<Role, string>>;
  readonly migrated: Role[];
}

/** Reads the users file, generating missing users and hashing plain-text passwords (then rewriting it). */
async function openUsers(path: string): Promise<LocalUsers> {
  const reset = `delete ${path} (or one user's entry) and start again for new passwords`;
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '{}';
    throw error;
  });
  let stored: unknown;
  try {
    stored = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON (${(error as Error).message}): ${reset}`);
  }
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored))
    throw new Error(`${path} must be a JSON object of user → password hash: ${reset}`);
  const unknown = Object.keys(stored).filter((name) => !(Roles as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new Error(`${path}: unknown user ${unknown.join(', ')} (the local users are ${Roles.join(', ')})`);
  const entries = stored as Partial<Record<Role, unknown>>;
  const created: Partial<Record<Role, string>> = {};
  const migrated: Role[] = [];
  const hashes = Object.fromEntries(
    await Promise.all(
      Roles.map(async (role): Promise<[Role, string]> => {
        const value = entries[role];
        if (value === undefined) {
          const password = randomBytes(9).toString('base64url');
          created[role] = password;
          return [role, await hashPassword(password)];
        }
        if (typeof value !== 'string' || value === '')
          throw new Error(`${path}: user ${role} must have a non-empty string: ${reset}`);
        if (!isPasswordHash(value)) {
          migrated.push(role);
          return [role, await hashPassword(value)];
        }
        try {
          checkPasswordHash(value);
        } catch (error) {
          throw new Error(`${path}: user ${role}'s hash is unusable (${(error as Error).message}): ${reset}`);
        }
        return [role, value];
      }),
    ),
  ) as Record<Role, string>;
  if (Object.keys(created).length > 0 || migrated.length > 0)
    await writePrivateFile(path, `${JSON.stringify(hashes, null, 2)}\n`);
  return { hashes, created, migrated };
}
