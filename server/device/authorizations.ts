// The device authorization grant (RFC 8628) for `taskmaster login --web`; the device_authorizations
// table (the one module that reads and writes it). A terminal asks for a code, the account's owner
// approves it in the browser (signed in, so past every factor), and the terminal's next poll
// exchanges it, once, for a session like a login's. No Koa here.
//
// State: in the database only (every daemon answers any poll). A poll's pacing is one conditional
// UPDATE, so parallel polls on several daemons cannot all slip under the interval.
import { randomInt, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { isUniqueViolation } from '../../db/connection.js';
import { recordEvent, storedUserAgent, type RequestInfo } from '../activity/events.js';
import { findUser, isDisabled, toUser } from '../accounts/users.js';
import type { ServiceDeps } from '../core/deps.js';
import { HttpError } from '../core/errors.js';
import { newDeviceToken, sha256Hex } from '../core/secrets.js';
import { knownDeviceToken, rememberDevice } from '../login/device-tokens.js';
import type { Authenticated, SessionStore } from '../sessions/store.js';
import {
  DEVICE_CLIENT_ID,
  DEVICE_GRANT_TYPE,
  USER_CODE_ALPHABET,
  USER_CODE_LENGTH,
  formatUserCode,
  normalizeUserCode,
  type DeviceCodeResponse,
  type DeviceErrorCode,
  type DeviceTokenResponse,
} from '../contract/device.js';

/** How long a code may wait for its approval (RFC 8628 §3.2 `expires_in`). */
export const DEVICE_CODE_TTL_MS = 15 * 60 * 1000;
/** The first polling interval, in seconds; each slow_down adds SLOW_DOWN_SECONDS (§3.5). */
export const POLL_INTERVAL_SECONDS = 5;
export const SLOW_DOWN_SECONDS = 5;
/** Rows stay this long past their expiry, so a late poll still hears expired_token; the sweep deletes them then. */
const KEPT_AFTER_EXPIRY_MS = 24 * 60 * 60 * 1000;

/** A refusal of the token or code endpoint: an OAuth error body (RFC 6749 §5.2), not problem+json. */
export class DeviceFlowError extends Error {
  constructor(
    readonly error: DeviceErrorCode,
    readonly description: string,
    readonly status = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = 'DeviceFlowError';
  }
}

/** What the approval page shows of a pending request: who asks, from where, when. */
export interface PendingAuthorization {
  userCode: string;
  clientId: string;
  address: string;
  userAgent: string | null;
  createdAt: number;
  expiresAt: number;
}

/** Why a typed user code leads nowhere; all alike to the person typing it. */
export class UnknownUserCode extends Error {
  constructor() {
    super('This code is not valid: it was mistyped, has expired (codes last 15 minutes), or was used already.');
    this.name = 'UnknownUserCode';
  }
}

type Fields = Record<string, unknown>;
const text = (fields: Fields, name: string): string | undefined => (typeof fields[name] === 'string' ? (fields[name] as string) : undefined);

export class DeviceAuthorizations {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly sessions: SessionStore,
  ) {}

  /** `POST /v1/device/code`: a new device code and user code for the CLI (RFC 8628 §3.1–3.2). */
  async start(body: unknown, request: RequestInfo): Promise<DeviceCodeResponse> {
    const fields = (body ?? {}) as Fields;
    if (text(fields, 'client_id') !== DEVICE_CLIENT_ID) throw new DeviceFlowError('invalid_client', `Unknown client_id: this daemon knows only "${DEVICE_CLIENT_ID}".`);
    try {
      await this.deps.throttle.deviceCodeRequested(request.address);
    } catch (error) {
      if (error instanceof HttpError && error.status === 429) throw new DeviceFlowError('rate_limited', error.detail, 429, error.headers);
      throw error;
    }
    const deviceCode = this.deps.random(32); // 256 bits
    const now = this.deps.clock();
    const row = {
      id: randomUUID(),
      device_code_hash: sha256Hex(deviceCode),
      client_id: DEVICE_CLIENT_ID,
      address: request.address.slice(0, 64),
      user_agent: storedUserAgent(request.userAgent),
      created_at: now,
      expires_at: now + DEVICE_CODE_TTL_MS,
      status: 'pending',
      interval_seconds: POLL_INTERVAL_SECONDS,
    };
    // 20^8 ≈ 2.6 × 10^10 codes: a clash with a kept row is rare, and another draw settles it.
    for (let attempt = 0; ; attempt++) {
      const userCode = newUserCode();
      try {
        await this.deps.db.knex('device_authorizations').insert({ ...row, user_code: userCode });
        const verificationUri = `${this.deps.publicUrl()}/device`;
        return {
          device_code: deviceCode,
          user_code: formatUserCode(userCode),
          verification_uri: verificationUri,
          verification_uri_complete: `${verificationUri}?user_code=${formatUserCode(userCode)}`,
          expires_in: DEVICE_CODE_TTL_MS / 1000,
          interval: POLL_INTERVAL_SECONDS,
        };
      } catch (error) {
        if (attempt >= 4 || !isUniqueViolation(this.deps.db, error, 'user_code')) throw error;
      }
    }
  }

  /**
   * `POST /v1/device/token` (RFC 8628 §3.4–3.5): pending, too soon (slow_down: the interval grows by
   * 5 s for this and every later poll), denied, expired; or, approved, a new session, once.
   */
  async exchange(body: unknown, request: RequestInfo): Promise<DeviceTokenResponse> {
    const fields = (body ?? {}) as Fields;
    const grantType = text(fields, 'grant_type');
    if (grantType === undefined) throw new DeviceFlowError('invalid_request', 'grant_type is required.');
    if (grantType !== DEVICE_GRANT_TYPE) throw new DeviceFlowError('unsupported_grant_type', `grant_type must be ${DEVICE_GRANT_TYPE}.`);
    if (text(fields, 'client_id') !== DEVICE_CLIENT_ID) throw new DeviceFlowError('invalid_client', `Unknown client_id: this daemon knows only "${DEVICE_CLIENT_ID}".`);
    const deviceCode = text(fields, 'device_code');
    if (!deviceCode) throw new DeviceFlowError('invalid_request', 'device_code is required.');
    const { db, clock } = this.deps;
    const now = clock();
    const row = await db.knex('device_authorizations').where('device_code_hash', sha256Hex(deviceCode)).first('id', 'status', 'user_id', 'expires_at', 'interval_seconds', 'used_at', 'approved_session');
    if (!row || row.used_at !== null) throw new DeviceFlowError('invalid_grant', 'This device code is unknown, or was used already. Start again: taskmaster login --web.');
    if (Number(row.expires_at) <= now) throw new DeviceFlowError('expired_token', 'The code expired before it was approved. Start again: taskmaster login --web.');
    if (row.status === 'denied') throw new DeviceFlowError('access_denied', 'The request was denied in the browser.');
    if (row.status === 'pending') {
      // Polled at least `interval` after the last poll: pending; sooner: slow_down, the interval grows and the clock restarts.
      const paced = await db
        .knex('device_authorizations')
        .where('id', row.id)
        .where((due) => due.whereNull('last_polled_at').orWhereRaw('last_polled_at + interval_seconds * 1000 <= ?', [now]))
        .update({ last_polled_at: now });
      if (paced > 0) throw new DeviceFlowError('authorization_pending', 'Waiting for the code to be approved in the browser.');
      await db
        .knex('device_authorizations')
        .where('id', row.id)
        .update({ last_polled_at: now, interval_seconds: db.knex.raw('interval_seconds + ?', [SLOW_DOWN_SECONDS]) });
      throw new DeviceFlowError('slow_down', `Polled sooner than the interval: poll every ${Number(row.interval_seconds) + SLOW_DOWN_SECONDS} seconds from now on.`);
    }
    return this.issueSession(String(row.id), String(row.user_id), String(row.approved_session ?? ''), text(fields, 'device_token'), request, now);
  }

  /**
   * The approved grant becomes a session in one transaction with its login event; a second exchange
   * finds it used. It is good only while the browser session that approved it lives: whatever ended
   * that session (logout everywhere, a password reset, the operator disabling the account) voids it.
   */
  private async issueSession(id: string, userId: string, approvedBy: string, deviceToken: string | undefined, request: RequestInfo, now: number): Promise<DeviceTokenResponse> {
    const { db } = this.deps;
    const user = await findUser(db, { id: userId });
    if (!user) throw new DeviceFlowError('invalid_grant', 'The account that approved this code no longer exists.');
    if (isDisabled(user)) throw new DeviceFlowError('access_denied', 'This account is disabled. Contact the operator of this server.');
    const knownDevice = deviceToken ? await knownDeviceToken(db, deviceToken, userId) : undefined;
    const device = knownDevice !== undefined && deviceToken ? deviceToken : newDeviceToken(this.deps.random);
    const session = await db.knex.transaction(async (trx) => {
      const claimed = await trx('device_authorizations').where({ id, used_at: null }).update({ used_at: now });
      if (claimed === 0) return undefined;
      if (!(await this.sessions.isLive(trx, userId, approvedBy, now))) return 'voided' as const;
      const started = await this.sessions.startSession(trx, userId, request, now);
      await recordEvent(trx, userId, 'login', request, now);
      await rememberDevice(trx, knownDevice !== undefined ? { id: knownDevice } : { userId, deviceToken: device }, now);
      return started;
    });
    if (!session) throw new DeviceFlowError('invalid_grant', 'This device code is unknown, or was used already. Start again: taskmaster login --web.');
    if (session === 'voided') throw new DeviceFlowError('access_denied', 'The browser session that approved this code has ended since (signed out everywhere, a new password, or the account disabled). Start again: taskmaster login --web.');
    this.deps.metrics?.login('success'); // a login, through the browser
    return { access_token: session.token, token_type: 'Bearer', expires_in: Math.round((session.expiresAt - now) / 1000), user: toUser(user), device_token: device };
  }

  /**
   * The pending request a typed user code names, for the approval page; counted by the throttle
   * first (per browser session and per address: RFC 8628 §5.1), a right code costs nothing.
   * Throws UnknownUserCode, or 429.
   */
  async lookup(typedCode: string, session: Authenticated, request: RequestInfo): Promise<PendingAuthorization> {
    await this.deps.throttle.checkDeviceCode(session.sessionId, request.address);
    const code = normalizeUserCode(typedCode);
    const row = code ? await this.pendingRow(this.deps.db.knex, code) : undefined;
    if (!row) throw new UnknownUserCode();
    await this.deps.throttle.deviceCodeRight(session.sessionId, request.address);
    return pendingOf(row);
  }

  /**
   * Approves the request: the terminal's next poll gets a session of this account, with full access
   * (it is a session like any other: listed, revocable). Recorded as an account event. The browser
   * session is a session, so every factor of the account was passed to get it.
   */
  approve(typedCode: string, session: Authenticated, request: RequestInfo): Promise<PendingAuthorization> {
    return this.decide(typedCode, session, request, 'approved');
  }

  /** Denies the request: the terminal's next poll hears access_denied. */
  deny(typedCode: string, session: Authenticated, request: RequestInfo): Promise<PendingAuthorization> {
    return this.decide(typedCode, session, request, 'denied');
  }

  private async decide(typedCode: string, session: Authenticated, request: RequestInfo, status: 'approved' | 'denied'): Promise<PendingAuthorization> {
    const pending = await this.lookup(typedCode, session, request);
    const now = this.deps.clock();
    const decided = await this.deps.db.knex.transaction(async (trx) => {
      const changed = await trx('device_authorizations')
        .where({ user_code: pending.userCode, status: 'pending' })
        .where('expires_at', '>', now)
        .update({ status, user_id: session.user.id, decided_at: now, approved_session: status === 'approved' ? session.sessionId : null });
      if (changed === 0) return false; // decided meanwhile (another tab), or expired just now
      if (status === 'approved') await recordEvent(trx, session.user.id, 'device_approved', request, now);
      return true;
    });
    if (!decided) throw new UnknownUserCode();
    return pending;
  }

  /** Deletes rows a day past their expiry; run with the hourly sweep. */
  deleteExpired(): Promise<number> {
    return this.deps.db.knex('device_authorizations').where('expires_at', '<=', this.deps.clock() - KEPT_AFTER_EXPIRY_MS).delete();
  }

  private pendingRow(knex: Knex, userCode: string) {
    return knex('device_authorizations')
      .where({ user_code: userCode, status: 'pending' })
      .where('expires_at', '>', this.deps.clock())
      .first('user_code', 'client_id', 'address', 'user_agent', 'created_at', 'expires_at');
  }
}

function pendingOf(row: { user_code: string; client_id: string; address: string; user_agent: string | null; created_at: unknown; expires_at: unknown }): PendingAuthorization {
  return {
    userCode: String(row.user_code),
    clientId: String(row.client_id),
    address: String(row.address),
    userAgent: row.user_agent ?? null,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

/** 8 letters drawn uniformly from the 20 of the alphabet (≈ 34.6 bits). */
function newUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}
