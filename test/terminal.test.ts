// The interactive journeys at a real terminal: prompts, masking, the menu, colour.
import test from 'ava';
import { cliUser } from './helpers/cli.js';
import { STRONG_PASSWORD, activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { ENTER, DOWN, openTerminal } from './helpers/pty.js';
import { tokenOf } from './helpers/smtp.js';

let td: TestDaemon;
test.before(async () => {
  td = await startTestDaemon();
});
test.after.always(async () => td?.close());

test('register at a terminal asks for each field, masks the password, refuses a weak one and asks twice', async (t) => {
  const user = await cliUser(td.url);
  const who = identity('tty');
  const term = openTerminal(['register'], { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url });
  await term.waitFor(/Email:/);
  term.type(`${who.email}${ENTER}`);
  await term.waitFor(/Username:/);
  term.type(`${who.username}${ENTER}`);
  await term.waitFor(/Password \(8\+ characters/);
  term.type(`password123${ENTER}`);
  await term.waitFor(/too weak/);
  // clear the refused value, then type a strong one
  term.type('\u0015'.repeat(1) + '\b'.repeat(20));
  term.type(`${who.password}${ENTER}`);
  await term.waitFor(/Password again:/);
  term.type(`not-the-same-password-at-all${ENTER}`);
  await term.waitFor(/do not match/);
  await term.waitFor(/Password \(8\+ characters[\s\S]*do not match[\s\S]*Password \(8\+ characters/);
  term.type(`${who.password}${ENTER}`);
  await term.waitFor(/Password again:[\s\S]*do not match[\s\S]*Password again:/);
  term.type(`${who.password}${ENTER}`);
  t.is(await term.exited, 0, term.screen());
  t.regex(term.screen(), /Account .* created/);
  t.regex(term.screen(), /taskmaster verify/);
  t.false(term.screen().includes(who.password), 'the password is never shown');
  t.regex(term.screen(), /\*{8,}/, 'masked as it is typed');
  t.truthy(await td.smtp.waitFor((m) => m.to === who.email));
});

test('verify at a terminal asks to paste the token from the email', async (t) => {
  const user = await cliUser(td.url);
  const who = identity('pasted');
  await user.run(['register', '--email', who.email, '--username', who.username, '--password-stdin'], { input: `${who.password}\n` });
  const token = tokenOf(await td.smtp.waitFor((m) => m.to === who.email));
  const term = openTerminal(['verify'], { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url });
  await term.waitFor(/paste the token from your email/i);
  term.type(`${token}${ENTER}`);
  t.is(await term.exited, 0, term.screen());
  t.regex(term.screen(), /verified/);
});

/** Answers the login prompts as a person would. */
async function answerLogin(term: ReturnType<typeof openTerminal>, email: string): Promise<void> {
  await term.waitFor(/Email:/);
  term.type(`${email}${ENTER}`);
  await term.waitFor(/Password:/);
  term.type(`${STRONG_PASSWORD}${ENTER}`);
}

test('login at a terminal lands on the dashboard, in colour', async (t) => {
  const account = await activeAccount(td, identity('ttylogin'));
  const user = await cliUser(td.url);
  const term = openTerminal(['login'], { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url });
  await answerLogin(term, account.email);
  t.is(await term.exited, 0, term.screen());
  t.regex(term.screen(), new RegExp(`Welcome, ${account.username}!`));
  t.regex(term.screen(), /Member since/);
  t.regex(term.screen(), /taskmaster profile/);
  t.regex(term.raw(), /\u001b\[3[0-9]m/, 'coloured at a terminal');
  t.false(term.screen().includes(STRONG_PASSWORD));
});

test('NO_COLOR and --no-color turn colour off at a terminal', async (t) => {
  const account = await activeAccount(td, identity('nocolor'));
  const user = await cliUser(td.url);
  for (const [flags, env] of [
    [['--no-color'], {}],
    [[], { NO_COLOR: '1' }],
    [[], { TERM: 'dumb' }],
  ] as const) {
    const profile = openTerminal(['profile', ...flags], { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url, TASKMASTER_TOKEN: account.token, ...env });
    t.is(await profile.exited, 0);
    t.regex(profile.screen(), /Verified\s+yes/);
    t.notRegex(profile.raw(), /\u001b\[\d+m/, JSON.stringify({ flags, env }));
  }
});

test('bare taskmaster logged out at a terminal offers a menu; quit leaves cleanly', async (t) => {
  const user = await cliUser(td.url);
  const term = openTerminal([], { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url });
  await term.waitFor(/not logged in/);
  await term.waitFor(/Log in[\s\S]*Log in with my browser[\s\S]*Create an account[\s\S]*Verify my email[\s\S]*forgot my password[\s\S]*Reset my password[\s\S]*Quit/);
  term.type(`${DOWN.repeat(6)}${ENTER}`);
  t.is(await term.exited, 0, term.screen());
});

test('the menu runs the chosen flow: log in from the home screen', async (t) => {
  const account = await activeAccount(td, identity('menu'));
  const user = await cliUser(td.url);
  const term = openTerminal([], { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url });
  await term.waitFor(/What would you like to do/);
  term.type(ENTER);
  await answerLogin(term, account.email);
  t.is(await term.exited, 0, term.screen());
  t.regex(term.screen(), new RegExp(`Welcome, ${account.username}!`));
});

test('--no-input at a terminal never prompts', async (t) => {
  const user = await cliUser(td.url);
  const term = openTerminal(['login', '--no-input'], { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url });
  t.is(await term.exited, 2);
  t.regex(term.screen(), /--email/);
});
