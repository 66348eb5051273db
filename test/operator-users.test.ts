// `taskmasterd users …` (issue 20, part 1): the operator's command, run as a process of its own
// against the database of real daemon processes, on SQLite and on PostgreSQL. Disabling ends the
// account's sessions and tokens on every daemon at once (a second PostgreSQL daemon that has the
// session cached refuses it on the very next request; on SQLite the one daemon notices the other
// process's commit despite its cache), login answers 403 account_disabled, and so do the account's
// pages; unlock lifts blocks made by real wrong passwords; list pages; delete confirms; the mail
// goes out through the daemon; the database's failures are said clearly with the CLI's exit codes.
//
// Serial: each test starts daemon processes and runs the command many times; at once they would
// starve each other of the machine's cores.
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken, isProblem, me, shown } from './helpers/access-tokens.js';
import { TASKMASTERD_BIN, TASKMASTER_BIN, baseEnv, runProcess, type CliResult } from './helpers/cli.js';
import { startDaemonProcess, type DaemonProcess } from './helpers/cluster.js';
import { identity } from './helpers/daemon.js';
import { forEachDatabase, type DatabaseChoice } from './helpers/databases.js';
import { api } from './helpers/http.js';
import { sharedPostgres } from './helpers/postgres.js';
import { resetTokenOf } from './helpers/reset-mail.js';
import { startSmtp, tokenOf, type SmtpReceiver } from './helpers/smtp.js';

interface Setup {
  /** The environment the daemons and the operator's command share (the same database). */
  env: Record<string, string>;
  smtp: SmtpReceiver;
  daemons: DaemonProcess[];
}

/** `count` daemon processes on one new database of the dialect (on SQLite: one data folder), and an SMTP receiver. */
async function setup(t: ExecutionContext, db: DatabaseChoice, count = 1): Promise<Setup> {
  const dataDir = await mkdtemp(join(tmpdir(), 'taskmaster-operator-'));
  const smtp = await startSmtp();
  const env = { TASKMASTER_DATA_DIR: dataDir, SMTP_URL: smtp.url, ...(await db.env()) };
  const daemons: DaemonProcess[] = [];
  t.teardown(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop()));
    await smtp.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  // One after the other: the first applies the migrations.
  for (let i = 0; i < count; i++) daemons.push(await startDaemonProcess(env));
  return { env, smtp, daemons };
}

/** Runs `taskmasterd users …args` as the operator would, with the daemons' environment. */
function users(env: Record<string, string>, args: string[], input?: string): Promise<CliResult> {
  return runProcess(process.execPath, [TASKMASTERD_BIN, 'users', ...args], { env: baseEnv({ BCRYPT_COST: '4', ...env }), input, timeoutMs: 30_000 });
}

