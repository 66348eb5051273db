// The real bin/taskmaster, spawned as a child process, against the real daemon: every command,
// global option and exit code of the contract.
import { chmod, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { api } from './helpers/http.js';
import { baseEnv, cliUser, runCli, type CliUser } from './helpers/cli.js';
import { STRONG_PASSWORD, activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { tokenOf } from './helpers/smtp.js';

let td: TestDaemon;
test.before(async () => {
  td = await startTestDaemon();
});
test.after.always(async () => td?.close());

const UNREACHABLE = 'http://127.0.0.1:9';

async function registered(user: CliUser, who = identity('cli')) {
  const result = await user.run(['register', '--email', who.email, '--username', who.username, '--password-stdin'], { input: `${who.password}\n` });
  if (result.code !== 0) throw new Error(`register failed: ${result.stderr}`);
  const token = tokenOf(await td.smtp.waitFor((m) => m.to === who.email));
  return { ...who, verifyToken: token };
}

async function loggedIn(user: CliUser, who = identity('cli')) {
  const account = await registered(user, who);
  const verified = await user.run(['verify', account.verifyToken]);
  if (verified.code !== 0) throw new Error(`verify failed (${verified.code}): ${verified.stderr}`);
  const login = await user.run(['login', '--email', who.email, '--password-stdin'], { input: `${who.password}\n` });
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  return account;
}

async function savedConfig(user: CliUser) {
  return JSON.parse(await readFile(join(user.configDir, 'config.json'), 'utf8'));
}

test('register with flags and --password-stdin creates the account and says to check the email and run verify', async (t) => {
  const user = await cliUser(td.url);
  const who = identity('reg');
  const result = await user.run(['register', '--email', who.email, '--username', who.username, '--password-stdin'], { input: `${who.password}\n` });
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, new RegExp(`Check ${who.email}`));
  t.regex(result.stderr, /taskmaster verify/);
  t.truthy(await td.smtp.waitFor((m) => m.to === who.email));
});

test('register --json prints the user as one JSON document', async (t) => {
  const user = await cliUser(td.url);
  const who = identity('regjson');
  const result = await user.run(['register', '--json', '--email', who.email, '--username', who.username, '--password-stdin'], { input: `${who.password}\n` });
  t.is(result.code, 0);
  t.like(JSON.parse(result.stdout).user, { username: who.username, emailVerified: false });
  t.is(result.stderr, '');
});

test('without a terminal, a missing value is a usage error (exit 2) that names the flag', async (t) => {
  const user = await cliUser(td.url);
  const who = identity('missing');
  const noUsername = await user.run(['register', '--email', who.email, '--password-stdin'], { input: `${who.password}\n` });
  t.is(noUsername.code, 2);
  t.regex(noUsername.stderr, /--username/);
  const noPassword = await user.run(['register', '--email', who.email, '--username', who.username, '--no-input']);
  t.is(noPassword.code, 2);
  t.regex(noPassword.stderr, /--password-stdin/);
  const noEmail = await user.run(['login', '--password-stdin'], { input: 'x\n', env: { TASKMASTER_NO_INPUT: '1' } });
  t.is(noEmail.code, 2);
  t.regex(noEmail.stderr, /--email/);
  t.is(td.smtp.mailsTo(who.email).length, 0);
});

test('a password is never taken as a flag value', async (t) => {
  const user = await cliUser(td.url);
  const result = await user.run(['login', '--email', 'a@example.com', '--password', STRONG_PASSWORD]);
  t.is(result.code, 2);
  t.regex(result.stderr, /unknown option '--password'/);
});

test('register refuses a weak password before any request, saying why (exit 1)', async (t) => {
  const user = await cliUser(td.url);
  const who = identity('weakcli');
  const result = await user.run(['register', '--email', who.email, '--username', who.username, '--password-stdin'], { input: 'password123\n' });
  t.is(result.code, 1);
  t.regex(result.stderr, /too weak/i);
  t.is(await td.daemon.db.knex('users').where('username', who.username).first(), undefined);
});

test('register with a taken username fails with exit 1 and the server code in --json', async (t) => {
  const user = await cliUser(td.url);
  const first = await registered(user, identity('taken'));
  const result = await user.run(['register', '--json', '--email', identity('x').email, '--username', first.username, '--password-stdin'], { input: `${STRONG_PASSWORD}\n` });
  t.is(result.code, 1);
  t.is(result.stdout, '');
  const error = JSON.parse(result.stderr).error;
  t.is(error.code, 'username_taken');
  t.regex(error.message, /taken/);
});

test('verify takes the token or the whole link; a bad token exits 1; no token without a terminal exits 2', async (t) => {
  const user = await cliUser(td.url);
  const byToken = await registered(user, identity('vtok'));
  const ok = await user.run(['verify', byToken.verifyToken]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stderr, /verified/);
  t.regex(ok.stderr, /taskmaster login/);

  const byLink = await registered(user, identity('vlink'));
  const link = await user.run(['verify', `${td.url}/v1/verify?token=${byLink.verifyToken}`]);
  t.is(link.code, 0, link.stderr);

  const bad = await user.run(['verify', 'not-a-real-token']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /not valid/);
  t.regex(bad.stderr, /--resend/);
  const none = await user.run(['verify']);
  t.is(none.code, 2);
  t.regex(none.stderr, /TOKEN/);
});

test('verify --resend --email asks for a new email; the new token works', async (t) => {
  const user = await cliUser(td.url);
  const who = await registered(user, identity('again'));
  const result = await user.run(['verify', '--resend', '--email', who.email]);
  t.is(result.code, 0, result.stderr);
  const fresh = await td.smtp.waitFor((m) => m.to === who.email && tokenOf(m) !== who.verifyToken);
  t.is((await user.run(['verify', tokenOf(fresh)])).code, 0);
  const noEmail = await user.run(['verify', '--resend']);
  t.is(noEmail.code, 2);
  t.regex(noEmail.stderr, /--email/);
});

test('login before verifying points to taskmaster verify and --resend; a wrong password points to register', async (t) => {
  const user = await cliUser(td.url);
  const who = await registered(user, identity('early'));
  const early = await user.run(['login', '--email', who.email, '--password-stdin'], { input: `${who.password}\n` });
  t.is(early.code, 1);
  t.regex(early.stderr, /taskmaster verify/);
  t.regex(early.stderr, new RegExp(`--resend --email ${who.email}`));
  const unknown = await user.run(['login', '--email', 'nobody-at-all@example.com', '--password-stdin'], { input: `${STRONG_PASSWORD}\n` });
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /taskmaster register/);
});

