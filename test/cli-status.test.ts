// `taskmaster status`, `taskmaster token`, `taskmaster completion` and the home menu, through the
// real bin/taskmaster against the real daemon (and a real bash for the completion script).
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { api } from './helpers/http.js';
import { TASKMASTER_BIN, baseEnv, cliUser, runProcess, type CliResult, type CliUser } from './helpers/cli.js';
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { DOWN, ENTER, openTerminal, type Terminal } from './helpers/pty.js';

let td: TestDaemon;
test.before(async () => {
  td = await startTestDaemon();
});
test.after.always(async () => td?.close());

const UNREACHABLE = 'http://127.0.0.1:9';
const DAY = 24 * 60 * 60 * 1000;

/** An active account, logged in through the CLI: the token is in this user's config file. */
async function loggedIn(user: CliUser, prefix: string) {
  const account = await activeAccount(td, identity(prefix));
  const login = await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${account.password}\n` });
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  const saved = JSON.parse(await readFile(join(user.configDir, 'config.json'), 'utf8'));
  return { ...account, savedToken: saved.servers[td.url].token as string, configFile: join(user.configDir, 'config.json') };
}

function masked(token: string): string {
  return `${token.slice(0, 7)}…`;
}

test('status with a saved login: exit 0, the account, the config file as the source, the token masked, the expiry', async (t) => {
  const user = await cliUser(td.url);
  const account = await loggedIn(user, 'stfile');
  const text = await user.run(['status']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, new RegExp(`Server\\s+${td.url}`));
  t.regex(text.stdout, new RegExp(`Account\\s+${account.username}\\s+\\(${account.email}\\)`));
  t.true(text.stdout.includes(`Token from  ${account.configFile}`), text.stdout);
  t.regex(account.savedToken, /^tm_/);
  t.true(text.stdout.includes(`Token       ${masked(account.savedToken)}\n`), text.stdout);
  const in30Days = new Date(Date.now() + 30 * DAY).toISOString().slice(0, 10);
  t.regex(text.stdout, new RegExp(`Expires\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC \\((in 30 days|in 29 days)\\)`));
  t.true(text.stdout.includes(in30Days) || text.stdout.includes(new Date(Date.now() + 29 * DAY).toISOString().slice(0, 10)));
  t.regex(text.stdout, /Session\s+✓ valid/);
  t.false((text.stdout + text.stderr).includes(account.savedToken), 'never the full token');

  const json = await user.run(['status', '--json']);
  t.is(json.code, 0);
  t.is(json.stderr, '');
  const status = JSON.parse(json.stdout);
  t.like(status, { server: td.url, state: 'valid', valid: true, username: account.username, tokenSource: account.configFile, token: masked(account.savedToken) });
  t.is(status.user.email, account.email);
  const expiresInDays = (Date.parse(status.expiresAt) - Date.now()) / DAY;
  t.true(expiresInDays > 29.9 && expiresInDays <= 30, String(status.expiresAt));
  t.false(json.stdout.includes(account.savedToken));
});

test('status with TASKMASTER_TOKEN names the variable as the source', async (t) => {
  const account = await activeAccount(td, identity('stenv'));
  const user = await cliUser(td.url);
  const result = await user.run(['status'], { env: { TASKMASTER_TOKEN: account.token } });
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /Token from\s+TASKMASTER_TOKEN\n/);
  t.true(result.stdout.includes(masked(account.token)));
  t.false(result.stdout.includes(account.token));
  const json = await user.run(['status', '--json'], { env: { TASKMASTER_TOKEN: account.token } });
  t.is(json.code, 0);
  t.like(JSON.parse(json.stdout), { state: 'valid', tokenSource: 'TASKMASTER_TOKEN', username: account.username });
});

test('status after the session was ended on the server exits 4, with --json too', async (t) => {
  const user = await cliUser(td.url);
  const account = await loggedIn(user, 'stended');
  t.is((await api(td.url, 'DELETE', '/v1/sessions/current', undefined, { token: account.savedToken })).status, 204);
  const text = await user.run(['status']);
  t.is(text.code, 4);
  t.regex(text.stdout, /Session\s+✗ ended/);
  t.regex(text.stdout, new RegExp(`Account\\s+${account.username}\\s+\\(as saved at login\\)`));
  t.regex(text.stderr, /taskmaster login/);
  t.false((text.stdout + text.stderr).includes(account.savedToken));
  const json = await user.run(['status', '--json']);
  t.is(json.code, 4);
  t.like(JSON.parse(json.stdout), { state: 'ended', valid: false, user: null, tokenSource: account.configFile, token: masked(account.savedToken), expiresAt: null });
  t.is(JSON.parse(json.stderr).error.code, 'session_ended');
});

test('status when not logged in exits 4, with --json too', async (t) => {
  const user = await cliUser(td.url);
  const text = await user.run(['status']);
  t.is(text.code, 4);
  t.regex(text.stdout, /not logged in/);
  t.regex(text.stderr, /taskmaster login/);
  const json = await user.run(['status', '--json']);
  t.is(json.code, 4);
  t.deepEqual(JSON.parse(json.stdout), { server: td.url, state: 'not_logged_in', valid: false, username: null, user: null, tokenSource: null, token: null, credential: null, expiresAt: null });
  t.is(JSON.parse(json.stderr).error.code, 'not_logged_in');
});

test('status with the server unreachable exits 3, with --json too', async (t) => {
  const user = await cliUser(UNREACHABLE);
  const token = `tm_${'b'.repeat(43)}`;
  const text = await user.run(['status'], { env: { TASKMASTER_TOKEN: token } });
  t.is(text.code, 3);
  t.regex(text.stdout, /Session\s+\? unknown/);
  t.regex(text.stderr, /Cannot reach .*127\.0\.0\.1:9/);
  const json = await user.run(['status', '--json'], { env: { TASKMASTER_TOKEN: token } });
  t.is(json.code, 3);
  t.like(JSON.parse(json.stdout), { server: UNREACHABLE, state: 'unreachable', valid: null, tokenSource: 'TASKMASTER_TOKEN', token: 'tm_bbbb…' });
  t.is(JSON.parse(json.stderr).error.code, 'server_unreachable');
  t.false((text.stdout + text.stderr + json.stdout + json.stderr).includes(token));
});

/** Runs a bash command line with the CLI reachable as `taskmaster` on PATH. */
async function bash(script: string, env: Record<string, string | undefined>): Promise<CliResult> {
  const bin = await mkdtemp(join(tmpdir(), 'taskmaster-bin-'));
  await writeFile(join(bin, 'taskmaster'), `#!/bin/sh\nexec "${process.execPath}" "${TASKMASTER_BIN}" "$@"\n`, { mode: 0o755 });
  return runProcess('bash', ['--norc', '--noprofile', '-c', script], { env: baseEnv({ ...env, PATH: `${bin}:${process.env.PATH ?? ''}` }) });
}

