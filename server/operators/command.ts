// `taskmasterd users ACTION [ACCOUNT]`: the operator's command line over server/operators/operator.ts,
// run against DATABASE_URL with the daemon's flags and environment. Output: tables for people,
// one JSON document with --json. Exit codes as the CLI's: 0 done, 1 refused (no such account,
// verified already, not migrated, not confirmed), 2 usage, 3 the database cannot be reached.
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import pino from 'pino';
import { openInvalidationChannel, type InvalidationChannel } from '../../db/channel.js';
import { closeWithin, databaseLabel, openDatabase, parseDatabaseUrl, type Database } from '../../db/connection.js';
import { migrationSource } from '../../db/migrations/index.js';
import { AccountDeletion } from '../accounts/deletion.js';
import { Accounts } from '../accounts/accounts.js';
import type { UserRow } from '../accounts/users.js';
import type { Config, UsersArgs } from '../core/config.js';
import type { ServiceDeps } from '../core/deps.js';
import { randomToken } from '../core/secrets.js';
import { Throttle } from '../core/throttle.js';
import type { CodeVerifier } from '../login/reauthenticate.js';
import { redact } from '../mail/transports.js';
import { SessionStore } from '../sessions/store.js';
import { AccessTokens } from '../tokens/store.js';
import { Operator, OperatorRefusal, operatorUser, type AccountReport, type OperatorUser } from './operator.js';

export const USERS_HELP = `taskmasterd users — find and look after accounts, from the daemon's machine

Usage: taskmasterd users ACTION [ACCOUNT] [options]

ACCOUNT is an account's id, email or username.

Actions:
  list                      accounts, newest first
      --query TEXT, -q      only those whose username or email contains TEXT (any case)
      --unverified          only those whose email is not verified yet
      --disabled            only disabled ones
      --limit N             at most N (1 to 1000; default 50); the next page's --after is printed
      --after ID            the page after the account ID (the "next" of the previous page)
  show ACCOUNT              the account, its sessions, access tokens, two-factor state, login blocks
                            in force and its last 20 events
  disable ACCOUNT           end every session and access token of the account on every daemon now;
                            logins answer 403 account_disabled until enable; the user gets an email
  enable ACCOUNT            allow it to log in again (ended sessions and tokens stay ended); emails the user
  unlock ACCOUNT            lift its login blocks: the account-wide one, and the blocks of the addresses
                            its failed logins came from in the last day
  resend-verification ACCOUNT   send the verification email again (refused for a verified account)
  delete ACCOUNT            delete it as DELETE /v1/me does (sessions, tokens, events; a goodbye
                            email); asks to type the username, or --yes (needed without a terminal)

Options:
  --json                    one JSON document on stdout; on failure {"error":{"code","message"}} on stderr
  --yes, -y                 delete without asking
  --data-dir, --database-url, --public-url, --smtp-url …   as for the daemon (taskmasterd --help):
                            use the same DATABASE_URL (or --data-dir) and PUBLIC_URL as the daemon
  -h, --help                show this help

Each change is an event of the account marked as done by the operator (taskmaster activity shows
it), and takes effect on every running daemon within a second. Mail is queued in the database and
sent by the running daemon. Exit codes: 0 done · 1 refused · 2 usage · 3 database unreachable.

Examples:
  $ taskmasterd users list --query example.com --limit 20
  $ taskmasterd users show alice@example.com
  $ taskmasterd users unlock alice
  $ taskmasterd users disable alice && taskmasterd users enable alice
  $ taskmasterd users resend-verification bob@example.com
  $ DATABASE_URL=postgres://taskmaster@db/taskmaster taskmasterd users delete mallory --yes --json`;

const ACTIONS = ['list', 'show', 'disable', 'enable', 'unlock', 'resend-verification', 'delete'] as const;
type Action = (typeof ACTIONS)[number];
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;
/** How long the command waits for its PostgreSQL listening connection, so it can wait for the daemons' acknowledgements. */
const LISTEN_WAIT_MS = 3_000;

