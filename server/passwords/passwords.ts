// Password journeys: forgot (a reset mail), reset with the emailed token, change while logged in.
// No Koa here. State: in the database only: reset tokens are rows of `email_tokens` (purpose
// 'password_reset', SHA-256 at rest) and throttles rows of `rate_limits`; nothing is cached.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { burnEmailTokenHash, cancelEmailTokens, claimEmailToken, findLiveEmailToken, storeEmailToken } from '../accounts/email-tokens.js';
import { HttpError, invalidInput } from '../core/errors.js';
import { recordEvent, type RequestInfo } from '../activity/events.js';
import { enqueueMail } from '../mail/outbox.js';
import { passwordChangedMail, passwordResetMail } from './mails.js';
import { parseBody } from '../core/validation.js';
import { changePasswordBody, forgotBody, resetBody } from './schemas.js';
import { hashPassword, newEmailToken, sha256Hex } from '../core/secrets.js';
import type { ServiceDeps } from '../core/deps.js';
import { accountDisabled, findUser, isDisabled, setPasswordHash, toUser, type UserRow } from '../accounts/users.js';
import type { Authenticated, SessionStore } from '../sessions/store.js';
import type { AccessTokens } from '../tokens/store.js';
import type { PasswordChangeResponse, User } from '../contract/api.js';
import type { TwoFactor } from '../two-factor/store.js';
import { reauthenticate, type CodeVerifier } from '../login/reauthenticate.js';
import { passwordProblem } from './strength.js';
import { TOKEN_MAX, normalizeEmail } from '../contract/rules.js';

export const RESET_TOKEN_TTL_MS = 30 * 60 * 1000;
/** Rolls back the work done for an email without an account (see forgot). */
const NOBODY_TO_MAIL = new Error('nobody to mail');

/** The account a usable reset token belongs to, as the reset page names it. */
export interface ResetTarget {
  username: string;
  email: string;
  /** The operator disabled the account: the link cannot be used until they enable it. */
  disabled: boolean;
}

export class Passwords {
  constructor(
    private readonly deps: ServiceDeps & { supportEmail?: string | undefined },
    private readonly sessions: SessionStore,
    private readonly tokens: AccessTokens,
    /** The code check for step-up, and the login challenges a new password ends. */
    private readonly codes: CodeVerifier & Pick<TwoFactor, 'endChallenges'>,
  ) {}

