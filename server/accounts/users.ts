// The users table: the one module that reads and writes it. The journeys (registration,
// verification, profile, passwords, deletion, login) call these. State: in the database only;
// the session store caches what it read (server/sessions/store.ts) and is told of every change.
import type { Knex } from 'knex';
import type { Database } from '../../db/connection.js';
import { HttpError } from '../core/errors.js';
import type { User } from '../contract/api.js';

export interface UserRow {
  id: string;
  username: string;
  email: string;
  email_verified_at: number | string | null;
  pending_email: string | null;
  created_at: number | string;
  updated_at: number | string;
  password_hash: string;
  /** When two-factor was turned on; null: off. */
  two_factor_at: number | string | null;
  /** When an operator disabled the account (`taskmasterd users disable`); null: enabled. */
  disabled_at: number | string | null;
}

export type NewUserRow = UserRow & { username_normalized: string; email_normalized: string };

const USER_COLUMNS = ['id', 'username', 'email', 'email_verified_at', 'pending_email', 'created_at', 'updated_at', 'password_hash', 'two_factor_at', 'disabled_at'];

type Queryable = Knex | Knex.Transaction;

/** The user row by id, or by (normalized) email; undefined when there is none. */
export function findUser(db: Database, by: { id: string } | { emailKey: string }): Promise<UserRow | undefined> {
  const query = db.knex('users').select(USER_COLUMNS);
  return ('id' in by ? query.where('id', by.id) : query.where('email_normalized', by.emailKey)).first<UserRow | undefined>();
}

// PostgreSQL returns bigint as a string; Number() keeps both dialects alike.
export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    emailVerified: row.email_verified_at !== null,
    pendingEmail: row.pending_email,
    twoFactorEnabled: row.two_factor_at !== null && row.two_factor_at !== undefined,
    createdAt: new Date(Number(row.created_at)).toISOString(),
    updatedAt: new Date(Number(row.updated_at)).toISOString(),
  };
}

/** Which of a (normalized) username and email another account has already. */
export async function nameClashes(db: Database, usernameKey: string, emailKey: string): Promise<{ username: boolean; email: boolean }> {
  const rows = await db.knex('users').select('username_normalized', 'email_normalized').where('username_normalized', usernameKey).orWhere('email_normalized', emailKey);
  return { username: rows.some((row) => row.username_normalized === usernameKey), email: rows.some((row) => row.email_normalized === emailKey) };
}

/** True when an account other than `userId` has this (normalized) email. */
export async function emailUsedByAnother(db: Database, emailKey: string, userId: string): Promise<boolean> {
  return (await db.knex('users').where('email_normalized', emailKey).whereNot('id', userId).first('id')) !== undefined;
}

export async function insertUser(trx: Knex.Transaction, row: NewUserRow): Promise<void> {
  await trx('users').insert(row);
}

/** A new username (with its normalized key) and/or pending email; how many rows changed. */
export function updateProfileColumns(
  trx: Knex.Transaction,
  userId: string,
  changes: { username?: string; username_normalized?: string; pending_email?: string | null; updated_at: number },
): Promise<number> {
  return trx('users').where('id', userId).update(changes);
}

/** The email proved by its link; nothing when it was proved already. */
export async function markEmailVerified(trx: Knex.Transaction, userId: string, now: number): Promise<void> {
  await trx('users').where('id', userId).whereNull('email_verified_at').update({ email_verified_at: now, updated_at: now });
}

/** The pending address becomes the email, only while it is still the pending one; how many rows changed. */
export function confirmPendingEmail(trx: Knex.Transaction, userId: string, pendingEmail: string, emailKey: string, now: number): Promise<number> {
  return trx('users').where({ id: userId, pending_email: pendingEmail }).update({ email: pendingEmail, email_normalized: emailKey, pending_email: null, email_verified_at: now, updated_at: now });
}

/**
 * A new password hash. `over`: only while the hash is still this one (a change that raced ahead
 * wins); `verifiesEmail`: the emailed reset proved the address. How many rows changed.
 */
