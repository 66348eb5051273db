// Logging in: the account's factors asked in turn (factor.ts: the password, then the TOTP code
// when two-factor is on), throttled (server/core/throttle.ts), then a new session with its device token. State: the session, the device token and the login event are written in one
// transaction; the caches in server/sessions/store.ts learn of a session when it is first used.
import { isForeignKeyViolation, type Database } from '../../db/connection.js';
import { HttpError, invalidInput } from '../core/errors.js';
import { recordEvent, type RequestInfo } from '../activity/events.js';
import type { ServiceDeps } from '../core/deps.js';
import { parseBody } from '../core/validation.js';
import { loginBody } from './schemas.js';
import { newDeviceToken } from '../core/secrets.js';
import { accountDisabled, findUser, isDisabled, toUser, type UserRow } from '../accounts/users.js';
import type { LoginAttempt } from '../core/throttle.js';
import { TotpFactor } from '../two-factor/factor.js';
import { otpLoginBody } from '../two-factor/schemas.js';
import { invalidCode, type TwoFactor } from '../two-factor/store.js';
import type { SessionStore } from '../sessions/store.js';
import { knownDeviceToken, rememberDevice } from './device-tokens.js';
import type { Factor } from './factor.js';
import { PasswordFactor, invalidCredentials } from './password-factor.js';
import type { AccountEventType, SessionResponse } from '../contract/api.js';
import { normalizeEmail } from '../contract/rules.js';
import { loginResultOf } from '../metrics/metrics.js';

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
  private readonly factors: readonly Factor[];

  constructor(
    private readonly deps: ServiceDeps,
    private readonly sessions: SessionStore,
    private readonly twoFactor: TwoFactor,
  ) {
    this.factors = [new PasswordFactor(deps.bcryptCost), new TotpFactor(twoFactor)];
  }

  login(body: unknown, request: RequestInfo): Promise<SessionResponse> {
    return this.measured(this.attempt(body, request));
  }

  /** Counts how the login ended in `taskmaster_logins_total{result}` (when metrics are on). */
  private async measured(login: Promise<SessionResponse>): Promise<SessionResponse> {
    const { metrics } = this.deps;
    if (!metrics) return login;
    try {
      const session = await login;
      metrics.login('success');
      return session;
    } catch (error) {
      metrics.login(loginResultOf(error));
      throw error;
    }
  }

  private async attempt(body: unknown, request: RequestInfo): Promise<SessionResponse> {
    const parsed = parseBody(loginBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { email, deviceToken } = parsed.value;
    const { db } = this.deps;
    const row = await findUser(db, { emailKey: normalizeEmail(email) });
    const attempt = await this.counted(email, row, deviceToken, request);

    for (const factor of this.factors) {
      if (!factor.required(row)) continue;
      const outcome = await factor.check({ user: row, body: parsed.value, request });
      if (!outcome.passed) {
        if (outcome.failed) await this.failed(attempt, row, outcome.event ?? 'login_failed', request);
        else await this.deps.throttle.loginUndecided(attempt);
        throw outcome.refusal;
      }
      // A disabled account says so once its password is proved (never to a guess, so the answer
      // tells a stranger nothing), before a code is asked: no factor can open it.
      if (row && isDisabled(row)) {
        await this.deps.throttle.loginUndecided(attempt);
        throw accountDisabled();
      }
    }
    if (!row) throw invalidCredentials(); // the password factor refused it already
    return this.succeeded(attempt, row, deviceToken, request);
  }

  /**
   * `POST /v1/sessions/otp`: the code for a challenge that a right password answered. Counted by
   * the throttle like any attempt; a wrong code is a failed login and counts against the challenge
   * too, which dies after 5; the right one uses it up.
   */
  loginWithChallenge(body: unknown, request: RequestInfo): Promise<SessionResponse> {
    return this.measured(this.attemptWithChallenge(body, request));
  }

  private async attemptWithChallenge(body: unknown, request: RequestInfo): Promise<SessionResponse> {
    const parsed = parseBody(otpLoginBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { challenge, code, deviceToken } = parsed.value;
    // Each attempt spends one of the challenge's 5 before the code is checked: parallel guesses cannot get more.
    const row = await findUser(this.deps.db, { id: await this.twoFactor.challengeAttempt(challenge) });
    if (!row) throw invalidCredentials();
    const attempt = await this.counted(row.email, row, deviceToken, request);
    // Disabled after the password answered the challenge.
    if (isDisabled(row)) {
      await this.deps.throttle.loginUndecided(attempt);
      throw accountDisabled();
    }
    if (!(await this.twoFactor.verifyCode(row, code, request))) {
      await this.failed(attempt, row, 'code_failed', request);
      throw invalidCode();
    }
    return this.succeeded(attempt, row, deviceToken, request, challenge);
  }

  /**
   * A sign-in proved by a passkey (server/passkeys/): it counts as every factor, since the passkey
   * is something held, verified by a PIN or a fingerprint. Counted by the throttle like any login
   * (a blocked account or address is refused before the proof is looked at); `prove` answers a
   * refusal when the assertion does not hold, which is a failed login like a wrong password.
   */
  loginWithPasskey(row: UserRow, deviceToken: string | undefined, request: RequestInfo, prove: () => Promise<HttpError | undefined>): Promise<SessionResponse> {
    return this.measured(this.attemptWithPasskey(row, deviceToken, request, prove));
  }

  private async attemptWithPasskey(row: UserRow, deviceToken: string | undefined, request: RequestInfo, prove: () => Promise<HttpError | undefined>): Promise<SessionResponse> {
    const attempt = await this.counted(row.email, row, deviceToken, request);
    const refusal = await prove();
    if (refusal) {
      await this.failed(attempt, row, 'login_failed', request);
      throw refusal;
    }
    if (isDisabled(row)) {
      await this.deps.throttle.loginUndecided(attempt);
      throw accountDisabled();
    }
    return this.succeeded(attempt, row, deviceToken, request);
  }

  /** The attempt, counted by the throttle before any factor is checked. */
  private async counted(email: string, row: UserRow | undefined, deviceToken: string | undefined, request: RequestInfo): Promise<CountedAttempt> {
    // The same query whether the email has an account or not (no timing tells them apart).
    const deviceId = deviceToken ? await knownDeviceToken(this.deps.db, deviceToken, row?.id ?? '') : undefined;
    const attempt: CountedAttempt = { emailKey: normalizeEmail(email), address: request.address, knownDevice: deviceId !== undefined, deviceId };
    await this.deps.throttle.checkLogin(attempt);
    return attempt;
  }

  private async failed(attempt: CountedAttempt, row: UserRow | undefined, event: AccountEventType, request: RequestInfo): Promise<void> {
    const { db, clock } = this.deps;
    // The event is written beside the count, not after it: an unknown email (no event) must not
    // answer sooner than a wrong password by one write's wait.
    // (An account deleted meanwhile has nowhere to keep the event: then there is none.)
    await Promise.all([this.deps.throttle.loginFailed(attempt), row ? recordEvent(db.knex, row.id, event, request, clock()).catch((error: unknown) => ignoreDeletedUser(db, error)) : undefined]);
  }

  /** Every factor passed: the counts start again, and a session starts (with the challenge used up, in the same transaction). */
  private async succeeded(attempt: CountedAttempt, row: UserRow, deviceToken: string | undefined, request: RequestInfo, challenge?: string): Promise<SessionResponse> {
    const { db, clock } = this.deps;
    await this.deps.throttle.loginSucceeded(attempt);
    if (row.email_verified_at === null) {
      throw new HttpError(403, 'email_not_verified', 'Verify your email first: paste the token from the email into `taskmaster verify`.');
    }
    const now = clock();
    const { deviceId } = attempt;
    const device = deviceId !== undefined && deviceToken ? deviceToken : newDeviceToken(this.deps.random);
    let session: { token: string; expiresAt: number };
    try {
      session = await db.knex.transaction(async (trx) => {
        if (challenge) await this.twoFactor.useChallenge(trx, challenge);
        const started = await this.sessions.startSession(trx, row.id, request, now);
        await recordEvent(trx, row.id, 'login', request, now);
        await rememberDevice(trx, deviceId !== undefined ? { id: deviceId } : { userId: row.id, deviceToken: device }, now);
        return started;
      });
    } catch (error) {
      if (error instanceof HttpError) throw error;
      // The account was deleted while its password was being checked: as if it never existed.
      ignoreDeletedUser(db, error);
      throw invalidCredentials();
    }
    return { token: session.token, expiresAt: new Date(session.expiresAt).toISOString(), user: toUser(row), deviceToken: device };
  }
}

type CountedAttempt = LoginAttempt & { deviceId: number | undefined };
