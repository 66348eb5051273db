// Passkeys (WebAuthn, through @simplewebauthn/server): the passkey_credentials and
// webauthn_challenges tables (this module reads and writes them, and no other), the registration
// and authentication ceremonies, and listing, renaming and removing. No Koa here.
//
// State: in the database only. A challenge is stored as its SHA-256 and deleted by the request that
// answers it (a conditional delete: of two daemons given the same answer, one wins), so it works
// once, on any daemon, within 5 minutes. The relying party is PUBLIC_URL: its host is the RP id
// and its origin the only origin accepted. User verification is required in both ceremonies.
// Counters: an authenticator that counts (a security key) must count up, so an assertion whose
// counter did not grow is refused (a cloned key, or a replay); synced passkeys answer 0 every
// time, which the spec allows (0 stays 0). The counter is advanced by a conditional update, so two
// daemons cannot both accept the same counter value.
import { randomUUID } from 'node:crypto';
import { sha256Hex } from '../core/secrets.js';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Knex } from 'knex';
import { isUniqueViolation } from '../../db/connection.js';
import { recordEvent, type RequestInfo } from '../activity/events.js';
import { findUser, type UserRow } from '../accounts/users.js';
import type { ServiceDeps } from '../core/deps.js';
import { HttpError, invalidInput } from '../core/errors.js';
import { parseBody } from '../core/validation.js';
import type { Login } from '../login/flow.js';
import { reauthenticate, type CodeVerifier } from '../login/reauthenticate.js';
import { enqueueMail } from '../mail/outbox.js';
import type { Authenticated, SessionStore } from '../sessions/store.js';
import type { PasskeyInfo, SessionResponse } from '../contract/api.js';
import { passkeyAddedMail, passkeyRemovedMail } from './mails.js';
import { authenticateBody, registerBody, renameBody } from './schemas.js';
import { reauthBody } from '../two-factor/schemas.js';

/** Challenges live this long (the ceremonies' timeout too). */
export const CHALLENGE_TTL_MS = 5 * 60 * 1000;
/** Adding a passkey needs a sign-in this recent (the session's start). */
export const RECENT_SIGN_IN_MS = 10 * 60 * 1000;
/** At most this many passkeys on one account. */
export const PASSKEYS_MAX = 25;
const RP_NAME = 'TaskMaster';

type Purpose = 'registration' | 'authentication';

interface PasskeyRow {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  counter: number | string;
  transports: string | null;
  backup_eligible: boolean | number;
  backup_state: boolean | number;
  aaguid: string | null;
  name: string;
  created_at: number | string;
  last_used_at: number | string | null;
}

export function passkeyRefused(detail: string): HttpError {
  return new HttpError(401, 'passkey_refused', detail);
}

export function reauthenticationRequired(): HttpError {
  return new HttpError(403, 'reauthentication_required', 'Adding a passkey needs a sign-in within the last 10 minutes: sign in again (the password, and the code when two-factor is on), then add it.');
}

function notFound(): HttpError {
  return new HttpError(404, 'not_found', 'No passkey of yours has this id. List them with `taskmaster passkeys`.');
}

function lastWayIn(): HttpError {
  return new HttpError(409, 'last_sign_in_method', 'This passkey is your account\'s last way to sign in: add another passkey (or set a password) before removing it.');
}