/** A failure with its exit code: 1 refused, 2 usage, 3 unreachable. */
class UsersFailure extends Error {
  constructor(
    readonly exitCode: 1 | 2 | 3,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const usage = (message: string) => new UsersFailure(2, 'usage', `${message}\nRun 'taskmasterd users --help' for the actions and options.`);

interface Streams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export async function usersAndExit(config: Config, args: UsersArgs, streams: Streams = process): Promise<void> {
  try {
    await runUsers(config, args, streams);
  } catch (error) {
    const failure =
      error instanceof UsersFailure ? error : error instanceof OperatorRefusal ? new UsersFailure(1, error.code, error.message) : new UsersFailure(1, 'internal_error', redact(String((error as Error)?.message ?? error), []));
    if (args.json) streams.stderr.write(`${JSON.stringify({ error: { code: failure.code, message: failure.message } })}\n`);
    else streams.stderr.write(`taskmasterd users: ${failure.message}\n`);
    process.exitCode = failure.exitCode;
  }
}

async function runUsers(config: Config, args: UsersArgs, streams: Streams): Promise<void> {
  const [word, handle, ...extra] = args.words;
  if (word === undefined) throw usage('name an action: list, show, disable, enable, unlock, resend-verification or delete');
  if (!(ACTIONS as readonly string[]).includes(word)) throw usage(`unknown action "${word}" (the actions are ${ACTIONS.join(', ')})`);
  const action = word as Action;
  if (action === 'list' && handle !== undefined) throw usage(`list takes no account (got "${handle}"); filter with --query`);
  if (action !== 'list' && (handle === undefined || handle.trim() === '')) throw usage(`${action} needs an account: its id, email or username (e.g. taskmasterd users ${action} alice@example.com)`);
  if (extra.length > 0) throw usage(`unexpected argument "${extra[0]}"`);
  if (action !== 'list' && (args.query !== undefined || args.unverified || args.disabled || args.limit !== undefined || args.after !== undefined)) {
    throw usage('--query, --unverified, --disabled, --limit and --after go with list');
  }
  if (args.yes && action !== 'delete') throw usage('--yes goes with delete');
  let limit = DEFAULT_LIMIT;
  if (args.limit !== undefined) {
    limit = Number(args.limit);
    if (!/^\d+$/.test(args.limit) || limit < 1 || limit > MAX_LIMIT) throw usage(`--limit must be a whole number from 1 to ${MAX_LIMIT} (got "${args.limit}")`);
  }
  // Asked before the database is opened: a script that forgot --yes learns it at once.
  if (action === 'delete' && !args.yes && !streams.stdin.isTTY) {
    throw usage(`delete asks to confirm, and stdin is not a terminal: pass --yes to delete ${handle} without asking`);
  }

  const db = await openForOperator(config);
  const invalidations = openInvalidationChannel(db, () => undefined, { outOfProcess: true });
  try {
    const operator = operatorOn(db, invalidations, config);
    const print = (json: unknown, lines: () => string[]) => streams.stdout.write(args.json ? `${JSON.stringify(json, null, 2)}\n` : lines().map((line) => `${line}\n`).join(''));
    const note = (line: string) => {
      if (!args.json) streams.stderr.write(`${line}\n`);
    };

    if (action === 'list') {
      const page = await operator.list({ query: args.query, unverified: args.unverified, disabled: args.disabled, limit, after: args.after });
      print(page, () => (page.users.length === 0 ? [] : userTable(page.users)));
      if (page.users.length === 0) note('No accounts match.');
      if (page.next) note(`More: taskmasterd users list --after ${page.next}${args.limit ? ` --limit ${limit}` : ''}`);
      return;
    }

    const row = await operator.find(handle!);
    const who = `${row.username} <${row.email}>`;
    switch (action) {
      case 'show': {
        const report = await operator.show(row);
        print(report, () => reportLines(report));
        return;
      }
      case 'disable': {
        await waitForListener(invalidations, db);
        const ended = await operator.disable(row);
        const user = operatorUser((await operator.find(row.id)) ?? row);
        print({ user, changed: ended !== undefined, endedSessions: ended?.endedSessions ?? 0, endedTokens: ended?.endedTokens ?? 0 }, () =>
          ended
            ? [
                `Disabled ${who}: ended ${plural(ended.endedSessions, 'session')} and ${plural(ended.endedTokens, 'access token')} on every daemon.`,
                `Logins now answer 403 account_disabled; a notice to ${row.email} is queued. Undo with: taskmasterd users enable ${row.username}`,
              ]
            : [`${who} is disabled already (since ${utcMinute(user.disabledAt ?? '')}); nothing changed.`],
        );
        return;
      }
      case 'enable': {
        await waitForListener(invalidations, db);
        const changed = await operator.enable(row);
        const user = operatorUser(await operator.find(row.id));
        print({ user, changed }, () => (changed ? [`Enabled ${who}: it can log in again; a notice to ${row.email} is queued.`] : [`${who} is not disabled; nothing changed.`]));
        return;
      }
      case 'unlock': {
        const { lifted, addresses } = await operator.unlock(row);
        print({ user: operatorUser(row), lifted, addresses }, () => [
          lifted.length === 0 ? `${who} had no login block in force; its failure counts start again.` : `Lifted ${plural(lifted.length, 'login block')} of ${who}:`,
          ...lifted.map((block) => `  ${blockLine(block)}`),
          ...(addresses.length > 0 ? [`Failure counts start again for the account from ${addresses.join(', ')}.`] : []),
        ]);
        return;
      }
      case 'resend-verification': {
        await operator.resendVerification(row);
        print({ user: operatorUser(row), sentTo: row.email }, () => [`A new verification email to ${row.email} is queued; the links sent before no longer work.`]);
        return;
      }
      case 'delete': {
        if (!args.yes) await confirmDeletion(row, streams);
        await waitForListener(invalidations, db);
        await operator.delete(row);
        print({ deleted: { id: row.id, username: row.username, email: row.email } }, () => [`Deleted ${who}: its sessions, tokens and events are gone, and a goodbye email is queued.`]);
        return;
      }
    }
  } finally {
    await invalidations.close();
    await db.close();
  }
}

/** The services an operator's action uses, on this process's own connection. */
function operatorOn(db: Database, invalidations: InvalidationChannel, config: Config): Operator {
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const deps: ServiceDeps = {
    db,
    clock: Date.now,
    random: randomToken,
    bcryptCost: config.bcryptCost,
    // The daemon's links: PUBLIC_URL, or the address it listens on.
    publicUrl: () => config.publicUrl ?? `http://${host}:${config.port}`,
    // The running daemons' senders find queued mail on their next poll.
    mailQueued: () => undefined,
    throttle: new Throttle(db),
    invalidations,
    supportEmail: config.supportEmail,
    log: pino({ level: 'silent' }),
  };
  // The operator never re-authenticates anyone: no code is ever asked of this verifier.
  const noCodes: CodeVerifier = { verifyCode: async () => false };
  const sessions = new SessionStore(deps);
  const tokens = new AccessTokens(deps, sessions, noCodes);
  return new Operator(deps, sessions, tokens, new Accounts(deps, sessions, noCodes), new AccountDeletion(deps, sessions, tokens, noCodes));
}

/** The database, reachable and migrated, or a failure saying which it is not. */
async function openForOperator(config: Config): Promise<Database> {
  const label = databaseLabel(config.databaseUrl);
  const { dialect, target } = parseDatabaseUrl(config.databaseUrl);
  if (dialect === 'sqlite' && !existsSync(target)) {
    throw new UsersFailure(3, 'database_unreachable', `no database at ${target}: give the daemon's --data-dir or DATABASE_URL (has taskmasterd run with it?)`);
  }
  const db = openDatabase(config.databaseUrl);
  try {
    await db.knex.raw('select 1');
  } catch (error) {
    await closeWithin(db, 1_000);
    const { name, code, message } = error as { name?: string; code?: string; message?: string };
    const why = name === 'KnexTimeoutError' ? 'no answer within a few seconds (is the server up, and the host and port right?)' : `${code && !String(message).includes(code) ? `${code}: ` : ''}${redact(String(message ?? error), [])}`;
    throw new UsersFailure(3, 'database_unreachable', `cannot reach the database ${label}: ${why}`);
  }
  const known = await migrationSource.getMigrations([]);
  const applied = (await db.knex.schema.hasTable('knex_migrations')) ? new Set((await db.knex('knex_migrations').select('name')).map((row) => String(row.name))) : new Set<string>();
  const pending = known.filter((name) => !applied.has(name));
  if (pending.length > 0) {
    await db.close();
    const what = applied.size === 0 ? 'has no TaskMaster tables' : `lacks ${plural(pending.length, 'migration')} of this taskmasterd`;
    throw new UsersFailure(1, 'not_migrated', `the database ${label} ${what}: run \`taskmasterd migrate\` with the same DATABASE_URL (or start the daemon once), then try again`);
  }
  return db;
}

/** On PostgreSQL, the listening connection first: then a change waits for every daemon's acknowledgement (settle). */
async function waitForListener(invalidations: InvalidationChannel, db: Database): Promise<void> {
  if (db.dialect !== 'postgres') return;
  const deadline = Date.now() + LISTEN_WAIT_MS;
  while (!invalidations.live && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** On a terminal: the username typed back, as GitHub asks before deleting a repository. */
async function confirmDeletion(row: UserRow, streams: Streams): Promise<void> {
  const prompt = createInterface({ input: streams.stdin, output: streams.stderr });
  try {
    streams.stderr.write(`This deletes the account ${row.username} <${row.email}> with its sessions, tokens and events. It cannot be undone.\n`);
    const typed = await prompt.question(`Type the username (${row.username}) to delete it: `);
    if (typed.trim() !== row.username) throw new UsersFailure(1, 'not_deleted', `"${typed.trim()}" is not ${row.username}: nothing was deleted`);
  } finally {
    prompt.close();
  }
}


function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function utcMinute(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : `${at.toISOString().slice(0, 10)} ${at.toISOString().slice(11, 16)} UTC`;
}

function table(headers: string[], body: string[][]): string[] {
  const widths = headers.map((header, column) => Math.max(header.length, ...body.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...body.map(line)];
}

function stateOf(user: OperatorUser): string {
  return user.disabledAt ? 'disabled' : user.emailVerified ? 'active' : 'unverified';
}

function userTable(users: OperatorUser[]): string[] {
  return table(
    ['ID', 'USERNAME', 'EMAIL', 'STATE', '2FA', 'CREATED'],
    users.map((user) => [user.id, user.username, user.email, stateOf(user), user.twoFactorEnabled ? 'on' : 'off', utcMinute(user.createdAt)]),
  );
}

function blockLine(block: AccountReport['loginBlocks'][number]): string {
  const where = block.scope === 'account' ? 'the account, from every address' : block.scope === 'account_and_address' ? `the account from ${block.address}` : `${block.address}, for every account`;
  return `${where}, until ${utcMinute(block.until)}`;
}

function reportLines(report: AccountReport): string[] {
  const { user, twoFactor } = report;
  const section = (title: string, lines: string[], empty: string) => ['', title, ...(lines.length === 0 ? [`  ${empty}`] : lines.map((line) => `  ${line}`))];
  return [
    `${user.username} <${user.email}>`,
    `  id          ${user.id}`,
    `  state       ${user.disabledAt ? `disabled since ${utcMinute(user.disabledAt)}` : stateOf(user)}`,
    `  email       ${user.emailVerified ? 'verified' : 'not verified'}${user.pendingEmail ? `; changing to ${user.pendingEmail} (not confirmed)` : ''}`,
    `  two-factor  ${twoFactor.enabled ? `on, ${plural(twoFactor.recoveryCodesLeft, 'recovery code')} left` : twoFactor.enrolmentPending ? 'off (an enrolment waits for its code)' : 'off'}`,
    `  created     ${utcMinute(user.createdAt)}`,
    ...section('Login blocks', report.loginBlocks.map(blockLine), 'none in force'),
    ...section(
      `Sessions (${report.sessions.length})`,
      report.sessions.length === 0 ? [] : table(['ID', 'LAST USED', 'ADDRESS', 'USER AGENT'], report.sessions.map((session) => [session.id, utcMinute(session.lastUsedAt), session.address ?? '—', session.userAgent ?? '—'])),
      'none',
    ),
    ...section(
      `Access tokens (${report.tokens.length})`,
      report.tokens.length === 0
        ? []
        : table(['ID', 'NAME', 'SCOPES', 'EXPIRES', 'LAST USED'], report.tokens.map((token) => [token.id, token.name, token.scopes.join(' '), utcMinute(token.expiresAt), token.lastUsedAt ? utcMinute(token.lastUsedAt) : 'never'])),
      'none',
    ),
    ...section(
      'Last events',
      report.events.length === 0
        ? []
        : table(['WHEN', 'EVENT', 'ADDRESS'], report.events.map((event) => [utcMinute(event.at), event.type, event.actor === 'operator' ? 'by the operator' : (event.address ?? '—')])),
      'none in the last 90 days',
    ),
  ];
}