test('login shows the dashboard and saves the token in a 0600 file in a 0700 folder', async (t) => {
  const user = await cliUser(td.url);
  const who = await registered(user, identity('dash'));
  await user.run(['verify', who.verifyToken]);
  const result = await user.run(['login', '--email', who.email, '--password-stdin'], { input: `${who.password}\n` });
  t.is(result.code, 0, result.stderr);
  for (const expected of [`Welcome, ${who.username}`, who.email, '(verified)', 'Member since', new Date().toISOString().slice(0, 10), 'taskmaster profile', 'taskmaster logout']) {
    t.true(result.stdout.includes(expected), `dashboard shows ${expected}`);
  }
  t.false(result.stdout.includes('tm_'), 'the token is not printed');
  t.is((await stat(join(user.configDir, 'config.json'))).mode & 0o777, 0o600);
  t.is((await stat(user.configDir)).mode & 0o777, 0o700);
  const config = await savedConfig(user);
  t.regex(config.servers[td.url].token, /^tm_/);
  t.is(config.servers[td.url].username, who.username);
});

test('whoami prints the username; --json the user; bare taskmaster shows the dashboard', async (t) => {
  const user = await cliUser(td.url);
  const who = await loggedIn(user, identity('who'));
  const plain = await user.run(['whoami']);
  t.is(plain.code, 0);
  t.is(plain.stdout, `${who.username}\n`);
  const json = await user.run(['whoami', '--json']);
  t.like(JSON.parse(json.stdout).user, { username: who.username, email: who.email });
  const home = await user.run([]);
  t.is(home.code, 0);
  t.true(home.stdout.includes(`Welcome, ${who.username}`));
});

test('profile shows username, email, verification, pending email and member since', async (t) => {
  const user = await cliUser(td.url);
  const who = await loggedIn(user, identity('prof'));
  const result = await user.run(['profile']);
  t.is(result.code, 0);
  for (const expected of ['Username', who.username, 'Email', who.email, 'Verified', 'yes', 'Pending email', 'Member since']) {
    t.true(result.stdout.includes(expected), expected);
  }
});

