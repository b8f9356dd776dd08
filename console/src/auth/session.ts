/**
 * The signed-in session: a bearer token and when it expires, kept in sessionStorage so a reload keeps
 * the user signed in but a closed tab does not. A small external store (subscribe/snapshot) so the API
 * client, which lives outside React, and the components read the same value.
 */
export interface Session {
  readonly token: string;
  /** Epoch ms; the token is dropped a little before it. */
  readonly expiresAt: number;
  /**
   * Cognito sessions hold a refresh token (oidc-client-ts keeps it): past `expiresAt` the session
   * stays, and the authenticator trades the refresh token for a new access token before the next call.
   */
  readonly renewable?: boolean;
}

const KEY = 'clover.session';
const SKEW_MS = 10_000;

export class SessionStore {
  private session: Session | undefined;
  private readonly listeners = new Set<() => void>();
  /** True after the API refused the token, until the next sign-in. */
  lost = false;

  constructor(private readonly storage: Storage = sessionStorage) {
    try {
      const raw = storage.getItem(KEY);
      const parsed = raw ? (JSON.parse(raw) as Session) : undefined;
      if (
        parsed &&
        typeof parsed.token === 'string' &&
        (parsed.renewable || parsed.expiresAt > Date.now() + SKEW_MS)
      ) {
        this.session = parsed;
      }
    } catch {
      storage.removeItem(KEY);
    }
  }

  get = (): Session | undefined => {
    if (this.session && !this.session.renewable && this.expired(this.session)) this.clear(true);
    return this.session;
  };

  /** The bearer token while it is valid; undefined without a session or once it has expired. */
  token = (): string | undefined => {
    const session = this.get();
    return session && !this.expired(session) ? session.token : undefined;
  };

  private expired(session: Session): boolean {
    return session.expiresAt <= Date.now() + SKEW_MS;
  }

  set(session: Session): void {
    this.session = session;
    this.lost = false;
    this.storage.setItem(KEY, JSON.stringify(session));
    this.emit();
  }

  /** `lost`: the session ended on its own (expired or refused), as opposed to signing out. */
  clear(lost = false): void {
    if (!this.session) return;
    this.session = undefined;
    this.lost = lost;
    this.storage.removeItem(KEY);
    this.emit();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}
