// Two-factor authentication (TOTP, RFC 6238, and recovery codes): the totp_credentials,
// recovery_codes and login_challenges tables (this module reads and writes them, and no other),
// enrolment, turning it off, new recovery codes, and checking a code wherever one is asked.
// No Koa here.
//
// State: in the database only. A time step once accepted for an account is never accepted again,
// on any daemon: the step is claimed by a conditional update (RFC 6238 §5.2). Recovery codes are
// stored with bcrypt (ASVS 5.0 6.5.2) beside a lookup prefix that finds the row; each is claimed
// once. Secrets are encrypted with the operator's key (key.ts, cipher.ts).
import { randomBytes, randomInt } from 'node:crypto';
import type { Knex } from 'knex';
import type { Database } from '../../db/connection.js';
import { Secret, TOTP } from 'otpauth';
import { recordEvent, type RequestInfo } from '../activity/events.js';
import { findUser, setTwoFactor, type UserRow } from '../accounts/users.js';
import type { ServiceDeps } from '../core/deps.js';
import { HttpError, invalidInput } from '../core/errors.js';
import { hashPassword, sha256Hex, verifyPassword } from '../core/secrets.js';
import { parseBody } from '../core/validation.js';
import { reauthenticate, type CodeVerifier } from '../login/reauthenticate.js';
import { enqueueMail } from '../mail/outbox.js';
import type { Authenticated, SessionStore } from '../sessions/store.js';
import type { RecoveryCodes, TotpEnrolment } from '../contract/api.js';
import { decryptSecret, encryptSecret } from './cipher.js';
import { recoveryCodeUsedMail, twoFactorDisabledMail, twoFactorEnabledMail } from './mails.js';
import { confirmBody, enrolBody, reauthBody } from './schemas.js';

const STEP_SECONDS = 30;
export const ISSUER = 'TaskMaster';
export const RECOVERY_CODE_COUNT = 10;
/** Letters and digits that do not look alike, for codes a person types from paper. */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const LOOKUP_CHARS = 4;
const RECOVERY_CHARS = 16; // 4 to find the row, 12 secret: about 59 bits, behind bcrypt and the login throttle
export const CHALLENGE_TTL_MS = 5 * 60 * 1000;
export const CHALLENGE_MAX_FAILURES = 5;

export function otpRequired(challenge?: string): HttpError {
  return new HttpError(
    401,
    'otp_required',
    'This account has two-factor authentication on: give the code from your authenticator app, or an unused recovery code.',
    undefined,
    {},
    challenge ? { challenge } : {},
  );
}

export function invalidCode(status = 403): HttpError {
  return new HttpError(status, 'invalid_code', 'That code is not right, or was used already: a code is good once. Wait for the next one, or use a recovery code.', { code: 'That code is not right, or was used already.' });
}

function invalidChallenge(): HttpError {
  return new HttpError(401, 'invalid_challenge', 'This login challenge is unknown, used, expired (5 minutes) or ended after 5 wrong codes. Log in again with the password.');
}

/** `abcd-efgh-jkmn-pqrs`: how a recovery code is shown; typed back with or without the dashes, in any case. */
function newRecoveryCode(): string {
  let code = '';
  for (let i = 0; i < RECOVERY_CHARS; i++) code += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
  return code.match(/.{4}/g)!.join('-');
}

/** Ten codes whose lookup prefixes differ (each finds its own row). */
function newRecoveryCodes(): string[] {
  const codes = new Map<string, string>();
  while (codes.size < RECOVERY_CODE_COUNT) {
    const code = newRecoveryCode();
    codes.set(code.slice(0, LOOKUP_CHARS), code);
  }
  return [...codes.values()];
}

const normalizedCode = (code: string) => code.replace(/[\s-]/g, '').toLowerCase();

