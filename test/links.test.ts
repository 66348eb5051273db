// The link in a verification or email-change mail, opened the way people and mail scanners open
// it: GET and HEAD only show a page with a Confirm button; pressing it (a form POST) activates.
import test, { type ExecutionContext } from 'ava';
import type { Browser, Page } from 'playwright-core';
import { artifactPath, launchBrowser, openWatched } from './helpers/browser.js';
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api, type Reply } from './helpers/http.js';
import { tokenOf } from './helpers/smtp.js';

let td: TestDaemon;
let browser: Browser;
let now = Date.now();
test.before(async () => {
  // A low verify limit so the throttled page is reached in a few requests.
  [td, browser] = await Promise.all([startTestDaemon({ clock: () => now, limits: { verifyFailuresPerAddressPer15Min: 5 } }), launchBrowser()]);
});
test.after.always(async () => {
  await browser?.close();
  await td?.close();
});

const linkOf = (text: string) => /^(http\S+\/v1\/verify\?token=\S+)$/m.exec(text)?.[1] ?? '';
const formPost = (fields: string, from?: string) =>
  api(td.url, 'POST', '/v1/verify', undefined, { raw: fields, headers: { 'content-type': 'application/x-www-form-urlencoded' }, ...(from ? { from } : {}) });
const login = (who: { email: string; password: string }) => api(td.url, 'POST', '/v1/sessions', { email: who.email, password: who.password });

