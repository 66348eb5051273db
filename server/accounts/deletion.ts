// Account deletion (`DELETE /v1/me`). No Koa here.
//
// State: in the database only. In one transaction the account's rows go, each through the module
// that owns its table — sessions (SessionStore.endAllSessions drops this daemon's cache entries
// and publishes `user:<id>` so every other daemon drops theirs at commit), email tokens, device
// tokens, events, the mail still addressed to it, and the user row (FK cascades take any table
// added later) — and the goodbye mail is queued: it is the one row that outlives the account.
import { reauthenticate, type CodeVerifier } from '../login/reauthenticate.js';
import { HttpError, invalidInput } from '../core/errors.js';
import { deleteUserEvents, recordEvent, type RequestInfo } from '../activity/events.js';
import type { ServiceDeps } from '../core/deps.js';
import { deleteUserDeviceTokens } from '../login/device-tokens.js';
import { deleteMailTo, enqueueMail } from '../mail/outbox.js';
import { deleteUserEmailTokens } from './email-tokens.js';
import { accountDeletedMail } from './mails.js';
import { parseBody } from '../core/validation.js';
import { deleteAccountBody } from './schemas.js';
import { claimUser, deleteUserRow, findUser, type UserRow } from './users.js';
import type { Authenticated, SessionStore } from '../sessions/store.js';
import type { AccessTokens } from '../tokens/store.js';

const GOODBYE_KIND = 'account_deleted';

export class AccountDeletion {
  constructor(
    private readonly deps: ServiceDeps & { supportEmail?: string | undefined },
    private readonly sessions: SessionStore,
    private readonly tokens: AccessTokens,
    private readonly codes: CodeVerifier,
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

    if ((await reauthenticate({ throttle, codes: this.codes, db, clock }, row, parsed.value, request)) === 'wrong_password') {
      await recordEvent(db.knex, row.id, 'login_failed', request, clock());
      throw new HttpError(403, 'wrong_password', 'The current password is not right; the account was not deleted.', {
        currentPassword: 'The current password is not right.',
      });
    }

    if (!(await this.remove(row, 'owner'))) throw new HttpError(401, 'unauthenticated', 'Your account no longer exists.', undefined, { 'WWW-Authenticate': 'Bearer' });
  }

  /** `taskmasterd users delete`: the same deletion, asked by the operator (no password); false when it was gone already. */
  deleteByOperator(row: UserRow): Promise<boolean> {
    return this.remove(row, 'operator');
  }

  /** The account's rows go in one transaction, the goodbye mail with them; every daemon drops its caches before this returns. */
  private async remove(row: UserRow, by: 'owner' | 'operator'): Promise<boolean> {
    const { db, clock } = this.deps;
    const now = clock();
    const deleted = await db.knex.transaction(async (trx) => {
      // Of two deletions at once, the second finds nothing here once the first commits. One goodbye.
      if ((await claimUser(trx, row.id, now)) === 0) return false;
      await this.sessions.endAllSessions(trx, row.id);
      await this.tokens.endUserTokens(trx, row.id);
      await deleteUserEmailTokens(trx, row.id);
      await deleteUserDeviceTokens(trx, row.id);
      await deleteUserEvents(trx, row.id);
      await deleteMailTo(trx, { email: row.email, pendingEmail: row.pending_email }, GOODBYE_KIND);
      await deleteUserRow(trx, row.id);
      await enqueueMail(trx, GOODBYE_KIND, row.email, accountDeletedMail({ username: row.username, deletedAt: now, by, supportEmail: this.deps.supportEmail }), now);
      return true;
    });
    if (!deleted) return false;
    this.deps.mailQueued();
    await this.deps.invalidations.settle();
    return true;
  }
}
