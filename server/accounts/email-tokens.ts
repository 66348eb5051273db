// The email_tokens table: tokens sent by email (verification, email change, password reset),
// random, single use, SHA-256 at rest. The one module that reads and writes it: the journeys that
// use a token (server/accounts/accounts.ts, server/passwords/) call these. State: in the database only.
import type { Knex } from 'knex';
import type { Database } from '../../db/connection.js';
import { sha256Hex } from '../core/secrets.js';

export type EmailTokenPurpose = 'verify' | 'email_change' | 'password_reset';
/** The purposes the verification link serves: a reset token pasted there is as unknown as a made-up one. */
export const LINK_PURPOSES: EmailTokenPurpose[] = ['verify', 'email_change'];
export const EMAIL_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

export interface EmailTokenRow {
  id: number;
  user_id: string;
  purpose: EmailTokenPurpose;
  email: string;
  used_at: number | null;
  expires_at: number;
}

export interface NewEmailToken {
  userId: string;
  purpose: EmailTokenPurpose;
  email: string;
  tokenHash: string;
  expiresAt: number;
  createdAt: number;
}

export async function storeEmailToken(trx: Knex.Transaction, token: NewEmailToken): Promise<void> {
  await trx('email_tokens').insert({
    user_id: token.userId,
    purpose: token.purpose,
    email: token.email,
    token_hash: token.tokenHash,
    expires_at: token.expiresAt,
    created_at: token.createdAt,
  });
}

/** The row of a raw token among `purposes`, used or not, expired or not. */
export async function findEmailToken(db: Database, token: string, purposes: EmailTokenPurpose[]): Promise<EmailTokenRow | undefined> {
  const row = await db.knex('email_tokens').where('token_hash', sha256Hex(token)).whereIn('purpose', purposes).first('id', 'user_id', 'purpose', 'email', 'used_at', 'expires_at');
  return row ? { ...row, id: Number(row.id), user_id: String(row.user_id), email: String(row.email), used_at: row.used_at === null ? null : Number(row.used_at), expires_at: Number(row.expires_at) } : undefined;
}

/** An unused, unexpired token of this purpose. */
export async function findLiveEmailToken(db: Database, token: string, purpose: EmailTokenPurpose, now: number): Promise<EmailTokenRow | undefined> {
  const row = await findEmailToken(db, token, [purpose]);
  return row && row.used_at === null && row.expires_at > now ? row : undefined;
}

export type TokenLook = 'usable' | 'invalid' | 'expired' | 'disabled';

/**
 * What a link's token is now, without using it: unknown (or used and past its time) is 'invalid',
 * unused and past its time 'expired', a live one of a disabled account 'disabled', anything else
 * 'usable' (using it decides the rest, "already active" included).
 */
export async function lookAtEmailToken(db: Database, token: string, now: number): Promise<TokenLook> {
  const row = await findEmailToken(db, token, LINK_PURPOSES);
  if (!row) return 'invalid';
  if (row.expires_at > now) {
    // The account's state, from the table this module's owner keeps beside it (accounts/users.ts).
    const owner = await db.knex('users').where('id', row.user_id).first('disabled_at');
    return owner && owner.disabled_at !== null ? 'disabled' : 'usable';
  }
  return row.used_at === null ? 'expired' : 'invalid';
}

/** Marks a token used; false when it was used already (or, with `unexpired`, is past its time): of two uses at once, one wins. */
export async function claimEmailToken(trx: Knex.Transaction, id: number, now: number, options: { unexpired?: boolean } = {}): Promise<boolean> {
  const query = trx('email_tokens').where({ id }).whereNull('used_at');
  if (options.unexpired) query.where('expires_at', '>', now);
  return (await query.update({ used_at: now })) > 0;
}

/**
 * Marks a token used by its hash: for a hash that was never stored, the statement the forgot
 * journey runs for an unknown email, so it costs what a known one does.
 */
export async function burnEmailTokenHash(trx: Knex.Transaction, tokenHash: string, now: number): Promise<void> {
  await trx('email_tokens').where('token_hash', tokenHash).update({ used_at: now });
}

/** Deletes the user's tokens of one purpose: only the unused ones, or all but one. */
export async function cancelEmailTokens(trx: Knex.Transaction, userId: string, purpose: EmailTokenPurpose, options: { unusedOnly?: boolean; except?: number } = {}): Promise<void> {
  const query = trx('email_tokens').where({ user_id: userId, purpose });
  if (options.unusedOnly) query.whereNull('used_at');
  if (options.except !== undefined) query.whereNot('id', options.except);
  await query.delete();
}

export async function deleteUserEmailTokens(trx: Knex.Transaction, userId: string): Promise<void> {
  await trx('email_tokens').where('user_id', userId).delete();
}
