// The web pages in a real headless Chromium with JavaScript off (issue 18, part 4): the seed's
// stories about pages, as a person clicks them (the start page to registration, the emailed link,
// sign-in, the dashboard, ending sessions, revoking a token, sign-out), and what an attacker's page
// can make the browser do (a form from another origin, Origin: null, an open redirect through
// `next`). Both databases. Screenshots of every page at 360 px and 1280 px go to
// test/artifacts/web-*.png (from the SQLite run).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createToken, me } from './helpers/access-tokens.js';
import { artifactPath, launchBrowser } from './helpers/browser.js';
import { STRONG_PASSWORD, activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { api } from './helpers/http.js';
import { RESET_SUBJECT } from './helpers/reset-mail.js';
import { tokenOf } from './helpers/smtp.js';
import { enableTwoFactor } from './helpers/two-factor.js';

const POSTGRES_KEY = '5e'.repeat(32);
const CLI_AGENT = 'taskmaster-cli/test';
const WIDTHS = [360, 1280];

let browser: Browser;
test.before(async () => {
  browser = await launchBrowser();
});
test.after.always(async () => browser?.close());

interface Watched {
  context: BrowserContext;
  page: Page;
  /** Requests that left the daemon's origin (none is allowed unless a test serves an attacker's page). */
  foreign: string[];
  /** Console errors and warnings (a CSP refusal shows there). */
  complaints: string[];
}

async function openBrowser(t: ExecutionContext, origin: string, allowed: string[] = []): Promise<Watched> {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  const foreign: string[] = [];
  const complaints: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !allowed.some((other) => url.startsWith(other))) foreign.push(url);
  });
  page.on('console', (message) => {
    // Chromium notes a 4xx page's status in the console; that is no complaint about the page.
    if ((message.type() === 'error' || message.type() === 'warning') && !/status of 4\d\d/.test(message.text())) complaints.push(message.text());
  });
  return { context, page, foreign, complaints };
}

const heading = (page: Page) => page.getByRole('heading', { level: 1 }).innerText();
const bodyText = (page: Page) => page.locator('body').innerText();

/** Presses a button (or link) and waits for the page it leads to. */
async function press(page: Page, name: string | RegExp, role: 'button' | 'link' = 'button'): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.getByRole(role, { name }).first().click()]);
}