/** The command's --json output, after checking it exited 0. */
function jsonOf(t: ExecutionContext, result: CliResult): any {
  t.is(result.code, 0, `exit ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** Registers on `url`; unless `verify: false`, verifies with the emailed token and logs in. */
async function account(url: string, smtp: SmtpReceiver, prefix: string, options: { verify?: boolean } = {}) {
  const who = identity(prefix);
  const created = await api(url, 'POST', '/v1/users', who);
  if (created.status !== 201) throw new Error(`register: ${shown(created)}`);
  const mail = await smtp.waitFor((m) => m.to === who.email && /Activate/.test(m.subject));
  if (options.verify === false) return { ...who, id: created.json.user.id as string, token: '', deviceToken: '' };
  const verified = await api(url, 'POST', '/v1/verify', { token: tokenOf(mail) });
  if (verified.status !== 200) throw new Error(`verify: ${shown(verified)}`);
  const login = await api(url, 'POST', '/v1/sessions', { email: who.email, password: who.password });
  if (login.status !== 201) throw new Error(`login: ${shown(login)}`);
  return { ...who, id: created.json.user.id as string, token: login.json.token as string, deviceToken: login.json.deviceToken as string };
}

const login = (url: string, body: Record<string, string>, from?: string) => api(url, 'POST', '/v1/sessions', body, from ? { from } : {});

forEachDatabase((dialectTest, db) => {
  const many = db.dialect === 'postgres' ? 2 : 1;

  dialectTest.serial(`disable ends the sessions and tokens the daemon${many > 1 ? 's have' : ' has'} cached on the next request, refuses every login with 403 account_disabled until enable, and tells the user`, async (t) => {
    const { env, smtp, daemons } = await setup(t, db, many);
    const a = daemons[0]!;
    const b = daemons[many - 1]!; // on PostgreSQL another daemon than the one the account logged in on
    const user = await account(a.url, smtp, 'opdis');
    const { token: accessToken } = await createToken(a, user);
    const resetToken = await (async () => {
      await api(a.url, 'POST', '/v1/password/forgot', { email: user.email });
      return resetTokenOf(await smtp.waitFor((m) => m.to === user.email && /Reset/.test(m.subject)));
    })();
    // Both credentials are answered from b's cache from here on (it keeps them up to 5 s).
    for (const credential of [user.token, accessToken, user.token, accessToken]) t.is((await me(b.url, credential)).status, 200);

    const disabled = jsonOf(t, await users(env, ['disable', user.email, '--json']));
    t.like(disabled, { changed: true, endedSessions: 1, endedTokens: 1, user: { id: user.id, username: user.username } });
    t.truthy(disabled.user.disabledAt);

    // The very next request, on the daemon that had them cached: refused.
    t.true(isProblem(await me(b.url, user.token), 401, 'unauthenticated'), 'the session is refused at once');
    t.true(isProblem(await me(b.url, accessToken), 401, 'unauthenticated'), 'the access token is refused at once');
    t.true(isProblem(await me(a.url, user.token), 401, 'unauthenticated'));

    // Login: the right password (with or without the device token) says why; a wrong one tells nothing.
    const refused = await login(b.url, { email: user.email, password: user.password });
    t.true(isProblem(refused, 403, 'account_disabled'), shown(refused));
    t.regex(refused.json.detail, /disabled by the operator/);
    t.is(refused.headers['content-type'], 'application/problem+json');
    t.true(isProblem(await login(a.url, { email: user.email, password: user.password, deviceToken: user.deviceToken }), 403, 'account_disabled'));
    t.true(isProblem(await login(a.url, { email: user.email, password: 'not-the-password-1' }), 401, 'invalid_credentials'));

    // The account's pages say so: the reset link (page and JSON) and its form post change nothing.
    const page = await api(a.url, 'GET', `/v1/password/reset?token=${resetToken}`, undefined, { headers: { accept: 'text/html' } });
    t.is(page.status, 403);
    t.regex(page.text, /This account is disabled/);
    t.true(isProblem(await api(a.url, 'GET', `/v1/password/reset?token=${resetToken}`, undefined, { headers: { accept: 'application/json' } }), 403, 'account_disabled'));
    t.true(isProblem(await api(a.url, 'POST', '/v1/password/reset', { token: resetToken, password: 'a brand new passphrase 77' }), 403, 'account_disabled'));
    t.true(isProblem(await login(a.url, { email: user.email, password: 'a brand new passphrase 77' }), 401, 'invalid_credentials'), 'the password did not change');

    const notice = await smtp.waitFor((m) => m.to === user.email && m.subject === 'Your TaskMaster account was disabled');
    t.regex(notice.text, /operator of this TaskMaster service disabled your account/);

    // Disabling again changes nothing and says so.
    const again = jsonOf(t, await users(env, ['disable', user.username, '--json']));
    t.is(again.changed, false);

    const enabled = jsonOf(t, await users(env, ['enable', user.id, '--json']));
    t.like(enabled, { changed: true, user: { disabledAt: null } });
    const back = await login(b.url, { email: user.email, password: user.password });
    t.is(back.status, 201, shown(back));
    t.is((await me(a.url, back.json.token)).status, 200);
    t.true(isProblem(await me(a.url, accessToken), 401, 'unauthenticated'), 'an ended token stays ended');
    await smtp.waitFor((m) => m.to === user.email && m.subject === 'Your TaskMaster account is enabled again');

    // The account's activity shows both, as the operator's.
    const { events } = (await api(a.url, 'GET', '/v1/me/events', undefined, { token: back.json.token })).json;
    const byOperator = events.filter((event: { actor?: string }) => event.actor === 'operator').map((event: { type: string; address: null }) => [event.type, event.address]);
    t.deepEqual(byOperator, [
      ['account_enabled', null],
      ['account_disabled', null],
    ]);
    const cli = await runProcess(process.execPath, [TASKMASTER_BIN, 'activity', '--server', a.url], { env: baseEnv({ TASKMASTER_TOKEN: back.json.token, TASKMASTER_CONFIG_DIR: join(env.TASKMASTER_DATA_DIR!, 'cli') }) });
    t.is(cli.code, 0, cli.stderr);
    t.regex(cli.stdout, /account enabled +by the operator/);
    t.regex(cli.stdout, /account disabled +by the operator/);
  });

  dialectTest.serial('unlock lifts the blocks that real wrong passwords set, for the account and for each address they came from', async (t) => {
    const { env, smtp, daemons } = await setup(t, db);
    const daemon = daemons[0]!;
    const user = await account(daemon.url, smtp, 'opunl');
    const addresses = ['127.0.0.1', '127.0.0.2'];
    // Ten wrong passwords from each address block the account from there (SECURITY.md, "Lockout").
    for (const from of addresses) {
      for (let i = 0; i < 10; i++) t.is((await login(daemon.url, { email: user.email, password: `wrong-password-${i}` }, from)).status, 401);
      const blocked = await login(daemon.url, { email: user.email, password: user.password }, from);
      t.true(isProblem(blocked, 429, 'rate_limited'), `the right password from ${from} is held: ${shown(blocked)}`);
    }

    const shownBefore = jsonOf(t, await users(env, ['show', user.username, '--json']));
    t.deepEqual(
      shownBefore.loginBlocks.map((block: { scope: string; address: string }) => `${block.scope} ${block.address}`).sort(),
      addresses.map((address) => `account_and_address ${address}`),
    );
    const human = await users(env, ['show', user.username]);
    t.regex(human.stdout, /Login blocks\n {2}the account from 127\.0\.0\.1, until/);

    const unlocked = jsonOf(t, await users(env, ['unlock', user.email, '--json']));
    t.is(unlocked.lifted.length, 2);
    t.deepEqual([...unlocked.addresses].sort(), addresses);
    for (const from of addresses) {
      const reply = await login(daemon.url, { email: user.email, password: user.password }, from);
      t.is(reply.status, 201, `from ${from} after unlock: ${shown(reply)}`);
    }
    t.deepEqual(jsonOf(t, await users(env, ['show', user.username, '--json'])).loginBlocks, []);
    const { events } = (await api(daemon.url, 'GET', '/v1/me/events', undefined, { token: user.token })).json;
    t.like(events.find((event: { type: string }) => event.type === 'account_unlocked'), { actor: 'operator', address: null });
  });

  dialectTest.serial('list filters and pages, show tells the whole account, resend-verification mails a working link, delete confirms', async (t) => {
    const { env, smtp, daemons } = await setup(t, db);
    const daemon = daemons[0]!;
    const first = await account(daemon.url, smtp, 'oplist');
    const pending = await account(daemon.url, smtp, 'oplist', { verify: false });
    const third = await account(daemon.url, smtp, 'oplist');
    jsonOf(t, await users(env, ['disable', third.username, '--json']));
    const tag = `oplist${process.pid % 10000}x`;

    const all = jsonOf(t, await users(env, ['list', '--query', tag.toUpperCase(), '--json']));
    t.deepEqual(all.users.map((user: { username: string }) => user.username), [third.username, pending.username, first.username], 'newest first, any case');
    t.is(all.next, null);
    t.deepEqual(jsonOf(t, await users(env, ['list', '--query', tag, '--unverified', '--json'])).users.map((user: { id: string }) => user.id), [pending.id]);
    t.deepEqual(jsonOf(t, await users(env, ['list', '--query', tag, '--disabled', '--json'])).users.map((user: { id: string }) => user.id), [third.id]);
    const page1 = jsonOf(t, await users(env, ['list', '--query', tag, '--limit', '2', '--json']));
    t.deepEqual(page1.users.map((user: { id: string }) => user.id), [third.id, pending.id]);
    t.is(page1.next, pending.id);
    const page2 = jsonOf(t, await users(env, ['list', '--query', tag, '--limit', '2', '--after', page1.next, '--json']));
    t.deepEqual(page2.users.map((user: { id: string }) => user.id), [first.id]);
    t.is(page2.next, null);
    const table = await users(env, ['list', '--query', tag, '--limit', '2']);
    t.regex(table.stdout, /^ID +USERNAME +EMAIL +STATE +2FA +CREATED\n/);
    t.regex(table.stdout, new RegExp(`${third.username} +${third.email} +disabled`));
    t.regex(table.stderr, new RegExp(`More: taskmasterd users list --after ${pending.id} --limit 2`));
    t.is((await users(env, ['list', '--limit', '0'])).code, 2);

    const { token: accessToken } = await createToken(daemon, first, { name: 'ci-deploy' });
    const report = jsonOf(t, await users(env, ['show', first.id, '--json']));
    t.like(report.user, { id: first.id, email: first.email, emailVerified: true, disabledAt: null, twoFactorEnabled: false });
    t.is(report.sessions.length, 1);
    t.is(report.sessions[0].address, '127.0.0.1');
    t.deepEqual(report.tokens.map((token: { name: string }) => token.name), ['ci-deploy']);
    t.deepEqual(report.twoFactor, { enabled: false, enrolmentPending: false, recoveryCodesLeft: 0 });
    t.deepEqual(report.loginBlocks, []);
    t.deepEqual(report.events.map((event: { type: string }) => event.type), ['token_created', 'login']);
    t.false(JSON.stringify(report).includes(accessToken), 'no secret is shown');

    // resend-verification: a new link that activates the account; refused once it is verified.
    const before = smtp.mailsTo(pending.email).length;
    const resent = jsonOf(t, await users(env, ['resend-verification', pending.email, '--json']));
    t.is(resent.sentTo, pending.email);
    const mail = await smtp.waitFor((m) => m.to === pending.email && smtp.mailsTo(pending.email).indexOf(m) >= before);
    t.regex(mail.subject, /Activate/);
    t.is((await api(daemon.url, 'POST', '/v1/verify', { token: tokenOf(mail) })).status, 200);
    const verified = await users(env, ['resend-verification', pending.email]);
    t.is(verified.code, 1);
    t.regex(verified.stderr, /is verified already: there is nothing to resend/);
    t.like(JSON.parse((await users(env, ['resend-verification', pending.email, '--json'])).stderr), { error: { code: 'already_verified' } });

    // delete: refused without --yes when nothing can be asked; with it, gone everywhere.
    const unasked = await users(env, ['delete', first.username]);
    t.is(unasked.code, 2);
    t.regex(unasked.stderr, /stdin is not a terminal: pass --yes/);
    t.is((await me(daemon.url, first.token)).status, 200, 'nothing was deleted');
    const deleted = jsonOf(t, await users(env, ['delete', first.username, '--yes', '--json']));
    t.deepEqual(deleted, { deleted: { id: first.id, username: first.username, email: first.email } });
    t.true(isProblem(await me(daemon.url, first.token), 401, 'unauthenticated'));
    t.true(isProblem(await me(daemon.url, accessToken), 401, 'unauthenticated'));
    t.true(isProblem(await login(daemon.url, { email: first.email, password: first.password }), 401, 'invalid_credentials'));
    const goodbye = await smtp.waitFor((m) => m.to === first.email && m.subject === 'Your TaskMaster account was deleted');
    t.regex(goodbye.text, /by the operator of this TaskMaster service/);
    const gone = await users(env, ['show', first.email]);
    t.is(gone.code, 1);
    t.regex(gone.stderr, /no account has the id, email or username/);
  });

  dialectTest.serial('an unreachable database exits 3 and an unmigrated one says to migrate, both clearly', async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'taskmaster-operator-'));
    t.teardown(() => rm(dataDir, { recursive: true, force: true }));
    const unreachable: Record<string, string> =
      db.dialect === 'postgres' ? { DATABASE_URL: 'postgres://taskmaster:secret-pw@127.0.0.1:1/taskmaster' } : { TASKMASTER_DATA_DIR: join(dataDir, 'nowhere') };
    for (const args of [['list'], ['show', 'alice', '--json']]) {
      const result = await users(unreachable, args);
      t.is(result.code, 3, result.stderr);
      t.is(result.stdout, '');
      t.regex(result.stderr, db.dialect === 'postgres' ? /cannot reach the database postgres:\/\/127\.0\.0\.1:1\/taskmaster: .*ECONNREFUSED/ : /no database at .*nowhere\/taskmaster\.sqlite3/);
      t.false(result.stderr.includes('secret-pw'), 'the password is never printed');
      if (args.includes('--json')) t.like(JSON.parse(result.stderr), { error: { code: 'database_unreachable' } });
    }

    let empty: Record<string, string>;
    if (db.dialect === 'postgres') empty = { DATABASE_URL: await (await sharedPostgres()).createDatabase() };
    else {
      await writeFile(join(dataDir, 'taskmaster.sqlite3'), '');
      empty = { TASKMASTER_DATA_DIR: dataDir };
    }
    const unmigrated = await users(empty, ['list']);
    t.is(unmigrated.code, 1);
    t.regex(unmigrated.stderr, /has no TaskMaster tables: run `taskmasterd migrate` with the same DATABASE_URL/);
  });
});

test.serial('taskmasterd users --help lists the actions with examples, and a wrong action is a usage error', async (t) => {
  const help = await runProcess(process.execPath, [TASKMASTERD_BIN, 'users', '--help'], { env: baseEnv() });
  t.is(help.code, 0);
  for (const action of ['list', 'show', 'disable', 'enable', 'unlock', 'resend-verification', 'delete']) t.regex(help.stdout, new RegExp(`^ {2}${action}\\b`, 'm'));
  t.regex(help.stdout, /Examples:\n {2}\$ taskmasterd users/);
  const daemonHelp = await runProcess(process.execPath, [TASKMASTERD_BIN, '--help'], { env: baseEnv() });
  t.regex(daemonHelp.stdout, /taskmasterd users ACTION \[ACCOUNT\]/);
  const wrong = await runProcess(process.execPath, [TASKMASTERD_BIN, 'users', 'ban', 'alice'], { env: baseEnv() });
  t.is(wrong.code, 2);
  t.regex(wrong.stderr, /unknown action "ban"/);
});