  /**
   * Sends a reset mail when the email has an account. The answer (and its time) must not tell
   * whether it has: the limits are keyed on the address and the email only, and an unknown email
   * goes through the same reads, statements and transaction as a known one, rolled back at the end.
   * The sender is not woken: it picks the mail up on its next poll (at most 2 s), so the delivery
   * work does not follow the request that asked for it.
   */
  async forgot(body: unknown, request: RequestInfo): Promise<void> {
    const parsed = parseBody(forgotBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    await this.deps.throttle.forgot(request.address);
    const emailKey = normalizeEmail(parsed.value.email);
    const [row, allowed] = await Promise.all([findUser(this.deps.db, { emailKey }), this.deps.throttle.resetMailAllowed(emailKey)]);
    // Over the email's hourly limit the mail is dropped silently, and the older tokens stay.
    const owner = allowed ? row : undefined;
    const now = this.deps.clock();
    const token = newEmailToken();
    const tokenHash = sha256Hex(token);
    const expiresAt = now + RESET_TOKEN_TTL_MS;
    const link = `${this.deps.publicUrl()}/v1/password/reset?token=${encodeURIComponent(token)}`;
    const content = passwordResetMail({ username: row?.username ?? emailKey, link, token, expiresAt });
    await this.deps.db.knex
      .transaction(async (trx) => {
        // A newer token cancels the older ones.
        await cancelEmailTokens(trx, owner?.id ?? randomUUID(), 'password_reset', { unusedOnly: true });
        if (owner) {
          await storeEmailToken(trx, { userId: owner.id, purpose: 'password_reset', email: owner.email, tokenHash, expiresAt, createdAt: now });
        } else {
          await burnEmailTokenHash(trx, tokenHash, now); // a fresh token: finds nothing
        }
        await enqueueMail(trx, 'password_reset', owner?.email ?? emailKey, content, now);
        if (!owner) throw NOBODY_TO_MAIL;
      })
      .catch((error: unknown) => {
        if (error !== NOBODY_TO_MAIL) throw error;
      });
  }

  /** The account behind a reset token that would work now, for the page the link opens; changes nothing. */
  async resetTarget(token: string): Promise<ResetTarget | undefined> {
    const found = await this.usableToken(token);
    return found ? { username: found.user.username, email: found.user.email, disabled: isDisabled(found.user) } : undefined;
  }

  /**
   * Sets a new password with an emailed token. In one transaction: the token is claimed (so of two
   * resets at once exactly one wins), the hash set, the email marked verified (the mail proved it),
   * the other reset tokens and every session gone, the event and the notice written. No session.
   */
  async reset(body: unknown, request: RequestInfo): Promise<User> {
    const parsed = parseBody(resetBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { throttle, db, clock } = this.deps;
    await throttle.checkResetToken(request.address);
    const found = await this.usableToken(parsed.value.token);
    if (!found) {
      this.deps.metrics?.tokenRefused('password_reset');
      await throttle.resetTokenFailed(request.address);
      throw invalidResetToken();
    }
    const { tokenId, user } = found;
    if (isDisabled(user)) throw accountDisabled();
    const weak = await passwordProblem(parsed.value.password, { username: user.username, email: user.email });
    if (weak) throw invalidInput({ password: weak });
    const passwordHash = await hashPassword(parsed.value.password, this.deps.bcryptCost);

    const now = clock();
    const claimed = await db.knex.transaction(async (trx) => {
      if (!(await claimEmailToken(trx, tokenId, now, { unexpired: true }))) return false;
      await setPasswordHash(trx, user.id, passwordHash, now, { verifiesEmail: true });
      await cancelEmailTokens(trx, user.id, 'password_reset', { except: tokenId });
      await this.sessions.endAllSessions(trx, user.id);
      await this.tokens.endUserTokens(trx, user.id);
      await this.codes.endChallenges(trx, user.id);
      await this.finish(trx, user, 'reset', request, now);
      return true;
    });
    if (!claimed) throw invalidResetToken();
    this.deps.mailQueued();
    await this.deps.invalidations.settle();
    return toUser((await findUser(db, { id: user.id })) ?? user);
  }

  /**
   * Changes the password of the signed-in user. A wrong current password counts as a failed login
   * (a stolen session must not become a password oracle). In one transaction: the hash, every other
   * session ended (the caller's stays), pending reset tokens gone, the event and the notice.
   */
  async change(auth: Authenticated, body: unknown, request: RequestInfo): Promise<PasswordChangeResponse> {
    const parsed = parseBody(changePasswordBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { currentPassword, newPassword } = parsed.value;
    const { throttle, db, clock } = this.deps;
    const row = await findUser(db, { id: auth.user.id });
    if (!row) throw new HttpError(401, 'unauthenticated', 'Your account no longer exists.');

    if ((await reauthenticate({ throttle, codes: this.codes, db, clock }, row, { currentPassword, code: parsed.value.code }, request)) === 'wrong_password') throw wrongPassword();
    if (newPassword === currentPassword) throw invalidInput({ newPassword: 'The new password is the same as the current one. Choose another.' });
    const weak = await passwordProblem(newPassword, { username: row.username, email: row.email });
    if (weak) throw invalidInput({ newPassword: weak.replace(/^Password/, 'New password') });
    const passwordHash = await hashPassword(newPassword, this.deps.bcryptCost);

    const now = clock();
    const revokedSessions = await db.knex.transaction(async (trx) => {
      // Only over the hash the current password was checked against: a change that raced ahead wins.
      if ((await setPasswordHash(trx, row.id, passwordHash, now, { over: row.password_hash })) === 0) return undefined;
      await cancelEmailTokens(trx, row.id, 'password_reset');
      const ended = await this.sessions.endOtherSessions(trx, row.id, auth.tokenHash);
      await this.codes.endChallenges(trx, row.id);
      await this.finish(trx, row, 'change', request, now);
      return ended;
    });
    if (revokedSessions === undefined) throw wrongPassword();
    this.deps.mailQueued();
    await this.deps.invalidations.settle();
    return { user: toUser((await findUser(db, { id: row.id })) ?? row), revokedSessions };
  }

  /** The event and the notice that go with every new password, in its transaction. */
  private async finish(trx: Knex.Transaction, user: UserRow, how: 'change' | 'reset', request: RequestInfo, now: number): Promise<void> {
    await recordEvent(trx, user.id, how === 'reset' ? 'password_reset' : 'password_changed', request, now);
    const notice = passwordChangedMail({ username: user.username, how, at: now, supportEmail: this.deps.supportEmail });
    await enqueueMail(trx, 'password_changed', user.email, notice, now);
  }

  /** An unused, unexpired reset token and its user, while the token's email is still the account's. */
  private async usableToken(token: string): Promise<{ tokenId: number; user: UserRow } | undefined> {
    const trimmed = token.trim();
    if (trimmed === '' || trimmed.length > TOKEN_MAX) return undefined;
    const tokenRow = await findLiveEmailToken(this.deps.db, trimmed, 'password_reset', this.deps.clock());
    if (!tokenRow) return undefined;
    const user = await findUser(this.deps.db, { id: tokenRow.user_id });
    if (!user || normalizeEmail(user.email) !== normalizeEmail(tokenRow.email)) return undefined;
    return { tokenId: tokenRow.id, user };
  }
}

export function invalidResetToken(): HttpError {
  return new HttpError(400, 'invalid_token', 'This reset token is not valid: it is unknown, used, replaced by a newer one, or expired. Ask for a new one with `taskmaster password forgot`.');
}

function wrongPassword(): HttpError {
  return new HttpError(403, 'wrong_password', 'The current password is not right.', { currentPassword: 'The current password is not right.' });
}