export class TwoFactor implements CodeVerifier {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly sessions: SessionStore,
    /** undefined: no key was given (PostgreSQL without TOTP_ENCRYPTION_KEY): enrolment answers 503. */
    private readonly key: Buffer | undefined,
  ) {}

  /**
   * Starts an enrolment after the password: a new secret of 160 bits, nothing on until a code
   * from it is confirmed. A pending enrolment is replaced.
   */
  async enrol(auth: Authenticated, body: unknown, request: RequestInfo): Promise<TotpEnrolment> {
    const parsed = parseBody(enrolBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const user = await this.user(auth.user.id);
    if (user.two_factor_at !== null) throw new HttpError(409, 'two_factor_enabled', 'Two-factor authentication is on already. Turn it off first to enrol another authenticator.');
    const key = this.requireKey();
    if ((await reauthenticate(this.reauthDeps(), user, parsed.value, request)) === 'wrong_password') throw wrongPassword();
    const secret = new Secret({ size: 20 }).base32;
    const now = this.deps.clock();
    await this.deps.db.knex.transaction(async (trx) => {
      await trx('totp_credentials').where('user_id', user.id).delete();
      await trx('totp_credentials').insert({ user_id: user.id, secret_encrypted: encryptSecret(key, user.id, secret), created_at: now, confirmed_at: null, last_step: null });
    });
    return { secret, otpauthUri: otpauthUri(user.username, secret) };
  }

  /**
   * Turns two-factor on with a code from the pending secret: 10 recovery codes (shown once), every
   * other session ended, an event and a notice mail, in one transaction.
   */
  async confirm(auth: Authenticated, body: unknown, request: RequestInfo): Promise<RecoveryCodes> {
    const parsed = parseBody(confirmBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const user = await this.user(auth.user.id);
    if (user.two_factor_at !== null) throw new HttpError(409, 'two_factor_enabled', 'Two-factor authentication is on already.');
    const pending = await this.deps.db.knex('totp_credentials').where('user_id', user.id).whereNull('confirmed_at').first('secret_encrypted');
    if (!pending) throw new HttpError(409, 'no_enrolment', 'No two-factor enrolment is waiting for a code: start one with `taskmaster 2fa enable`.');
    const now = this.deps.clock();
    const step = this.matchingStep(user, String(pending.secret_encrypted), parsed.value.code, now);
    if (step === undefined) throw invalidCode(400);
    const codes = newRecoveryCodes();
    const rows = await this.recoveryRows(user.id, codes, now);
    const turnedOn = await this.deps.db.knex.transaction(async (trx) => {
      const confirmed = await trx('totp_credentials').where('user_id', user.id).whereNull('confirmed_at').update({ confirmed_at: now, last_step: step });
      if (confirmed === 0) return false; // confirmed meanwhile, on another request
      await setTwoFactor(trx, user.id, now, now);
      await trx('recovery_codes').where('user_id', user.id).delete();
      await trx('recovery_codes').insert(rows);
      await this.sessions.endOtherSessions(trx, user.id, auth.tokenHash);
      await recordEvent(trx, user.id, 'two_factor_enabled', request, now);
      await enqueueMail(trx, 'two_factor_enabled', user.email, twoFactorEnabledMail({ username: user.username, at: now, supportEmail: this.deps.supportEmail }), now);
      return true;
    });
    if (!turnedOn) throw new HttpError(409, 'two_factor_enabled', 'Two-factor authentication is on already.');
    await this.sessions.forgetUser(user.id);
    this.deps.mailQueued();
    await this.deps.invalidations.settle();
    return { recoveryCodes: codes };
  }

  /** Turns two-factor off, with the password and a code: the secret and the recovery codes go. */
  async disable(auth: Authenticated, body: unknown, request: RequestInfo): Promise<void> {
    const parsed = parseBody(reauthBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const user = await this.user(auth.user.id);
    if ((await reauthenticate(this.reauthDeps(), user, parsed.value, request)) === 'wrong_password') throw wrongPassword();
    if (user.two_factor_at === null) return; // off already: nothing to do
    const now = this.deps.clock();
    await this.deps.db.knex.transaction(async (trx) => {
      await trx('totp_credentials').where('user_id', user.id).delete();
      await trx('recovery_codes').where('user_id', user.id).delete();
      await setTwoFactor(trx, user.id, null, now);
      await recordEvent(trx, user.id, 'two_factor_disabled', request, now);
      await enqueueMail(trx, 'two_factor_disabled', user.email, twoFactorDisabledMail({ username: user.username, at: now, address: request.address, supportEmail: this.deps.supportEmail }), now);
    });
    await this.sessions.forgetUser(user.id);
    this.deps.mailQueued();
    await this.deps.invalidations.settle();
  }

  /** New recovery codes, with the password and a code: the old ones die. */
  async regenerateRecoveryCodes(auth: Authenticated, body: unknown, request: RequestInfo): Promise<RecoveryCodes> {
    const parsed = parseBody(reauthBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const user = await this.user(auth.user.id);
    if (user.two_factor_at === null) throw new HttpError(409, 'no_enrolment', 'Two-factor authentication is off: turn it on first with `taskmaster 2fa enable`.');
    if ((await reauthenticate(this.reauthDeps(), user, parsed.value, request)) === 'wrong_password') throw wrongPassword();
    const now = this.deps.clock();
    const codes = newRecoveryCodes();
    const rows = await this.recoveryRows(user.id, codes, now);
    await this.deps.db.knex.transaction(async (trx) => {
      await trx('recovery_codes').where('user_id', user.id).delete();
      await trx('recovery_codes').insert(rows);
      await recordEvent(trx, user.id, 'recovery_codes_regenerated', request, now);
    });
    return { recoveryCodes: codes };
  }

  /**
   * True when `code` proves the second factor of `user` now: a TOTP code of a step not accepted
   * before (the step is claimed in the database, so a code is good once on every daemon), or an
   * unused recovery code (claimed likewise; its use is mailed with how many remain).
   */
  async verifyCode(user: UserRow, code: string, request: RequestInfo): Promise<boolean> {
    const proved = await this.checkCode(user, code, request);
    if (!proved) this.deps.metrics?.codeRefused();
    return proved;
  }

  private async checkCode(user: UserRow, code: string, request: RequestInfo): Promise<boolean> {
    const given = normalizedCode(code);
    if (/^\d{6}$/.test(given)) {
      const credential = await this.deps.db.knex('totp_credentials').where('user_id', user.id).whereNotNull('confirmed_at').first('secret_encrypted');
      if (!credential) return false;
      const step = this.matchingStep(user, String(credential.secret_encrypted), given, this.deps.clock());
      if (step === undefined) return false;
      const claimed = await this.deps.db
        .knex('totp_credentials')
        .where('user_id', user.id)
        .where((earlier) => earlier.whereNull('last_step').orWhere('last_step', '<', step))
        .update({ last_step: step });
      return claimed > 0;
    }
    if (given.length !== RECOVERY_CHARS || [...given].some((char) => !RECOVERY_ALPHABET.includes(char))) return false;
    const row = await this.deps.db.knex('recovery_codes').where({ user_id: user.id, lookup: given.slice(0, LOOKUP_CHARS) }).whereNull('used_at').first('id', 'code_hash');
    if (!row || !(await verifyPassword(given, String(row.code_hash)))) return false;
    const now = this.deps.clock();
    return this.deps.db.knex.transaction(async (trx) => {
      const claimed = await trx('recovery_codes').where('id', row.id).whereNull('used_at').update({ used_at: now });
      if (claimed === 0) return false; // used meanwhile
      const left = await trx('recovery_codes').where('user_id', user.id).whereNull('used_at').count({ n: '*' }).first();
      const remaining = Number(left?.n ?? 0);
      await recordEvent(trx, user.id, 'recovery_code_used', request, now);
      await enqueueMail(trx, 'recovery_code_used', user.email, recoveryCodeUsedMail({ username: user.username, at: now, address: request.address, remaining, supportEmail: this.deps.supportEmail }), now);
      this.deps.mailQueued();
      return true;
    });
  }

  // ---- login challenges: between a right password and its code -------------------------------

  /** A new challenge for a login whose password was right: single use, 5 minutes, 5 wrong codes. */
  async newChallenge(userId: string): Promise<string> {
    const challenge = randomBytes(32).toString('base64url');
    const now = this.deps.clock();
    await this.deps.db.knex('login_challenges').insert({ challenge_hash: sha256Hex(challenge), user_id: userId, created_at: now, expires_at: now + CHALLENGE_TTL_MS, failures: 0, used_at: null });
    return challenge;
  }

  /**
   * Spends one of a live challenge's 5 attempts, before the code is checked (a conditional update,
   * so of parallel attempts at most 5 get through), and says whose it is; 401 invalid_challenge
   * otherwise. The attempt whose code is right then uses the challenge up.
   */
  async challengeAttempt(challenge: string): Promise<string> {
    const hash = sha256Hex(challenge);
    const now = this.deps.clock();
    const spent = await this.deps.db
      .knex('login_challenges')
      .where('challenge_hash', hash)
      .whereNull('used_at')
      .where('expires_at', '>', now)
      .where('failures', '<', CHALLENGE_MAX_FAILURES)
      .increment('failures', 1);
    if (spent === 0) throw invalidChallenge();
    const row = await this.deps.db.knex('login_challenges').where('challenge_hash', hash).first('user_id');
    return String(row.user_id);
  }

  /** The challenge is used (of two logins with it at once, one wins). */
  async useChallenge(trx: Knex.Transaction, challenge: string): Promise<void> {
    const used = await trx('login_challenges')
      .where('challenge_hash', sha256Hex(challenge))
      .whereNull('used_at')
      .update({ used_at: this.deps.clock() });
    if (used === 0) throw invalidChallenge();
  }

  /** Ends the account's open challenges, in the caller's transaction: a new password voids what the old one answered. */
  async endChallenges(trx: Knex.Transaction, userId: string): Promise<void> {
    await trx('login_challenges').where('user_id', userId).delete();
  }

  /** Deletes challenges past their 5 minutes; run with the hourly sweep. */
  deleteExpiredChallenges(): Promise<number> {
    return this.deps.db.knex('login_challenges').where('expires_at', '<=', this.deps.clock()).delete();
  }

  /** What re-authentication needs: the throttle, and this for the code. */
  reauthDeps() {
    return { throttle: this.deps.throttle, codes: this as CodeVerifier, db: this.deps.db, clock: this.deps.clock };
  }

  /** The step a TOTP code is from (this one, the one before or after), or undefined when it is from none. */
  private matchingStep(user: Pick<UserRow, 'id' | 'username'>, sealed: string, code: string, now: number): number | undefined {
    const secret = this.key ? decryptSecret(this.key, user.id, sealed) : undefined;
    if (secret === undefined) return undefined;
    const totp = new TOTP({ issuer: ISSUER, label: user.username, algorithm: 'SHA1', digits: 6, period: STEP_SECONDS, secret: Secret.fromBase32(secret) });
    const delta = totp.validate({ token: normalizedCode(code), timestamp: now, window: 1 });
    return delta === null ? undefined : Math.floor(now / 1000 / STEP_SECONDS) + delta;
  }

  private async recoveryRows(userId: string, codes: string[], now: number): Promise<Record<string, unknown>[]> {
    return Promise.all(
      codes.map(async (code) => {
        const plain = normalizedCode(code);
        return { user_id: userId, lookup: plain.slice(0, LOOKUP_CHARS), code_hash: await hashPassword(plain, this.deps.bcryptCost), created_at: now, used_at: null };
      }),
    );
  }

  private requireKey(): Buffer {
    if (!this.key) throw new HttpError(503, 'service_unavailable', 'Two-factor authentication is not available on this server yet: its operator has to set TOTP_ENCRYPTION_KEY on every daemon.');
    return this.key;
  }

  private async user(userId: string): Promise<UserRow> {
    const user = await findUser(this.deps.db, { id: userId });
    if (!user) throw new HttpError(401, 'unauthenticated', 'Your account no longer exists.', undefined, { 'WWW-Authenticate': 'Bearer' });
    return user;
  }
}

/** `otpauth://totp/TaskMaster:<username>?secret=…&issuer=TaskMaster`, as authenticator apps read it. */
export function otpauthUri(username: string, secret: string): string {
  return `otpauth://totp/${ISSUER}:${encodeURIComponent(username)}?secret=${secret}&issuer=${ISSUER}`;
}

function wrongPassword(): HttpError {
  return new HttpError(403, 'wrong_password', 'The current password is not right.', { currentPassword: 'The current password is not right.' });
}


/** What an operator is shown of an account's two-factor (`taskmasterd users show`): never a secret. */
export interface TwoFactorState {
  enabled: boolean;
  /** An enrolment started and not yet confirmed with a code. */
  enrolmentPending: boolean;
  /** Unused recovery codes (0 when two-factor is off). */
  recoveryCodesLeft: number;
}

export async function twoFactorState(db: Database, user: Pick<UserRow, 'id' | 'two_factor_at'>): Promise<TwoFactorState> {
  const [credential, codes] = await Promise.all([
    db.knex('totp_credentials').where('user_id', user.id).first('confirmed_at'),
    db.knex('recovery_codes').where('user_id', user.id).whereNull('used_at').count({ n: '*' }).first(),
  ]);
  return {
    enabled: user.two_factor_at !== null,
    enrolmentPending: credential !== undefined && credential.confirmed_at === null,
    recoveryCodesLeft: Number(codes?.n ?? 0),
  };
}
