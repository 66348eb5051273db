// Account deletion (`DELETE /v1/me`). No Koa here.
//
// State: in the database only. In one transaction the account's rows go — sessions (through
// SessionStore.endAllSessions, which drops this daemon's cache entries and publishes `user:<id>`
// so every other daemon drops theirs at commit), email tokens, device tokens, events, the mail
// still addressed to it, and the user row (FK cascades take any table added later) — and the
// goodbye mail is queued: it is the one row that outlives the account.
import { currentPasswordMatches } from '../login/reauthenticate.js';
import type { Knex } from 'knex';
import { HttpError, invalidInput } from '../core/errors.js';
import { recordEvent, type RequestInfo } from '../activity/events.js';
import { enqueueMail } from '../mail/outbox.js';
import { accountDeletedMail } from '../mail/templates.js';
import { deleteAccountBody, parseBody } from '../core/validation.js';
import { findUser, type ServiceDeps, type UserRow } from './users.js';
import type { Authenticated, SessionStore } from '../sessions/store.js';
import { normalizeEmail } from '../contract/rules.js';

const GOODBYE_KIND = 'account_deleted';

export class AccountDeletion {
  constructor(
    private readonly deps: ServiceDeps & { supportEmail?: string | undefined },
    private readonly sessions: SessionStore,
  ) {}

  /**
   * Deletes the caller's account after checking its password again. A wrong password counts as a
   * failed login (a stolen session must not be a way to guess it) and shows in the activity.
   */
  async deleteAccount(auth: Authenticated, body: unknown, request: RequestInfo): Promise<void> {
    const parsed = parseBody(deleteAccountBody, body);
    if (!parsed.ok) throw invalidInput(parsed.errors);
    const { db, throttle, clock } = this.deps;
    const row = await findUser(db, { id: auth.user.id });
    if (!row) throw new HttpError(401, 'unauthenticated', 'Your account no longer exists.', undefined, { 'WWW-Authenticate': 'Bearer' });

    if (!(await currentPasswordMatches(throttle, row, parsed.value.currentPassword, request.address))) {
      await recordEvent(db.knex, row.id, 'login_failed', request, clock());
      throw new HttpError(403, 'wrong_password', 'The current password is not right; the account was not deleted.', {
        currentPassword: 'The current password is not right.',
      });
    }

    const now = clock();
    const deleted = await db.knex.transaction(async (trx) => {
      // Claims the row (an UPDATE locks it on PostgreSQL; SQLite has one writer): of two
      // deletions at once, the second finds nothing here once the first commits. One goodbye.
      const claimed = await trx('users').where('id', row.id).update({ updated_at: now });
      if (claimed === 0) return false;
      await this.sessions.endAllSessions(trx, row.id);
      await trx('email_tokens').where('user_id', row.id).delete();
      await trx('device_tokens').where('user_id', row.id).delete();
      await trx('account_events').where('user_id', row.id).delete();
      await deleteMailTo(trx, row);
      await trx('users').where('id', row.id).delete();
      await enqueueMail(trx, GOODBYE_KIND, row.email, accountDeletedMail({ username: row.username, deletedAt: now, supportEmail: this.deps.supportEmail }), now);
      return true;
    });
    if (!deleted) throw new HttpError(401, 'unauthenticated', 'Your account no longer exists.', undefined, { 'WWW-Authenticate': 'Bearer' });
    this.deps.mailQueued();
  }
}

/**
 * The outbox rows that concern the account: everything to its address (sent rows keep the address
 * and subject), and the confirmation mail to a pending new address, whose token dies with it. An
 * earlier account's goodbye to the same address stays, so that every goodbye is delivered. A row
 * a sender holds right now may still go out; its bookkeeping then updates nothing.
 */
async function deleteMailTo(trx: Knex.Transaction, row: UserRow): Promise<void> {
  await trx('mail_outbox')
    .whereNot('kind', GOODBYE_KIND)
    .where((addressed) => {
      addressed.whereRaw('lower(to_address) = ?', [normalizeEmail(row.email)]);
      if (row.pending_email !== null) {
        addressed.orWhere((pending) => pending.where('kind', 'email_change').whereRaw('lower(to_address) = ?', [normalizeEmail(row.pending_email!)]));
      }
    })
    .delete();
}
