/**
 * The web console's sessions, held by the API (the backend-for-frontend pattern): the browser gets an opaque,
 * random session id in an HttpOnly cookie, never a token. A session ends at the first of: its absolute lifetime,
 * its idle time, sign-out, or the provider refusing to refresh its access token. Pending sign-ins (state, PKCE
 * verifier, nonce) live here too, for ten minutes.
 *
 * Kept in the API process's memory: a restart or another replica means signing in again (several replicas need
 * cookie affinity at the ingress). Ids are stored only as their SHA-256, so a heap dump holds no usable id.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface ConsoleTokens {
  accessToken: string;
  /** Milliseconds since the epoch. */
  accessTokenExpiresAt: number;
  refreshToken?: string;
  idToken?: string;
}

export interface ConsoleSession {
  /** Sent by the page in `x-csrf-token` with every change; compared with this one. */
  csrfToken: string;
  subject: string;
  tokens: ConsoleTokens;
  createdAt: number;
  lastSeenAt: number;
  /** When it ends at the latest (createdAt + the absolute lifetime). */
  expiresAt: number;
}

export interface PendingSignIn {
  codeVerifier: string;
  nonce: string;
  /** A path under /console/ to return to. */
  returnTo: string;
  createdAt: number;
}

export interface SessionLimits {
  absoluteMs: number;
  idleMs: number;
  /** Sessions kept at most; the least recently seen goes first. */
  maxSessions: number;
  /** Pending sign-ins kept at most (a flood of /console/login must not grow memory without bound). */
  maxPending: number;
}

export const PENDING_SIGN_IN_MS = 10 * 60_000;

const digest = (id: string) => createHash('sha256').update(id).digest('base64url');

/** 256 random bits, URL-safe. */
export const randomToken = () => randomBytes(32).toString('base64url');

export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();
  private readonly pending = new Map<string, PendingSignIn>();

  constructor(
    private readonly limits: SessionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session (a new id: never one the browser brought, so a planted id is worthless). Returns its id. */
  create(subject: string, tokens: ConsoleTokens): { id: string; session: ConsoleSession } {
    const id = randomToken();
    const createdAt = this.now();
    const session: ConsoleSession = {
      csrfToken: randomToken(),
      subject,
      tokens,
      createdAt,
      lastSeenAt: createdAt,
      expiresAt: createdAt + this.limits.absoluteMs,
    };
    this.sessions.set(digest(id), session);
    while (this.sessions.size > this.limits.maxSessions) this.evictLeastRecent();
    return { id, session };
  }

  /** The live session with this id, its idle clock reset; undefined (and forgotten) when it has ended. */
  touch(id: string | undefined): ConsoleSession | undefined {
    if (!id) return undefined;
    const key = digest(id);
    const session = this.sessions.get(key);
    if (!session) return undefined;
    const now = this.now();
    if (now >= session.expiresAt || now - session.lastSeenAt >= this.limits.idleMs) {
      this.sessions.delete(key);
      return undefined;
    }
    session.lastSeenAt = now;
    // Map order is insertion order: re-inserting keeps the least recently seen first, for eviction.
    this.sessions.delete(key);
    this.sessions.set(key, session);
    return session;
  }

  end(id: string | undefined): ConsoleSession | undefined {
    if (!id) return undefined;
    const key = digest(id);
    const session = this.sessions.get(key);
    this.sessions.delete(key);
    return session;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Remembers a sign-in that went to the provider; `state` is what comes back with the code. */
  beginSignIn(state: string, pending: Omit<PendingSignIn, 'createdAt'>): void {
    this.dropExpiredPending();
    this.pending.set(digest(state), { ...pending, createdAt: this.now() });
    while (this.pending.size > this.limits.maxPending) {
      const oldest = this.pending.keys().next().value;
      if (oldest === undefined) break;
      this.pending.delete(oldest);
    }
  }

  /** The pending sign-in for `state`, once: a replayed callback finds nothing. */
  finishSignIn(state: string): PendingSignIn | undefined {
    const key = digest(state);
    const pending = this.pending.get(key);
    this.pending.delete(key);
    if (!pending || this.now() - pending.createdAt >= PENDING_SIGN_IN_MS) return undefined;
    return pending;
  }

  private dropExpiredPending(): void {
    const now = this.now();
    for (const [key, pending] of this.pending) {
      if (now - pending.createdAt < PENDING_SIGN_IN_MS) break; // insertion order: the rest are newer
      this.pending.delete(key);
    }
  }

  private evictLeastRecent(): void {
    const oldest = this.sessions.keys().next().value;
    if (oldest !== undefined) this.sessions.delete(oldest);
  }
}
