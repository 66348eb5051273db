// What an operator does to accounts (`taskmasterd users …`, server/operators/command.ts): find,
// show, disable, enable, unlock, resend the verification mail, delete. No Koa, no output here:
// each action returns what happened, and the command renders it.
//
// State: in the database only; every change goes through the module that owns its table, in one
// transaction with its operator event (account_events.actor = 'operator') and its mail. Disabling
// ends the account's sessions and tokens through sessions/ and tokens/, which publish `user:<id>`
// at commit; settle() then waits until every daemon dropped its cache entries (on PostgreSQL by
// their acknowledgements, on SQLite until their data_version watch has looked: db/channel.ts).
import type { AccountDeletion } from '../accounts/deletion.js';
import type { Accounts } from '../accounts/accounts.js';
import { findUserByHandle, listUsers, setDisabled, toUser, type UserFilter, type UserRow } from '../accounts/users.js';
import { OPERATOR, failedLoginAddresses, listEvents, recordEvent } from '../activity/events.js';
import type { ServiceDeps } from '../core/deps.js';
import type { LoginBlock } from '../core/throttle.js';
import { enqueueMail } from '../mail/outbox.js';
import type { SessionStore } from '../sessions/store.js';
import type { AccessTokens } from '../tokens/store.js';
import { twoFactorState, type TwoFactorState } from '../two-factor/store.js';
import type { AccessTokenInfo, AccountEvent, SessionInfo, User } from '../contract/api.js';
import { normalizeEmail } from '../contract/rules.js';
import { accountDisabledMail, accountEnabledMail } from './mails.js';

/** How far back the failed logins go whose addresses `unlock` lifts (a pair's block count lives a day). */
const BLOCK_MEMORY_MS = 24 * 60 * 60 * 1000;
const EVENTS_SHOWN = 20;

/** An account as the operator sees it: the API's user, and whether it is disabled. */
export type OperatorUser = User & { disabledAt: string | null };

export interface AccountReport {
  user: OperatorUser;
  sessions: Omit<SessionInfo, 'current'>[];
  tokens: AccessTokenInfo[];
  twoFactor: TwoFactorState;
  loginBlocks: { scope: LoginBlock['scope']; address: string | null; until: string }[];
  /** The last 20, newest first. */
  events: AccountEvent[];
}

/** A refusal of an operator's action: exit 1 with this message (`code` in --json). */
export class OperatorRefusal extends Error {
  constructor(
    readonly code: 'not_found' | 'already_verified' | 'not_deleted',
    message: string,
  ) {
    super(message);
  }
}

export function operatorUser(row: UserRow): OperatorUser {
  return { ...toUser(row), disabledAt: row.disabled_at === null || row.disabled_at === undefined ? null : new Date(Number(row.disabled_at)).toISOString() };
}

