// Passkeys in a real Chromium with a virtual authenticator (the DevTools protocol's WebAuthn
// domain: ctap2, internal transport, resident keys, user verification), against the real daemon
// on http://localhost:PORT (WebAuthn refuses an IP address as relying party id). Both databases.
// The journeys: add a passkey on /account, sign out, sign in with it (no email typed); approve a
// real `taskmaster login --web` with it while the CLI polls. The attacks: a replayed answer, a
// challenge past its 5 minutes (the daemon's clock), an answer made for another origin and RP id
// posted to a second daemon on the same database, a passkey used without user verification, adding
// one without a recent sign-in. Screenshots of /account and /login at 360 px and 1280 px go to
// test/artifacts/passkeys-*.png (from the SQLite run).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { Browser, Page, Request } from 'playwright-core';
import { artifactPath, launchBrowser } from './helpers/browser.js';
import { TASKMASTER_BIN, baseEnv } from './helpers/cli.js';
import { activeAccount, identity, outboxSettled, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { api } from './helpers/http.js';
import { CeremonyClient, PASSKEY_ADDED_SUBJECT, credentialsOf, startPasskeyDaemon, withAuthenticator, type Authenticator } from './helpers/passkeys.js';
import { eventTypes } from './helpers/two-factor.js';

let browser: Browser;
test.before(async () => {
  browser = await launchBrowser();
});
test.after.always(async () => browser?.close());

const FIVE_MINUTES = 5 * 60 * 1000;

forEachDatabase((test, db) => {
  let td: TestDaemon;
  // The daemon's clock: the expiry tests move it instead of waiting.
  let offset = 0;
  let dbEnv: Record<string, string>;
  test.before(async () => {
    dbEnv = await db.env();
    td = await startPasskeyDaemon({ env: dbEnv, clock: () => Date.now() + offset, limits: { loginFailuresPerAddressPerHour: 100_000 } });
  });
  test.after.always(async () => td?.close());

  async function shoot(page: Page, name: string): Promise<void> {
    if (db.dialect !== 'sqlite') return;
    for (const width of [360, 1280]) {
      await page.setViewportSize({ width, height: 800 });
      await page.screenshot({ path: await artifactPath(`passkeys-${name}-${width}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  async function open(t: ExecutionContext, options: { isUserVerified?: boolean; conditionalUI?: boolean } = {}): Promise<Authenticator> {
    const authenticator = await withAuthenticator(browser, options);
    t.teardown(() => authenticator.context.close());
    return authenticator;
  }

  async function signInWithPassword(page: Page, who: { email: string; password: string }, path = '/login'): Promise<void> {
    await page.goto(`${td.url}${path}`);
    await page.fill('input[name=email]', who.email);
    await page.fill('input[name=password]', who.password);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
  }

  async function addPasskey(page: Page, name?: string): Promise<void> {
    if (!page.url().endsWith('/account')) await page.goto(`${td.url}/account`);
    if (name) await page.fill('input[name="passkey-name"]', name);
    await Promise.all([page.waitForURL(/done=passkey_added/), page.getByRole('button', { name: 'Add a passkey', exact: true }).click()]);
  }

  async function signOut(page: Page): Promise<void> {
    await Promise.all([page.waitForURL(/signed_out=1/), page.getByRole('button', { name: 'Sign out' }).click()]);
  }

  /** Clicks "Sign in with a passkey" and waits for the page it leads to. */
  async function passkeySignIn(page: Page, to: RegExp): Promise<void> {
    await Promise.all([page.waitForURL(to), page.getByRole('button', { name: 'Sign in with a passkey' }).click()]);
  }

  /** Clicks "Sign in with a passkey" where it is refused: the error the page shows. */
  async function refusedSignIn(page: Page): Promise<string> {
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const error = page.locator('[data-passkey-error]');
    await error.waitFor({ state: 'visible' });
    return error.innerText();
  }

  /** The body of the next passkey sign-in the page posts, stopped before the daemon sees it (an attacker who caught it). */
  async function catchAssertion(page: Page): Promise<Record<string, unknown>> {
    let resolve!: (body: Record<string, unknown>) => void;
    const caught = new Promise<Record<string, unknown>>((r) => (resolve = r));
    await page.route('**/login/passkey', async (route) => {
      resolve(JSON.parse(route.request().postData() ?? '{}'));
      await route.abort();
    });
    void page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const body = await caught;
    await page.unroute('**/login/passkey');
    return body;
  }

  async function accountWithPasskey(t: ExecutionContext, prefix: string) {
    const account = await activeAccount(td, identity(prefix));
    const authenticator = await open(t);
    await signInWithPassword(authenticator.page, account);
    await addPasskey(authenticator.page);
    await signOut(authenticator.page);
    await authenticator.page.goto(`${td.url}/login`);
    return { account, authenticator };
  }

  test.serial('add a passkey on /account, sign out, sign in with it without typing the email: a login event, a notice mail, no script complaint', async (t) => {
    const account = await activeAccount(td, identity('pkjourney'));
    const { page, complaints, ...authenticator } = await open(t);
    await page.goto(`${td.url}/login`);
    t.true(await page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible(), 'the script shows the button where WebAuthn is');
    t.is(await page.getAttribute('input[name=email]', 'autocomplete'), 'username webauthn', 'conditional UI: the email field offers passkeys');
    await signInWithPassword(page, account);
    await shoot(page, 'account-before');
    t.regex(await page.locator('#passkeys ~ p').first().innerText(), /fingerprint, face, screen lock or security key/);
    t.true(await page.getByRole('button', { name: 'Add a passkey', exact: true }).isVisible());
    await addPasskey(page, 'My laptop');
    t.regex(await page.locator('body').innerText(), /The passkey is added/);
    t.regex(await page.locator('#passkeys ~ ul.items').first().innerText(), /My laptop/);
    await shoot(page, 'account');

    const stored = await credentialsOf({ page, complaints, ...authenticator });
    t.is(stored.length, 1);
    t.true(stored[0]!.isResidentCredential, 'a discoverable credential');
    t.is(stored[0]!.rpId, 'localhost', 'the RP id is PUBLIC_URL\'s host');
    const listed = await api(td.url, 'GET', '/v1/me/passkeys', undefined, { token: account.token });
    t.is(listed.status, 200);
    const passkeys = (listed.json as { passkeys: { id: string; name: string; createdAt: string; lastUsedAt: string | null }[] }).passkeys;
    t.deepEqual(passkeys.map((passkey) => [passkey.name, passkey.lastUsedAt]), [['My laptop', null]]);
    const mail = await td.smtp.waitFor((m) => m.to === account.email && PASSKEY_ADDED_SUBJECT.test(m.subject));
    t.regex(mail.text, /My laptop/);

    await signOut(page);
    await shoot(page, 'login');
    const logins = (await eventTypes(td.url, account.token)).filter((type) => type === 'login').length;
    await passkeySignIn(page, /\/account$/);
    await shoot(page, 'signed-in');
    t.is(await page.locator('.who a').innerText(), account.username, 'signed in as the passkey\'s account, no email typed');
    const events = await eventTypes(td.url, account.token);
    t.is(events.filter((type) => type === 'login').length, logins + 1, 'a login event');
    t.true(events.includes('passkey_added'));
    const after = (await api(td.url, 'GET', '/v1/me/passkeys', undefined, { token: account.token })).json as { passkeys: { lastUsedAt: string | null }[] };
    t.truthy(after.passkeys[0]!.lastUsedAt, 'its last use is noted');
    t.deepEqual(complaints, [], 'no CSP refusal or script error');
  });

  test.serial('conditional UI: where the browser offers passkeys in the email field, the /login page signs in with the one chosen', async (t) => {
    const account = await activeAccount(td, identity('pkautofill'));
    // Chromium's virtual authenticator picks the passkey from the autofill at once.
    const { page } = await open(t, { conditionalUI: true });
    await signInWithPassword(page, account);
    await addPasskey(page);
    await Promise.all([page.waitForURL(/\/account$/), signOut(page)]);
    t.is(await page.locator('.who a').innerText(), account.username, 'signed in from the email field\'s suggestion, no button pressed');
  });

  test.serial('the script comes from the daemon itself, and only the sign-in and account pages may run it', async (t) => {
    const script = await fetch(`${td.url}/assets/passkeys.js`);
    t.is(script.status, 200);
    t.regex(script.headers.get('content-type') ?? '', /^text\/javascript/);
    t.regex(await script.text(), /navigator\.credentials/);
    const login = await fetch(`${td.url}/login`);
    t.regex(login.headers.get('content-security-policy') ?? '', /script-src 'self'; connect-src 'self'/);
    t.notRegex(login.headers.get('content-security-policy') ?? '', /unsafe-inline/);
    for (const path of ['/', '/register', '/password/forgot']) {
      const page = await fetch(`${td.url}${path}`);
      t.notRegex(page.headers.get('content-security-policy') ?? '', /script-src/, `${path} keeps no script at all`);
    }
  });

  test.serial('without JavaScript the sign-in page works as before and shows no passkey button', async (t) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${td.url}/login`);
    t.false(await page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible());
    const account = await activeAccount(td, identity('pknojs'));
    await signInWithPassword(page, account);
    t.regex(page.url(), /\/account$/);
    t.true(await page.getByText('Adding a passkey needs JavaScript').isVisible());
  });

  test.serial('approve a real `taskmaster login --web` with the passkey alone while the CLI polls', async (t) => {
    const { account, authenticator } = await accountWithPasskey(t, 'pkdevice');
    const { page } = authenticator;
    const configDir = join(await mkdtemp(join(tmpdir(), 'taskmaster-pk-')), 'config');
    const child = spawn(process.execPath, [TASKMASTER_BIN, 'login', '--web', '--no-browser'], { env: baseEnv({ TASKMASTER_CONFIG_DIR: configDir, TASKMASTER_SERVER: td.url }), stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    t.teardown(() => clearTimeout(killer));
    const link = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        const match = /approve the login: (http\S+)/.exec(stderr);
        if (match) resolve(match[1]!);
      });
      void exit.then(() => reject(new Error(stderr)));
    });
    await page.goto(link);
    t.regex(page.url(), /\/login\?next=/, 'the device page sends a signed-out browser to sign in first');
    await shoot(page, 'device-sign-in');
    await passkeySignIn(page, /\/device\?user_code=/);
    await shoot(page, 'device-code');
    await Promise.all([page.waitForLoadState(), page.getByRole('button', { name: 'Continue' }).click()]);
    await shoot(page, 'device-approve');
    await Promise.all([page.waitForLoadState(), page.getByRole('button', { name: 'Approve' }).click()]);
    t.regex(await page.locator('h1').innerText(), /Terminal logged in/);
    await shoot(page, 'device-approved');
    t.is(await exit, 0, stderr);
    t.regex(stdout, new RegExp(`Welcome, ${account.username}!`));
    const token = JSON.parse(await readFile(join(configDir, 'config.json'), 'utf8')).servers[td.url].token as string;
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token })).status, 200);
  });

  test.serial('the passkey sign-in keeps `next` to a path of this site: another site is refused', async (t) => {
    const { authenticator } = await accountWithPasskey(t, 'pknext');
    const { page } = authenticator;
    await page.goto(`${td.url}/login?next=${encodeURIComponent('//evil.example/x')}`);
    await passkeySignIn(page, /\/account$/);
    t.is(new URL(page.url()).origin, td.url);
  });

  test.serial('a caught answer replayed by another client is refused: its challenge worked once', async (t) => {
    const { account, authenticator } = await accountWithPasskey(t, 'pkreplay');
    const { page } = authenticator;
    let posted: Record<string, unknown> | undefined;
    page.on('request', (request: Request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/login/passkey') posted = JSON.parse(request.postData() ?? '{}');
    });
    await passkeySignIn(page, /\/account$/);
    t.truthy(posted);
    const attacker = new CeremonyClient(td.url);
    await attacker.openLogin();
    const replayed = await attacker.post('/login/passkey', { csrf: attacker.tokens.verify, response: posted!.response });
    t.is(replayed.status, 401);
    t.is(replayed.json.code, 'passkey_refused');
    t.regex(String(replayed.json.detail), /used, or older than 5 minutes/);
    t.deepEqual(replayed.setCookies.filter((line) => /taskmaster_session=tm_/.test(line)), [], 'no session for the replay');
    // The same answer without a CSRF token, or from another origin, is refused before anything.
    const forged = new CeremonyClient(td.url, 'http://evil.example');
    await forged.openLogin();
    t.is((await forged.post('/login/passkey', { csrf: forged.tokens.verify, response: posted!.response })).json.code, 'csrf_refused');
    t.is((await attacker.post('/login/passkey', { response: posted!.response })).json.code, 'csrf_refused');
    t.true((await eventTypes(td.url, account.token)).includes('login'));
  });

  test.serial('a challenge older than 5 minutes is refused, and the page says so', async (t) => {
    const { authenticator } = await accountWithPasskey(t, 'pkold');
    const { page } = authenticator;
    await page.route('**/login/passkey', async (route) => {
      offset += FIVE_MINUTES + 1_000;
      await route.continue();
    });
    try {
      t.regex(await refusedSignIn(page), /older than 5 minutes/);
    } finally {
      await page.unroute('**/login/passkey');
      offset = 0;
    }
    t.regex(page.url(), /\/login$/, 'still signed out');
    // A new try gets a new challenge and works.
    await passkeySignIn(page, /\/account$/);
  });

  test.serial('an answer made for this origin and RP id is refused by a daemon at another PUBLIC_URL on the same database, and its challenge is gone for both', async (t) => {
    const { authenticator } = await accountWithPasskey(t, 'pkorigin');
    const { page } = authenticator;
    const other = await startPasskeyDaemon({ env: dbEnv, host: '127.0.0.1', dataDir: td.dataDir, smtp: td.smtp });
    t.teardown(() => other.close());
    const body = await catchAssertion(page);
    const there = new CeremonyClient(other.url);
    await there.openLogin();
    const refused = await there.post('/login/passkey', { csrf: there.tokens.verify, response: body.response });
    t.is(refused.status, 401);
    t.is(refused.json.code, 'passkey_refused');
    t.regex(String(refused.json.detail), /origin|RP ID/i);
    // Back at the daemon it was made for: the challenge was used up by the refused try.
    const here = new CeremonyClient(td.url);
    await here.openLogin();
    t.regex(String((await here.post('/login/passkey', { csrf: here.tokens.verify, response: body.response })).json.detail), /used, or older than 5 minutes/);
  });

  test.serial('user verification is required: an authenticator that did not verify the user is refused', async (t) => {
    const { authenticator } = await accountWithPasskey(t, 'pkuv');
    const { page, cdp, authenticatorId } = authenticator;
    await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
    // A tampered page asks the authenticator not to verify; the daemon still requires it.
    await page.route('**/login/passkey/options', async (route) => {
      const response = await route.fetch();
      const options = await response.json();
      await route.fulfill({ response, json: { ...options, userVerification: 'discouraged' } });
    });
    t.regex(await refusedSignIn(page), /[Uu]ser verification/);
    await page.unroute('**/login/passkey/options');
    t.regex(page.url(), /\/login$/);
  });

  test.serial('an authenticator holding no passkey for this site fails cleanly: the page says so and stays signed out', async (t) => {
    const { page } = await open(t);
    await page.goto(`${td.url}/login`);
    // No credential: the ceremony ends with NotAllowedError once the browser gives up (the daemon's
    // timeout); a short one here, by the options the page gets.
    await page.route('**/login/passkey/options', async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, json: { ...(await response.json()), timeout: 1_000 } });
    });
    t.regex(await refusedSignIn(page), /closed or timed out|not allowed/i);
    t.regex(page.url(), /\/login$/);
  });

  test.serial('adding a passkey needs a sign-in within 10 minutes: the page asks to sign in again, then adds it', async (t) => {
    const account = await activeAccount(td, identity('pkrecent'));
    const authenticator = await open(t);
    const { page } = authenticator;
    await signInWithPassword(page, account);
    offset += 11 * 60 * 1000;
    try {
      // The button was shown while the sign-in was recent: pressing it now is refused and the page asks again.
      await Promise.all([page.waitForURL(/#passkeys$/), page.getByRole('button', { name: 'Add a passkey', exact: true }).click()]);
      await page.waitForSelector('form[action="/account/passkeys/confirm"]');
      t.false(await page.getByRole('button', { name: 'Add a passkey', exact: true }).isVisible());
      t.deepEqual(await credentialsOf(authenticator), [], 'nothing reached the authenticator');
      await page.fill('form[action="/account/passkeys/confirm"] input[name=currentPassword]', 'not the password at all');
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Confirm and add a passkey' }).click()]);
      t.regex(await page.locator('body').innerText(), /The password is not right/);
      await page.fill('form[action="/account/passkeys/confirm"] input[name=currentPassword]', account.password);
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Confirm and add a passkey' }).click()]);
      await addPasskey(page);
      const listed = (await api(td.url, 'GET', '/v1/me/passkeys', undefined, { token: account.token })).json as { passkeys: unknown[] };
      t.is(listed.passkeys.length, 1);
    } finally {
      offset = 0;
    }
    await outboxSettled(td);
  });
});
