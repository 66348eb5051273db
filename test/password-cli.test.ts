// `taskmaster password forgot | reset | change` through the real bin/taskmaster, daemon and SMTP receiver.
import test from 'ava';
import { cliUser } from './helpers/cli.js';
import { STRONG_PASSWORD, activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api } from './helpers/http.js';
import { RESET_SUBJECT, mailCount, nextMail, requestReset, resetTokenOf } from './helpers/reset-mail.js';

const NEW_PASSWORD = 'lantern-orchard-violet-98-quartz';

let td: TestDaemon;
test.before(async () => {
  td = await startTestDaemon();
});
test.after.always(async () => td?.close());

const login = (email: string, password: string) => api(td.url, 'POST', '/v1/sessions', { email, password });

test('password forgot says the same for any email, mails the account, and points to password reset', async (t) => {
  const account = await activeAccount(td, identity('cliforgot'));
  const user = await cliUser(td.url);
  const seen = mailCount(td.smtp, account.email, RESET_SUBJECT);
  const known = await user.run(['password', 'forgot', '--email', account.email]);
  t.is(known.code, 0, known.stderr);
  t.regex(known.stderr, /a reset email is on its way/);
  t.regex(known.stderr, /taskmaster password reset/);
  t.truthy(resetTokenOf(await nextMail(td.smtp, account.email, RESET_SUBJECT, seen)));

  const unknown = await user.run(['password', 'forgot', '--email', 'nobody-here@example.com']);
  t.is(unknown.code, 0);
  t.is(unknown.stderr.replace('nobody-here@example.com', 'E'), known.stderr.replace(account.email, 'E'), 'the same words either way');

  const json = await user.run(['password', 'forgot', '--email', account.email, '--json']);
  t.is(json.code, 0);
  t.deepEqual(JSON.parse(json.stdout), { status: 'accepted', email: account.email });
  t.is(json.stderr, '');
});

test('password forgot: a missing email with --no-input names --email (exit 2); a bad one is refused (exit 1); no server is exit 3', async (t) => {
  const user = await cliUser(td.url);
  const missing = await user.run(['password', 'forgot', '--no-input']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--email/);
  const bad = await user.run(['password', 'forgot', '--email', 'not-an-email']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /valid email/);
  const down = await user.run(['password', 'forgot', '--email', 'a@example.com'], { env: { TASKMASTER_SERVER: 'http://127.0.0.1:9' } });
  t.is(down.code, 3);
});

test('password reset TOKEN --password-stdin sets the password, and forgets this machine\'s ended session', async (t) => {
  const account = await activeAccount(td, identity('clireset'));
  const user = await cliUser(td.url);
  t.is((await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${STRONG_PASSWORD}\n` })).code, 0);
  const token = await requestReset(td, account.email);

  const done = await user.run(['password', 'reset', token, '--password-stdin', '--json'], { input: `${NEW_PASSWORD}\n` });
  t.is(done.code, 0, done.stderr);
  const output = JSON.parse(done.stdout);
  t.is(output.user.username, account.username);
  t.true(output.forgotten);
  t.false(done.stdout.includes(NEW_PASSWORD));

  const whoami = await user.run(['whoami']);
  t.is(whoami.code, 4, 'the session here ended and was forgotten');
  t.is((await login(account.email, STRONG_PASSWORD)).status, 401);
  t.is((await login(account.email, NEW_PASSWORD)).status, 201);
  t.is((await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${NEW_PASSWORD}\n` })).code, 0);
});

test('password reset takes the whole link from the email', async (t) => {
  const account = await activeAccount(td, identity('clilink'));
  const user = await cliUser(td.url);
  const token = await requestReset(td, account.email);
  const done = await user.run(['password', 'reset', `${td.url}/v1/password/reset?token=${token}`, '--password-stdin'], { input: `${NEW_PASSWORD}\n` });
  t.is(done.code, 0, done.stderr);
  t.regex(done.stderr, /New password set for/);
  t.regex(done.stderr, /taskmaster login/);
});

test('password reset refuses a dead token before asking for a password, pointing to password forgot (exit 1)', async (t) => {
  const account = await activeAccount(td, identity('clidead'));
  const user = await cliUser(td.url);
  const bogus = await user.run(['password', 'reset', 'A'.repeat(43), '--password-stdin'], { input: `${NEW_PASSWORD}\n` });
  t.is(bogus.code, 1);
  t.regex(bogus.stderr, /taskmaster password forgot/);
  const token = await requestReset(td, account.email);
  t.is((await user.run(['password', 'reset', token, '--password-stdin'], { input: `${NEW_PASSWORD}\n` })).code, 0);
  const used = await user.run(['password', 'reset', token, '--password-stdin', '--json'], { input: 'another-fine-passphrase-77\n' });
  t.is(used.code, 1);
  t.is(JSON.parse(used.stderr).error.code, 'invalid_token');
  t.is(used.stdout, '');
});

