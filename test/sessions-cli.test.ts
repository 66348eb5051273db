// The real bin/taskmaster against the real daemon: `sessions`, `sessions revoke`, `logout --all`,
// `account delete` and `activity`, with their exit codes, --json and --no-input; and the
// User-Agent the CLI sends, as the session list shows it.
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { cliUser, type CliUser } from './helpers/cli.js';
import { activeAccount, identity, outboxSettled, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api } from './helpers/http.js';
import { ENTER, openTerminal } from './helpers/pty.js';

let td: TestDaemon;
test.before(async () => {
  td = await startTestDaemon();
});
test.after.always(async () => td?.close());

const UNREACHABLE = 'http://127.0.0.1:9';
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const CLI_USER_AGENT = `taskmaster/${version} (${process.platform}; ${process.arch})`;

/** An active account (made through the API), logged in with the CLI. */
async function loggedIn(prefix: string): Promise<{ user: CliUser; account: Awaited<ReturnType<typeof activeAccount>> }> {
  const account = await activeAccount(td, identity(prefix));
  const user = await cliUser(td.url);
  const login = await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${account.password}\n` });
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  return { user, account };
}

const savedToken = async (user: CliUser): Promise<string | undefined> => {
  const config = JSON.parse(await readFile(join(user.configDir, 'config.json'), 'utf8'));
  return config.servers?.[td.url]?.token;
};

const status = async (token: string) => (await api(td.url, 'GET', '/v1/me', undefined, { token })).status;

test('the CLI sends User-Agent taskmaster/<version> (<os>; <arch>), and `sessions` lists it with this session marked', async (t) => {
  const { user, account } = await loggedIn('clilist');
  const result = await user.run(['sessions']);
  t.is(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /ID\s+CREATED\s+LAST USED\s+ADDRESS\s+USER AGENT/);
  t.is(lines.length, 3, 'the header, the API session and the CLI session');
  const mine = lines.find((line) => line.includes('(this session)'))!;
  t.truthy(mine, result.stdout);
  t.true(mine.startsWith('*'));
  t.true(mine.includes(CLI_USER_AGENT), mine);
  t.true(mine.includes('127.0.0.1'));
  t.regex(mine, /\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  t.false(result.stdout.includes((await savedToken(user))!), 'no token in the output');
  t.false(result.stdout.includes(account.token));
  t.regex(result.stderr, /taskmaster sessions revoke/);

  const json = await user.run(['sessions', '--json']);
  t.is(json.code, 0);
  t.is(json.stderr, '');
  const { sessions } = JSON.parse(json.stdout);
  t.is(sessions.length, 2);
  t.like(sessions.find((s: { current: boolean }) => s.current), { userAgent: CLI_USER_AGENT, address: '127.0.0.1' });
  t.true(sessions.every((s: { id: string }) => /^[0-9a-f-]{36}$/.test(s.id)));
});

test('sessions revoke ID (or its first characters) ends that session at once; this one stays', async (t) => {
  const { user, account } = await loggedIn('clirevoke');
  const { sessions } = JSON.parse((await user.run(['sessions', '--json'])).stdout);
  const other = sessions.find((s: { current: boolean }) => !s.current);
  const result = await user.run(['sessions', 'revoke', other.id.slice(0, 8)]);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, new RegExp(`Ended session ${other.id}`));
  t.is(await status(account.token), 401, 'the revoked token is refused');
  t.is((await user.run(['whoami'])).code, 0, 'this session stays');

  const unknown = await user.run(['sessions', 'revoke', '00000000-0000-4000-8000-000000000000']);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /No session of yours has this id/);
  for (const id of ['nope', 'current']) {
    const unknownJson = await user.run(['sessions', 'revoke', id, '--json']);
    t.is(unknownJson.code, 1, id);
    t.is(JSON.parse(unknownJson.stderr).error.code, 'not_found');
  }
  t.is((await user.run(['whoami'])).code, 0, '"current" is not an id: this session stays');
});

test('sessions revoke needs an ID or --others, not both and not neither (exit 2)', async (t) => {
  const { user } = await loggedIn('cliusage');
  const neither = await user.run(['sessions', 'revoke']);
  t.is(neither.code, 2);
  t.regex(neither.stderr, /--others/);
  const both = await user.run(['sessions', 'revoke', 'abcd1234', '--others']);
  t.is(both.code, 2);
  t.regex(both.stderr, /not both/);
});

test('sessions revoke of this very session logs out here too', async (t) => {
  const { user } = await loggedIn('cliself');
  const { sessions } = JSON.parse((await user.run(['sessions', '--json'])).stdout);
  const token = await savedToken(user);
  const current = sessions.find((s: { current: boolean }) => s.current);
  const result = await user.run(['sessions', 'revoke', current.id]);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, /That was this session/);
  t.is(await savedToken(user), undefined, 'forgotten locally');
  t.is(await status(token!), 401);
  t.is((await user.run(['whoami'])).code, 4);
});

test('sessions revoke --others ends every other session and keeps this one; --json says how many', async (t) => {
  const { user, account } = await loggedIn('cliothers');
  const third = (await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password })).json.token;
  const result = await user.run(['sessions', 'revoke', '--others', '--json']);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(JSON.parse(result.stdout), { revoked: 2 });
  t.is(await status(account.token), 401);
  t.is(await status(third), 401);
  t.is((await user.run(['whoami'])).code, 0);
  const again = await user.run(['sessions', 'revoke', '--others']);
  t.is(again.code, 0);
  t.regex(again.stderr, /this is the only one/);
});

test('logout --all ends every session of the account, this one included, and forgets it here', async (t) => {
  const { user, account } = await loggedIn('clilogoutall');
  const token = await savedToken(user);
  const result = await user.run(['logout', '--all']);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, /Logged out everywhere: ended 2 sessions/);
  t.is(await status(account.token), 401);
  t.is(await status(token!), 401);
  t.is(await savedToken(user), undefined);
  t.is((await user.run(['whoami'])).code, 4);
  t.is((await user.run(['logout', '--all'])).code, 4, 'not logged in any more');
});

test('logout --all with the server unreachable ends nothing and keeps the session here (exit 3)', async (t) => {
  const { user } = await loggedIn('cliunreach');
  // The saved session, as if it had been made on a server that is down now.
  const path = join(user.configDir, 'config.json');
  const config = JSON.parse(await readFile(path, 'utf8'));
  config.servers[UNREACHABLE] = config.servers[td.url];
  await writeFile(path, JSON.stringify(config), { mode: 0o600 });

  const result = await user.run(['logout', '--all', '--server', UNREACHABLE]);
  t.is(result.code, 3);
  t.regex(result.stderr, /Cannot reach the TaskMaster server/);
  t.regex(result.stderr, /Nothing was ended/);
  t.truthy(JSON.parse(await readFile(path, 'utf8')).servers[UNREACHABLE], 'still saved, to try again');
});

test('a session ended elsewhere makes sessions and activity exit 4', async (t) => {
  const { user } = await loggedIn('cliended');
  const token = await savedToken(user);
  await api(td.url, 'DELETE', '/v1/sessions/current', undefined, { token });
  for (const args of [['sessions'], ['activity'], ['sessions', 'revoke', '--others'], ['logout', '--all']]) {
    const result = await user.run(args);
    t.is(result.code, 4, `${args.join(' ')}: ${result.stderr}`);
  }
});

test('activity shows the events newest first; --json gives them as the API does', async (t) => {
  const { user, account } = await loggedIn('cliactivity');
  await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: 'not the password' }, { headers: { 'user-agent': 'Stranger/1.0' }, from: '127.0.0.7' });
  const result = await user.run(['activity']);
  t.is(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /WHEN\s+EVENT\s+ADDRESS\s+USER AGENT/);
  t.regex(lines[1]!, /failed login\s+127\.0\.0\.7\s+Stranger\/1\.0/);
  t.true(lines[2]!.includes('logged in') && lines[2]!.includes(CLI_USER_AGENT), lines[2]);
  t.regex(lines[3]!, /logged in\s+127\.0\.0\.1/);
  t.regex(result.stderr, /taskmaster password change/, 'a failed login points to the way out');

  const json = await user.run(['activity', '--json']);
  t.is(json.code, 0);
  const { events } = JSON.parse(json.stdout);
  t.deepEqual(events.map((event: { type: string }) => event.type), ['login_failed', 'login', 'login']);
  t.like(events[1], { userAgent: CLI_USER_AGENT, address: '127.0.0.1' });
});

test('account delete --yes --password-stdin deletes the account, forgets the session, and the names are free again', async (t) => {
  const { user, account } = await loggedIn('clidelete');
  const token = await savedToken(user);
  const result = await user.run(['account', 'delete', '--yes', '--password-stdin', '--no-input'], { input: `${account.password}\n` });
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, new RegExp(`Deleted the account ${account.username}`));
  t.regex(result.stderr, /goodbye email/);
  t.is(await savedToken(user), undefined);
  t.is(await status(token!), 401);
  t.is(await status(account.token), 401);
  t.truthy(await td.smtp.waitFor((m) => m.to === account.email && m.subject === 'Your TaskMaster account was deleted'));
  t.is((await user.run(['whoami'])).code, 4);
  const again = await user.run(['register', '--email', account.email, '--username', account.username, '--password-stdin'], { input: `${account.password}\n` });
  t.is(again.code, 0, again.stderr);
});

test('account delete --json prints what was deleted', async (t) => {
  const { user, account } = await loggedIn('clideljson');
  const result = await user.run(['account', 'delete', '--yes', '--password-stdin', '--json'], { input: `${account.password}\n` });
  t.is(result.code, 0, result.stderr);
  t.is(result.stderr, '');
  t.deepEqual(JSON.parse(result.stdout), { deleted: true, server: td.url, user: { username: account.username, email: account.email }, forgotten: true });
});

test('account delete without a terminal needs --yes and --password-stdin, and names what is missing (exit 2); nothing is deleted', async (t) => {
  const { user, account } = await loggedIn('clidelusage');
  const cases: [string[], RegExp, RegExp | undefined][] = [
    [['account', 'delete'], /--yes and --password-stdin/, undefined],
    [['account', 'delete', '--no-input', '--password-stdin'], /needs --yes/, /--password-stdin and/],
    [['account', 'delete', '--no-input', '--yes'], /needs --password-stdin/, /needs --yes/],
  ];
  for (const [args, names, notNamed] of cases) {
    const result = await user.run(args, { input: `${account.password}\n` });
    t.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    t.regex(result.stderr, names);
    if (notNamed) t.notRegex(result.stderr, notNamed);
  }
  t.is(await status(account.token), 200, 'the account is still there');
});

test('account delete with a wrong password is refused (exit 1) and deletes nothing; not logged in it is exit 4', async (t) => {
  const { user, account } = await loggedIn('clidelwrong');
  const result = await user.run(['account', 'delete', '--yes', '--password-stdin'], { input: 'not the password\n' });
  t.is(result.code, 1);
  t.regex(result.stderr, /not the password of this account: nothing was deleted/);
  t.truthy(await savedToken(user), 'still logged in here');
  t.is(await status(account.token), 200);

  const stranger = await cliUser(td.url);
  const notLoggedIn = await stranger.run(['account', 'delete', '--yes', '--password-stdin'], { input: 'whatever\n' });
  t.is(notLoggedIn.code, 4);
});

test('account delete at a terminal asks the password (masked), then the username typed out', async (t) => {
  const { user, account } = await loggedIn('clideltty');
  const env = { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url };

  const wrongName = openTerminal(['account', 'delete'], env);
  await wrongName.waitFor(/This deletes your account/);
  await wrongName.waitFor(/Your password:/);
  wrongName.type(`${account.password}${ENTER}`);
  await wrongName.waitFor(new RegExp(`Type your username \\(${account.username}\\) to confirm:`));
  wrongName.type(`${account.username.toUpperCase()}x${ENTER}`);
  t.is(await wrongName.exited, 1, wrongName.screen());
  t.regex(wrongName.screen(), /nothing was deleted/);
  t.false(wrongName.screen().includes(account.password), 'the password is never shown');
  t.is(await status(account.token), 200);

  const term = openTerminal(['account', 'delete'], env);
  await term.waitFor(/Your password:/);
  term.type(`${account.password}${ENTER}`);
  await term.waitFor(/Type your username/);
  term.type(`${account.username}${ENTER}`);
  t.is(await term.exited, 0, term.screen());
  t.regex(term.screen(), /Deleted the account/);
  t.regex(term.screen(), /\*{8,}/, 'masked as it is typed');
  t.is(await status(account.token), 401);
  t.is(await savedToken(user), undefined);
  await outboxSettled(td);
});