/** The headers every page must carry: strict CSP that still lets the form post to us, no referrer, no framing, no cache. */
function assertPageHeaders(t: ExecutionContext, reply: Reply) {
  t.regex(String(reply.headers['content-type']), /^text\/html; charset=utf-8/);
  const csp = String(reply.headers['content-security-policy']);
  t.regex(csp, /default-src 'none'/);
  t.regex(csp, /form-action 'self'/);
  t.regex(csp, /frame-ancestors 'none'/);
  t.notRegex(csp, /unsafe-inline|unsafe-eval|\*|https?:/);
  t.is(reply.headers['referrer-policy'], 'no-referrer');
  t.is(reply.headers['x-frame-options'], 'DENY');
  t.is(reply.headers['cache-control'], 'no-store');
  t.notRegex(reply.text, /<script|\bsrc=|<link|href="http/i, 'no JavaScript, nothing loaded from elsewhere');
}

/** Opens a link in Chromium, noting any request that leaves the daemon and any console complaint (a CSP refusal shows there). */
function open(link: string): Promise<{ page: Page; foreign: string[]; complaints: string[] }> {
  return openWatched(browser, link, { origin: td.url, viewport: { width: 900, height: 640 } });
}

test.serial('a verification link opened in Chromium shows a Confirm button; GET and HEAD activate nothing, the click does', async (t) => {
  const who = identity('click');
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const mail = await td.smtp.waitFor((m) => m.to === who.email);
  const link = linkOf(mail.text);
  const token = tokenOf(mail);
  t.is(link, `${td.url}/v1/verify?token=${token}`);

  // A scanner's HEAD and GET, several times over.
  const head = await api(td.url, 'HEAD', `/v1/verify?token=${token}`);
  t.is(head.status, 200);
  t.is(head.text, '');
  const fetched = await api(td.url, 'GET', `/v1/verify?token=${token}`);
  t.is(fetched.status, 200);
  assertPageHeaders(t, fetched);
  t.regex(fetched.text, /<form method="post" action="\/v1\/verify">/);
  t.true(fetched.text.includes(`<input type="hidden" name="token" value="${token}">`));
  t.regex(fetched.text, /<button type="submit"[^>]*>Confirm<\/button>/);
  await api(td.url, 'GET', `/v1/verify?token=${token}`);
  const early = await login(who);
  t.is(early.status, 403, 'GET and HEAD alone activated nothing');
  t.is(early.json.code, 'email_not_verified');

  const { page, foreign, complaints } = await open(link);
  t.is(await page.title(), 'Confirm your email · TaskMaster');
  t.is(await page.getByRole('heading', { level: 1 }).innerText(), 'Confirm your email');
  const button = page.getByRole('button', { name: 'Confirm' });
  t.true(await button.isVisible());
  await page.screenshot({ path: await artifactPath('verify-confirm.png'), fullPage: true });
  t.is((await login(who)).status, 403, 'opening the page in a browser activated nothing either');

  await Promise.all([page.waitForURL(`${td.url}/v1/verify`), button.click()]);
  t.is(await page.getByRole('heading', { level: 1 }).innerText(), 'Account activated');
  t.regex(await page.locator('body').innerText(), new RegExp(`Welcome, ${who.username}\\. Your TaskMaster account is active\\.[\\s\\S]*taskmaster login`));
  await page.screenshot({ path: await artifactPath('verify-activated.png'), fullPage: true });
  t.is((await login(who)).status, 201, 'the click activated the account');

  // The same link again: still a button, and pressing it says so.
  await page.goto(link);
  await Promise.all([page.waitForURL(`${td.url}/v1/verify`), page.getByRole('button', { name: 'Confirm' }).click()]);
  t.is(await page.getByRole('heading', { level: 1 }).innerText(), 'Account already active');
  t.deepEqual(foreign, [], 'the pages load nothing from elsewhere');
  t.deepEqual(complaints, [], 'no CSP refusal or other complaint in the console');
  await page.context().close();
});

test.serial('an email-change link confirms only when its button is pressed, and the page names the new address', async (t) => {
  const account = await activeAccount(td, identity('moving'));
  const newEmail = `new-${account.email}`;
  const changed = await api(td.url, 'PATCH', '/v1/me', { email: newEmail, currentPassword: account.password }, { token: account.token });
  t.is(changed.status, 200);
  const mail = await td.smtp.waitFor((m) => m.to === newEmail);
  const link = linkOf(mail.text);

  t.is((await api(td.url, 'HEAD', new URL(link).pathname + new URL(link).search)).status, 200);
  const { page } = await open(link);
  t.true(await page.getByRole('button', { name: 'Confirm' }).isVisible());
  const before = await api(td.url, 'GET', '/v1/me', undefined, { token: account.token });
  t.like(before.json.user, { email: account.email, pendingEmail: newEmail }, 'HEAD and GET changed nothing');

  await Promise.all([page.waitForURL(`${td.url}/v1/verify`), page.getByRole('button', { name: 'Confirm' }).click()]);
  t.is(await page.getByRole('heading', { level: 1 }).innerText(), 'Email confirmed');
  t.regex(await page.locator('body').innerText(), new RegExp(`Your TaskMaster email is now ${newEmail.replace(/\./g, '\\.')}\\.`));
  await page.screenshot({ path: await artifactPath('verify-email-changed.png'), fullPage: true });
  await page.context().close();
  const after = await api(td.url, 'GET', '/v1/me', undefined, { token: account.token });
  t.like(after.json.user, { email: newEmail, pendingEmail: null });
});

test('a link with no token, an unknown one or a mangled one opens a 400 page with no button', async (t) => {
  for (const path of ['/v1/verify', '/v1/verify?token=', '/v1/verify?token=nope', `/v1/verify?token=${'A'.repeat(43)}`, '/v1/verify?token=a&token=b', `/v1/verify?token=${'x'.repeat(600)}`]) {
    const reply = await api(td.url, 'GET', path);
    t.is(reply.status, 400, path);
    assertPageHeaders(t, reply);
    t.regex(reply.text, /This link is not valid/, path);
    t.regex(reply.text, /taskmaster verify --resend/, path);
    t.notRegex(reply.text, /<form|<button/, `${path}: nothing to press`);
  }
  const { page } = await open(`${td.url}/v1/verify?token=nope`);
  t.is(await page.getByRole('button').count(), 0);
  await page.screenshot({ path: await artifactPath('verify-invalid.png'), fullPage: true });
  await page.context().close();
});

test('the Confirm form with an unknown or empty token answers a 400 page, and JSON callers still get problem+json', async (t) => {
  const unknown = await formPost(`token=${'A'.repeat(43)}`);
  t.is(unknown.status, 400);
  assertPageHeaders(t, unknown);
  t.regex(unknown.text, /<h1[^>]*>This link is not valid<\/h1>/);
  t.notRegex(unknown.text, /<form/);
  for (const fields of ['token=', '', 'other=1', 'token=a&token=b']) {
    const reply = await formPost(fields);
    t.is(reply.status, 400, fields);
    t.regex(reply.text, /This link is not valid/, fields);
  }
  const json = await api(td.url, 'POST', '/v1/verify', { token: 'A'.repeat(43) });
  t.is(json.status, 400);
  t.regex(String(json.headers['content-type']), /^application\/problem\+json/);
  t.is(json.json.code, 'invalid_token');
  const text = await api(td.url, 'POST', '/v1/verify', undefined, { raw: 'token=x', headers: { 'content-type': 'text/plain' } });
  t.is(text.status, 415);
  t.is(text.json.code, 'unsupported_media_type');
});

test('POST /v1/verify with JSON answers the user and what happened; the form answers pages', async (t) => {
  const who = identity('outcome');
  await api(td.url, 'POST', '/v1/users', who);
  const token = tokenOf(await td.smtp.waitFor((m) => m.to === who.email));
  const first = await api(td.url, 'POST', '/v1/verify', { token });
  t.is(first.status, 200);
  t.is(first.json.outcome, 'activated');
  t.like(first.json.user, { username: who.username, emailVerified: true });
  const again = await api(td.url, 'POST', '/v1/verify', { token });
  t.is(again.json.outcome, 'already_active');
  const page = await formPost(`token=${token}`);
  t.is(page.status, 200);
  assertPageHeaders(t, page);
  t.regex(page.text, /<h1[^>]*>Account already active<\/h1>/);
});

test.serial('an expired link opens the expired page with nothing to press, and a form posted anyway says the same', async (t) => {
  const who = identity('late');
  await api(td.url, 'POST', '/v1/users', who);
  const token = tokenOf(await td.smtp.waitFor((m) => m.to === who.email));
  now += 24 * 60 * 60 * 1000 + 1000;
  try {
    const opened = await api(td.url, 'GET', `/v1/verify?token=${token}`);
    t.is(opened.status, 400);
    assertPageHeaders(t, opened);
    t.regex(opened.text, /<h1[^>]*>This link has expired<\/h1>/);
    t.notRegex(opened.text, /<form|<button/);
    const reply = await formPost(`token=${token}`);
    t.is(reply.status, 400);
    t.regex(reply.text, /<h1[^>]*>This link has expired<\/h1>/);
    t.regex(reply.text, /taskmaster verify --resend/);
    t.is((await login(who)).status, 403);
  } finally {
    now = Date.now();
  }
});

test('pressing Confirm with wrong tokens again and again ends in a 429 page that says when, in minutes', async (t) => {
  const from = '127.0.0.7';
  let last: Reply | undefined;
  for (let attempt = 0; attempt < 6; attempt++) last = await formPost(`token=${'B'.repeat(42)}${attempt}`, from);
  t.is(last!.status, 429);
  assertPageHeaders(t, last!);
  t.regex(last!.text, /<h1[^>]*>Too many attempts<\/h1>/);
  const wait = Number(last!.headers['retry-after']);
  t.true(wait > 800 && wait <= 900, `Retry-After ${wait}`);
  t.regex(last!.text, /Try again in 15 minutes\./);
  t.notRegex(last!.text, /seconds/);
  const page = await browser.newPage({ javaScriptEnabled: false, viewport: { width: 900, height: 640 } });
  await page.setContent(last!.text);
  await page.screenshot({ path: await artifactPath('verify-too-many.png'), fullPage: true });
  await page.close();
});

test('a problem type URI opens a readable page in Chromium', async (t) => {
  const refused = await login({ email: 'nobody-at-all@example.com', password: 'not-a-password-of-anyone' });
  t.is(refused.json.type, '/problems/invalid_credentials');
  const { page, foreign, complaints } = await open(new URL(refused.json.type, td.url).href);
  t.is(await page.getByRole('heading', { level: 1 }).innerText(), refused.json.title);
  t.regex(await page.locator('body').innerText(), /same for an unknown email/);
  t.deepEqual(foreign, []);
  t.deepEqual(complaints, []);
  await page.screenshot({ path: await artifactPath('problem-page.png'), fullPage: true });
  await page.context().close();
});