test('profile update changes the username, and an email change reads the current password from stdin', async (t) => {
  const user = await cliUser(td.url);
  const who = await loggedIn(user, identity('upd'));
  const renamed = await user.run(['profile', 'update', '--username', `${who.username}-2`]);
  t.is(renamed.code, 0, renamed.stderr);
  t.is((await user.run(['whoami'])).stdout.trim(), `${who.username}-2`);
  t.is((await savedConfig(user)).servers[td.url].username, `${who.username}-2`);

  const newEmail = `${who.username}-new@example.org`;
  const noPassword = await user.run(['profile', 'update', '--email', newEmail]);
  t.is(noPassword.code, 2);
  t.regex(noPassword.stderr, /--password-stdin/);
  const wrong = await user.run(['profile', 'update', '--email', newEmail, '--password-stdin'], { input: 'not-the-password-at-all\n' });
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /password/i);
  const moved = await user.run(['profile', 'update', '--email', newEmail, '--password-stdin'], { input: `${who.password}\n` });
  t.is(moved.code, 0, moved.stderr);
  t.regex(moved.stdout, new RegExp(`Pending email\\s+${newEmail}`));
  t.regex(moved.stderr, /Confirm/);
  const nothing = await user.run(['profile', 'update']);
  t.is(nothing.code, 2);
  t.regex(nothing.stderr, /--username/);
});

test('logout revokes the session and forgets the token; protected commands then exit 4', async (t) => {
  const user = await cliUser(td.url);
  await loggedIn(user, identity('bye'));
  const token = (await savedConfig(user)).servers[td.url].token;
  const result = await user.run(['logout']);
  t.is(result.code, 0);
  t.regex(result.stderr, /taskmaster login/);
  const config = await readFile(join(user.configDir, 'config.json'), 'utf8');
  t.false(config.includes('tm_'), 'no token left in the file');
  t.is((await api(td.url, 'GET', '/v1/me', undefined, { token })).status, 401, 'revoked on the server');
  for (const command of [['whoami'], ['profile'], ['profile', 'update', '--username', 'zzz']]) {
    const after = await user.run(command);
    t.is(after.code, 4, command.join(' '));
    t.regex(after.stderr, /taskmaster login/);
  }
  t.is((await user.run(['logout'])).code, 0, 'logout works when logged out too');
});

test('logout with the server down forgets the token locally, with a warning', async (t) => {
  const user = await cliUser(td.url);
  await loggedIn(user, identity('down'));
  const config = await savedConfig(user);
  // Point the saved entry at a server that is not there.
  config.servers[UNREACHABLE] = config.servers[td.url];
  await writeFile(join(user.configDir, 'config.json'), JSON.stringify(config));
  const result = await user.run(['logout', '--server', UNREACHABLE]);
  t.is(result.code, 0);
  t.regex(result.stderr, /warning: .*reach/i);
  t.false(UNREACHABLE in (await savedConfig(user)).servers);
});

test('an unreachable server exits 3 with a message that names the server', async (t) => {
  const user = await cliUser(UNREACHABLE);
  const login = await user.run(['login', '--email', 'a@example.com', '--password-stdin'], { input: `${STRONG_PASSWORD}\n` });
  t.is(login.code, 3);
  t.regex(login.stderr, /Cannot reach .*127\.0\.0\.1:9/);
  const whoami = await user.run(['whoami', '--json'], { env: { TASKMASTER_TOKEN: `tm_${'a'.repeat(43)}` } });
  t.is(whoami.code, 3);
  t.is(JSON.parse(whoami.stderr).error.code, 'server_unreachable');
});

test('TASKMASTER_TOKEN is used instead of the saved session; a revoked one exits 4', async (t) => {
  const account = await activeAccount(td, identity('ci'));
  const user = await cliUser(td.url);
  const result = await user.run(['whoami'], { env: { TASKMASTER_TOKEN: account.token } });
  t.is(result.code, 0);
  t.is(result.stdout.trim(), account.username);
  await api(td.url, 'DELETE', '/v1/sessions/current', undefined, { token: account.token });
  const revoked = await user.run(['whoami'], { env: { TASKMASTER_TOKEN: account.token } });
  t.is(revoked.code, 4);
  t.regex(revoked.stderr, /Log in again/);
});

