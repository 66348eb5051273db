// The sessions table (the one module that reads and writes it): a new session, the per-request
// token check, the list, logout and revocation. No Koa here. (Logging in, which asks for the
// factors before a session starts, is server/login/.)
//
// State: sessions live in the database. Each daemon keeps a cache of token → session and
// id → user in front of it, for the /v1/me hot path. Invalidation, written here next to the cache:
// - every way a session ends or a user changes goes through this module, which drops the local
//   entry at once and publishes the change on the invalidation channel (PostgreSQL NOTIFY, sent at
//   commit), so every other daemon drops it too;
// - an entry lives at most CACHE_TTL_MS, so a lost notification is bounded;
// - while the channel is not live (the listening connection is down) the cache is not used at
//   all, and it is emptied whenever that connection is lost or comes back (cache.ts).
import type { Knex } from 'knex';
import { HttpError } from '../core/errors.js';
import { randomUUID } from 'node:crypto';
import { recordEvent, storedUserAgent, type RequestInfo } from '../activity/events.js';
import type { ServiceDeps } from '../core/deps.js';
import { newSessionToken, sha256Hex } from '../core/secrets.js';
import { accountDisabled, findUser, isDisabled, toUser } from '../accounts/users.js';
import { SESSION_TOKEN_PREFIX, type SessionInfo, type User } from '../contract/api.js';
import { CACHE_TTL_MS, CredentialCache } from './cache.js';

interface CachedSession {
  userId: string;
  publicId: string;
  expiresAt: number;
  lastUsedAt: number;
}

export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;
export { CACHE_TTL_MS };

export interface Authenticated {
  user: User;
  tokenHash: string;
  /** The session's public id (as `GET /v1/sessions` lists it). */
  sessionId: string;
}

export type RevokeScope = 'others' | 'all';

/** `last_used_at` is written at most this often per session, so the hot path stays a cache hit. */
const LAST_USED_GRANULARITY_MS = 60_000;

// The shape of a real token (prefix + 32 bytes of base64url); anything else is refused without a query.
const TOKEN_SHAPE = new RegExp(`^${SESSION_TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`);

export class SessionStore {
  private readonly sessions: CredentialCache<CachedSession>;
  /** The account and whether an operator disabled it (every credential of a disabled account is refused). */
  private readonly users: CredentialCache<{ user: User; disabled: boolean }>;

  constructor(private readonly deps: ServiceDeps) {
    this.sessions = new CredentialCache(deps.clock, deps.invalidations, deps.metrics?.cache('sessions'));
    this.users = new CredentialCache(deps.clock, deps.invalidations, deps.metrics?.cache('users'));
    deps.invalidations.subscribe({ message: (payload) => this.invalidated(payload), reset: () => this.dropCaches() });
  }

  /** The user behind a session token, or 401. */
  async authenticate(token: string): Promise<Authenticated> {
    if (!TOKEN_SHAPE.test(token)) throw unauthenticated('This session token is not valid. Log in again.');
    const tokenHash = sha256Hex(token);
    const session = await this.sessions.through(tokenHash, () => this.loadSession(tokenHash));
    if (!session) throw unauthenticated('This session has ended. Log in again.');
    if (session.expiresAt <= this.deps.clock()) {
      await this.revoke(tokenHash);
      throw unauthenticated('This session has expired. Log in again.');
    }
    const user = await this.activeUser(session.userId);
    const now = this.deps.clock();
    if (now - session.lastUsedAt >= LAST_USED_GRANULARITY_MS) {
      session.lastUsedAt = now;
      // Each daemon caches its own copy: the condition keeps it to one write a minute across all of them.
      await this.deps.db
        .knex('sessions')
        .where('token_hash', tokenHash)
        .where((stale) => stale.whereNull('last_used_at').orWhere('last_used_at', '<=', now - LAST_USED_GRANULARITY_MS))
        .update({ last_used_at: now });
    }
    return { user, tokenHash, sessionId: session.publicId };
  }

