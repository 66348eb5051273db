// `taskmaster login --web` through the real bin/taskmaster against the real daemon, approved or
// denied on the real /device page in Chromium (signed in through /login), let expire on the
// daemon's clock, cancelled with Ctrl-C, and kept from opening a browser over SSH (a fake
// xdg-open on PATH tells whether it was called). Screenshots of /device under test/artifacts/.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Browser, Page } from 'playwright-core';
import { artifactPath, launchBrowser } from './helpers/browser.js';
import { TASKMASTER_BIN, baseEnv, cliUser } from './helpers/cli.js';
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api } from './helpers/http.js';

let td: TestDaemon;
let browser: Browser;
// The daemon's clock: the expiry test moves it past the 15 minutes instead of waiting.
let offset = 0;
test.before(async () => {
  [td, browser] = await Promise.all([startTestDaemon({ clock: () => Date.now() + offset }), launchBrowser()]);
});
test.after.always(async () => {
  await browser?.close();
  await td?.close();
});

interface Running {
  child: ChildProcessWithoutNullStreams;
  configDir: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when stderr matches. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  exit: Promise<number | null>;
}

/** Starts `taskmaster login --web …` and keeps it running; its own config folder, a clean environment. */
async function startLogin(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const configDir = join(await mkdtemp(join(tmpdir(), 'taskmaster-web-')), 'config');
  const child = spawn(process.execPath, [TASKMASTER_BIN, 'login', '--web', ...args], {
    env: baseEnv({ TASKMASTER_CONFIG_DIR: configDir, TASKMASTER_SERVER: td.url, ...env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (match: RegExpExecArray) => void }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const match = waiter.pattern.exec(stderr);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    check();
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  void exit.then(() => clearTimeout(killer));
  return {
    child,
    configDir,
    stdout: () => stdout,
    stderr: () => stderr,
    exit,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        check();
        void exit.then(() => setTimeout(() => reject(new Error(`the CLI ended before ${pattern}: ${stderr}`)), 50));
      }),
  };
}

/** The session token the config file holds for the daemon, if any. */
async function savedToken(configDir: string): Promise<string | undefined> {
  const file = join(configDir, 'config.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, 'utf8')).servers?.[td.url]?.token;
}

const codeOf = async (running: Running) => (await running.waitFor(/one-time code: ([A-Z]{4}-[A-Z]{4})/))[1]!;
const linkOf = async (running: Running) => (await running.waitFor(/approve the login: (http\S+)/))[1]!;

/** A phone-sized and a desktop-sized screenshot of the page as it is now. */
async function screenshots(page: Page, name: string): Promise<void> {
  for (const [label, width] of [['phone', 360], ['desktop', 1280]] as const) {
    await page.setViewportSize({ width, height: label === 'phone' ? 740 : 800 });
    await page.screenshot({ path: await artifactPath(`device-${name}-${label}.png`), fullPage: true });
  }
}

/** Follows the printed link in Chromium (no JavaScript): signs in on /login, lands back on /device with the code, continues to the request. */
async function openRequest(link: string, who: { email: string; password: string }, shoot?: string): Promise<Page> {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(link);
  if (new URL(page.url()).pathname === '/login') {
    await page.fill('input[name=email]', who.email);
    await page.fill('input[name=password]', who.password);
    await Promise.all([page.waitForURL(/\/device\?user_code=/), page.click('button:has-text("Sign in")')]);
  }
  if (shoot) await screenshots(page, `${shoot}-code`);
  await Promise.all([page.waitForLoadState(), page.click('button:has-text("Continue")')]);
  if (shoot) await screenshots(page, `${shoot}-request`);
  return page;
}

test.serial('login --web --no-browser: approved on the /device page in Chromium, the CLI ends like a password login', async (t) => {
  const account = await activeAccount(td, identity('webok'));
  const running = await startLogin(['--no-browser']);
  const code = await codeOf(running);
  const link = await linkOf(running);
  t.is(link, `${td.url}/device?user_code=${code}`);
  t.notRegex(running.stderr(), /Opened the page/);

  const page = await openRequest(link, account, 'approve');
  const text = await page.textContent('main');
  t.regex(text ?? '', /full access to your account/);
  t.regex(text ?? '', new RegExp(code));
  t.regex(text ?? '', /taskmaster\/\S+ \(/, 'the CLI\'s user agent');
  t.regex(text ?? '', /127\.0\.0\.1/, 'the address the terminal asked from');
  await Promise.all([page.waitForLoadState(), page.click('button:has-text("Approve")')]);
  t.regex((await page.textContent('h1')) ?? '', /Terminal logged in/);
  await screenshots(page, 'approved');
  await page.context().close();

  t.is(await running.exit, 0, running.stderr());
  t.regex(running.stdout(), new RegExp(`Welcome, ${account.username}!`), 'the dashboard, as a password login shows it');
  t.regex(running.stderr(), new RegExp(`Logged in to ${td.url.replace(/[.]/g, '\\.')} as ${account.username}`));
  const config = JSON.parse(await readFile(join(running.configDir, 'config.json'), 'utf8'));
  t.regex(config.servers[td.url].token, /^tm_/);
  t.regex(config.devices[td.url], /^tmd_/, 'the device token kept, as a password login keeps it');
  const whoami = await (await cliUser(td.url)).run(['whoami'], { env: { TASKMASTER_TOKEN: config.servers[td.url].token } });
  t.is(whoami.stdout.trim(), account.username);
  const sessions = await api(td.url, 'GET', '/v1/sessions', undefined, { token: account.token });
  t.true(sessions.json.sessions.some((session: { userAgent: string | null }) => /^taskmaster\//.test(session.userAgent ?? '')), 'listed with the account\'s sessions');
});

test.serial('denied on the page: the CLI exits 1 saying so, and saves nothing', async (t) => {
  const account = await activeAccount(td, identity('webno'));
  const running = await startLogin(['--no-browser']);
  await codeOf(running);
  const page = await openRequest(await linkOf(running), account);
  await Promise.all([page.waitForLoadState(), page.click('button:has-text("Deny")')]);
  t.regex((await page.textContent('h1')) ?? '', /Request denied/);
  await screenshots(page, 'denied');
  await page.context().close();
  t.is(await running.exit, 1);
  t.regex(running.stderr(), /denied in the browser\. Nothing was saved/);
  t.is(await savedToken(running.configDir), undefined);
});

test.serial('not approved within 15 minutes: the CLI exits 1 saying the code expired', async (t) => {
  const running = await startLogin(['--no-browser']);
  await codeOf(running);
  offset += 15 * 60_000;
  t.teardown(() => (offset -= 15 * 60_000));
  t.is(await running.exit, 1);
  t.regex(running.stderr(), /code expired before it was approved/);
  t.regex(running.stderr(), /taskmaster login --web/);
});

test.serial('Ctrl-C while waiting: a clean exit (130), nothing saved', async (t) => {
  const running = await startLogin(['--no-browser']);
  await codeOf(running);
  running.child.kill('SIGINT');
  t.is(await running.exit, 130);
  t.regex(running.stderr(), /Cancelled: nothing was saved/);
  t.notRegex(running.stderr(), /Unexpected|at .*\.js:\d+/);
  t.is(await savedToken(running.configDir), undefined);
});

/** A PATH whose xdg-open only writes down that it was called, and with what. */
async function fakeOpener(): Promise<{ path: string; called: () => Promise<string | undefined>; calledSoon: () => Promise<string | undefined> }> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmaster-opener-'));
  const record = join(dir, 'called.txt');
  await writeFile(join(dir, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\n`);
  await chmod(join(dir, 'xdg-open'), 0o755);
  const called = async () => (existsSync(record) ? readFile(record, 'utf8') : undefined);
  return {
    path: `${dir}:${process.env.PATH ?? ''}`,
    called,
    // The CLI lets the opener go once it started: its note may land a moment after the CLI is gone.
    async calledSoon() {
      for (let i = 0; i < 100 && !existsSync(record); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      return called();
    },
  };
}

test.serial('over SSH no browser is opened (the fake xdg-open is never called), and the page is printed', async (t) => {
  const opener = await fakeOpener();
  const running = await startLogin([], { PATH: opener.path, DISPLAY: ':0', SSH_CONNECTION: '198.51.100.1 50000 192.0.2.1 22' });
  await codeOf(running);
  await running.waitFor(/Not opening a browser: this is an SSH session/);
  running.child.kill('SIGINT');
  t.is(await running.exit, 130);
  t.is(await opener.called(), undefined);
});

test.serial('at a desktop (DISPLAY set, no SSH) the browser is opened on the page with the code; --no-browser keeps it shut', async (t) => {
  const opener = await fakeOpener();
  const running = await startLogin([], { PATH: opener.path, DISPLAY: ':0' });
  const link = await linkOf(running);
  await running.waitFor(/Opened the page in your browser/);
  running.child.kill('SIGINT');
  t.is(await running.exit, 130, running.stderr());
  t.is((await opener.calledSoon())?.trim(), link);

  const quiet = await fakeOpener();
  const skipped = await startLogin(['--no-browser'], { PATH: quiet.path, DISPLAY: ':0' });
  await codeOf(skipped);
  skipped.child.kill('SIGINT');
  t.is(await skipped.exit, 130);
  t.is(await quiet.called(), undefined);
});

test.serial('a server that answers a hostile device code (a file: page, escape sequences in the code) gets nothing opened and nothing of it printed', async (t) => {
  const hostile = createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ device_code: 'x', user_code: '\u001b]0;owned\u0007ABCD-EFGH', verification_uri: 'file:///etc/passwd', verification_uri_complete: 'file:///etc/passwd?x=|calc', expires_in: 900, interval: 5 }));
  });
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  t.teardown(() => hostile.close());
  const opener = await fakeOpener();
  const running = await startLogin([], { PATH: opener.path, DISPLAY: ':0', TASKMASTER_SERVER: `http://127.0.0.1:${(hostile.address() as AddressInfo).port}` });
  t.is(await running.exit, 1, running.stderr());
  t.regex(running.stderr(), /a device code this client cannot use[\s\S]*Nothing was opened/);
  t.false(running.stderr().includes('\u001b]0;owned'), 'the escape sequence never reaches the terminal');
  t.false(running.stderr().includes('file:'), 'nor the page');
  t.is(await opener.called(), undefined, 'no opener was started');
});

test('login --web refuses the password flags, and --no-browser alone, as usage errors', async (t) => {
  const user = await cliUser(td.url);
  const mixed = await user.run(['login', '--web', '--email', 'me@example.com']);
  t.is(mixed.code, 2);
  t.regex(mixed.stderr, /leave out --email/);
  const alone = await user.run(['login', '--no-browser', '--email', 'me@example.com', '--password-stdin'], { input: 'x\n' });
  t.is(alone.code, 2);
  t.regex(alone.stderr, /--no-browser goes with --web/);
  const help = await user.run(['login', '--help']);
  t.regex(help.stdout, /\$ taskmaster login --web --no-browser/);
});
