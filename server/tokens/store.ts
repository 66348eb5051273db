// Access tokens for scripts and CI: the access_tokens table (the one module that reads and writes
// it), the per-request check, creation, listing, revocation, and the mail 7 days before expiry.
// No Koa here.
//
// State: tokens live in the database; each daemon caches token → token row in front of it
// (cache.ts rules: 5 s at most, only while invalidations arrive). Revocation, a password reset and
// account deletion publish on the invalidation channel inside their transaction (`token:<hash>`,
// `user:<id>`), so every daemon drops the entry at commit; expiry is checked on every request.
import { randomInt, randomUUID } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { Knex } from 'knex';
import { isUniqueViolation } from '../../db/connection.js';
import { recordEvent, type RequestInfo } from '../activity/events.js';
import { findUser } from '../accounts/users.js';
import type { ServiceDeps } from '../core/deps.js';
import { HttpError, invalidInput } from '../core/errors.js';
import { sha256Hex } from '../core/secrets.js';
import { parseBody } from '../core/validation.js';
import { reauthenticate, type CodeVerifier } from '../login/reauthenticate.js';
import { enqueueMail } from '../mail/outbox.js';
import { CredentialCache } from '../sessions/cache.js';
import type { Authenticated, SessionStore } from '../sessions/store.js';
import { ACCESS_TOKEN_LENGTH, isWellFormedAccessToken, newAccessToken, tokenPrefix, type Scope } from '../contract/access-tokens.js';
import type { AccessTokenInfo, CreatedAccessToken, Credential, User } from '../contract/api.js';
import { tokenCreatedMail, tokenExpiringMail } from './mails.js';
import { createTokenBody } from './schemas.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The "expires soon" mail goes this long before the expiry, to tokens that lived longer than that. */
export const EXPIRY_NOTICE_MS = 7 * DAY_MS;
/** Expired tokens stay listed (marked expired) this long, then go: they do not vanish from view at once. */
const EXPIRED_KEPT_MS = 30 * DAY_MS;
/** `last_used_at` is written at most this often per token, so the hot path stays a cache hit. */
const LAST_USED_GRANULARITY_MS = 60_000;

/** What a request made with an access token may do, as GET /v1/me tells it. */
export interface AccessTokenCredential {
  type: 'access_token';
  id: string;
  name: string;
  scopes: Scope[];
  expiresAt: number;
  tokenHash: string;
  /** What GET /v1/me says of it, built once per cached entry (the hot path only copies a reference). */
  described: Credential;
}

interface CachedToken {
  userId: string;
  /** Built once per entry: every request with the token answers with this same object. */
  credential: AccessTokenCredential;
  /** Parsed once: the address check runs from memory. */
  ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] | undefined;
  /** The last address that passed the check: the same client's next request skips the parse. */
  lastAllowedAddress: string | undefined;
  expiresAt: number;
  lastUsedAt: number;
}

interface TokenRow {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  prefix: string;
  scopes: string;
  allowed_cidrs: string | null;
  created_at: number | string;
  expires_at: number | string;
  last_used_at: number | string | null;
  last_used_address: string | null;
}

function unauthenticated(detail: string): HttpError {
  return new HttpError(401, 'unauthenticated', detail, undefined, { 'WWW-Authenticate': 'Bearer' });
}

/** A client address as written in a CIDR check: IPv4-mapped IPv6 (::ffff:203.0.113.7) as the IPv4 it is. */
function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  try {
    return ipaddr.process(address);
  } catch {
    return undefined;
  }
}

