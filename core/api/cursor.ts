import { createHash } from 'node:crypto';
import { InvalidCursorError } from '../errors';

/**
 * Where a paged read stopped: the segment it was reading (a UTC day for time-window walks, `all`
 * otherwise) and the key of the last item it handed out (absent: the segment's start).
 */
export interface Position {
  readonly segment: string;
  readonly key?: Readonly<Record<string, string | number>>;
}

/** What a cursor carries besides the position: values the first page resolved (a default window's end). */
export type CursorState = Readonly<Record<string, string | number>>;

interface CursorBody {
  /** Fingerprint of the query that handed it out. */
  readonly q: string;
  readonly p: Position;
  readonly s: CursorState;
}

/**
 * A cursor is opaque to callers: base64url JSON of the position, plus a fingerprint of the query
 * (route and filters). A cursor passed with any other query is refused (INVALID_CURSOR) rather than
 * silently reading the wrong index from a foreign key.
 */
export function encodeCursor(query: unknown, position: Position, state: CursorState = {}): string {
  const body: CursorBody = { q: fingerprint(query), p: position, s: state };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

export function decodeCursor(cursor: string, query: unknown): { position: Position; state: CursorState } {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('is not a cursor this API handed out');
  }
  if (!isCursorBody(body)) throw new InvalidCursorError('is not a cursor this API handed out');
  if (body.q !== fingerprint(query)) {
    throw new InvalidCursorError('belongs to another query; pass it back with the same filters it came with');
  }
  return { position: body.p, state: body.s };
}

function isCursorBody(value: unknown): value is CursorBody {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const p = v.p as Record<string, unknown> | undefined;
  return (
    typeof v.q === 'string' &&
    typeof p === 'object' &&
    p !== null &&
    typeof p.segment === 'string' &&
    (p.key === undefined || isFlat(p.key)) &&
    isFlat(v.s)
  );
}

function isFlat(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x)))
  );
}

function fingerprint(query: unknown): string {
  const canonical = JSON.stringify(query, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)))
      : value,
  );
  return createHash('sha256')
    .update(canonical ?? '')
    .digest('base64url')
    .slice(0, 16);
}
