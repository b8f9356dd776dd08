/**
 * Local sign-in passwords at rest (`.clover/local-users.json`): scrypt from node:crypto with a random
 * 16-byte salt, stored as `scrypt$N$r$p$<salt>$<hash>` (base64url), so a later release can raise the
 * parameters and still verify what an older one stored.
 *
 * N=2^14, r=8, p=1 (16 MiB, ~0.1 s a hash on one core here) is scrypt's author's setting for
 * interactive logins; the passwords it protects are generated with 72 random bits, so the hash
 * keeps a leaked file from being a sign-in, not a guessable password from being guessed.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const SCHEME = 'scrypt';
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const PARAMS = { N: 2 ** 14, r: 8, p: 1 } as const;
/** Bounds a stored hash's parameters must keep (a hand-edited file cannot ask for gigabytes). */
const LIMITS = { N: 2 ** 20, r: 32, p: 16 } as const;

interface ScryptHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

const scryptAsync = promisify<string, Buffer, number, ScryptOptions, Buffer>(scrypt);

function derive(password: string, salt: Buffer, params: Omit<ScryptHash, 'salt' | 'hash'>, bytes: number) {
  const { N, r, p } = params;
  // scrypt needs ~128·N·r bytes; Node refuses above `maxmem` (32 MiB by default).
  return scryptAsync(password.normalize('NFC'), salt, bytes, { N, r, p, maxmem: 256 * N * r });
}

/** `scrypt$N$r$p$salt$hash` for `password`, with a fresh random salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, PARAMS, KEY_BYTES);
  return [SCHEME, PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), hash.toString('base64url')].join(
    '$',
  );
}

/** Whether `value` is in the stored form (anything else in the users file is a plain-text password). */
export function isPasswordHash(value: string): boolean {
  return value.startsWith(`${SCHEME}$`);
}

/** The parts of a stored hash; throws saying what is wrong with it. */
function parse(stored: string): ScryptHash {
  const parts = stored.split('$');
  const [scheme, n, r, p, salt, hash] = parts;
  const int = (text: string | undefined) => (text && /^\d+$/.test(text) ? Number(text) : Number.NaN);
  const params = { N: int(n), r: int(r), p: int(p) };
  if (parts.length !== 6 || scheme !== SCHEME || !salt || !hash)
    throw new Error('not of the form scrypt$N$r$p$salt$hash');
  if (!(params.N > 1 && params.N <= LIMITS.N && (params.N & (params.N - 1)) === 0))
    throw new Error(`N must be a power of 2 up to ${LIMITS.N}`);
  if (!(params.r >= 1 && params.r <= LIMITS.r)) throw new Error(`r must be 1 to ${LIMITS.r}`);
  if (!(params.p >= 1 && params.p <= LIMITS.p)) throw new Error(`p must be 1 to ${LIMITS.p}`);
  const key = Buffer.from(hash, 'base64url');
  if (key.length < 16) throw new Error('the hash is shorter than 16 bytes');
  return { ...params, salt: Buffer.from(salt, 'base64url'), hash: key };
}

/** Throws (saying why) when `stored` is not a hash `verifyPassword` can check. */
export function checkPasswordHash(stored: string): void {
  parse(stored);
}

// An unknown user's password is checked against this, so a sign-in takes as long whether the name
// exists or not. Its key matches no password (it is not derived from one).
const DUMMY: ScryptHash = { ...PARAMS, salt: randomBytes(SALT_BYTES), hash: randomBytes(KEY_BYTES) };

/**
 * Whether `password` is the one `stored` was made from, compared in constant time; `undefined`
 * (no such user) costs the same work and is false.
 */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  const expected = stored === undefined ? DUMMY : parse(stored);
  const actual = await derive(password, expected.salt, expected, expected.hash.length);
  return timingSafeEqual(actual, expected.hash) && stored !== undefined;
}