test('password reset checks the new password with the daemon\'s rules before sending it; the token survives', async (t) => {
  const account = await activeAccount(td, identity('cliweak'));
  const user = await cliUser(td.url);
  const token = await requestReset(td, account.email);
  for (const weak of ['password123', `${account.username}-horse-battery`]) {
    const refused = await user.run(['password', 'reset', token, '--password-stdin'], { input: `${weak}\n` });
    t.is(refused.code, 1, weak);
    t.regex(refused.stderr, /new password: /);
  }
  t.is((await user.run(['password', 'reset', token, '--password-stdin'], { input: `${NEW_PASSWORD}\n` })).code, 0);
});

test('password reset with --no-input: a missing TOKEN or password is a usage error naming what to pass (exit 2)', async (t) => {
  const user = await cliUser(td.url);
  const noToken = await user.run(['password', 'reset', '--no-input', '--password-stdin'], { input: `${NEW_PASSWORD}\n` });
  t.is(noToken.code, 2);
  t.regex(noToken.stderr, /TOKEN/);
  const noPassword = await user.run(['password', 'reset', 'A'.repeat(43), '--no-input']);
  t.is(noPassword.code, 2);
  t.regex(noPassword.stderr, /--password-stdin/);
  const asFlag = await user.run(['password', 'reset', 'A'.repeat(43), '--password', NEW_PASSWORD]);
  t.is(asFlag.code, 2, 'a password is never a flag value');
});

test('password change --password-stdin: line 1 current, line 2 new; tells how many other sessions ended', async (t) => {
  const account = await activeAccount(td, identity('clichange'));
  const user = await cliUser(td.url);
  t.is((await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${STRONG_PASSWORD}\n` })).code, 0);
  const done = await user.run(['password', 'change', '--password-stdin'], { input: `${STRONG_PASSWORD}\n${NEW_PASSWORD}\n` });
  t.is(done.code, 0, done.stderr);
  t.regex(done.stderr, /Password changed/);
  t.regex(done.stderr, /1 other session ended/, 'the session activeAccount opened');
  t.is((await user.run(['whoami'])).code, 0, 'this session stays');
  isGone(t, (await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).status);
  t.is((await login(account.email, NEW_PASSWORD)).status, 201);

  const json = await user.run(['password', 'change', '--password-stdin', '--json'], { input: `${NEW_PASSWORD}\n${STRONG_PASSWORD}\n` });
  t.is(json.code, 0, json.stderr);
  const output = JSON.parse(json.stdout);
  t.is(output.revokedSessions, 1);
  t.is(output.user.username, account.username);
});

function isGone(t: { is(a: unknown, b: unknown, m?: string): void }, status: number) {
  t.is(status, 401, 'the other session ended');
}

test('password change refusals: wrong current (exit 1, points to forgot), same, weak, one line, not logged in', async (t) => {
  const account = await activeAccount(td, identity('clirefuse'));
  const user = await cliUser(td.url);
  t.is((await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${STRONG_PASSWORD}\n` })).code, 0);
  const wrong = await user.run(['password', 'change', '--password-stdin', '--json'], { input: `not-my-password-x\n${NEW_PASSWORD}\n` });
  t.is(wrong.code, 1);
  t.is(JSON.parse(wrong.stderr).error.code, 'wrong_password');
  t.regex(JSON.parse(wrong.stderr).error.message, /taskmaster password forgot/);
  const same = await user.run(['password', 'change', '--password-stdin'], { input: `${STRONG_PASSWORD}\n${STRONG_PASSWORD}\n` });
  t.is(same.code, 1);
  t.regex(same.stderr, /same as the current/);
  const weak = await user.run(['password', 'change', '--password-stdin'], { input: `${STRONG_PASSWORD}\n${account.username}-rocks-1\n` });
  t.is(weak.code, 1);
  t.regex(weak.stderr, /username/);
  const oneLine = await user.run(['password', 'change', '--password-stdin'], { input: `${STRONG_PASSWORD}\n` });
  t.is(oneLine.code, 2);
  t.regex(oneLine.stderr, /two lines/);
  const noInput = await user.run(['password', 'change', '--no-input']);
  t.is(noInput.code, 2);
  t.regex(noInput.stderr, /--password-stdin/);
  t.is((await login(account.email, STRONG_PASSWORD)).status, 201, 'nothing changed');

  const stranger = await cliUser(td.url);
  const loggedOut = await stranger.run(['password', 'change', '--password-stdin'], { input: `${STRONG_PASSWORD}\n${NEW_PASSWORD}\n` });
  t.is(loggedOut.code, 4);
});

test('a login refused for a wrong password points to taskmaster password forgot', async (t) => {
  const account = await activeAccount(td, identity('clihint'));
  const user = await cliUser(td.url);
  const refused = await user.run(['login', '--email', account.email, '--password-stdin'], { input: 'not-the-password-9\n' });
  t.is(refused.code, 1);
  t.regex(refused.stderr, /taskmaster password forgot/);
});
