// Logging in: the password check, throttled (server/core/throttle.ts), and a new session with its
// device token. State: the session, the device token and the login event are written in one
// transaction; the caches in server/sessions/store.ts learn of a session when it is first used.
import { isForeignKeyViolation, type Database } from '../../db/connection.js';
import { HttpError, invalidInput } from '../core/errors.js';
import { recordEvent, type RequestInfo } from '../activity/events.js';
import type { ServiceDeps } from '../core/deps.js';
import { parseBody, loginBody } from '../core/validation.js';
import { hashPassword, newDeviceToken, verifyPassword } from '../core/secrets.js';
import { findUser, toUser } from '../accounts/users.js';
import type { SessionStore } from '../sessions/store.js';
import { knownDeviceToken, rememberDevice } from './device-tokens.js';
import type { SessionResponse } from '../contract/api.js';
import { normalizeEmail } from '../contract/rules.js';

/** A foreign-key refusal means the user row went away mid-request; anything else is a real error. */
function ignoreDeletedUser(db: Database, error: unknown): void {
  if (!isForeignKeyViolation(db, error)) throw error;
}

export class Login {
  /** A hash bcrypt compares unknown emails against, so they cost the same as a wrong password. */
  private readonly decoyHash: Promise<string>;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly sessions: SessionStore,
  ) {
    this.decoyHash = hashPassword('decoy password for unknown emails', deps.bcryptCost);
  }

  async login(body: unknown, request: RequestInfo): Promise<SessionResponse> {
    const { address } = request;
    const parsed = parseBody(loginBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { email, password, deviceToken } = parsed.value;
    const emailKey = normalizeEmail(email);
    const { throttle, db, clock } = this.deps;
    const row = await findUser(db, { emailKey });
    // The same query whether the email has an account or not (no timing tells them apart).
    const deviceId = deviceToken ? await knownDeviceToken(db, deviceToken, row?.id ?? '') : undefined;
    const attempt = { emailKey, address, knownDevice: deviceId !== undefined };
    await throttle.checkLogin(attempt);

    const matches = await verifyPassword(password, row?.password_hash ?? (await this.decoyHash));
    if (!row || !matches) {
      await throttle.loginFailed(attempt);
      // (An account deleted meanwhile has nowhere to keep the event: then there is none.)
      if (row) await recordEvent(db.knex, row.id, 'login_failed', request, clock()).catch((error: unknown) => ignoreDeletedUser(db, error));
      throw new HttpError(401, 'invalid_credentials', 'Email or password is not right.');
    }
    await throttle.loginSucceeded(attempt);
    if (row.email_verified_at === null) {
      throw new HttpError(403, 'email_not_verified', 'Verify your email first: paste the token from the email into `taskmaster verify`.');
    }

    const now = clock();
    const device = deviceId !== undefined && deviceToken ? deviceToken : newDeviceToken(this.deps.random);
    let session: { token: string; expiresAt: number };
    try {
      session = await db.knex.transaction(async (trx) => {
        const started = await this.sessions.startSession(trx, row.id, request, now);
        await recordEvent(trx, row.id, 'login', request, now);
        await rememberDevice(trx, deviceId !== undefined ? { id: deviceId } : { userId: row.id, deviceToken: device }, now);
        return started;
      });
    } catch (error) {
      // The account was deleted while its password was being checked: as if it never existed.
      ignoreDeletedUser(db, error);
      throw new HttpError(401, 'invalid_credentials', 'Email or password is not right.');
    }
    return { token: session.token, expiresAt: new Date(session.expiresAt).toISOString(), user: toUser(row), deviceToken: device };
  }
}