test('token prints the saved token raw, for export TASKMASTER_TOKEN=$(taskmaster token)', async (t) => {
  const user = await cliUser(td.url);
  const account = await loggedIn(user, 'tok');
  const printed = await user.run(['token']);
  t.is(printed.code, 0, printed.stderr);
  t.is(printed.stdout, `${account.savedToken}\n`);
  t.is(printed.stderr, '');
  // The exported token works from a shell that has no saved session at all.
  const empty = join(await mkdtemp(join(tmpdir(), 'taskmaster-empty-')), 'config');
  const shell = await bash(`export TASKMASTER_TOKEN=$(taskmaster token) && TASKMASTER_CONFIG_DIR=${empty} taskmaster whoami`, {
    TASKMASTER_CONFIG_DIR: user.configDir,
    TASKMASTER_SERVER: td.url,
  });
  t.is(shell.code, 0, shell.stderr);
  t.is(shell.stdout, `${account.username}\n`);
  // TASKMASTER_TOKEN wins over the file, as in every other command.
  const fromEnv = await user.run(['token'], { env: { TASKMASTER_TOKEN: 'tm_from_the_environment' } });
  t.is(fromEnv.stdout, 'tm_from_the_environment\n');
});

test('token exits 4 with a message on stderr when there is none, and calls no server', async (t) => {
  const user = await cliUser(UNREACHABLE);
  const result = await user.run(['token']);
  t.is(result.code, 4);
  t.is(result.stdout, '');
  t.regex(result.stderr, /not logged in to http:\/\/127\.0\.0\.1:9.*taskmaster login/);
  const json = await user.run(['token', '--json']);
  t.is(json.code, 4);
  t.is(JSON.parse(json.stderr).error.code, 'not_logged_in');
});