/** The challenge the browser signed, read from its clientDataJSON (verified afterwards by the library). */
function challengeOf(clientDataJSON: string): string | undefined {
  try {
    const data: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    const challenge = (data as { challenge?: unknown }).challenge;
    return typeof challenge === 'string' && challenge.length > 0 && challenge.length <= 256 ? challenge : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the account has a password it can sign in with (today every account does; a passkey-only account would not). */
export function hasUsablePassword(row: Pick<UserRow, 'password_hash'>): boolean {
  return typeof row.password_hash === 'string' && row.password_hash.startsWith('$2');
}

/** Removing a passkey must leave a way in: a usable password, or another passkey. */
export function leavesAWayIn(row: Pick<UserRow, 'password_hash'>, passkeysBefore: number): boolean {
  return hasUsablePassword(row) || passkeysBefore > 1;
}

export class Passkeys {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly sessions: SessionStore,
    private readonly codes: CodeVerifier,
    private readonly login: Login,
  ) {}

  /** PUBLIC_URL's host (the RP id) and origin. */
  relyingParty(): { rpID: string; origin: string } {
    const url = new URL(this.deps.publicUrl());
    return { rpID: url.hostname, origin: url.origin };
  }

  // ---- registration ------------------------------------------------------------------------------

  /** The options for `navigator.credentials.create()`: a new challenge for this account, its passkeys excluded. */
  async registrationOptions(auth: Authenticated): Promise<PublicKeyCredentialCreationOptionsJSON> {
    await this.requireRecentSignIn(auth);
    const existing = await this.rows(auth.user.id);
    if (existing.length >= PASSKEYS_MAX) throw invalidInput({ body: `An account can have at most ${PASSKEYS_MAX} passkeys: remove one first.` });
    const { rpID } = this.relyingParty();
    const options = await generateRegistrationOptions({
      rpName: RP_NAME,
      rpID,
      userName: auth.user.email,
      userDisplayName: auth.user.username,
      // The user handle: the account's id (no email or name in it), which a discoverable passkey answers with.
      userID: new Uint8Array(Buffer.from(auth.user.id, 'utf8')),
      timeout: CHALLENGE_TTL_MS,
      attestationType: 'none',
      excludeCredentials: existing.map((row) => ({ id: row.credential_id, ...(row.transports ? { transports: row.transports.split(' ') as AuthenticatorTransportFuture[] } : {}) })),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
    });
    await this.storeChallenge(options.challenge, 'registration', auth.user.id);
    return options;
  }

  /** The browser's answer: checked (challenge, origin, RP id, user verification), then stored, with its event and notice mail. */
  async register(auth: Authenticated, body: unknown, request: RequestInfo): Promise<PasskeyInfo> {
    const parsed = parseBody(registerBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    await this.requireRecentSignIn(auth);
    const response = parsed.value.response as unknown as RegistrationResponseJSON;
    const challenge = challengeOf(response.response.clientDataJSON);
    if (!challenge || !(await this.useChallenge(challenge, 'registration', auth.user.id))) {
      throw passkeyRefused('This passkey request is unknown, used, or older than 5 minutes. Press "Add a passkey" again.');
    }
    const { rpID, origin } = this.relyingParty();
    let verified;
    try {
      verified = await verifyRegistrationResponse({ response, expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: true });
    } catch (error) {
      throw passkeyRefused(`The passkey was not accepted: ${describe(error)}`);
    }
    if (!verified.verified) throw passkeyRefused('The passkey was not accepted.');
    const info = verified.registrationInfo;
    const row = await findUser(this.deps.db, { id: auth.user.id });
    if (!row) throw new HttpError(401, 'unauthenticated', 'Your account no longer exists.');
    const now = this.deps.clock();
    const count = (await this.rows(row.id)).length;
    const stored: PasskeyRow = {
      id: randomUUID(),
      user_id: row.id,
      credential_id: info.credential.id,
      public_key: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: info.credential.transports && info.credential.transports.length > 0 ? info.credential.transports.join(' ').slice(0, 200) : null,
      backup_eligible: info.credentialDeviceType === 'multiDevice',
      backup_state: info.credentialBackedUp,
      aaguid: info.aaguid,
      name: parsed.value.name ?? defaultName(info.credentialDeviceType === 'multiDevice', count),
      created_at: now,
      last_used_at: null,
    };
    const mail = passkeyAddedMail({ username: row.username, name: stored.name, at: now, address: request.address, supportEmail: this.deps.supportEmail });
    try {
      await this.deps.db.knex.transaction(async (trx) => {
        await trx('passkey_credentials').insert(stored);
        await recordEvent(trx, row.id, 'passkey_added', request, now);
        await enqueueMail(trx, 'passkey_added', row.email, mail, now);
      });
    } catch (error) {
      if (isUniqueViolation(this.deps.db, error, 'credential_id')) throw passkeyRefused('This passkey is registered already.');
      throw error;
    }
    this.deps.mailQueued();
    return toInfo(stored);
  }

  // ---- authentication ----------------------------------------------------------------------------

  /** The options for `navigator.credentials.get()`: a new challenge, no account named (discoverable passkeys). */
  async authenticationOptions(address: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    await this.deps.throttle.passkeyChallengeRequested(address);
    const options = await generateAuthenticationOptions({ rpID: this.relyingParty().rpID, userVerification: 'required', timeout: CHALLENGE_TTL_MS });
    await this.storeChallenge(options.challenge, 'authentication', null);
    return options;
  }

  /**
   * The browser's answer: its challenge used up, its passkey found, then the login flow (the
   * throttle, the login event, a new session) with the assertion as its proof.
   */
  async authenticate(body: unknown, deviceToken: string | undefined, request: RequestInfo): Promise<SessionResponse> {
    const parsed = parseBody(authenticateBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const response = parsed.value.response as unknown as AuthenticationResponseJSON;
    const challenge = challengeOf(response.response.clientDataJSON);
    if (!challenge || !(await this.useChallenge(challenge, 'authentication', null))) {
      throw passkeyRefused('This sign-in request is unknown, used, or older than 5 minutes. Press "Sign in with a passkey" again.');
    }
    if (response.id !== response.rawId) throw passkeyRefused('The passkey\'s answer is not consistent.');
    const passkey: PasskeyRow | undefined = await this.deps.db.knex('passkey_credentials').where('credential_id', response.id).first();
    if (!passkey) throw passkeyRefused('This passkey is not registered here (it may have been removed). Sign in with your password, or use another passkey.');
    const handle = response.response.userHandle;
    if (handle !== undefined && Buffer.from(handle, 'base64url').toString('utf8') !== passkey.user_id) throw passkeyRefused('This passkey belongs to another account.');
    const row = await findUser(this.deps.db, { id: passkey.user_id });
    if (!row) throw passkeyRefused('This passkey is not registered here.');
    return this.login.loginWithPasskey(row, deviceToken, request, () => this.verifyAssertion(passkey, response, challenge));
  }

  private async verifyAssertion(passkey: PasskeyRow, response: AuthenticationResponseJSON, challenge: string): Promise<HttpError | undefined> {
    const { rpID, origin } = this.relyingParty();
    const counter = Number(passkey.counter);
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: origin,
        expectedRPID: rpID,
        requireUserVerification: true,
        credential: { id: passkey.credential_id, publicKey: new Uint8Array(Buffer.from(passkey.public_key, 'base64url')), counter, ...(passkey.transports ? { transports: passkey.transports.split(' ') as AuthenticatorTransportFuture[] } : {}) },
      });
    } catch (error) {
      return passkeyRefused(`The passkey was not accepted: ${describe(error)}`);
    }
    if (!verified.verified) return passkeyRefused('The passkey was not accepted.');
    const { newCounter, credentialBackedUp } = verified.authenticationInfo;
    // Conditional on the counter read: of two uses with the same counter, on any daemons, one wins.
    const advanced = await this.deps.db
      .knex('passkey_credentials')
      .where({ id: passkey.id })
      .where('counter', counter)
      .update({ counter: newCounter, backup_state: credentialBackedUp, last_used_at: this.deps.clock() });
    if (advanced === 0) return passkeyRefused('The passkey was used at the same moment elsewhere. Try again.');
    return undefined;
  }

  // ---- managing them -----------------------------------------------------------------------------

  /** The account's passkeys, newest first. */
  async list(userId: string): Promise<PasskeyInfo[]> {
    return (await this.rows(userId)).map(toInfo);
  }

  async rename(userId: string, id: string, body: unknown): Promise<PasskeyInfo> {
    const parsed = parseBody(renameBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const changed = await this.deps.db.knex('passkey_credentials').where({ user_id: userId, id }).update({ name: parsed.value.name });
    if (changed === 0) throw notFound();
    const row: PasskeyRow = await this.deps.db.knex('passkey_credentials').where({ id }).first();
    return toInfo(row);
  }

  /**
   * Removes one of the account's passkeys, after the password again (and the code with two-factor
   * on). The last passkey of an account without a usable password stays: it is the only way in.
   */
  async remove(auth: Authenticated, id: string, body: unknown, request: RequestInfo): Promise<void> {
    const parsed = parseBody(reauthBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { db, clock, throttle } = this.deps;
    const row = await findUser(db, { id: auth.user.id });
    if (!row) throw new HttpError(401, 'unauthenticated', 'Your account no longer exists.');
    const passkey: PasskeyRow | undefined = await db.knex('passkey_credentials').where({ user_id: row.id, id }).first();
    if (!passkey) throw notFound();
    // Said before the password is asked: no password could make this removal safe.
    if (!leavesAWayIn(row, (await this.rows(row.id)).length)) throw lastWayIn();
    if ((await reauthenticate({ throttle, codes: this.codes, db, clock }, row, parsed.value, request)) === 'wrong_password') {
      throw new HttpError(403, 'wrong_password', 'The current password is not right; the passkey stays.', { currentPassword: 'The current password is not right.' });
    }
    const now = clock();
    const mail = passkeyRemovedMail({ username: row.username, name: passkey.name, at: now, address: request.address, supportEmail: this.deps.supportEmail });
    const removed = await db.knex.transaction(async (trx) => {
      const left = await this.countIn(trx, row.id);
      if (!leavesAWayIn(row, left)) throw lastWayIn(); // another removal went first
      const deleted = await trx('passkey_credentials').where({ user_id: row.id, id }).delete();
      if (deleted === 0) return false;
      await recordEvent(trx, row.id, 'passkey_removed', request, now);
      await enqueueMail(trx, 'passkey_removed', row.email, mail, now);
      return true;
    });
    if (!removed) throw notFound();
    this.deps.mailQueued();
  }

  /** Deletes challenges past their 5 minutes; run with the hourly sweep. */
  deleteExpiredChallenges(): Promise<number> {
    return this.deps.db.knex('webauthn_challenges').where('expires_at', '<=', this.deps.clock()).delete();
  }

  // ---- inside ------------------------------------------------------------------------------------

  private async requireRecentSignIn(auth: Authenticated): Promise<void> {
    const signedInAt = await this.sessions.signedInAt(auth);
    if (signedInAt === undefined) throw new HttpError(401, 'unauthenticated', 'This session has ended. Sign in again.');
    if (this.deps.clock() - signedInAt > RECENT_SIGN_IN_MS) throw reauthenticationRequired();
  }

  private async storeChallenge(challenge: string, purpose: Purpose, userId: string | null): Promise<void> {
    await this.deps.db.knex('webauthn_challenges').insert({ challenge_hash: sha256Hex(challenge), purpose, user_id: userId, expires_at: this.deps.clock() + CHALLENGE_TTL_MS });
  }

  /** Uses the challenge up: true when it was there, for this purpose (and account), and not expired. */
  private async useChallenge(challenge: string, purpose: Purpose, userId: string | null): Promise<boolean> {
    const query = this.deps.db.knex('webauthn_challenges').where({ challenge_hash: sha256Hex(challenge), purpose }).where('expires_at', '>', this.deps.clock());
    if (userId !== null) query.where('user_id', userId);
    return (await query.delete()) === 1;
  }

  private rows(userId: string): Promise<PasskeyRow[]> {
    return this.deps.db
      .knex('passkey_credentials')
      .where('user_id', userId)
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ]);
  }

  private async countIn(trx: Knex.Transaction, userId: string): Promise<number> {
    const counted = await trx('passkey_credentials').where('user_id', userId).count({ n: '*' }).first();
    return Number(counted?.n ?? 0);
  }
}

/** A name until the user gives one: what kind of passkey, and its number on the account. */
function defaultName(synced: boolean, existing: number): string {
  return `${synced ? 'Synced passkey' : 'Passkey'} ${existing + 1}`;
}

/** The library's reason, short and without anything of the request's beyond what it names. */
function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.slice(0, 200);
}

function toInfo(row: PasskeyRow): PasskeyInfo {
  const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
  return { id: row.id, name: row.name, createdAt: iso(row.created_at)!, lastUsedAt: iso(row.last_used_at) };
}
