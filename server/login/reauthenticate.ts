// Re-authentication before what matters (an email or password change, deleting the account,
// creating a token, turning two-factor off, new recovery codes): the current password, and the
// code when the account has two-factor on. Throttled like a login, so a stolen session is no
// password or code oracle; and it counts as a known device (a live session is better proof of one
// than a device token), so the account-wide lock strangers can cause never keeps the owner out.
import { recordEvent, type RequestInfo } from '../activity/events.js';
import type { UserRow } from '../accounts/users.js';
import { HttpError } from '../core/errors.js';
import { verifyPassword } from '../core/secrets.js';
import type { Throttle } from '../core/throttle.js';
import type { Database } from '../../db/connection.js';
import { normalizeEmail } from '../contract/rules.js';

/** Checks a second-factor code (server/two-factor/): true when it proves it now. */
export interface CodeVerifier {
  verifyCode(user: UserRow, code: string, request: RequestInfo): Promise<boolean>;
}

export interface ReauthDeps {
  throttle: Throttle;
  codes: CodeVerifier;
  db: Database;
  clock: () => number;
}

/**
 * 'ok', or 'wrong_password' for the caller to say in its own words. With two-factor on, a missing
 * code throws 401 otp_required and a wrong one 403 invalid_code; both count as failed logins.
 */
export async function reauthenticate(deps: ReauthDeps, user: UserRow, given: { currentPassword: string; code?: string | undefined }, request: RequestInfo): Promise<'ok' | 'wrong_password'> {
  const attempt = { emailKey: normalizeEmail(user.email), address: request.address, knownDevice: true };
  await deps.throttle.checkLogin(attempt);
  if (!(await verifyPassword(given.currentPassword, user.password_hash))) {
    await deps.throttle.loginFailed(attempt);
    return 'wrong_password';
  }
  if (user.two_factor_at !== null) {
    if (!given.code) {
      await deps.throttle.loginFailed(attempt);
      throw new HttpError(401, 'otp_required', 'This needs the code from your authenticator app (or a recovery code) as well as the password.', { code: 'Give the code from your authenticator app.' });
    }
    if (!(await deps.codes.verifyCode(user, given.code, request))) {
      await deps.throttle.loginFailed(attempt);
      await recordEvent(deps.db.knex, user.id, 'code_failed', request, deps.clock());
      throw new HttpError(403, 'invalid_code', 'That code is not right, or was used already: a code is good once.', { code: 'That code is not right, or was used already.' });
    }
  }
  await deps.throttle.loginSucceeded(attempt);
  return 'ok';
}