export class AccessTokens {
  private readonly cache: CredentialCache<CachedToken>;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly sessions: SessionStore,
    private readonly codes: CodeVerifier,
  ) {
    this.cache = new CredentialCache(deps.clock, deps.invalidations, deps.metrics?.cache('access_tokens'));
    deps.invalidations.subscribe({
      message: (payload) => {
        if (payload.startsWith('token:')) this.cache.delete(payload.slice('token:'.length));
        else if (payload.startsWith('user:')) this.forgetUser(payload.slice('user:'.length));
      },
      reset: () => this.cache.clear(),
    });
  }

  /** The user and credential behind an access token used from `address`; 401 or 403 otherwise. */
  async authenticate(token: string, address: string): Promise<{ user: User; credential: AccessTokenCredential }> {
    // A token seen within the cache's life had its checksum checked then; otherwise the checksum
    // refuses a typo or a made-up token without a query.
    const tokenHash = token.length === ACCESS_TOKEN_LENGTH ? sha256Hex(token) : '';
    let cached = tokenHash ? this.cache.hit(tokenHash) : undefined;
    if (!cached) {
      if (!isWellFormedAccessToken(token)) throw unauthenticated('This access token is not valid: check that it was copied whole.');
      cached = await this.cache.through(tokenHash, () => this.load(tokenHash));
    }
    if (!cached) throw unauthenticated('This access token was revoked or never existed. Create a new one with `taskmaster token create`.');
    const now = this.deps.clock();
    if (cached.expiresAt <= now) throw unauthenticated('This access token has expired. Create a new one with `taskmaster token create`.');
    if (cached.ranges && address !== cached.lastAllowedAddress) {
      const client = parseAddress(address);
      if (!(client && cached.ranges.some((range) => client.kind() === range[0].kind() && client.match(range)))) {
        throw new HttpError(403, 'address_not_allowed', `This access token may not be used from ${address}: it is restricted to other addresses.`);
      }
      cached.lastAllowedAddress = address;
    }
    const user = await this.sessions.activeUser(cached.userId);
    if (now - cached.lastUsedAt >= LAST_USED_GRANULARITY_MS) {
      cached.lastUsedAt = now;
      // Each daemon caches its own copy: the condition keeps it to one write a minute across all of them.
      await this.deps.db
        .knex('access_tokens')
        .where('token_hash', tokenHash)
        .where((stale) => stale.whereNull('last_used_at').orWhere('last_used_at', '<=', now - LAST_USED_GRANULARITY_MS))
        .update({ last_used_at: now, last_used_address: address.slice(0, 64) });
    }
    return { user, credential: cached.credential };
  }

  /**
   * A new token for the signed-in user, after the password again (a session alone, or a stolen
   * one, cannot mint tokens). The name is unique among the account's live tokens: an expired
   * token of the same name is replaced. A notice mail goes out in the same transaction.
   */
  async create(auth: Authenticated, body: unknown, request: RequestInfo): Promise<CreatedAccessToken> {
    const parsed = parseBody(createTokenBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { name, scopes, expiresInDays, allowedCidrs, currentPassword, code } = parsed.value;
    const { db, throttle, clock } = this.deps;
    const row = await findUser(db, { id: auth.user.id });
    if (!row) throw unauthenticated('Your account no longer exists.');
    if ((await reauthenticate({ throttle, codes: this.codes, db, clock }, row, { currentPassword, code }, request)) === 'wrong_password') {
      throw new HttpError(403, 'wrong_password', 'The current password is not right; no token was created.', { currentPassword: 'The current password is not right.' });
    }
    const now = clock();
    const token = newAccessToken(randomInt);
    const stored = {
      id: randomUUID(),
      user_id: row.id,
      name,
      token_hash: sha256Hex(token),
      prefix: tokenPrefix(token),
      scopes: [...new Set(scopes)].join(' '),
      allowed_cidrs: allowedCidrs && allowedCidrs.length > 0 ? allowedCidrs.join(' ') : null,
      created_at: now,
      expires_at: now + expiresInDays * DAY_MS,
      last_used_at: null,
      last_used_address: null,
    };
    const mail = tokenCreatedMail({ username: row.username, name, scopes: stored.scopes.split(' '), expiresAt: stored.expires_at, address: request.address, allowedCidrs: allowedCidrs ?? [], supportEmail: this.deps.supportEmail });
    try {
      await db.knex.transaction(async (trx) => {
        const taken = await trx('access_tokens').where({ user_id: row.id, name }).first('id', 'expires_at', 'token_hash');
        if (taken && Number(taken.expires_at) > now) throw nameTaken(name);
        if (taken) await this.endToken(trx, String(taken.token_hash));
        await trx('access_tokens').insert(stored);
        await recordEvent(trx, row.id, 'token_created', request, now);
        await enqueueMail(trx, 'token_created', row.email, mail, now);
      });
    } catch (error) {
      if (isUniqueViolation(db, error, 'name')) throw nameTaken(name); // created meanwhile on another daemon
      throw error;
    }
    this.deps.mailQueued();
    return { token, accessToken: toInfo(stored) };
  }

  /** The user's tokens, newest first, expired ones too (for 30 days, marked by their expiresAt). */
  async list(userId: string): Promise<AccessTokenInfo[]> {
    const rows: TokenRow[] = await this.deps.db
      .knex('access_tokens')
      .where('user_id', userId)
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ]);
    return rows.map(toInfo);
  }

  /** Revokes one of the user's tokens by id; another user's id is as unknown as a made-up one. */
  async revoke(userId: string, id: string, request: RequestInfo): Promise<void> {
    const ended = await this.deps.db.knex.transaction(async (trx) => {
      const row = await trx('access_tokens').where({ user_id: userId, id }).first('token_hash');
      if (!row) return false;
      await this.endToken(trx, String(row.token_hash));
      await recordEvent(trx, userId, 'token_revoked', request, this.deps.clock());
      return true;
    });
    if (!ended) throw new HttpError(404, 'not_found', 'No access token of yours has this id. List them with `taskmaster token list`.');
    await this.deps.invalidations.settle();
  }

  /** `DELETE /v1/sessions/current` with an access token: the token ends itself. */
  async revokeItself(userId: string, credential: AccessTokenCredential, request: RequestInfo): Promise<void> {
    await this.deps.db.knex.transaction(async (trx) => {
      if (await this.endToken(trx, credential.tokenHash)) await recordEvent(trx, userId, 'token_revoked', request, this.deps.clock());
    });
    await this.deps.invalidations.settle();
  }

  /** Ends every token of the user, inside the caller's transaction (password reset, account deletion); how many. */
  async endUserTokens(trx: Knex.Transaction, userId: string): Promise<number> {
    this.forgetUser(userId);
    const ended = await trx('access_tokens').where('user_id', userId).delete();
    await this.deps.invalidations.publish(trx, `user:${userId}`);
    return ended;
  }

  /**
   * Queues the "expires in 7 days" mail for every token entering its last 7 days (that lived longer
   * than that). Each token is claimed with a conditional update in the mail's transaction, so of
   * several daemons running this at once exactly one sends it. Returns how many it queued.
   */
  async noticeExpiring(): Promise<number> {
    const now = this.deps.clock();
    const due: TokenRow[] = await this.deps.db
      .knex('access_tokens')
      .whereNull('expiry_notice_at')
      .where('expires_at', '>', now)
      .where('expires_at', '<=', now + EXPIRY_NOTICE_MS)
      .whereRaw('expires_at - created_at > ?', [EXPIRY_NOTICE_MS]);
    let queued = 0;
    for (const token of due) {
      const owner = await findUser(this.deps.db, { id: token.user_id });
      if (!owner) continue;
      const mail = tokenExpiringMail({ username: owner.username, name: token.name, expiresAt: Number(token.expires_at), lastUsedAt: token.last_used_at === null ? null : Number(token.last_used_at) });
      const claimed = await this.deps.db.knex.transaction(async (trx) => {
        const won = await trx('access_tokens').where('id', token.id).whereNull('expiry_notice_at').update({ expiry_notice_at: now });
        if (won === 0) return false; // another daemon sent it
        await enqueueMail(trx, 'token_expiring', owner.email, mail, now);
        return true;
      });
      if (claimed) queued++;
    }
    if (queued > 0) this.deps.mailQueued();
    return queued;
  }

  /** Deletes tokens expired over 30 days ago; run with the hourly sweep. */
  deleteExpired(): Promise<number> {
    return this.deps.db.knex('access_tokens').where('expires_at', '<=', this.deps.clock() - EXPIRED_KEPT_MS).delete();
  }

  /** One token ends: its row, this daemon's entry, and every other daemon's at commit. */
  private async endToken(trx: Knex.Transaction, tokenHash: string): Promise<boolean> {
    this.cache.delete(tokenHash);
    const deleted = await trx('access_tokens').where('token_hash', tokenHash).delete();
    if (deleted > 0) await this.deps.invalidations.publish(trx, `token:${tokenHash}`);
    return deleted > 0;
  }

  private forgetUser(userId: string): void {
    this.cache.deleteWhere((token) => token.userId === userId);
  }

  private async load(tokenHash: string): Promise<CachedToken | undefined> {
    const row: TokenRow | undefined = await this.deps.db.knex('access_tokens').where('token_hash', tokenHash).first();
    if (!row) return undefined;
    const scopes = row.scopes.split(' ') as Scope[];
    const expiresAt = Number(row.expires_at);
    const described: Credential = { type: 'access_token', id: row.id, name: row.name, scopes, expiresAt: new Date(expiresAt).toISOString() };
    return {
      userId: row.user_id,
      credential: { type: 'access_token', id: row.id, name: row.name, scopes, expiresAt, tokenHash, described },
      ranges: row.allowed_cidrs ? row.allowed_cidrs.split(' ').map((cidr) => ipaddr.parseCIDR(cidr)) : undefined,
      lastAllowedAddress: undefined,
      expiresAt,
      lastUsedAt: Number(row.last_used_at ?? 0),
    };
  }
}

function nameTaken(name: string): HttpError {
  return invalidInput({ name: `You already have a token named "${name}": revoke it first, or choose another name.` });
}

function toInfo(row: Omit<TokenRow, 'token_hash'> & { token_hash?: string }): AccessTokenInfo {
  const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.split(' ') as Scope[],
    createdAt: iso(row.created_at)!,
    expiresAt: iso(row.expires_at)!,
    lastUsedAt: iso(row.last_used_at),
    lastUsedAddress: row.last_used_address,
    allowedCidrs: row.allowed_cidrs ? row.allowed_cidrs.split(' ') : null,
    prefix: row.prefix,
  };
}