export class Operator {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly sessions: SessionStore,
    private readonly tokens: AccessTokens,
    private readonly accounts: Accounts,
    private readonly deletion: AccountDeletion,
  ) {}

  /** A page of accounts, and the `--after` value of the next page (null on the last). */
  async list(filter: UserFilter): Promise<{ users: OperatorUser[]; next: string | null }> {
    const rows = await listUsers(this.deps.db, { ...filter, limit: filter.limit + 1 });
    if (!rows) throw new OperatorRefusal('not_found', `--after ${filter.after}: no account has this id (use the "next" value a list printed)`);
    const page = rows.slice(0, filter.limit);
    return { users: page.map(operatorUser), next: rows.length > filter.limit ? page[page.length - 1]!.id : null };
  }

  /** The account an id, email or username names, or a refusal saying none does. */
  async find(handle: string): Promise<UserRow> {
    const row = await findUserByHandle(this.deps.db, handle);
    if (!row) throw new OperatorRefusal('not_found', `no account has the id, email or username "${handle}" (find it with \`taskmasterd users list --query ${shellWord(handle)}\`)`);
    return row;
  }

  async show(row: UserRow): Promise<AccountReport> {
    const { db, clock } = this.deps;
    const now = clock();
    const addresses = await failedLoginAddresses(db.knex, row.id, now - BLOCK_MEMORY_MS);
    const [sessions, tokens, twoFactor, blocks, events] = await Promise.all([
      this.sessions.list({ user: toUser(row), tokenHash: '' }),
      this.tokens.list(row.id),
      twoFactorState(db, row),
      this.deps.throttle.loginBlocks(normalizeEmail(row.email), addresses, now),
      listEvents(db.knex, row.id, now, EVENTS_SHOWN),
    ]);
    return {
      user: operatorUser(row),
      sessions: sessions.map(({ current: _current, ...session }) => session),
      tokens,
      twoFactor,
      loginBlocks: blocks.map((block) => ({ ...block, until: new Date(block.until).toISOString() })),
      events,
    };
  }

  /**
   * Disables the account: login answers 403 account_disabled until enable, and every session and
   * access token ends now, on every daemon. Undefined when it was disabled already (nothing done).
   */
  async disable(row: UserRow): Promise<{ endedSessions: number; endedTokens: number } | undefined> {
    const { db, clock, supportEmail } = this.deps;
    const now = clock();
    const ended = await db.knex.transaction(async (trx) => {
      if ((await setDisabled(trx, row.id, now, now)) === 0) return undefined;
      const endedSessions = await this.sessions.endAllSessions(trx, row.id);
      const endedTokens = await this.tokens.endUserTokens(trx, row.id);
      await recordEvent(trx, row.id, 'account_disabled', OPERATOR, now);
      await enqueueMail(trx, 'account_disabled', row.email, accountDisabledMail({ username: row.username, at: now, supportEmail }), now);
      return { endedSessions, endedTokens };
    });
    await this.deps.invalidations.settle();
    return ended;
  }

  /** Enables it again (its ended sessions and tokens stay ended, raced ones included). False when it was not disabled. */
  async enable(row: UserRow): Promise<boolean> {
    const { db, clock, supportEmail } = this.deps;
    const now = clock();
    const enabled = await db.knex.transaction(async (trx) => {
      if ((await setDisabled(trx, row.id, null, now)) === 0) return false;
      // Disabling ended every credential; any there is now was started by a login or a device
      // code that raced the disable (checked before it, committed after). None comes back.
      await this.sessions.endAllSessions(trx, row.id);
      await this.tokens.endUserTokens(trx, row.id);
      await this.sessions.forgetUser(row.id, trx);
      await recordEvent(trx, row.id, 'account_enabled', OPERATOR, now);
      await enqueueMail(trx, 'account_enabled', row.email, accountEnabledMail({ username: row.username, at: now, supportEmail }), now);
      return true;
    });
    await this.deps.invalidations.settle();
    return enabled;
  }

  /**
   * Lifts the account's login blocks: the account-wide one, and for every address its failed
   * logins came from in the last day, that address's block on it and the address's own. Returns the
   * blocks that were in force and the addresses whose counts started again.
   */
  async unlock(row: UserRow): Promise<{ lifted: AccountReport['loginBlocks']; addresses: string[] }> {
    const { db, clock } = this.deps;
    const now = clock();
    const addresses = await failedLoginAddresses(db.knex, row.id, now - BLOCK_MEMORY_MS);
    const lifted = await this.deps.throttle.unlockLogin(normalizeEmail(row.email), addresses);
    await recordEvent(db.knex, row.id, 'account_unlocked', OPERATOR, now);
    return { lifted: lifted.map((block) => ({ ...block, until: new Date(block.until).toISOString() })), addresses };
  }

  /** A new verification mail (the older links stop working); refused for a verified account. */
  async resendVerification(row: UserRow): Promise<void> {
    if (!(await this.accounts.resendByOperator(row, OPERATOR))) {
      throw new OperatorRefusal('already_verified', `${row.username} <${row.email}> is verified already: there is nothing to resend (a user who cannot log in may be blocked: \`taskmasterd users show\`)`);
    }
  }

  /** Deletes the account as DELETE /v1/me does (sessions, tokens and events go; the goodbye mail is sent). */
  async delete(row: UserRow): Promise<void> {
    if (!(await this.deletion.deleteByOperator(row))) throw new OperatorRefusal('not_found', `${row.username} was deleted meanwhile`);
  }
}

/** A word as a shell reads it back, for the hints. */
function shellWord(text: string): string {
  return /^[\w@.+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
