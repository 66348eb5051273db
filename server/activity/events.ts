// The account_events table (the one module that reads and writes it): what happened, when, from
// where. State: in the database; an event row is written in the same transaction as the change it
// records, so both commit or neither.
import type { Knex } from 'knex';
import type { AccountEvent, AccountEventType } from '../contract/api.js';

/** Who is asking: the client address (see TRUST_PROXY) and its User-Agent, as the request gave them. */
export interface RequestInfo {
  address: string;
  userAgent: string | null;
  /** 'operator': done with `taskmasterd users`, not by a request (no address, no User-Agent). */
  actor?: 'operator';
}

/** What an operator's action is recorded as. */
export const OPERATOR: RequestInfo = { address: '', userAgent: null, actor: 'operator' };

export const EVENT_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;
const USER_AGENT_MAX = 256;

/** A User-Agent as stored: trimmed, control characters dropped, at most 256 characters. */
export function storedUserAgent(userAgent: string | undefined | null): string | null {
  const cleaned = (userAgent ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, USER_AGENT_MAX);
  return cleaned === '' ? null : cleaned;
}

export async function recordEvent(trx: Knex | Knex.Transaction, userId: string, type: AccountEventType, request: RequestInfo, at: number): Promise<void> {
  await trx('account_events').insert({
    user_id: userId,
    type,
    at,
    address: request.address === '' ? null : request.address.slice(0, 64),
    user_agent: storedUserAgent(request.userAgent),
    actor: request.actor ?? null,
  });
}

/** Newest first, the last 90 days (at most `limit`). */
export async function listEvents(knex: Knex, userId: string, now: number, limit?: number): Promise<AccountEvent[]> {
  const query = knex('account_events')
    .select('type', 'at', 'address', 'user_agent', 'actor')
    .where('user_id', userId)
    .where('at', '>', now - EVENT_RETENTION_MS)
    .orderBy([
      { column: 'at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
  if (limit !== undefined) query.limit(limit);
  const rows = await query;
  return rows.map((row) => ({
    type: row.type as AccountEventType,
    at: new Date(Number(row.at)).toISOString(),
    address: row.address ?? null,
    userAgent: row.user_agent ?? null,
    ...(row.actor === 'operator' ? { actor: 'operator' as const } : {}),
  }));
}

/** The addresses of the account's failed logins and codes since `since` (where its login blocks came from). */
export async function failedLoginAddresses(knex: Knex, userId: string, since: number): Promise<string[]> {
  const rows = await knex('account_events').distinct('address').where('user_id', userId).whereIn('type', ['login_failed', 'code_failed']).where('at', '>', since).whereNotNull('address');
  return rows.map((row) => String(row.address));
}

/** Deletes events past their 90 days; run with the hourly sweep. */
export function deleteOldEvents(knex: Knex, now: number): Promise<number> {
  return knex('account_events').where('at', '<=', now - EVENT_RETENTION_MS).delete();
}

/** The account's events go with it (account deletion). */
export async function deleteUserEvents(trx: Knex.Transaction, userId: string): Promise<void> {
  await trx('account_events').where('user_id', userId).delete();
}
