// The mail_outbox table (the one module that reads and writes it). The transactional outbox: a
// mail is a row written in the same transaction as the change it reports, so a registration and
// its email commit or roll back together; the sender (sender.ts) leases due rows, delivers them
// outside any transaction and marks them. State: in the database, shared by every daemon.
import type { Knex } from 'knex';
import { skipLocked, type Database } from '../../db/connection.js';
import { normalizeEmail } from '../contract/rules.js';
import type { MailContent } from './templates.js';

export interface OutboxRow {
  id: number;
  kind: string;
  to_address: string;
  subject: string;
  text_body: string | null;
  html_body: string | null;
  link: string | null;
  attempts: number;
  created_at: number;
}

export async function enqueueMail(trx: Knex | Knex.Transaction, kind: string, to: string, content: MailContent, now: number): Promise<void> {
  await trx('mail_outbox').insert({
    kind,
    to_address: to,
    subject: content.subject,
    text_body: content.text,
    html_body: content.html,
    link: content.link ?? null,
    attempts: 0,
    next_attempt_at: now,
    created_at: now,
  });
}

/** Not sent, not failed for good. */
const pending = (query: Knex.QueryBuilder) => query.whereNull('sent_at').whereNull('failed_at');
/** Leased by no sender, or by one whose lease ran out. */
const unleased = (now: number) => (free: Knex.QueryBuilder) => free.whereNull('locked_until').orWhere('locked_until', '<=', now);

/**
 * Leases up to `limit` due rows to `leaseId` until `now + leaseMs`, in one short transaction: with
 * SKIP LOCKED on PostgreSQL, several daemons claim different rows.
 */
export function claimDueMail(db: Database, leaseId: string, leaseMs: number, now: number, limit: number): Promise<OutboxRow[]> {
  return db.knex.transaction(async (trx) => {
    const due: OutboxRow[] = await skipLocked(
      db,
      pending(trx('mail_outbox'))
        .where('next_attempt_at', '<=', now)
        .where(unleased(now))
        .orderBy('id')
        .limit(limit),
    );
    if (due.length > 0) {
      await trx('mail_outbox')
        .whereIn(
          'id',
          due.map((row) => row.id),
        )
        .update({ locked_until: now + leaseMs, locked_by: leaseId });
    }
    return due.map((row) => ({ ...row, id: Number(row.id), attempts: Number(row.attempts), created_at: Number(row.created_at) }));
  });
}

/** Extends the lease of the rows `leaseId` still holds and has not settled. */
export async function renewLease(db: Database, ids: number[], leaseId: string, until: number): Promise<void> {
  await pending(db.knex('mail_outbox').whereIn('id', ids).where('locked_by', leaseId)).update({ locked_until: until });
}

/** Hands leased rows back at once (a sender stopping), rather than leave them to a lease that has to run out. */
export async function releaseMail(db: Database, ids: number[], leaseId: string): Promise<void> {
  await db.knex('mail_outbox').whereIn('id', ids).where('locked_by', leaseId).update({ locked_until: null, locked_by: null });
}

/**
 * Makes mail that waits out a backoff after failed attempts due now (the server works again), but
 * not rows a sender holds. Returns their ids.
 */
export function retryHeldMailNow(db: Database, now: number): Promise<number[]> {
  return db.knex.transaction(async (trx) => {
    const held = () => pending(trx('mail_outbox')).where('attempts', '>', 0).where('next_attempt_at', '>', now).where(unleased(now));
    const rows: { id: number | string }[] = await held().select('id');
    if (rows.length > 0) await held().update({ next_attempt_at: now });
    return rows.map((row) => Number(row.id));
  });
}

/** How many mails wait (not sent, not given up) and when the oldest was queued: one count over the `mail_outbox_due` index, for the metrics. */
export async function outboxDepth(db: Database): Promise<{ pending: number; oldestQueuedAt: number | undefined }> {
  const row: { n?: number | string; oldest?: number | string | null } | undefined = await pending(db.knex('mail_outbox')).count({ n: '*' }).min({ oldest: 'created_at' }).first();
  return { pending: Number(row?.n ?? 0), oldestQueuedAt: row?.oldest === null || row?.oldest === undefined ? undefined : Number(row.oldest) };
}

/** When the earliest unleased pending row is due; undefined when there is none. */
export async function nextAttemptAt(db: Database): Promise<number | undefined> {
  const next = await pending(db.knex('mail_outbox')).whereNull('locked_until').min({ at: 'next_attempt_at' }).first();
  return next?.at === null || next?.at === undefined ? undefined : Number(next.at);
}

// Once a row is settled its bodies are blanked: they hold a raw token that must not stay in the database.
const NO_BODIES = { text_body: null, html_body: null, link: null };

export async function markSent(db: Database, id: number, attempts: number, now: number): Promise<void> {
  await db.knex('mail_outbox').where({ id }).update({ sent_at: now, locked_until: null, locked_by: null, attempts, last_error: null, ...NO_BODIES });
}

/** Given up for good; only while the lease is still `leaseId`'s. */
export async function markFailed(db: Database, id: number, leaseId: string, attempts: number, now: number, lastError: string): Promise<void> {
  await db.knex('mail_outbox').where({ id, locked_by: leaseId }).update({ attempts, failed_at: now, locked_until: null, locked_by: null, last_error: lastError, ...NO_BODIES });
}

/** Tried again at `at`; only while the lease is still `leaseId`'s (a sender that took the row over is delivering it now). */
export async function scheduleRetry(db: Database, id: number, leaseId: string, attempts: number, at: number, lastError: string): Promise<void> {
  await db.knex('mail_outbox').where({ id, locked_by: leaseId }).update({ attempts, next_attempt_at: at, locked_until: null, locked_by: null, last_error: lastError });
}

/**
 * The rows that concern a deleted account: everything to its address (sent rows keep the address
 * and subject), and the confirmation mail to a pending new address, whose token dies with it; not
 * rows of `keptKind` (an earlier account's goodbye to the same address is still delivered). A row
 * a sender holds right now may still go out; its bookkeeping then updates nothing.
 */
export async function deleteMailTo(trx: Knex.Transaction, account: { email: string; pendingEmail: string | null }, keptKind: string): Promise<void> {
  await trx('mail_outbox')
    .whereNot('kind', keptKind)
    .where((addressed) => {
      addressed.whereRaw('lower(to_address) = ?', [normalizeEmail(account.email)]);
      if (account.pendingEmail !== null) {
        const pendingEmail = normalizeEmail(account.pendingEmail);
        addressed.orWhere((confirmation) => confirmation.where('kind', 'email_change').whereRaw('lower(to_address) = ?', [pendingEmail]));
      }
    })
    .delete();
}
