// The web pages over HTTP (issue 18, part 1; ../shared/contract.md, "The web side"), as a browser
// and as an attacker send them: the session cookie and its attributes (plain and https PUBLIC_URL),
// CSRF tokens and the Origin check, `next`, the login throttle and two-factor through the page,
// registration's answers, sign-out. The real daemon, real SMTP, SQLite and PostgreSQL; every answer
// held to the OpenAPI document. What a person sees in Chromium is in web-browser.test.ts.
import test, { type ExecutionContext } from 'ava';
import { createToken, listTokens, me } from './helpers/access-tokens.js';
import { STRONG_PASSWORD, activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { api } from './helpers/http.js';
import { tokenOf } from './helpers/smtp.js';
import { enableTwoFactor } from './helpers/two-factor.js';
import { WebClient, cookieLine, csrfOf, headingOf, type PageReply } from './helpers/web.js';

const WRONG_PASSWORD = `${STRONG_PASSWORD}-wrong`;
const POSTGRES_KEY = '5e'.repeat(32);
/** The page's visible text (its <body>, tags dropped). */
const text = (reply: PageReply) => (/<body>([\s\S]*)<\/body>/.exec(reply.text)?.[1] ?? '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');

/** Signs `who` in through /login; the client then holds the session cookie. */
async function signIn(t: ExecutionContext, web: WebClient, who: { email: string; password: string }, next?: string): Promise<PageReply> {
  const reply = await web.submit('/login', '/login', { email: who.email, password: who.password, ...(next ? { next } : {}) });
  t.is(reply.status, 303, `signed in: ${reply.status} ${headingOf(reply.text)}`);
  return reply;
}

const sessionCookie = (web: WebClient) => web.jar.get('taskmaster_session') ?? web.jar.get('__Host-taskmaster_session') ?? '';

forEachDatabase((test, db) => {
  let td: TestDaemon;
  const env = async () => ({ ...(await db.env()), ...(db.dialect === 'postgres' ? { TOTP_ENCRYPTION_KEY: POSTGRES_KEY } : {}) });
  test.before(async () => {
    td = await startTestDaemon({ env: await env(), limits: { loginFailuresPerAddressPerHour: 100_000 } });
  });
  test.after.always(async () => td?.close());

  test('signing in sets an HttpOnly, SameSite=Lax session cookie for 30 days, holding a session that `sessions` lists and that logout everywhere ends', async (t) => {
    const account = await activeAccount(td, identity('cookie'));
    const web = new WebClient(td.url);
    const login = await signIn(t, web, account);
    t.is(login.location, '/account');
    const line = cookieLine(login, 'taskmaster_session') ?? '';
    t.regex(line, /^taskmaster_session=tm_[A-Za-z0-9_-]{43}; /);
    t.regex(line, /; Path=\/(;|$)/);
    t.regex(line, /; HttpOnly(;|$)/);
    t.regex(line, /; SameSite=Lax(;|$)/);
    t.notRegex(line, /Secure|Domain/i, 'no Secure over an http PUBLIC_URL, never a Domain');
    const maxAge = Number(/Max-Age=(\d+)/.exec(line)?.[1]);
    t.true(Math.abs(maxAge - 30 * 24 * 3600) <= 5, `30 days (${maxAge})`);
    t.regex(cookieLine(login, 'taskmaster_csrf') ?? '', /Max-Age=0/, 'the signed-out CSRF secret goes at sign-in');

    // A session like any other: listed beside the CLI's, with the browser's user agent, and ended by "logout everywhere".
    const sessions = (await api(td.url, 'GET', '/v1/sessions', undefined, { token: account.token })).json.sessions as { current: boolean; userAgent: string | null }[];
    t.is(sessions.length, 2);
    t.is((await me(td.url, sessionCookie(web))).status, 200, 'the cookie holds a real session token');
    t.is((await api(td.url, 'DELETE', '/v1/sessions?scope=all', undefined, { token: account.token })).status, 200);
    const after = await web.get('/account');
    t.is(after.status, 303);
    t.is(after.location, '/login');
    t.regex(cookieLine(after, 'taskmaster_session') ?? '', /^taskmaster_session=; .*Max-Age=0/, 'an ended session\'s cookie is cleared');
  });

  test('with an https PUBLIC_URL the cookies are Secure and __Host- prefixed (Path=/, no Domain), and forms must come from that origin', async (t) => {
    const behindProxy = await startTestDaemon({ env: { ...(await env()), PUBLIC_URL: 'https://accounts.example.org' } });
    t.teardown(() => behindProxy.close());
    const account = await activeAccount(behindProxy, identity('secure'));
    const web = new WebClient(behindProxy.url, 'https://accounts.example.org');
    const form = await web.get('/login');
    const csrfLine = cookieLine(form, '__Host-taskmaster_csrf') ?? '';
    t.regex(csrfLine, /; Path=\/; HttpOnly; SameSite=Lax; Secure$/);
    const login = await signIn(t, web, account);
    for (const name of ['__Host-taskmaster_session', '__Host-taskmaster_device']) {
      const line = cookieLine(login, name) ?? '';
      t.regex(line, /; Path=\/(;|$)/, name);
      t.regex(line, /; HttpOnly(;|$)/, name);
      t.regex(line, /; SameSite=Lax(;|$)/, name);
      t.regex(line, /; Secure$/, name);
      t.notRegex(line, /Domain/i, name);
    }
    t.is(cookieLine(login, 'taskmaster_session'), undefined, 'no unprefixed cookie');
    t.is((await web.get('/account')).status, 200);

    // The daemon's own http address is not PUBLIC_URL's origin: a form from there is refused.
    const fromSocket = new WebClient(behindProxy.url);
    const refused = await fromSocket.post('/login', { csrf: csrfOf(form.text, '/login'), email: account.email, password: account.password }, { cookie: web.cookieHeader() });
    t.is(refused.status, 403);
  });

  test('a POST without the CSRF token, with another action\'s token, or with another browser\'s is refused with a page and nothing changes', async (t) => {
    const account = await activeAccount(td, identity('csrf'));
    const web = new WebClient(td.url);
    await signIn(t, web, account);
    const dashboard = await web.get('/account');
    const logoutToken = csrfOf(dashboard.text, '/logout');

    const other = new WebClient(td.url);
    await signIn(t, other, await activeAccount(td, identity('csrfother')));
    const otherToken = csrfOf((await other.get('/account')).text, '/account/username');

    const attempts: [string, Record<string, string>][] = [
      ['no token', { username: 'csrf-none' }],
      ['an empty token', { csrf: '', username: 'csrf-empty' }],
      ['the sign-out button\'s token', { csrf: logoutToken, username: 'csrf-logout' }],
      ['another browser\'s token', { csrf: otherToken, username: 'csrf-other' }],
      ['a made-up token', { csrf: 'A'.repeat(43), username: 'csrf-made' }],
    ];
    for (const [label, fields] of attempts) {
      const reply = await web.post('/account/username', fields);
      t.is(reply.status, 403, label);
      t.is(headingOf(reply.text), 'This form was refused', label);
      t.regex(text(reply), /Nothing was changed/, label);
      t.regex(String(reply.headers['content-type']), /^text\/html/, `${label}: a page, not JSON`);
    }
    for (const [label, action, fields] of [
      ['end others', '/account/sessions/end-others', {}],
      ['sign out', '/logout', {}],
    ] as const) t.is((await web.post(action, fields)).status, 403, `${label} without a token`);
    t.is((await me(td.url, account.token)).json.user.username, account.username, 'the username is as it was');
    t.is((await me(td.url, sessionCookie(web))).status, 200, 'the browser session is alive');
    t.is((await api(td.url, 'GET', '/v1/sessions', undefined, { token: account.token })).json.sessions.length, 2, 'no session ended');

    // The same form with its token works.
    const changed = await web.submit('/account', '/account/username', { username: `${account.username}x` });
    t.is(changed.status, 303);
    t.is((await me(td.url, account.token)).json.user.username, `${account.username}x`);
  });

  test('a form from another origin, from Origin: null, or with neither Origin nor Referer is refused; a same-origin Referer stands in for a missing Origin', async (t) => {
    const account = await activeAccount(td, identity('origin'));
    const web = new WebClient(td.url);
    await signIn(t, web, account);
    const csrf = csrfOf((await web.get('/account')).text, '/account/username');
    const port = new URL(td.url).port;
    const forged: [string, Record<string, string>][] = [
      ['another site', { origin: 'https://evil.example' }],
      ['another port of the same host (same site, another origin)', { origin: `http://127.0.0.1:${Number(port) + 1}` }],
      ['localhost for 127.0.0.1', { origin: `http://localhost:${port}` }],
      ['Origin: null', { origin: 'null' }],
      ['no Origin, no Referer', { origin: '' }],
      ['no Origin, a Referer from elsewhere', { origin: '', referer: 'https://evil.example/page' }],
    ];
    for (const [label, headers] of forged) {
      const reply = await web.post('/account/username', { csrf, username: 'forged-name' }, headers);
      t.is(reply.status, 403, label);
      t.is(headingOf(reply.text), 'This form was refused', label);
    }
    const signInForgery = await new WebClient(td.url, 'null').submit('/login', '/login', { email: account.email, password: account.password });
    t.is(signInForgery.status, 403, 'a sign-in from Origin: null');
    t.is(cookieLine(signInForgery, 'taskmaster_session'), undefined, 'no session cookie');
    t.is((await me(td.url, account.token)).json.user.username, account.username, 'nothing changed');

    const viaReferer = await web.post('/account/username', { csrf, username: `${account.username}r` }, { origin: '', referer: `${td.url}/account` });
    t.is(viaReferer.status, 303, 'a same-origin Referer without Origin');
    t.is((await me(td.url, account.token)).json.user.username, `${account.username}r`);
  });

  test('a sign-in form needs the browser\'s own CSRF cookie: a token without its cookie, or for another cookie, is refused (no login CSRF)', async (t) => {
    const account = await activeAccount(td, identity('logincsrf'));
    const attacker = new WebClient(td.url);
    const token = csrfOf((await attacker.get('/login')).text, '/login');
    const victim = new WebClient(td.url);
    const noCookie = await victim.post('/login', { csrf: token, email: account.email, password: account.password });
    t.is(noCookie.status, 403);
    await victim.get('/login');
    const otherCookie = await victim.post('/login', { csrf: token, email: account.email, password: account.password });
    t.is(otherCookie.status, 403);
    t.is(sessionCookie(victim), '');
    t.is((await api(td.url, 'GET', '/v1/sessions', undefined, { token: account.token })).json.sessions.length, 1, 'no session started');
  });

  test('`next` goes to a page of this site only: //evil.example, https://evil.example, /\\evil.example, dot segments that resolve to //evil.example, and javascript: land on /account', async (t) => {
    const account = await activeAccount(td, identity('next'));
    for (const next of ['//evil.example', 'https://evil.example', '/\\evil.example', 'javascript:alert(1)', ' //evil.example', 'http:evil.example', 'https:/evil.example', '/\t/evil.example', '/\\/evil.example', '/.//evil.example', '/..//evil.example', '/%2e%2e//evil.example', '/a/..//evil.example']) {
      const web = new WebClient(td.url);
      const shown = await web.get(`/login?next=${encodeURIComponent(next)}`);
      t.notRegex(shown.text, /name="next"/, `${next}: not carried in the form`);
      const login = await signIn(t, web, account, next);
      t.is(login.location, '/account', next);
      const again = await web.get(`/login?next=${encodeURIComponent(next)}`);
      t.is(again.location, '/account', `${next}, signed in already`);
    }
    const web = new WebClient(td.url);
    const shown = await web.get('/login?next=%2Faccount%3Fdone%3Dusername');
    t.regex(shown.text, /name="next" value="\/account\?done=username"/);
    t.is((await signIn(t, web, account, '/account?done=username')).location, '/account?done=username', 'a path of this site is kept');
    const signedOut = await new WebClient(td.url).get('/account');
    t.is(signedOut.location, '/login', 'the dashboard signed out goes to /login');
  });

  test('wrong passwords on the page are throttled as the API\'s are: the block shows a message with Retry-After, holds the right password, and holds the API too', async (t) => {
    const own = await startTestDaemon({ env: await env() });
    t.teardown(() => own.close());
    const account = await activeAccount(own, identity('throttle'));
    const web = new WebClient(own.url);
    for (let attempt = 1; attempt <= 10; attempt++) {
      const reply = await web.submit('/login', '/login', { email: account.email, password: WRONG_PASSWORD });
      t.is(reply.status, 401, `attempt ${attempt}`);
      t.regex(text(reply), /The email or the password is not right/);
      t.regex(reply.text, new RegExp(`name="email" value="${account.email}"`), 'the email is kept');
      t.false(reply.text.includes(WRONG_PASSWORD), 'the password is never shown again');
    }
    const blocked = await web.submit('/login', '/login', { email: account.email, password: account.password });
    t.is(blocked.status, 429, 'the right password is held by the block');
    t.true(Number(blocked.headers['retry-after']) > 0);
    t.regex(text(blocked), /Too many failed logins\. Try again in \d+ seconds?/);
    t.is(cookieLine(blocked, 'taskmaster_session'), undefined);
    const viaApi = await api(own.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
    t.is(viaApi.status, 429, 'the API shares the block');
  });

  test('with two-factor on, the right password leads to the code step; a wrong code is refused there, the right one signs in', async (t) => {
    const account = await enableTwoFactor(td.url, await activeAccount(td, identity('webotp')));
    const web = new WebClient(td.url);
    const step = await web.submit('/login', '/login', { email: account.email, password: account.password, next: '/account?done=username' });
    t.is(step.status, 200);
    t.is(headingOf(step.text), 'Enter your code');
    t.is(cookieLine(step, 'taskmaster_session'), undefined, 'no session after the password alone');
    const challenge = /name="challenge" value="([^"]+)"/.exec(step.text)?.[1] ?? '';
    t.truthy(challenge);
    const csrf = csrfOf(step.text, '/login');
    const wrong = await web.post('/login', { csrf, challenge, code: account.phone.wrong(), next: '/account?done=username' });
    t.is(wrong.status, 403);
    t.is(headingOf(wrong.text), 'Enter your code');
    t.regex(text(wrong), /That code is not right/);
    t.is(cookieLine(wrong, 'taskmaster_session'), undefined);
    const right = await web.post('/login', { csrf: csrfOf(wrong.text, '/login'), challenge, code: await account.phone.next(), next: '/account?done=username' });
    t.is(right.status, 303);
    t.is(right.location, '/account?done=username');
    t.true(sessionCookie(web).startsWith('tm_'));
    const dashboard = await web.get('/account');
    t.regex(text(dashboard), /Two-factor On/);
    // The wrong password still says only that: nothing tells two-factor is on.
    const wrongPassword = await new WebClient(td.url).submit('/login', '/login', { email: account.email, password: WRONG_PASSWORD });
    t.is(wrongPassword.status, 401);
    t.notRegex(text(wrongPassword), /code/i);
  });

  test('an account whose email is not confirmed is told so, with a button for a new email', async (t) => {
    const who = identity('unconfirmed');
    t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
    const first = await td.smtp.waitFor((mail) => mail.to === who.email);
    const web = new WebClient(td.url);
    const reply = await web.submit('/login', '/login', { email: who.email, password: who.password });
    t.is(reply.status, 403);
    t.is(headingOf(reply.text), 'Confirm your email first');
    const resent = await web.post('/login/resend', { csrf: csrfOf(reply.text, '/login/resend'), email: who.email });
    t.is(resent.status, 200);
    t.is(headingOf(resent.text), 'Check your email');
    const second = await td.smtp.waitFor((mail) => mail.to === who.email && tokenOf(mail) !== tokenOf(first));
    t.not(tokenOf(second), tokenOf(first));
  });

  test('registration gives the API\'s answers on the page: mismatched, weak and taken are shown at their fields, the values kept but never the password', async (t) => {
    const taken = await activeAccount(td, identity('taken'));
    const web = new WebClient(td.url);
    const who = identity('webreg');
    const mismatch = await web.submit('/register', '/register', { email: who.email, username: who.username, password: who.password, confirm: `${who.password}!` });
    t.is(mismatch.status, 400);
    t.regex(text(mismatch), /The two passwords do not match/);
    const weak = await web.submit('/register', '/register', { email: who.email, username: who.username, password: 'password123', confirm: 'password123' });
    t.is(weak.status, 400);
    t.regex(weak.text, /field-password-error/);
    t.false(weak.text.includes('password123'));
    const usernameTaken = await web.submit('/register', '/register', { email: who.email, username: taken.username.toUpperCase(), password: who.password, confirm: who.password });
    t.is(usernameTaken.status, 409);
    t.regex(text(usernameTaken), /This username is taken/);
    t.regex(usernameTaken.text, new RegExp(`name="email" value="${who.email}"`));
    t.false(usernameTaken.text.includes(who.password));
    const invalid = await web.submit('/register', '/register', { email: 'not-an-email', username: 'x', password: who.password, confirm: who.password });
    t.is(invalid.status, 400);
    t.regex(invalid.text, /field-email-error/);
    t.regex(invalid.text, /field-username-error/);

    const created = await web.submit('/register', '/register', { email: who.email, username: who.username, password: who.password, confirm: who.password });
    t.is(created.status, 201);
    t.is(headingOf(created.text), 'Check your email');
    const mail = await td.smtp.waitFor((m) => m.to === who.email);
    t.truthy(tokenOf(mail));
    t.is((await web.submit('/register', '/register', { email: who.email.toUpperCase(), username: `${who.username}2`, password: who.password, confirm: who.password })).status, 409, 'the email is taken now');
  });

  test('the dashboard ends a session, all others, and revokes an access token: each refused afterwards', async (t) => {
    const account = await activeAccount(td, identity('dash'));
    const web = new WebClient(td.url);
    await signIn(t, web, account);
    const { token: accessToken, info } = await createToken(td, account);
    const extra = (await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password })).json.token as string;
    const sessions = (await api(td.url, 'GET', '/v1/sessions', undefined, { token: account.token })).json.sessions as { id: string; current: boolean }[];
    const cliSession = sessions.find((session) => session.current)!;
    const page = await web.get('/account');
    t.regex(text(page), new RegExp(info.name));
    t.regex(text(page), /End all other sessions \(2\)/);

    const ended = await web.post('/account/sessions/end', { csrf: csrfOf(page.text, '/account/sessions/end'), id: cliSession.id });
    t.is(ended.location, '/account?done=session#sessions');
    t.is((await me(td.url, account.token)).status, 401, 'the CLI\'s session is refused');
    t.is((await me(td.url, extra)).status, 200);
    const again = await web.post('/account/sessions/end', { csrf: csrfOf(page.text, '/account/sessions/end'), id: cliSession.id });
    t.is(again.status, 404);
    t.regex(text(again), /That session has ended already/);

    const others = await web.submit('/account', '/account/sessions/end-others', {});
    t.is(others.status, 303);
    t.is((await me(td.url, extra)).status, 401);
    t.is((await me(td.url, sessionCookie(web))).status, 200, 'this browser stays signed in');

    const revoked = await web.submit('/account', '/account/tokens/revoke', { id: info.id });
    t.is(revoked.location, '/account?done=token#tokens');
    t.is((await me(td.url, accessToken)).status, 401, 'the access token is refused');
    const shown = await web.get(revoked.location ?? '');
    t.regex(text(shown), /The access token is revoked/);
    t.regex(text(shown), /No access tokens/);
    t.deepEqual(await listTokens(td.url, sessionCookie(web)), []);
  });

  test('an email change asks the password (and the code with two-factor on); a wrong one is shown at its field and changes nothing', async (t) => {
    const account = await activeAccount(td, identity('webmail'));
    const web = new WebClient(td.url);
    await signIn(t, web, account);
    const newEmail = `new-${account.email}`;
    const wrong = await web.submit('/account', '/account/email', { email: newEmail, currentPassword: WRONG_PASSWORD });
    t.is(wrong.status, 403);
    t.regex(wrong.text, /field-currentPassword-error/);
    t.regex(wrong.text, new RegExp(`name="email" value="${newEmail}"`), 'the new email is kept');
    t.is((await me(td.url, account.token)).json.user.pendingEmail, null);
    const right = await web.submit('/account', '/account/email', { email: newEmail, currentPassword: account.password });
    t.is(right.location, '/account?done=email#email');
    t.is((await me(td.url, sessionCookie(web))).json.user.pendingEmail, newEmail);
    t.is((await me(td.url, account.token)).status, 401, 'the other sessions ended');

    const secured = await enableTwoFactor(td.url, await activeAccount(td, identity('webmail2fa')));
    const browser = new WebClient(td.url);
    const step = await browser.submit('/login', '/login', { email: secured.email, password: secured.password });
    t.is((await browser.post('/login', { csrf: csrfOf(step.text, '/login'), challenge: /name="challenge" value="([^"]+)"/.exec(step.text)?.[1] ?? '', code: await secured.phone.next() })).status, 303);
    const noCode = await browser.submit('/account', '/account/email', { email: `new-${secured.email}`, currentPassword: secured.password });
    t.is(noCode.status, 401);
    t.regex(noCode.text, /field-code-error/);
    const withCode = await browser.submit('/account', '/account/email', { email: `new-${secured.email}`, currentPassword: secured.password, code: await secured.phone.next() });
    t.is(withCode.status, 303);
  });

  test('signing out ends the session, clears the cookie and lands on /login; the old cookie is refused afterwards', async (t) => {
    const account = await activeAccount(td, identity('signout'));
    const web = new WebClient(td.url);
    await signIn(t, web, account);
    const token = sessionCookie(web);
    const out = await web.submit('/account', '/logout', {});
    t.is(out.status, 303);
    t.is(out.location, '/login?signed_out=1');
    t.regex(cookieLine(out, 'taskmaster_session') ?? '', /Max-Age=0/);
    t.is((await me(td.url, token)).status, 401, 'the session is over');
    const replayed = new WebClient(td.url);
    replayed.jar.set('taskmaster_session', token);
    t.is((await replayed.get('/account')).location, '/login', 'the old cookie signs nobody in');
    const landing = await web.get(out.location ?? '');
    t.regex(text(landing), /You are signed out/);
  });

  test('every page has the strict CSP, no-store, same-origin referrers and no framing, and loads nothing from elsewhere', async (t) => {
    const account = await activeAccount(td, identity('headers'));
    const web = new WebClient(td.url);
    // The sign-in page and the dashboard carry the daemon's own passkey script (script-src 'self'); the others no script at all.
    const pages = [[await web.get('/'), false], [await web.get('/login'), true], [await web.get('/register'), false], [await web.get('/password/forgot'), false]] as [Awaited<ReturnType<WebClient['get']>>, boolean][];
    await signIn(t, web, account);
    pages.push([await web.get('/account'), true]);
    for (const [page, scripted] of pages) {
      t.is(page.status, 200);
      t.regex(String(page.headers['content-security-policy']), scripted ? /^default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'sha256-[^']+'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'$/ : /^default-src 'none'; style-src 'sha256-[^']+'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'$/);
      t.is(page.headers['cache-control'], 'no-store');
      t.is(page.headers['referrer-policy'], 'same-origin');
      t.is(page.headers['x-frame-options'], 'DENY');
      const markup = page.text.replace('<script type="module" src="/assets/passkeys.js"></script>', '');
      t.notRegex(markup, /<script|src=|https?:\/\/(?!127\.0\.0\.1)/, 'no other script, no source, no address elsewhere');
    }
  });
});
