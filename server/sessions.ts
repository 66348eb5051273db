// Sessions: login, the per-request token check, logout. No Koa here.
//
// Every authenticated request looks its token up. The lookup goes to an in-process cache first,
// and every way a session ends (logout, expiry, another session's email change) goes through this
// module, which drops the cache entry in the same step, so a revoked token is refused on the very
// next request. The cache is per process: a second daemon (the PostgreSQL scale-out) will need the
// invalidations broadcast (LISTEN/NOTIFY) before it can keep one.
import { HttpError, invalidInput } from './errors.js';
import { hashPassword, newSessionToken, sha256Hex, verifyPassword } from './secrets.js';
import type { Knex } from 'knex';
import { SESSION_TTL_MS, findUser, toUser, type ServiceDeps } from './services.js';
import { SESSION_TOKEN_PREFIX, type SessionResponse, type User } from './shared/api.js';
import { loginBody, parseBody } from './schemas.js';
import { normalizeEmail } from './shared/rules.js';

interface CachedSession {
  userId: string;
  expiresAt: number;
}

export interface Authenticated {
  user: User;
  tokenHash: string;
}

const MAX_CACHED = 50_000;
// The shape of a real token (prefix + 32 bytes of base64url); anything else is refused without a query.
const TOKEN_SHAPE = new RegExp(`^${SESSION_TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`);

export class SessionStore {
  private readonly sessions = new Map<string, CachedSession>();
  private readonly users = new Map<string, User>();
  /** A hash bcrypt compares unknown emails against, so they cost the same as a wrong password. */
  private readonly decoyHash: Promise<string>;

  constructor(private readonly deps: ServiceDeps) {
    this.decoyHash = hashPassword('decoy password for unknown emails', deps.bcryptCost);
  }

  async login(body: unknown, address: string): Promise<SessionResponse> {
    const parsed = parseBody(loginBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { email, password } = parsed.value;
    const emailKey = normalizeEmail(email);
    const { throttle, db, clock } = this.deps;
    await throttle.checkLogin(emailKey, address);

    const row = await findUser(db, { emailKey });
    const matches = await verifyPassword(password, row?.password_hash ?? (await this.decoyHash));
    if (!row || !matches) {
      await throttle.loginFailed(emailKey, address);
      throw new HttpError(401, 'invalid_credentials', 'Email or password is not right.');
    }
    await throttle.loginSucceeded(emailKey, address);
    if (row.email_verified_at === null) {
      throw new HttpError(403, 'email_not_verified', 'Verify your email first: paste the token from the email into `taskmaster verify`.');
    }

    const token = newSessionToken(this.deps.random);
    const now = clock();
    const expiresAt = now + SESSION_TTL_MS;
    await db.knex('sessions').insert({ user_id: row.id, token_hash: sha256Hex(token), created_at: now, expires_at: expiresAt });
    return { token, expiresAt: new Date(expiresAt).toISOString(), user: toUser(row) };
  }

  /** The user behind an `Authorization: Bearer` header, or 401. */
  async authenticate(authorization: string | undefined): Promise<Authenticated> {
    const token = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
    if (!token) throw unauthenticated('Log in first: send Authorization: Bearer <token>.');
    if (!TOKEN_SHAPE.test(token)) throw unauthenticated('This session token is not valid. Log in again.');
    const tokenHash = sha256Hex(token);
    const session = this.sessions.get(tokenHash) ?? (await this.loadSession(tokenHash));
    if (!session) throw unauthenticated('This session has ended. Log in again.');
    if (session.expiresAt <= this.deps.clock()) {
      await this.revoke(tokenHash);
      throw unauthenticated('This session has expired. Log in again.');
    }
    const user = this.users.get(session.userId) ?? (await this.loadUser(session.userId));
    if (!user) throw unauthenticated('This account no longer exists.');
    return { user, tokenHash };
  }

  /** Ends one session: the row and the cache entry go together. */
  async revoke(tokenHash: string): Promise<void> {
    this.sessions.delete(tokenHash);
    await this.deps.db.knex('sessions').where('token_hash', tokenHash).delete();
  }

  /** After a change to the user row, the next request reads it again. */
  forgetUser(userId: string): void {
    this.users.delete(userId);
  }

  /**
   * Ends every session of the user but one, inside the caller's transaction. The cache entries go
   * at once: should the transaction roll back, they are only read again from the database.
   */
  async endOtherSessions(trx: Knex.Transaction, userId: string, keepTokenHash: string): Promise<void> {
    for (const [hash, session] of this.sessions) {
      if (session.userId === userId && hash !== keepTokenHash) this.sessions.delete(hash);
    }
    await trx('sessions').where('user_id', userId).whereNot('token_hash', keepTokenHash).delete();
  }

  /** Deletes expired sessions; run now and then so the table does not grow forever. */
  async deleteExpired(): Promise<number> {
    const now = this.deps.clock();
    for (const [hash, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(hash);
    return this.deps.db.knex('sessions').where('expires_at', '<=', now).delete();
  }

  private async loadSession(tokenHash: string): Promise<CachedSession | undefined> {
    const row = await this.deps.db.knex('sessions').select('user_id', 'expires_at').where('token_hash', tokenHash).first();
    if (!row) return undefined;
    const session = { userId: String(row.user_id), expiresAt: Number(row.expires_at) };
    remember(this.sessions, tokenHash, session);
    return session;
  }

  private async loadUser(userId: string): Promise<User | undefined> {
    const row = await findUser(this.deps.db, { id: userId });
    if (!row) return undefined;
    const user = toUser(row);
    remember(this.users, userId, user);
    return user;
  }
}

/** Insertion-ordered Map as a simple bounded cache: the oldest entry goes first. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= MAX_CACHED) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(key, value);
}

function unauthenticated(detail: string): HttpError {
  return new HttpError(401, 'unauthenticated', detail, undefined, { 'WWW-Authenticate': 'Bearer' });
}

