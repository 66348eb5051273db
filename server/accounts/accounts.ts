// Account rules: registration, email verification, resend, profile changes. No Koa here.
import { reauthenticate, type CodeVerifier } from '../login/reauthenticate.js';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { isUniqueViolation } from '../../db/connection.js';
import { HttpError, invalidInput } from '../core/errors.js';
import { enqueueMail } from '../mail/outbox.js';
import type { MailContent } from '../mail/templates.js';
import { emailChangeMail, emailChangeNoticeMail, verificationMail } from './mails.js';
import { hashPassword, newEmailToken, sha256Hex } from '../core/secrets.js';
import { recordEvent, type RequestInfo } from '../activity/events.js';
import type { ServiceDeps } from '../core/deps.js';
import { EMAIL_TOKEN_TTL_MS, LINK_PURPOSES, cancelEmailTokens, claimEmailToken, findEmailToken, storeEmailToken, type NewEmailToken } from './email-tokens.js';
import { accountDisabled, confirmPendingEmail, emailUsedByAnother, findUser, insertUser, isDisabled, markEmailVerified, nameClashes, toUser, updateProfileColumns, type NewUserRow, type UserRow } from './users.js';
import type { SessionStore } from '../sessions/store.js';
import type { User } from '../contract/api.js';
import { passwordProblem } from '../passwords/strength.js';
import { parseBody } from '../core/validation.js';
import { registerBody, resendBody, updateProfileBody, verifyBody } from './schemas.js';
import { normalizeEmail, normalizeUsername } from '../contract/rules.js';

export type VerifyOutcome = { kind: 'activated' | 'already_active' | 'email_changed'; user: User };

