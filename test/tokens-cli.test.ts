// Access tokens at the terminal and in CI: `taskmaster token create|list|revoke`, and every command
// run with TASKMASTER_TOKEN=tmp_…, through the real bin/taskmaster against the real daemon.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { baseEnv, cliUser, runCli, type CliUser } from './helpers/cli.js';
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { isWellFormedAccessToken } from '../server/contract/access-tokens.js';

let td: TestDaemon;
test.before(async () => {
  td = await startTestDaemon();
});
test.after.always(async () => td?.close());

/** An active account logged in through the CLI: the session is in this user's config file. */
async function loggedIn(prefix: string) {
  const user = await cliUser(td.url);
  const account = await activeAccount(td, identity(prefix));
  const login = await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${account.password}\n` });
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  return { user, account };
}

async function createToken(user: CliUser, password: string, args: string[]): Promise<string> {
  const created = await user.run(['token', 'create', ...args, '--password-stdin'], { input: `${password}\n` });
  if (created.code !== 0) throw new Error(`token create failed: ${created.stderr}`);
  return created.stdout.trim();
}

/** A CI job: no config file, only the token and the server in its environment. */
function ciJob(token: string, args: string[], input?: string) {
  return runCli(args, baseEnv({ TASKMASTER_TOKEN: token, TASKMASTER_SERVER: td.url, TASKMASTER_CONFIG_DIR: '/nonexistent/taskmaster-ci' }), input);
}

test('token create prints the token alone on stdout, so TOKEN=$(taskmaster token create …) works; the rest goes to stderr', async (t) => {
  const { user, account } = await loggedIn('tkcreate');
  const created = await user.run(['token', 'create', '--name', 'ci-deploy', '--scope', 'account:read', '--expires', '30d', '--password-stdin'], { input: `${account.password}\n` });
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /^tmp_[0-9A-Za-z]{36}\n$/);
  t.true(isWellFormedAccessToken(created.stdout.trim()), 'its checksum verifies');
  t.regex(created.stderr, /Created access token "ci-deploy" \(account:read\), expires \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  t.regex(created.stderr, /shown this once/);
  t.false(created.stderr.includes(created.stdout.trim()), 'the token is on stdout only');
  t.false((await readFile(join(user.configDir, 'config.json'), 'utf8')).includes(created.stdout.trim()), 'not saved in the config file');

  const json = await user.run(['token', 'create', '--name', 'ci-json', '--scope', 'account:read', '--expires', '7', '--json', '--password-stdin'], { input: `${account.password}\n` });
  t.is(json.code, 0, json.stderr);
  const answer = JSON.parse(json.stdout);
  t.true(isWellFormedAccessToken(answer.token));
  t.like(answer.accessToken, { name: 'ci-json', scopes: ['account:read'], prefix: answer.token.slice(0, 8), allowedCidrs: null, lastUsedAt: null });
});

test('token create refuses bad flags before any request, and a wrong password creates nothing', async (t) => {
  const { user, account } = await loggedIn('tkbad');
  const noScope = await user.run(['token', 'create', '--name', 'x', '--expires', '30d', '--password-stdin'], { input: `${account.password}\n` });
  t.is(noScope.code, 2);
  t.regex(noScope.stderr, /Missing --scope/);
  const badScope = await user.run(['token', 'create', '--name', 'x', '--scope', 'admin', '--expires', '30d', '--password-stdin'], { input: `${account.password}\n` });
  t.is(badScope.code, 2);
  t.regex(badScope.stderr, /Unknown scope "admin": use account:read or account:write/);
  for (const expires of ['0d', '367d', 'forever', '-1']) {
    const result = await user.run(['token', 'create', '--name', 'x', '--scope', 'account:read', '--expires', expires, '--password-stdin'], { input: `${account.password}\n` });
    t.is(result.code, 2, expires);
    t.regex(result.stderr, /--expires must be 1–366 days/);
  }
  const wrong = await user.run(['token', 'create', '--name', 'x', '--scope', 'account:read', '--expires', '30d', '--password-stdin'], { input: 'not-the-password\n' });
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /not the password of this account: no token was created/);
  t.is(wrong.stdout, '');
  const everywhere = await user.run(['token', 'create', '--name', 'x', '--scope', 'account:read', '--expires', '30d', '--cidr', '0.0.0.0/0', '--password-stdin'], { input: `${account.password}\n` });
  t.is(everywhere.code, 1);
  t.regex(everywhere.stderr, /allows every address/);
  const list = await user.run(['token', 'list', '--json']);
  t.deepEqual(JSON.parse(list.stdout).accessTokens, [], 'nothing was created');
});

test('a CI job with a read-only token reads the account, and is refused what needs account:write or a session, naming it', async (t) => {
  const { user, account } = await loggedIn('tkci');
  const token = await createToken(user, account.password, ['--name', 'ci-read', '--scope', 'account:read', '--expires', '30d']);

  const whoami = await ciJob(token, ['whoami']);
  t.is(whoami.code, 0, whoami.stderr);
  t.is(whoami.stdout.trim(), account.username);
  t.is((await ciJob(token, ['profile'])).code, 0);
  t.is((await ciJob(token, ['activity'])).code, 0);

  const rename = await ciJob(token, ['profile', 'update', '--username', `${account.username}x`]);
  t.is(rename.code, 1);
  t.regex(rename.stderr, /needs the scope account:write/);
  const password = await ciJob(token, ['password', 'change', '--password-stdin'], `${account.password}\nanother-correct-horse-battery-9\n`);
  t.is(password.code, 1);
  t.regex(password.stderr, /needs a session/);
  const tokens = await ciJob(token, ['token', 'list']);
  t.is(tokens.code, 1);
  t.regex(tokens.stderr, /needs a session/);
  const remove = await ciJob(token, ['account', 'delete', '--yes', '--password-stdin'], `${account.password}\n`);
  t.is(remove.code, 1, 'it cannot delete the account');
  t.is((await ciJob(token, ['whoami'])).code, 0, 'the account is still there');
});

test('status names the access token in use, its scopes and its expiry', async (t) => {
  const { user, account } = await loggedIn('tkstatus');
  const token = await createToken(user, account.password, ['--name', 'nightly', '--scope', 'account:read,account:write', '--expires', '10d']);
  const text = await ciJob(token, ['status']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, new RegExp(`Token\\s+${token.slice(0, 8)}…\\s+\\(access token "nightly": account:read, account:write\\)`));
  t.regex(text.stdout, /Token from\s+TASKMASTER_TOKEN/);
  t.regex(text.stdout, /Expires\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC \(in (10|9) days\)/);
  t.regex(text.stdout, /✓ valid access token/);
  t.false(text.stdout.includes(token), 'never the whole token');
  const json = JSON.parse((await ciJob(token, ['status', '--json'])).stdout);
  t.like(json.credential, { type: 'access_token', name: 'nightly', scopes: ['account:read', 'account:write'] });
});

test('token list shows name, scopes, prefix, expiry ("in 3 days" when close), last use and address; revoke by the first characters stops it', async (t) => {
  const { user, account } = await loggedIn('tklist');
  const soon = await createToken(user, account.password, ['--name', 'short-lived', '--scope', 'account:read', '--expires', '3d']);
  await createToken(user, account.password, ['--name', 'long-lived', '--scope', 'account:write', '--expires', '300d']);
  t.is((await ciJob(soon, ['whoami'])).code, 0);

  const list = await user.run(['token', 'list']);
  t.is(list.code, 0, list.stderr);
  const [header, ...rows] = list.stdout.trimEnd().split('\n');
  t.regex(header!, /^ID\s+NAME\s+SCOPES\s+PREFIX\s+CREATED\s+EXPIRES\s+LAST USED\s+ADDRESS$/);
  t.is(rows.length, 2);
  t.regex(rows[0]!, /long-lived\s+account:write/, 'newest first');
  t.regex(rows[0]!, /never\s+—$/);
  t.regex(rows[1]!, new RegExp(`short-lived\\s+account:read\\s+${soon.slice(0, 8)}…`));
  t.regex(rows[1]!, /\(in 3 days\)/);
  t.regex(rows[1]!, /\d\d:\d\d UTC\s+127\.0\.0\.1$/, 'last used, and from where');

  const { accessTokens } = JSON.parse((await user.run(['token', 'list', '--json'])).stdout);
  const id = accessTokens.find((entry: { name: string }) => entry.name === 'short-lived').id as string;
  const revoked = await user.run(['token', 'revoke', id.slice(0, 8)]);
  t.is(revoked.code, 0, revoked.stderr);
  t.regex(revoked.stderr, /Revoked access token "short-lived"/);
  const after = await ciJob(soon, ['whoami']);
  t.is(after.code, 4, 'a revoked token is like a logged-out session');
  t.regex(after.stderr, /revoked or never existed/);
  const unknown = await user.run(['token', 'revoke', 'ffffffff']);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /No access token of yours has this id/);
});

test('a token with a broken checksum is refused at once, without asking the server', async (t) => {
  const { user, account } = await loggedIn('tkcrc');
  const token = await createToken(user, account.password, ['--name', 'typo', '--scope', 'account:read', '--expires', '30d']);
  const typo = `${token.slice(0, 10)}${token[10] === 'a' ? 'b' : 'a'}${token.slice(11)}`;
  // An unreachable server: exit 4 (not 3) shows nothing was sent.
  const result = await runCli(['whoami'], baseEnv({ TASKMASTER_TOKEN: typo, TASKMASTER_SERVER: 'http://127.0.0.1:9', TASKMASTER_CONFIG_DIR: '/nonexistent/taskmaster-ci' }));
  t.is(result.code, 4);
  t.regex(result.stderr, /checksum does not match/);
});

test('a token revokes itself with taskmaster logout', async (t) => {
  const { user, account } = await loggedIn('tkself');
  const token = await createToken(user, account.password, ['--name', 'leaked', '--scope', 'account:read', '--expires', '30d']);
  const logout = await ciJob(token, ['logout']);
  t.is(logout.code, 0, logout.stderr);
  t.is((await ciJob(token, ['whoami'])).code, 4);
});