test('--server and TASKMASTER_SERVER choose the daemon; the flag wins', async (t) => {
  const account = await activeAccount(td, identity('srv'));
  const env = baseEnv({ TASKMASTER_CONFIG_DIR: (await cliUser(td.url)).configDir, TASKMASTER_TOKEN: account.token });
  t.is((await runCli(['whoami'], { ...env, TASKMASTER_SERVER: td.url })).code, 0);
  t.is((await runCli(['whoami'], { ...env, TASKMASTER_SERVER: UNREACHABLE })).code, 3);
  t.is((await runCli(['whoami', '--server', td.url], { ...env, TASKMASTER_SERVER: UNREACHABLE })).code, 0);
});

test('unknown flags and commands are usage errors (exit 2); --json reports them as JSON', async (t) => {
  const user = await cliUser(td.url);
  const badServer = await user.run(['whoami', '--server', 'not a url']);
  t.is(badServer.code, 2);
  t.regex(badServer.stderr, /--server or TASKMASTER_SERVER/);
  t.is((await user.run(['whoami', '--bogus'])).code, 2);
  t.is((await user.run(['frobnicate'])).code, 2);
  const json = await user.run(['login', '--json', '--nope']);
  t.is(json.code, 2);
  t.is(JSON.parse(json.stderr).error.code, 'usage');
});

test('bare taskmaster when logged out says how to log in or register, without prompting', async (t) => {
  const user = await cliUser(td.url);
  const result = await user.run([]);
  t.is(result.code, 0);
  t.regex(result.stdout, /not logged in/);
  t.regex(result.stdout, /taskmaster login/);
  t.regex(result.stdout, /taskmaster register/);
  const json = await user.run(['--json']);
  t.deepEqual(JSON.parse(json.stdout), { loggedIn: false, server: td.url });
});

test('every command has --help with examples, and --version prints the version', async (t) => {
  const user = await cliUser(td.url);
  for (const command of [[], ['register'], ['verify'], ['login'], ['whoami'], ['profile'], ['profile', 'update'], ['logout']]) {
    const help = await user.run([...command, '--help']);
    t.is(help.code, 0, command.join(' '));
    t.regex(help.stdout, /Examples:/, command.join(' '));
  }
  const version = await user.run(['--version']);
  t.regex(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('no colour when output is not a terminal, and no stack trace', async (t) => {
  const user = await cliUser(td.url);
  const result = await user.run(['whoami'], { env: { TASKMASTER_TOKEN: 'garbage' } });
  t.is(result.code, 4);
  t.notRegex(result.stderr + result.stdout, /\u001b\[/);
  t.notRegex(result.stderr, /at .*\.js:\d+/);
});

test('a config file found readable by others is fixed to 0600 with a warning', async (t) => {
  const user = await cliUser(td.url);
  await mkdir(user.configDir, { recursive: true });
  const file = join(user.configDir, 'config.json');
  await writeFile(file, JSON.stringify({ servers: {} }));
  await chmod(file, 0o644);
  const result = await user.run(['whoami']);
  t.is(result.code, 4);
  t.regex(result.stderr, /warning: .*0600/);
  t.is((await stat(file)).mode & 0o777, 0o600);
});

test('guessing passwords from the CLI ends in a refusal that says when to try again', async (t) => {
  const user = await cliUser(td.url);
  const account = await activeAccount(td, identity('guess'));
  let last;
  for (let attempt = 0; attempt < 11; attempt++) {
    last = await user.run(['login', '--email', account.email, '--password-stdin'], { input: `wrong-guess-number-${attempt}\n` });
  }
  t.is(last!.code, 1);
  t.regex(last!.stderr, /Try again in \d+ seconds/);
});

test('emailed tokens can always be pasted as the argument: never read as an option', async (t) => {
  const user = await cliUser(td.url);
  const tokens = [];
  for (let i = 0; i < 5; i++) tokens.push((await registered(user, identity('paste'))).verifyToken);
  for (const token of tokens) t.regex(token, /^[A-Za-z0-9]{43}$/, 'letters and digits only: no leading "-"');
  const results = await Promise.all(tokens.map((token) => user.run(['verify', token])));
  t.deepEqual(results.map((result) => result.code), tokens.map(() => 0));
});