export class Accounts {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly sessions: SessionStore,
    private readonly codes: CodeVerifier,
  ) {}

  async register(body: unknown, address: string): Promise<User> {
    const parsed = parseBody(registerBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { email, username, password } = parsed.value;
    const weak = await passwordProblem(password, { username, email });
    if (weak) throw invalidInput({ password: weak });
    await this.deps.throttle.registration(address);

    const emailKey = normalizeEmail(email);
    const usernameKey = normalizeUsername(username);
    // A cheap look first spares bcrypt for plain conflicts; the unique indexes decide races.
    const clashes = await nameClashes(this.deps.db, usernameKey, emailKey);
    if (clashes.username || clashes.email) throw conflict(clashes.username, clashes.email);

    const passwordHash = await hashPassword(password, this.deps.bcryptCost);
    const now = this.deps.clock();
    const row: NewUserRow = {
      id: randomUUID(),
      username,
      username_normalized: usernameKey,
      email,
      email_normalized: emailKey,
      password_hash: passwordHash,
      email_verified_at: null,
      pending_email: null,
      two_factor_at: null,
      disabled_at: null,
      created_at: now,
      updated_at: now,
    };
    const mail = this.tokenMail(row, 'verify', email, now);
    try {
      await this.deps.db.knex.transaction(async (trx) => {
        await insertUser(trx, row);
        await storeTokenMail(trx, mail, now);
      });
    } catch (error) {
      const usernameTaken = isUniqueViolation(this.deps.db, error, 'username_normalized');
      const emailTaken = isUniqueViolation(this.deps.db, error, 'email_normalized');
      if (usernameTaken || emailTaken) throw conflict(usernameTaken, emailTaken);
      throw error;
    }
    this.deps.metrics?.registration();
    this.deps.mailQueued();
    return toUser(row);
  }

  async verify(body: unknown, address: string, userAgent: string | null = null): Promise<VerifyOutcome> {
    const parsed = parseBody(verifyBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    await this.deps.throttle.checkVerify(address);
    try {
      return await this.useToken(parsed.value.token, { address, userAgent });
    } catch (error) {
      if (error instanceof HttpError && (error.code === 'invalid_token' || error.code === 'expired_token')) {
        this.deps.metrics?.tokenRefused('email_verification');
        await this.deps.throttle.verifyFailed(address);
      }
      throw error;
    }
  }

  async resend(body: unknown, address: string): Promise<void> {
    const parsed = parseBody(resendBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    await this.deps.throttle.resend(address);
    const emailKey = normalizeEmail(parsed.value.email);
    const row = await findUser(this.deps.db, { emailKey });
    // Whatever happens here, the caller sees 202: the answer must not tell whether the account exists.
    if (!row || row.email_verified_at !== null) return;
    if (!(await this.deps.throttle.resendMailAllowed(emailKey))) return;
    const now = this.deps.clock();
    const mail = this.tokenMail(row, 'verify', row.email, now);
    await this.deps.db.knex.transaction(async (trx) => {
      // A new token replaces any unused one, so only the newest email works.
      await cancelEmailTokens(trx, row.id, 'verify', { unusedOnly: true });
      await storeTokenMail(trx, mail, now);
    });
    this.deps.mailQueued();
  }

  /**
   * `taskmasterd users resend-verification`: a new verification mail for an account not verified
   * yet (the older links stop working), with the operator's event, in one transaction. No throttle:
   * the operator asked. False when the account is verified already (nothing sent).
   */
  async resendByOperator(row: UserRow, request: RequestInfo): Promise<boolean> {
    if (row.email_verified_at !== null) return false;
    const now = this.deps.clock();
    const mail = this.tokenMail(row, 'verify', row.email, now);
    await this.deps.db.knex.transaction(async (trx) => {
      await cancelEmailTokens(trx, row.id, 'verify', { unusedOnly: true });
      await storeTokenMail(trx, mail, now);
      await recordEvent(trx, row.id, 'verification_resent', request, now);
    });
    this.deps.mailQueued();
    return true;
  }

  async getUser(userId: string): Promise<User> {
    const row = await findUser(this.deps.db, { id: userId });
    if (!row) throw new HttpError(401, 'unauthenticated', 'Your account no longer exists.');
    return toUser(row);
  }

  async updateProfile(userId: string, currentTokenHash: string, body: unknown, request: RequestInfo): Promise<User> {
    const parsed = parseBody(updateProfileBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { username, email, currentPassword, code } = parsed.value;
    const { knex } = this.deps.db;
    const row = await findUser(this.deps.db, { id: userId });
    if (!row) throw new HttpError(401, 'unauthenticated', 'Your account no longer exists.');

    const changes: ProfileChanges = {};
    if (username !== undefined && username !== row.username) {
      changes.username = username;
      changes.username_normalized = normalizeUsername(username);
    }
    const newEmail = email !== undefined && normalizeEmail(email) !== normalizeEmail(row.email) ? email : undefined;
    if (email !== undefined && newEmail === undefined && row.pending_email !== null) {
      // Asking for the current address again cancels a pending change.
      changes.pending_email = null;
    }

    if (newEmail !== undefined) {
      // Guessing the password through a stolen session is throttled like a login.
      const reauth = { throttle: this.deps.throttle, codes: this.codes, db: this.deps.db, clock: this.deps.clock };
      if ((await reauthenticate(reauth, row, { currentPassword: currentPassword ?? '', code }, request)) === 'wrong_password') {
        throw new HttpError(403, 'wrong_password', 'The current password is not right.', { currentPassword: 'The current password is not right.' });
      }
      if (await emailUsedByAnother(this.deps.db, normalizeEmail(newEmail), userId)) throw emailInUse();
      changes.pending_email = newEmail;
    }

    if (Object.keys(changes).length === 0) return toUser(row);
    const now = this.deps.clock();
    const shownName = changes.username ?? row.username;
    const changeMail = newEmail === undefined ? undefined : this.tokenMail({ id: row.id, username: shownName }, 'email_change', newEmail, now);
    const notice = newEmail === undefined ? undefined : emailChangeNoticeMail({ username: shownName, newEmail, supportEmail: this.deps.supportEmail });
    try {
      await knex.transaction(async (trx) => {
        await updateProfileColumns(trx, userId, { ...changes, updated_at: now });
        if (changeMail && notice) {
          await cancelEmailTokens(trx, userId, 'email_change', { unusedOnly: true });
          // Reset tokens were sent to the old address: an email change cancels them.
          await cancelEmailTokens(trx, userId, 'password_reset');
          await storeTokenMail(trx, changeMail, now);
          await enqueueMail(trx, 'email_change_notice', row.email, notice, now);
          // The email is how an account is recovered: when it changes, other sessions end.
          await this.sessions.endOtherSessions(trx, userId, currentTokenHash);
        }
      });
    } catch (error) {
      if (isUniqueViolation(this.deps.db, error, 'username_normalized')) throw conflict(true, false);
      throw error;
    }
    if (newEmail !== undefined) this.deps.mailQueued();
    await this.sessions.forgetUser(userId);
    await this.deps.invalidations.settle();
    return this.getUser(userId);
  }

  private async useToken(token: string, request: RequestInfo): Promise<VerifyOutcome> {
    const { knex } = this.deps.db;
    // Only the tokens this link is for: a password reset token verifies nothing here.
    const tokenRow = await findEmailToken(this.deps.db, token, LINK_PURPOSES);
    const invalid = new HttpError(400, 'invalid_token', 'This token is not valid. Ask for a new one with `taskmaster verify --resend`.');
    if (!tokenRow) throw invalid;
    const user = await findUser(this.deps.db, { id: tokenRow.user_id });
    if (!user) throw invalid;
    if (isDisabled(user)) throw accountDisabled();
    const now = this.deps.clock();
    const tokenEmail = normalizeEmail(tokenRow.email);

    if (tokenRow.used_at !== null) {
      // A used link clicked again (mail scanners, a second click) says "already done" while it is fresh.
      const done = tokenRow.purpose === 'verify' ? user.email_verified_at !== null : true;
      if (done && tokenRow.expires_at > now && normalizeEmail(user.email) === tokenEmail) {
        return { kind: 'already_active', user: toUser(user) };
      }
      throw invalid;
    }
    if (tokenRow.expires_at <= now) {
      throw new HttpError(400, 'expired_token', 'This token has expired. Ask for a new one with `taskmaster verify --resend`.');
    }

    if (tokenRow.purpose === 'verify') {
      await knex.transaction(async (trx) => {
        if (await claimEmailToken(trx, tokenRow.id, now)) await markEmailVerified(trx, user.id, now);
      });
      await this.sessions.forgetUser(user.id);
      const wasActive = user.email_verified_at !== null;
      return { kind: wasActive ? 'already_active' : 'activated', user: await this.getUser(user.id) };
    }

    // An email change: the pending address becomes the email once its owner proves it.
    const pendingEmail = user.pending_email;
    if (pendingEmail === null || normalizeEmail(pendingEmail) !== tokenEmail) throw invalid;
    try {
      await knex.transaction(async (trx) => {
        // Both conditional: a second confirm of the same token, or a newer change requested
        // meanwhile (which replaced this token and the pending address), changes nothing.
        if (!(await claimEmailToken(trx, tokenRow.id, now))) throw invalid;
        if ((await confirmPendingEmail(trx, user.id, pendingEmail, tokenEmail, now)) === 0) throw invalid;
        await cancelEmailTokens(trx, user.id, 'password_reset');
        await recordEvent(trx, user.id, 'email_changed', request, now);
      });
    } catch (error) {
      if (isUniqueViolation(this.deps.db, error, 'email_normalized')) throw emailInUse();
      throw error;
    }
    await this.sessions.forgetUser(user.id);
    return { kind: 'email_changed', user: await this.getUser(user.id) };
  }

  /**
   * A token and the mail that carries it, made before the transaction that stores them: on SQLite
   * a transaction holds the one connection, so nothing but its statements runs inside it.
   */
  private tokenMail(user: Pick<UserRow, 'id' | 'username'>, purpose: 'verify' | 'email_change', email: string, now: number): TokenMail {
    const token = newEmailToken();
    const expiresAt = now + EMAIL_TOKEN_TTL_MS;
    const link = `${this.deps.publicUrl()}/v1/verify?token=${encodeURIComponent(token)}`;
    return {
      token: { userId: user.id, purpose, email, tokenHash: sha256Hex(token), expiresAt, createdAt: now },
      kind: purpose === 'verify' ? 'verification' : 'email_change',
      to: email,
      content:
        purpose === 'verify'
          ? verificationMail({ username: user.username, link, token, expiresAt })
          : emailChangeMail({ username: user.username, link, token, expiresAt, newEmail: email }),
    };
  }
}

type ProfileChanges = { username?: string; username_normalized?: string; pending_email?: string | null };

interface TokenMail {
  token: NewEmailToken;
  kind: string;
  to: string;
  content: MailContent;
}

async function storeTokenMail(trx: Knex.Transaction, mail: TokenMail, now: number): Promise<void> {
  await storeEmailToken(trx, mail.token);
  await enqueueMail(trx, mail.kind, mail.to, mail.content, now);
}

/** An email change to an address another account has: said to someone who is logged in. */
function emailInUse(): HttpError {
  const message = 'Another account already uses this email.';
  return new HttpError(409, 'email_taken', `${message} Your email stays as it was.`, { email: message });
}

function conflict(usernameTaken: boolean, emailTaken: boolean): HttpError {
  const errors: Record<string, string> = {};
  if (usernameTaken) errors.username = 'This username is taken.';
  if (emailTaken) errors.email = 'An account with this email already exists.';
  return usernameTaken
    ? new HttpError(409, 'username_taken', 'This username is taken. Choose another.', errors)
    : new HttpError(409, 'email_taken', 'An account with this email already exists. Log in, or verify it with `taskmaster verify`.', errors);
}