export function setPasswordHash(trx: Knex.Transaction, userId: string, passwordHash: string, now: number, options: { over?: string; verifiesEmail?: boolean } = {}): Promise<number> {
  const query = trx('users').where('id', userId);
  if (options.over !== undefined) query.where('password_hash', options.over);
  return query.update({
    password_hash: passwordHash,
    updated_at: now,
    ...(options.verifiesEmail ? { email_verified_at: trx.raw('coalesce(email_verified_at, ?)', [now]) } : {}),
  });
}

/**
 * Claims the row for a change that must happen once (an UPDATE locks it on PostgreSQL; SQLite has
 * one writer): of two at once, the second finds nothing once the first commits. 0 when it is gone.
 */
export function claimUser(trx: Queryable, userId: string, now: number): Promise<number> {
  return trx('users').where('id', userId).update({ updated_at: now });
}

/** Two-factor on (`at`) or off (null), in the transaction that changes the credentials. */
export async function setTwoFactor(trx: Knex.Transaction, userId: string, at: number | null, now: number): Promise<void> {
  await trx('users').where('id', userId).update({ two_factor_at: at, updated_at: now });
}

/** How many accounts have two-factor on (a daemon without the encryption key must not start then). */
export async function twoFactorAccounts(db: Database): Promise<number> {
  const row = await db.knex('users').whereNotNull('two_factor_at').count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

export async function deleteUserRow(trx: Knex.Transaction, userId: string): Promise<void> {
  await trx('users').where('id', userId).delete();
}

/** True while an operator has the account disabled. */
export function isDisabled(row: Pick<UserRow, 'disabled_at'>): boolean {
  return row.disabled_at !== null && row.disabled_at !== undefined;
}

/** 403 account_disabled: what every way into a disabled account answers (told only to whoever proved the password, or holds its link). */
export function accountDisabled(): HttpError {
  return new HttpError(403, 'account_disabled', 'This account is disabled by the operator of this service: it cannot log in until they enable it again. Ask them (see the email the account was sent).');
}

/** Disabled (`at`) or enabled again (null); how many rows changed (0: no such account, or already so). */
export function setDisabled(trx: Knex.Transaction, userId: string, at: number | null, now: number): Promise<number> {
  const query = trx('users').where('id', userId);
  if (at === null) query.whereNotNull('disabled_at');
  else query.whereNull('disabled_at');
  return query.update({ disabled_at: at, updated_at: now });
}

/**
 * The account an operator names: by id, by email (it has an @) or by username, each compared as
 * stored (emails and usernames without regard to case).
 */
export async function findUserByHandle(db: Database, handle: string): Promise<UserRow | undefined> {
  const text = handle.trim();
  if (text.includes('@')) return findUser(db, { emailKey: text.toLowerCase() });
  return (
    (await findUser(db, { id: text })) ??
    (await db.knex('users').select(USER_COLUMNS).where('username_normalized', text.toLowerCase()).first<UserRow | undefined>())
  );
}

export interface UserFilter {
  /** Part of the username or the email, without regard to case. */
  query?: string | undefined;
  unverified?: boolean;
  disabled?: boolean;
  limit: number;
  /** The id of the last account of the previous page. */
  after?: string | undefined;
}

/**
 * A page of accounts, newest first (ties by id), from after the account `after` names; paging by
 * key, so accounts created meanwhile never shift the pages that follow. undefined when `after`
 * names no account.
 */
export async function listUsers(db: Database, filter: UserFilter): Promise<UserRow[] | undefined> {
  const query = db.knex('users').select(USER_COLUMNS);
  if (filter.query) {
    const pattern = `%${filter.query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query.where((match) => match.whereRaw("username_normalized LIKE ? ESCAPE '\\'", [pattern]).orWhereRaw("email_normalized LIKE ? ESCAPE '\\'", [pattern]));
  }
  if (filter.unverified) query.whereNull('email_verified_at');
  if (filter.disabled) query.whereNotNull('disabled_at');
  if (filter.after !== undefined) {
    const last = await db.knex('users').where('id', filter.after).first('id', 'created_at');
    if (!last) return undefined;
    const at = Number(last.created_at);
    query.where((older) => older.where('created_at', '<', at).orWhere((same) => same.where('created_at', at).where('id', '<', String(last.id))));
  }
  return query
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(filter.limit);
}
