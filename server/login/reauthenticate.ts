// Re-entering the current password in a live session (email change, password change, account
// deletion). It is throttled like a login, so a stolen session is no password oracle; and it
// counts as a known device (a live session is better proof of one than a device token), so the
// account-wide lock that strangers can cause never keeps the owner from changing a password.
import { verifyPassword } from '../core/secrets.js';
import { normalizeEmail } from '../contract/rules.js';
import type { Throttle } from '../core/throttle.js';

export async function currentPasswordMatches(throttle: Throttle, user: { email: string; password_hash: string }, password: string, address: string): Promise<boolean> {
  const attempt = { emailKey: normalizeEmail(user.email), address, knownDevice: true };
  await throttle.checkLogin(attempt);
  const matches = await verifyPassword(password, user.password_hash);
  await (matches ? throttle.loginSucceeded(attempt) : throttle.loginFailed(attempt));
  return matches;
}