/** The top-level commands, as `taskmaster --help` lists them. */
async function topLevelCommands(user: CliUser): Promise<string[]> {
  const help = (await user.run(['--help'])).stdout;
  const section = help.slice(help.indexOf('Commands:'));
  return [...section.matchAll(/^ {2}([0-9]*[a-z][a-z0-9-]*)/gm)].map((match) => match[1]!).filter((name) => name !== 'help');
}

test('completion bash, sourced in a real bash, offers commands, subcommands and flags from the command tree', async (t) => {
  const user = await cliUser(td.url);
  const offered = await bash(
    `source <(taskmaster completion bash) || exit 9
complete -p taskmaster
function=$(complete -p taskmaster | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')
offer() {
  COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=\${#COMP_LINE}; COMPREPLY=()
  "$function" taskmaster "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
  echo "$*|\${COMPREPLY[*]}"
}
offer taskmaster pa
offer taskmaster ''
offer taskmaster login --
offer taskmaster profile ''
offer taskmaster profile update --u
offer taskmaster --server http://127.0.0.1:4000 st
offer taskmaster --server = http : //127.0.0.1 : 4000 pro
offer taskmaster login --email ''
offer taskmaster completion ''
offer taskmaster to
`,
    { TASKMASTER_CONFIG_DIR: user.configDir },
  );
  t.is(offered.code, 0, offered.stderr);
  const lines = offered.stdout.trim().split('\n');
  t.regex(lines[0]!, /^complete -F \S+ taskmaster$/, 'registered for taskmaster');
  const answers = new Map(lines.slice(1).map((line) => line.split('|') as [string, string]));
  const words = (typed: string) => (answers.get(typed) ?? '').split(' ').filter(Boolean);
  t.deepEqual(words('taskmaster pa').sort(), ['passkeys', 'password']);
  t.deepEqual(words('taskmaster ').sort(), (await topLevelCommands(user)).sort(), 'every top-level command');
  for (const flag of ['--email', '--password-stdin', '--server', '--json', '--no-input', '--no-color', '--help']) t.true(words('taskmaster login --').includes(flag), flag);
  t.false(words('taskmaster login --').includes('--username'), 'only the flags of login');
  t.deepEqual(words('taskmaster profile '), ['update']);
  t.deepEqual(words('taskmaster profile update --u'), ['--username']);
  t.deepEqual(words('taskmaster --server http://127.0.0.1:4000 st'), ['status'], 'the value of --server is skipped');
  t.deepEqual(words('taskmaster --server = http : //127.0.0.1 : 4000 pro'), ['profile'], 'also as readline splits --server=URL');
  t.deepEqual(words('taskmaster login --email '), [], 'nothing to offer for an email');
  t.deepEqual(words('taskmaster completion '), ['bash', 'zsh', 'fish']);
  t.deepEqual(words('taskmaster to'), ['token']);
});