forEachDatabase((test, db) => {
  let td: TestDaemon;
  const env = async () => ({ ...(await db.env()), ...(db.dialect === 'postgres' ? { TOTP_ENCRYPTION_KEY: POSTGRES_KEY } : {}) });
  test.before(async () => {
    td = await startTestDaemon({ env: await env(), limits: { loginFailuresPerAddressPerHour: 100_000 } });
  });
  test.after.always(async () => td?.close());

  /** The page as it is now, at a phone's width and a desktop's (the SQLite run keeps them). */
  async function shoot(page: Page, name: string): Promise<void> {
    if (db.dialect !== 'sqlite') return;
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 });
      await page.screenshot({ path: await artifactPath(`web-${name}-${width}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  async function signIn(page: Page, who: { email: string; password: string }): Promise<void> {
    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await press(page, 'Sign in');
  }

  /** A CLI login beside the browser's: its session token. */
  const cliSession = async (who: { email: string; password: string }): Promise<string> =>
    (await api(td.url, 'POST', '/v1/sessions', { email: who.email, password: who.password }, { headers: { 'user-agent': CLI_AGENT } })).json.token as string;

  test.serial('a person registers from the start page, confirms by email, signs in, changes the username, ends sessions, revokes a token and signs out to /login', async (t) => {
    const { context, page, foreign, complaints } = await openBrowser(t, td.url);
    const who = identity('browser');

    await page.goto(`${td.url}/`);
    t.is(await heading(page), 'Welcome to TaskMaster');
    await shoot(page, 'start');
    await press(page, 'Create an account', 'link');
    t.is(new URL(page.url()).pathname, '/register');
    t.is(await heading(page), 'Create an account');
    await shoot(page, 'register');

    // A refusal first: shown at its field, the values kept, the passwords not.
    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Username').fill(who.username);
    await page.getByLabel('Password', { exact: true }).fill(who.password);
    await page.getByLabel('Password again').fill(`${who.password}-typo`);
    await press(page, 'Create the account');
    t.regex(await bodyText(page), /The two passwords do not match/);
    t.is(await page.getByLabel('Email').inputValue(), who.email);
    t.is(await page.getByLabel('Password', { exact: true }).inputValue(), '');
    await shoot(page, 'register-refused');
    await page.getByLabel('Password', { exact: true }).fill(who.password);
    await page.getByLabel('Password again').fill(who.password);
    await press(page, 'Create the account');
    t.is(await heading(page), 'Check your email');
    t.regex(await bodyText(page), new RegExp(`We sent a link to ${who.email.replace(/\./g, '\\.')}`));
    await shoot(page, 'check-email');

    // The emailed link, as the mail has it, and its Confirm button; then the way to the sign-in page.
    const mail = await td.smtp.waitFor((m) => m.to === who.email);
    const link = `${td.url}/v1/verify?token=${tokenOf(mail)}`;
    t.true(mail.text.includes(link));
    await page.goto(link);
    await press(page, 'Confirm');
    t.is(await heading(page), 'Account activated');
    await press(page, 'sign in on the web', 'link');
    t.is(new URL(page.url()).pathname, '/login');
    await shoot(page, 'login');

    // A wrong password: said, the email kept.
    await signIn(page, { email: who.email, password: `${who.password}-wrong` });
    t.regex(await bodyText(page), /The email or the password is not right/);
    t.is(await page.getByLabel('Email').inputValue(), who.email);
    await shoot(page, 'login-refused');
    await page.getByLabel('Password').fill(who.password);
    await press(page, 'Sign in');
    t.is(new URL(page.url()).pathname, '/account', 'a sign-in goes to the dashboard');
    t.is(await heading(page), 'Your account');
    t.regex(await bodyText(page), new RegExp(`Username\\s+${who.username}`));
    await shoot(page, 'account');

    // The username.
    const renamed = `${who.username}b`;
    await page.getByLabel('New username').fill(renamed);
    await press(page, 'Change the username');
    t.regex(await page.getByRole('status').innerText(), /Your username is changed/);
    t.is(await page.locator('.who a').innerText(), renamed, 'the header says the new name');
    const cli = await cliSession(who);
    t.is((await me(td.url, cli)).json.user.username, renamed);

    // End one session: the CLI's, shown with its user agent.
    await page.reload();
    const cliItem = page.locator('ul.items li', { hasText: CLI_AGENT });
    t.is(await cliItem.count(), 1, 'the CLI session is listed');
    t.regex(await page.locator('ul.items li', { hasText: 'this browser' }).innerText(), /HeadlessChrome|Chrome/);
    await shoot(page, 'account-sessions');
    await Promise.all([page.waitForNavigation(), cliItem.getByRole('button', { name: /^End the session/ }).click()]);
    t.regex(await page.getByRole('status').innerText(), /The session has ended/);
    t.is(await page.locator('ul.items li', { hasText: CLI_AGENT }).count(), 0, 'gone from the list');
    t.is((await me(td.url, cli)).status, 401, 'its token is refused');

    // An access token, revoked.
    const scripts = await cliSession(who);
    const { token: accessToken, info } = await createToken(td, { token: scripts, password: who.password });
    await page.reload();
    const tokenItem = page.locator('ul.items li', { hasText: info.name });
    t.regex(await tokenItem.innerText(), new RegExp(`${info.prefix}…`));
    await shoot(page, 'account-tokens');
    await Promise.all([page.waitForNavigation(), tokenItem.getByRole('button', { name: /^Revoke/ }).click()]);
    t.regex(await page.getByRole('status').innerText(), /The access token is revoked/);
    t.is((await me(td.url, accessToken)).status, 401, 'the access token is refused');

    // All other sessions.
    const others = [scripts, await cliSession(who)];
    await page.reload();
    await press(page, 'End all other sessions (2)');
    t.regex(await page.getByRole('status').innerText(), /Every other session has ended/);
    for (const token of others) t.is((await me(td.url, token)).status, 401);
    t.regex(await bodyText(page), /No other session/);

    // Sign out: back on /login, the cookie's session refused afterwards.
    const [cookie] = (await context.cookies(td.url)).filter((each) => each.name === 'taskmaster_session');
    t.truthy(cookie);
    t.true(cookie!.httpOnly);
    t.is(cookie!.sameSite, 'Lax');
    t.is((await me(td.url, cookie!.value)).status, 200);
    await press(page, 'Sign out');
    t.is(new URL(page.url()).pathname, '/login', 'sign-out lands on /login');
    t.regex(await bodyText(page), /You are signed out/);
    await shoot(page, 'signed-out');
    t.is((await me(td.url, cookie!.value)).status, 401, 'the session behind the old cookie is refused');
    await page.goto(`${td.url}/account`);
    t.is(new URL(page.url()).pathname, '/login', 'the dashboard asks to sign in again');

    t.deepEqual(foreign, [], 'nothing loaded from elsewhere');
    t.deepEqual(complaints, [], 'no CSP refusal or other complaint');
  });

  test.serial('a form on another origin of the same host (the cookie goes along: same site) and one from a no-referrer page (Origin: null) are refused, and nothing changes', async (t) => {
    const account = await activeAccount(td, identity('forged'));
    // The attacker's pages: one plain, one that makes the browser send Origin: null.
    const attacker: Server = createServer((request, response) => {
      const noReferrer = request.url === '/null';
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end(`<!doctype html><html><head>${noReferrer ? '<meta name="referrer" content="no-referrer">' : ''}<title>Free prize</title></head><body>
<form method="post" action="${td.url}/account/username"><input type="hidden" name="username" value="pwned-${noReferrer ? 'null' : 'plain'}"><input type="hidden" name="csrf" value="guess"><button>Claim your prize</button></form></body></html>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => attacker.close(() => resolve())));
    const attackerOrigin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;

    const { page } = await openBrowser(t, td.url, [attackerOrigin]);
    await page.goto(`${td.url}/login`);
    await signIn(page, account);
    t.is(await heading(page), 'Your account');

    for (const path of ['/plain', '/null']) {
      await page.goto(`${attackerOrigin}${path}`);
      await press(page, 'Claim your prize');
      t.is(page.url(), `${td.url}/account/username`);
      t.is(await heading(page), 'This form was refused', path);
      t.regex(await bodyText(page), /Nothing was changed/);
      if (path === '/plain') await shoot(page, 'refused');
    }
    t.is((await me(td.url, account.token)).json.user.username, account.username, 'the username is as it was');
  });

  test.serial('an open redirect through next is refused in the browser: signing in from /login?next=//evil.example (and the like) ends on /account here', async (t) => {
    const account = await activeAccount(td, identity('redirect'));
    for (const next of ['//evil.example', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)', '/.//evil.example']) {
      const { page, foreign } = await openBrowser(t, td.url);
      await page.goto(`${td.url}/login?next=${encodeURIComponent(next)}`);
      await signIn(page, account);
      t.is(page.url(), `${td.url}/account`, next);
      t.deepEqual(foreign, [], `${next}: the browser never left`);
    }
    // A page of this site is where a sign-in goes.
    const { page } = await openBrowser(t, td.url);
    await page.goto(`${td.url}/account`);
    t.is(new URL(page.url()).pathname, '/login');
    await page.goto(`${td.url}/login?next=${encodeURIComponent('/account?done=others')}`);
    await signIn(page, account);
    t.is(page.url(), `${td.url}/account?done=others`);
  });

  test.serial('with two-factor on, the sign-in asks the code; the forgotten-password form, an unconfirmed account and a throttle block each say what to do', async (t) => {
    const account = await enableTwoFactor(td.url, await activeAccount(td, identity('browserotp')));
    const { page, foreign, complaints } = await openBrowser(t, td.url);
    await page.goto(`${td.url}/login`);
    await signIn(page, account);
    t.is(await heading(page), 'Enter your code');
    await shoot(page, 'code');
    await page.getByLabel(/Code from your authenticator app/).fill(account.phone.wrong());
    await press(page, 'Verify');
    t.regex(await bodyText(page), /That code is not right/);
    await shoot(page, 'code-refused');
    await page.getByLabel(/Code from your authenticator app/).fill(await account.phone.next());
    await press(page, 'Verify');
    t.is(new URL(page.url()).pathname, '/account');
    t.regex(await bodyText(page), /Two-factor\s+On/);
    await shoot(page, 'account-two-factor');
    await press(page, 'Sign out');

    // Forgot the password: the form, then "check your email" and a real reset mail.
    await press(page, 'Forgot your password?', 'link');
    t.is(await heading(page), 'Forgot your password?');
    await shoot(page, 'forgot');
    await page.getByLabel('Email').fill(account.email);
    await press(page, 'Send the link');
    t.is(await heading(page), 'Check your email');
    const reset = await td.smtp.waitFor((mail) => mail.to === account.email && mail.subject === RESET_SUBJECT);
    t.truthy(reset);

    // An account still to confirm.
    const unconfirmed = identity('browserunconfirmed');
    t.is((await api(td.url, 'POST', '/v1/users', unconfirmed)).status, 201);
    await page.goto(`${td.url}/login`);
    await signIn(page, unconfirmed);
    t.is(await heading(page), 'Confirm your email first');
    await shoot(page, 'unconfirmed');

    // A block: its own daemon, so the count starts at zero.
    const own = await startTestDaemon({ env: await env() });
    t.teardown(() => own.close());
    const blocked = await activeAccount(own, identity('browserblock'));
    await page.goto(`${own.url}/login`);
    for (let attempt = 0; attempt < 10; attempt++) await signIn(page, { email: blocked.email, password: `${STRONG_PASSWORD}-wrong` });
    await page.getByLabel('Password').fill(blocked.password);
    await press(page, 'Sign in');
    t.regex(await page.getByRole('alert').innerText(), /Too many failed logins\. Try again in \d+ seconds?/);
    t.is(new URL(page.url()).pathname, '/login', 'still signed out');
    await shoot(page, 'blocked');

    t.deepEqual(foreign.filter((url) => !url.startsWith(own.url)), []);
    t.deepEqual(complaints, []);
  });
});
