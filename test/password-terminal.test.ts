// The password journeys at a real terminal (node-pty): forgot, paste the token, the new password
// twice (masked), then log in; and a change while logged in.
import test from 'ava';
import { cliUser } from './helpers/cli.js';
import { STRONG_PASSWORD, activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api } from './helpers/http.js';
import { ENTER, openTerminal } from './helpers/pty.js';
import { RESET_SUBJECT, mailCount, nextMail, resetTokenOf } from './helpers/reset-mail.js';

const NEW_PASSWORD = 'lantern-orchard-violet-98-quartz';
/** Empties a refused prompt's value before typing again. */
const CLEAR = '\u0015' + '\b'.repeat(40);

let td: TestDaemon;
test.before(async () => {
  td = await startTestDaemon();
});
test.after.always(async () => td?.close());

test('forgot, paste the token from the email, the new password twice (masked), then log in with it', async (t) => {
  const account = await activeAccount(td, identity('ttyforgot'));
  const user = await cliUser(td.url);
  const env = { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url };
  const seen = mailCount(td.smtp, account.email, RESET_SUBJECT);

  const forgot = openTerminal(['password', 'forgot'], env);
  await forgot.waitFor(/Email of your account:/);
  forgot.type(`${account.email}${ENTER}`);
  t.is(await forgot.exited, 0, forgot.screen());
  t.regex(forgot.screen(), /a reset email is on its way/);
  t.regex(forgot.screen(), /taskmaster password reset/);
  const token = resetTokenOf(await nextMail(td.smtp, account.email, RESET_SUBJECT, seen));

  const reset = openTerminal(['password', 'reset'], env);
  await reset.waitFor(/paste the token from your email/i);
  reset.type(`${token}${ENTER}`);
  await reset.waitFor(new RegExp(`Choose a new password for ${account.username}`));
  await reset.waitFor(/New password \(8\+ characters/);
  reset.type(`${account.username}-2026!${ENTER}`);
  await reset.waitFor(/must not contain your username/);
  reset.type(CLEAR);
  reset.type(`${NEW_PASSWORD}${ENTER}`);
  await reset.waitFor(/New password again:/);
  reset.type(`not-the-same-password-at-all${ENTER}`);
  await reset.waitFor(/do not match/);
  await reset.waitFor(/do not match[\s\S]*New password \(8\+ characters/);
  reset.type(`${NEW_PASSWORD}${ENTER}`);
  await reset.waitFor(/do not match[\s\S]*New password again:/);
  reset.type(`${NEW_PASSWORD}${ENTER}`);
  t.is(await reset.exited, 0, reset.screen());
  t.regex(reset.screen(), /New password set for/);
  t.regex(reset.screen(), /Next: taskmaster login/);
  t.false(reset.screen().includes(NEW_PASSWORD), 'the password is never shown');
  t.regex(reset.screen(), /\*{20,}/, 'masked as it is typed');

  const login = openTerminal(['login'], env);
  await login.waitFor(/Email:/);
  login.type(`${account.email}${ENTER}`);
  await login.waitFor(/Password:/);
  login.type(`${NEW_PASSWORD}${ENTER}`);
  t.is(await login.exited, 0, login.screen());
  t.regex(login.screen(), new RegExp(`Welcome, ${account.username}!`));
  t.is((await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: STRONG_PASSWORD })).status, 401, 'the old password is gone');
});

test('password change at a terminal asks the current password, then the new one twice, and tells how many sessions ended', async (t) => {
  const account = await activeAccount(td, identity('ttychange'));
  const user = await cliUser(td.url);
  t.is((await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${STRONG_PASSWORD}\n` })).code, 0);
  const term = openTerminal(['password', 'change'], { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url });
  await term.waitFor(/Current password:/);
  term.type(`${STRONG_PASSWORD}${ENTER}`);
  await term.waitFor(/New password \(8\+ characters/);
  term.type(`password123${ENTER}`);
  await term.waitFor(/too weak/);
  term.type(CLEAR);
  term.type(`${NEW_PASSWORD}${ENTER}`);
  await term.waitFor(/New password again:/);
  term.type(`${NEW_PASSWORD}${ENTER}`);
  t.is(await term.exited, 0, term.screen());
  t.regex(term.screen(), /Password changed/);
  t.regex(term.screen(), /1 other session ended/);
  t.false(term.screen().includes(NEW_PASSWORD));
  t.false(term.screen().includes(STRONG_PASSWORD));
  t.is((await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: NEW_PASSWORD })).status, 201);
});
