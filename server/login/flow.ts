// Logging in: the account's factors asked in turn (factor.ts; the password today), throttled
// (server/core/throttle.ts), then a new session with its device token. State: the session, the device token and the login event are written in one
// transaction; the caches in server/sessions/store.ts learn of a session when it is first used.
import { isForeignKeyViolation, type Database } from '../../db/connection.js';
import { HttpError, invalidInput } from '../core/errors.js';
import { recordEvent, type RequestInfo } from '../activity/events.js';
import type { ServiceDeps } from '../core/deps.js';
import { parseBody } from '../core/validation.js';
import { loginBody } from './schemas.js';
import { newDeviceToken } from '../core/secrets.js';
import { findUser, toUser } from '../accounts/users.js';
import type { SessionStore } from '../sessions/store.js';
import { knownDeviceToken, rememberDevice } from './device-tokens.js';
import type { Factor } from './factor.js';
import { PasswordFactor, invalidCredentials } from './password-factor.js';
import type { SessionResponse } from '../contract/api.js';
import { normalizeEmail } from '../contract/rules.js';

/** A foreign-key refusal means the user row went away mid-request; anything else is a real error. */
function ignoreDeletedUser(db: Database, error: unknown): void {
  if (!isForeignKeyViolation(db, error)) throw error;
}

/**
 * The login flow: the attempt is counted by the throttle first (so a burst of guesses reaches no
 * factor), then the account's factors are asked in turn. The first that refuses ends it as a
 * failed login; only when every factor passed is it a success, and a session starts.
 */
export class Login {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly sessions: SessionStore,
    private readonly factors: readonly Factor[] = [new PasswordFactor(deps.bcryptCost)],
  ) {}

  async login(body: unknown, request: RequestInfo): Promise<SessionResponse> {
    const parsed = parseBody(loginBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { email, deviceToken } = parsed.value;
    const emailKey = normalizeEmail(email);
    const { throttle, db, clock } = this.deps;
    const row = await findUser(db, { emailKey });
    // The same query whether the email has an account or not (no timing tells them apart).
    const deviceId = deviceToken ? await knownDeviceToken(db, deviceToken, row?.id ?? '') : undefined;
    const attempt = { emailKey, address: request.address, knownDevice: deviceId !== undefined };
    await throttle.checkLogin(attempt);

    for (const factor of this.factors) {
      if (!factor.required(row)) continue;
      const refusal = await factor.check({ user: row, body: parsed.value, request });
      if (refusal) {
        await throttle.loginFailed(attempt);
        // (An account deleted meanwhile has nowhere to keep the event: then there is none.)
        if (row) await recordEvent(db.knex, row.id, 'login_failed', request, clock()).catch((error: unknown) => ignoreDeletedUser(db, error));
        throw refusal;
      }
    }
    if (!row) throw invalidCredentials(); // the password factor refused it already
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
      throw invalidCredentials();
    }
    return { token: session.token, expiresAt: new Date(session.expiresAt).toISOString(), user: toUser(row), deviceToken: device };
  }
}
