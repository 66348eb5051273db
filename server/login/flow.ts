// Logging in: the password check, throttled (server/throttle.ts), and a new session with its
// device token. State: the session, the device token and the login event are written in one
// transaction; the caches in server/sessions.ts learn of a session when it is first used.
import { randomUUID } from 'node:crypto';
import { isForeignKeyViolation, type Database } from '../../db/connection.js';
import { HttpError, invalidInput } from '../core/errors.js';
import { recordEvent, storedUserAgent, type RequestInfo } from '../activity/events.js';
import { parseBody, loginBody } from '../core/validation.js';
import { hashPassword, newDeviceToken, newSessionToken, sha256Hex, verifyPassword } from '../core/secrets.js';
import { SESSION_TTL_MS, findUser, toUser, type ServiceDeps } from '../accounts/users.js';
import type { SessionResponse } from '../contract/api.js';
import { normalizeEmail } from '../contract/rules.js';

/** A foreign-key refusal means the user row went away mid-request; anything else is a real error. */
function ignoreDeletedUser(db: Database, error: unknown): void {
  if (!isForeignKeyViolation(db, error)) throw error;
}

export class Login {
  /** A hash bcrypt compares unknown emails against, so they cost the same as a wrong password. */
  private readonly decoyHash: Promise<string>;

  constructor(private readonly deps: ServiceDeps) {
    this.decoyHash = hashPassword('decoy password for unknown emails', deps.bcryptCost);
  }

  async login(body: unknown, request: RequestInfo): Promise<SessionResponse> {
    const { address } = request;
    const parsed = parseBody(loginBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { email, password, deviceToken } = parsed.value;
    const emailKey = normalizeEmail(email);
    const { throttle, db, clock } = this.deps;
    const deviceId = deviceToken ? await this.knownDevice(deviceToken, emailKey) : undefined;
    const attempt = { emailKey, address, knownDevice: deviceId !== undefined };
    await throttle.checkLogin(attempt);

    const row = await findUser(db, { emailKey });
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

    const token = newSessionToken(this.deps.random);
    const now = clock();
    const expiresAt = now + SESSION_TTL_MS;
    const device = deviceId !== undefined && deviceToken ? deviceToken : newDeviceToken(this.deps.random);
    try {
      await db.knex.transaction(async (trx) => {
        await trx('sessions').insert({
          user_id: row.id,
          token_hash: sha256Hex(token),
          public_id: randomUUID(),
          created_at: now,
          last_used_at: now,
          expires_at: expiresAt,
          address: address.slice(0, 64),
          user_agent: storedUserAgent(request.userAgent),
        });
        await recordEvent(trx, row.id, 'login', request, now);
        if (deviceId !== undefined) await trx('device_tokens').where('id', deviceId).update({ last_used_at: now });
        else await trx('device_tokens').insert({ user_id: row.id, token_hash: sha256Hex(device), created_at: now, last_used_at: now });
      });
    } catch (error) {
      // The account was deleted while its password was being checked: as if it never existed.
      ignoreDeletedUser(db, error);
      throw new HttpError(401, 'invalid_credentials', 'Email or password is not right.');
    }
    return { token, expiresAt: new Date(expiresAt).toISOString(), user: toUser(row), deviceToken: device };
  }

  /** The id of the device token when it was handed to this account at an earlier login. */
  private async knownDevice(deviceToken: string, emailKey: string): Promise<number | undefined> {
    const row = await this.deps.db
      .knex('device_tokens')
      .join('users', 'users.id', 'device_tokens.user_id')
      .where('device_tokens.token_hash', sha256Hex(deviceToken))
      .where('users.email_normalized', emailKey)
      .first('device_tokens.id');
    return row ? Number(row.id) : undefined;
  }
}