  /**
   * A new session for the user, inside the caller's transaction (the login's, with its event).
   * The caches learn of it when it is first used.
   */
  async startSession(trx: Knex.Transaction, userId: string, request: RequestInfo, now: number): Promise<{ token: string; expiresAt: number }> {
    const token = newSessionToken(this.deps.random);
    const expiresAt = now + SESSION_TTL_MS;
    await trx('sessions').insert({
      user_id: userId,
      token_hash: sha256Hex(token),
      public_id: randomUUID(),
      created_at: now,
      last_used_at: now,
      expires_at: expiresAt,
      address: request.address.slice(0, 64),
      user_agent: storedUserAgent(request.userAgent),
    });
    return { token, expiresAt };
  }

  /** When the calling session signed in (its `created_at`), for what needs a recent sign-in (adding a passkey); undefined when it ended. */
  async signedInAt(auth: Pick<Authenticated, 'tokenHash'>): Promise<number | undefined> {
    const row = await this.deps.db.knex('sessions').where('token_hash', auth.tokenHash).first('created_at');
    return row ? Number(row.created_at) : undefined;
  }

  /** Logout: ends the calling session and records it. */
  async logout(auth: Authenticated, request: RequestInfo): Promise<void> {
    await this.deps.db.knex.transaction(async (trx) => {
      if (await this.endSession(trx, auth.tokenHash)) await recordEvent(trx, auth.user.id, 'logout', request, this.deps.clock());
    });
    await this.deps.invalidations.settle();
  }