test('completion zsh and fish name every top-level command and its flags; an unknown shell is a usage error', async (t) => {
  const user = await cliUser(td.url);
  const commands = await topLevelCommands(user);
  t.true(commands.includes('status') && commands.includes('completion'));
  for (const shell of ['zsh', 'fish']) {
    const result = await user.run(['completion', shell]);
    t.is(result.code, 0, result.stderr);
    for (const command of commands) t.regex(result.stdout, new RegExp(`'${command}[:']`), `${shell}: ${command}`);
    t.true(result.stdout.includes('password-stdin'), shell);
  }
  t.regex((await user.run(['completion', 'zsh'])).stdout, /^#compdef taskmaster\n[\s\S]*compdef _taskmaster taskmaster/);
  t.regex((await user.run(['completion', 'fish'])).stdout, /^complete -c taskmaster -n '__taskmaster_at \\'\\'' -a 'status'/m);
  const unknown = await user.run(['completion', 'powershell']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /bash, zsh, fish/);
  t.is((await user.run(['completion'])).code, 2);
});

/** A terminal that is closed (Ctrl-C) when the test ends, whatever happened. */
function terminal(t: { teardown(fn: () => void): void }, args: string[], env: Record<string, string>): Terminal {
  const term = openTerminal(args, env);
  let exited = false;
  void term.exited.then(() => (exited = true));
  t.teardown(() => {
    if (!exited) term.type('\u0003');
  });
  return term;
}

/** Moves the menu's pointer down to `label` and chooses it. */
async function choose(term: Terminal, label: string): Promise<void> {
  for (let step = 0; step < 20; step++) {
    const screen = term.screen();
    if (screen.slice(screen.lastIndexOf('❯')).startsWith(`❯ ${label}`)) {
      term.type(ENTER);
      return;
    }
    const shown = term.raw().length;
    term.type(DOWN);
    await waitUntil(() => term.raw().length > shown);
  }
  throw new Error(`no menu entry ${label}; screen:\n${term.screen()}`);
}

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await new Promise((resolve) => setTimeout(resolve, 50)); // let the frame finish drawing
}

test('bare taskmaster logged in at a terminal shows the dashboard and a menu of the account actions', async (t) => {
  const user = await cliUser(td.url);
  const account = await loggedIn(user, 'menuin');
  const term = terminal(t, [], { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url });
  await term.waitFor(new RegExp(`Welcome, ${account.username}![\\s\\S]*What would you like to do`));
  const entries = [
    'Change my username or email',
    'Change my password',
    'See where I am logged in',
    'See recent activity on my account',
    'Check this login',
    'Log out',
    'Log out everywhere',
    'Delete my account',
    'Quit',
  ];
  // all on screen at once, in this order
  await term.waitFor(new RegExp(entries.join('[\\s\\S]*')));
  await choose(term, 'Check this login');
  t.is(await term.exited, 0, term.screen());
  t.regex(term.screen(), /Token from\s+\S*config\.json/);
  t.regex(term.screen(), /Session\s+✓ valid/);
});

test('bare taskmaster logged out at a terminal offers the password reset alongside log in and register', async (t) => {
  const user = await cliUser(td.url);
  const term = terminal(t, [], { TASKMASTER_CONFIG_DIR: user.configDir, TASKMASTER_SERVER: td.url });
  await term.waitFor(/Log in[\s\S]*Create an account[\s\S]*Verify my email[\s\S]*I forgot my password[\s\S]*Reset my password[\s\S]*Quit/);
  await choose(term, 'Quit');
  t.is(await term.exited, 0, term.screen());
});

test('the dashboard lists the account actions', async (t) => {
  const account = await activeAccount(td, identity('dashhints'));
  const user = await cliUser(td.url);
  const result = await user.run([], { env: { TASKMASTER_TOKEN: account.token } });
  t.is(result.code, 0);
  for (const command of ['taskmaster password change', 'taskmaster sessions', 'taskmaster activity', 'taskmaster status', 'taskmaster logout', '--all', 'taskmaster account delete']) {
    t.true(result.stdout.includes(command), command);
  }
});