  /** The user's live sessions, newest first, the caller's marked. */
  async list(auth: { user: User; tokenHash: string }): Promise<SessionInfo[]> {
    const now = this.deps.clock();
    const rows = await this.deps.db
      .knex('sessions')
      .select('token_hash', 'public_id', 'created_at', 'last_used_at', 'expires_at', 'address', 'user_agent')
      .where('user_id', auth.user.id)
      .where('expires_at', '>', now)
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ]);
    const iso = (ms: unknown) => new Date(Number(ms)).toISOString();
    return rows.map((row) => ({
      id: String(row.public_id),
      current: row.token_hash === auth.tokenHash,
      createdAt: iso(row.created_at),
      lastUsedAt: iso(row.token_hash === auth.tokenHash ? Math.max(Number(row.last_used_at ?? row.created_at), now) : (row.last_used_at ?? row.created_at)),
      expiresAt: iso(row.expires_at),
      address: row.address ?? null,
      userAgent: row.user_agent ?? null,
    }));
  }

  /** Whether the user's session with this public id still lives (in `trx`, for a decision that depends on it). */
  async isLive(trx: Knex.Transaction, userId: string, publicId: string, now: number): Promise<boolean> {
    if (!publicId) return false;
    const row = await trx('sessions').where({ user_id: userId, public_id: publicId }).where('expires_at', '>', now).first('id');
    return row !== undefined;
  }

  /** Ends one of the user's sessions by its public id; another user's id is as unknown as a made-up one. */
  async revokeById(userId: string, publicId: string, request: RequestInfo): Promise<void> {
    const ended = await this.deps.db.knex.transaction(async (trx) => {
      const row = await trx('sessions').where({ user_id: userId, public_id: publicId }).first('id', 'token_hash');
      if (!row) return false;
      await this.endSession(trx, String(row.token_hash));
      await recordEvent(trx, userId, 'session_revoked', request, this.deps.clock());
      return true;
    });
    if (!ended) throw new HttpError(404, 'not_found', 'No session of yours has this id. List them with `taskmaster sessions`.');
    await this.deps.invalidations.settle();
  }

  /** Ends the user's other sessions, or all of them with the caller's; returns how many ended. */
  async revokeScope(auth: Authenticated, scope: RevokeScope, request: RequestInfo): Promise<number> {
    const revoked = await this.deps.db.knex.transaction(async (trx) => {
      const ended = await this.endUserSessions(trx, auth.user.id, scope === 'others' ? auth.tokenHash : undefined);
      if (ended > 0) await recordEvent(trx, auth.user.id, scope === 'all' ? 'logout' : 'session_revoked', request, this.deps.clock());
      return ended;
    });
    await this.deps.invalidations.settle();
    return revoked;
  }

  /** Ends every session of the user, inside the caller's transaction (password reset, account deletion). */
  endAllSessions(trx: Knex.Transaction, userId: string): Promise<number> {
    return this.endUserSessions(trx, userId);
  }

  /** Ends one session: the row, this daemon's cache entry and every other daemon's go together. */
  async revoke(tokenHash: string): Promise<void> {
    await this.deps.db.knex.transaction((trx) => this.endSession(trx, tokenHash));
  }

  /**
   * The one way a session ends: this daemon's cache entry goes at once (should the transaction
   * roll back, it is only read again), the row goes in `trx`, and the other daemons hear of it at
   * commit. True when there was such a session.
   */
  private async endSession(trx: Knex.Transaction, tokenHash: string): Promise<boolean> {
    this.sessions.delete(tokenHash);
    const deleted = await trx('sessions').where('token_hash', tokenHash).delete();
    if (deleted > 0) await this.deps.invalidations.publish(trx, `session:${tokenHash}`);
    return deleted > 0;
  }

  /** The same for all the user's sessions, or all but `keepTokenHash`; how many ended. */
  private async endUserSessions(trx: Knex.Transaction, userId: string, keepTokenHash?: string): Promise<number> {
    this.dropUser(userId);
    const query = trx('sessions').where('user_id', userId);
    const ended = await (keepTokenHash === undefined ? query : query.whereNot('token_hash', keepTokenHash)).delete();
    await this.deps.invalidations.publish(trx, `user:${userId}`);
    return ended;
  }

  /** After a change to the user row, the next request on any daemon reads it again. */
  async forgetUser(userId: string, trx: Knex | Knex.Transaction = this.deps.db.knex): Promise<void> {
    this.dropUser(userId);
    await this.deps.invalidations.publish(trx, `user:${userId}`);
  }

  /**
   * The account behind a credential, for every credential's check: 401 when it is gone, 403
   * account_disabled while an operator has it disabled (disabling ends its credentials too; this
   * also refuses one that a login racing the disable started).
   */
  async activeUser(userId: string): Promise<User> {
    const cached = await this.cachedUser(userId);
    if (!cached) throw unauthenticated('This account no longer exists.');
    if (cached.disabled) throw accountDisabled();
    return cached.user;
  }

  private cachedUser(userId: string): Promise<{ user: User; disabled: boolean } | undefined> {
    return this.users.through(userId, async () => {
      const row = await findUser(this.deps.db, { id: userId });
      return row ? { user: toUser(row), disabled: isDisabled(row) } : undefined;
    });
  }

  /** A message from the invalidation channel (see the top of this file). */
  private invalidated(payload: string): void {
    const [kind, key] = [payload.slice(0, payload.indexOf(':')), payload.slice(payload.indexOf(':') + 1)];
    if (kind === 'session') this.sessions.delete(key);
    else if (kind === 'user') this.dropUser(key);
  }

  /** Forgets everything cached (the channel may have missed messages). */
  private dropCaches(): void {
    this.sessions.clear();
    this.users.clear();
  }

  /**
   * Ends every session of the user but one, inside the caller's transaction. The cache entries go
   * at once: should the transaction roll back, they are only read again from the database.
   */
  endOtherSessions(trx: Knex.Transaction, userId: string, keepTokenHash: string): Promise<number> {
    return this.endUserSessions(trx, userId, keepTokenHash);
  }

  /** Deletes expired sessions; run now and then so the table does not grow forever. */
  async deleteExpired(): Promise<number> {
    const now = this.deps.clock();
    this.sessions.deleteWhere((session) => session.expiresAt <= now);
    return this.deps.db.knex('sessions').where('expires_at', '<=', now).delete();
  }

  /** The user's cached user row and sessions go (their sessions are read again on next use). */
  private dropUser(userId: string): void {
    this.users.delete(userId);
    this.sessions.deleteWhere((session) => session.userId === userId);
  }

  private async loadSession(tokenHash: string): Promise<CachedSession | undefined> {
    const row = await this.deps.db.knex('sessions').select('user_id', 'public_id', 'expires_at', 'last_used_at', 'created_at').where('token_hash', tokenHash).first();
    if (!row) return undefined;
    return {
      userId: String(row.user_id),
      publicId: String(row.public_id),
      expiresAt: Number(row.expires_at),
      lastUsedAt: Number(row.last_used_at ?? row.created_at),
    };
  }
}

function unauthenticated(detail: string): HttpError {
  return new HttpError(401, 'unauthenticated', detail, undefined, { 'WWW-Authenticate': 'Bearer' });
}

