// Forgot, reset and change password through the real daemon and SMTP receiver, on SQLite and PostgreSQL.
import type { ExecutionContext } from 'ava';
import { STRONG_PASSWORD, activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { api, type Reply } from './helpers/http.js';
import { CHANGED_SUBJECT, RESET_SUBJECT, mailCount, nextMail, requestReset, resetTokenOf } from './helpers/reset-mail.js';
import { tokenOf } from './helpers/smtp.js';

const NEW_PASSWORD = 'lantern-orchard-violet-98-quartz';
const OTHER_PASSWORD = 'glacier-tambourine-sparrow-61';
const THIRTY_MINUTES = 30 * 60 * 1000;

const isProblem = (t: ExecutionContext, reply: Reply, status: number, code: string) => {
  t.is(reply.status, status, reply.text);
  t.regex(String(reply.headers['content-type']), /^application\/problem\+json/);
  t.is(reply.json?.code, code, reply.text);
};

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

forEachDatabase((test, db) => {
  let td: TestDaemon;
  let offset = 0; // moves the daemon's clock (expiry) without sleeping
  let hosts = 0;
  // Each test asks from loopback addresses of its own, so the per-address limits of one test leave the others alone.
  const address = () => `127.${db.dialect === 'sqlite' ? 11 : 12}.0.${++hosts}`;

  test.before(async () => {
    td = await startTestDaemon({ clock: () => Date.now() + offset, env: await db.env() });
  });
  test.after.always(async () => td?.close());

  const forgot = (email: unknown, from = address()) => api(td.url, 'POST', '/v1/password/forgot', { email }, { from });
  const reset = (token: string, password: string, from = address()) => api(td.url, 'POST', '/v1/password/reset', { token, password }, { from });
  const login = (email: string, password: string) => api(td.url, 'POST', '/v1/sessions', { email, password });
  const change = (token: string, currentPassword: string, newPassword: string, from?: string) =>
    api(td.url, 'POST', '/v1/me/password', { currentPassword, newPassword }, { token, ...(from ? { from } : {}) });

  test.serial('a reset token expires after 30 minutes: invalid_token, and its link opens the page that says what to do', async (t) => {
    const account = await activeAccount(td, identity('expiry'));
    const token = await requestReset(td, account.email);
    try {
      offset = THIRTY_MINUTES - 5_000;
      t.is((await api(td.url, 'GET', `/v1/password/reset?token=${token}`)).status, 200, 'still good just before');
      offset = THIRTY_MINUTES + 1_000;
      const page = await api(td.url, 'GET', `/v1/password/reset?token=${token}`);
      t.is(page.status, 400);
      t.regex(page.text, /taskmaster password forgot/);
      isProblem(t, await reset(token, NEW_PASSWORD), 400, 'invalid_token');
    } finally {
      offset = 0;
    }
    t.is((await login(account.email, STRONG_PASSWORD)).status, 201, 'the password did not change');
  });

  test('forgot answers 202 with the same body for a known and an unknown email; only the account gets a mail', async (t) => {
    const account = await activeAccount(td, identity('forgot'));
    const unknown = `nobody-${Date.now()}@example.com`;
    const known = await forgot(account.email);
    const nobody = await forgot(unknown);
    t.is(known.status, 202);
    t.is(nobody.status, 202);
    t.is(known.text, nobody.text, 'the same body');
    t.is(known.headers['content-type'], nobody.headers['content-type']);
    const mail = await nextMail(td.smtp, account.email, RESET_SUBJECT, 0);
    const token = resetTokenOf(mail);
    t.regex(token, /^[A-Za-z0-9]{43}$/, '43 characters of [A-Za-z0-9]: about 256 bits');
    t.true(mail.text.split('\n').includes(`${td.url}/v1/password/reset?token=${token}`), 'the link on its own line');
    t.true(mail.text.split('\n').includes(token), 'the token on its own line');
    t.regex(mail.text, /taskmaster password reset/);
    t.regex(mail.text, /30 minutes/);
    t.regex(mail.text, /If you didn't ask for this, ignore this email: nothing happens/);
    t.regex(mail.html, /Choose a new password/);
    // Stored only as SHA-256.
    const rows = await td.daemon.db.knex('email_tokens').where({ user_id: account.user.id, purpose: 'password_reset' });
    t.is(rows.length, 1);
    t.regex(String(rows[0].token_hash), /^[0-9a-f]{64}$/);
    t.false(JSON.stringify(rows).includes(token));
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.is(td.smtp.mailsTo(unknown).length, 0, 'nothing goes to an email without an account');
  });

  test('forgot refuses a bad email with invalid_input, and a body of the wrong type', async (t) => {
    isProblem(t, await forgot('not an email'), 400, 'invalid_input');
    const wrongType = await forgot(42);
    isProblem(t, wrongType, 400, 'invalid_input');
    t.regex(wrongType.json.errors.email, /must be a string/);
    isProblem(t, await api(td.url, 'POST', '/v1/password/forgot', ['a@example.com']), 400, 'invalid_input');
  });

  test('reset sets the password, ends every session, marks the email verified, mails a notice and creates no session', async (t) => {
    const account = await activeAccount(td, identity('reset'));
    const second = (await login(account.email, STRONG_PASSWORD)).json.token as string;
    const token = await requestReset(td, account.email);
    const noticesBefore = mailCount(td.smtp, account.email, CHANGED_SUBJECT);

    const reply = await reset(token, NEW_PASSWORD);
    t.is(reply.status, 200, reply.text);
    t.is(reply.json.user.id, account.user.id);
    t.true(reply.json.user.emailVerified);
    t.is(reply.json.token, undefined, 'no session');
    t.is(Number((await td.daemon.db.knex('sessions').where('user_id', account.user.id).count({ n: '*' }).first())?.n), 0, 'no session left, none created');
    for (const old of [account.token, second]) isProblem(t, await api(td.url, 'GET', '/v1/me', undefined, { token: old }), 401, 'unauthenticated');

    isProblem(t, await login(account.email, STRONG_PASSWORD), 401, 'invalid_credentials');
    const fresh = await login(account.email, NEW_PASSWORD);
    t.is(fresh.status, 201);
    const notice = await nextMail(td.smtp, account.email, CHANGED_SUBJECT, noticesBefore);
    t.regex(notice.text, /reset from the emailed link/);
    t.regex(notice.text, /taskmaster password forgot/);
    t.false(notice.text.includes(NEW_PASSWORD));
    const events = await api(td.url, 'GET', '/v1/me/events', undefined, { token: fresh.json.token });
    t.true(events.json.events.some((event: { type: string }) => event.type === 'password_reset'));

    isProblem(t, await reset(token, OTHER_PASSWORD), 400, 'invalid_token');
  });

  test('a reset of an unverified account marks the email verified: it can log in', async (t) => {
    const who = identity('unverified');
    t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
    isProblem(t, await login(who.email, who.password), 403, 'email_not_verified');
    const token = await requestReset(td, who.email);
    const reply = await reset(token, NEW_PASSWORD);
    t.is(reply.status, 200);
    t.true(reply.json.user.emailVerified);
    t.is((await login(who.email, NEW_PASSWORD)).status, 201);
  });

  test('reset refuses unknown, used and malformed tokens alike, and a weak password without using the token', async (t) => {
    const account = await activeAccount(td, identity('refuse'));
    const token = await requestReset(td, account.email);
    const unknown = await reset('A'.repeat(43), NEW_PASSWORD);
    isProblem(t, unknown, 400, 'invalid_token');
    t.regex(unknown.json.detail, /taskmaster password forgot/);
    isProblem(t, await reset('x', NEW_PASSWORD), 400, 'invalid_token');

    for (const weak of ['password1', 'qwertyuiop', `${account.username}-is-me-2026`, `${account.email.split('@')[0]}.horse.battery`]) {
      const reply = await reset(token, weak);
      isProblem(t, reply, 400, 'invalid_input');
      t.truthy(reply.json.errors.password, weak);
    }
    isProblem(t, await reset(token, 'short'), 400, 'invalid_input');
    isProblem(t, await api(td.url, 'POST', '/v1/password/reset', { token }), 400, 'invalid_input');

    t.is((await reset(token, NEW_PASSWORD)).status, 200, 'the token still worked after the refusals');
    const used = await reset(token, OTHER_PASSWORD);
    isProblem(t, used, 400, 'invalid_token');
    t.is(used.json.detail, unknown.json.detail, 'used and unknown read the same');
  });

  test('a newer reset token cancels the older one', async (t) => {
    const account = await activeAccount(td, identity('newer'));
    const older = await requestReset(td, account.email);
    const newer = await requestReset(td, account.email);
    t.not(older, newer);
    isProblem(t, await reset(older, NEW_PASSWORD), 400, 'invalid_token');
    t.is((await reset(newer, NEW_PASSWORD)).status, 200);
  });

  test('tokens do not cross: a verification token resets nothing, a reset token verifies nothing', async (t) => {
    const who = identity('cross');
    t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
    const verifyToken = tokenOf(await td.smtp.waitFor((m) => m.to === who.email));
    isProblem(t, await reset(verifyToken, NEW_PASSWORD), 400, 'invalid_token');
    t.is((await api(td.url, 'GET', `/v1/password/reset?token=${verifyToken}`)).status, 400);
    const resetToken = await requestReset(td, who.email);
    isProblem(t, await api(td.url, 'POST', '/v1/verify', { token: resetToken }), 400, 'invalid_token');
    t.is((await reset(resetToken, NEW_PASSWORD)).status, 200, 'the reset token is still good for what it is for');
  });

  test('two resets with the same token at once: exactly one succeeds', async (t) => {
    for (let round = 0; round < 3; round++) {
      const account = await activeAccount(td, identity('race'));
      const token = await requestReset(td, account.email);
      const replies = await Promise.all([NEW_PASSWORD, OTHER_PASSWORD, `${NEW_PASSWORD}-x`, `${OTHER_PASSWORD}-y`].map((password) => reset(token, password)));
      t.deepEqual(replies.map((reply) => reply.status).sort(), [200, 400, 400, 400], replies.map((reply) => reply.text).join('\n'));
      for (const reply of replies.filter((r) => r.status === 400)) t.is(reply.json.code, 'invalid_token');
      const winner = [NEW_PASSWORD, OTHER_PASSWORD, `${NEW_PASSWORD}-x`, `${OTHER_PASSWORD}-y`][replies.findIndex((reply) => reply.status === 200)]!;
      t.is((await login(account.email, winner)).status, 201, 'the winner is the password now');
    }
  });

  test('the reset link opens a form; GET and HEAD change nothing; an unknown token gets a page that says what to do', async (t) => {
    const account = await activeAccount(td, identity('page'));
    const token = await requestReset(td, account.email);
    for (let i = 0; i < 2; i++) {
      const head = await api(td.url, 'HEAD', `/v1/password/reset?token=${token}`);
      t.is(head.status, 200);
      const page = await api(td.url, 'GET', `/v1/password/reset?token=${token}`);
      t.is(page.status, 200);
      t.regex(String(page.headers['content-type']), /^text\/html; charset=utf-8/);
      t.regex(String(page.headers['content-security-policy']), /default-src 'none'/);
      t.regex(String(page.headers['content-security-policy']), /form-action 'self'/);
      t.is(page.headers['referrer-policy'], 'no-referrer');
      t.is(page.headers['cache-control'], 'no-store');
      t.regex(page.text, /<form method="post" action="\/v1\/password\/reset">/);
      t.is([...page.text.matchAll(/type="password"/g)].length, 2, 'typed twice');
      t.regex(page.text, /8 to 256 characters/);
      t.notRegex(page.text, /<script|\bsrc=|<link|href="http/i, 'no JavaScript, nothing from elsewhere');
      t.true(page.text.includes(`value="${token}"`));
    }
    const asJson = await api(td.url, 'GET', `/v1/password/reset?token=${token}`, undefined, { headers: { accept: 'application/json' } });
    t.is(asJson.status, 200);
    t.deepEqual(asJson.json, { username: account.username, email: account.email }, 'asked for JSON (the CLI): whose account, nothing more');
    isProblem(t, await api(td.url, 'GET', '/v1/password/reset?token=nope', undefined, { headers: { accept: 'application/json' } }), 400, 'invalid_token');
    t.is((await login(account.email, STRONG_PASSWORD)).status, 201, 'opening the link changed nothing');
    const unknown = await api(td.url, 'GET', '/v1/password/reset?token=nope');
    t.is(unknown.status, 400);
    t.regex(unknown.text, /taskmaster password forgot/);
    t.is((await api(td.url, 'GET', '/v1/password/reset')).status, 400);
    t.is((await reset(token, NEW_PASSWORD)).status, 200, 'the token still works after the page was opened');
  });

  test('the form posts answer pages: a mismatch and a weak password show the form again with the token kept; success; then the link is dead', async (t) => {
    const account = await activeAccount(td, identity('form'));
    const token = await requestReset(td, account.email);
    const post = (fields: Record<string, string>) =>
      api(td.url, 'POST', '/v1/password/reset', undefined, { raw: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, from: address() });

    const mismatch = await post({ token, password: NEW_PASSWORD, confirm: OTHER_PASSWORD });
    t.is(mismatch.status, 400);
    t.regex(String(mismatch.headers['content-type']), /^text\/html/);
    t.regex(mismatch.text, /do not match/);
    t.true(mismatch.text.includes(`value="${token}"`), 'the token is kept');
    t.false(mismatch.text.includes(NEW_PASSWORD), 'the password is never echoed');

    const weak = await post({ token, password: 'password123', confirm: 'password123' });
    t.is(weak.status, 400);
    t.regex(weak.text, /too weak|common/i);
    t.true(weak.text.includes(`value="${token}"`));

    const done = await post({ token, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    t.is(done.status, 200);
    t.regex(done.text, /Password changed/);
    t.regex(done.text, /taskmaster login/);
    const again = await post({ token, password: OTHER_PASSWORD, confirm: OTHER_PASSWORD });
    t.is(again.status, 400);
    t.regex(again.text, /taskmaster password forgot/);
    t.is((await login(account.email, NEW_PASSWORD)).status, 201);
  });

  test('change password: refusals first, then the new one works, other sessions end, this one stays, reset tokens die', async (t) => {
    const account = await activeAccount(td, identity('change'));
    const other = (await login(account.email, STRONG_PASSWORD)).json.token as string;
    const pendingReset = await requestReset(td, account.email);
    const noticesBefore = mailCount(td.smtp, account.email, CHANGED_SUBJECT);

    isProblem(t, await api(td.url, 'POST', '/v1/me/password', { currentPassword: STRONG_PASSWORD, newPassword: NEW_PASSWORD }), 401, 'unauthenticated');
    const wrong = await change(account.token, 'not-my-password-at-all', NEW_PASSWORD);
    isProblem(t, wrong, 403, 'wrong_password');
    const same = await change(account.token, STRONG_PASSWORD, STRONG_PASSWORD);
    isProblem(t, same, 400, 'invalid_input');
    t.regex(same.json.errors.newPassword, /same/);
    const weak = await change(account.token, STRONG_PASSWORD, 'password123');
    isProblem(t, weak, 400, 'invalid_input');
    t.truthy(weak.json.errors.newPassword);
    isProblem(t, await change(account.token, STRONG_PASSWORD, `${account.username}-secret-99`), 400, 'invalid_input');
    isProblem(t, await api(td.url, 'POST', '/v1/me/password', { currentPassword: STRONG_PASSWORD }, { token: account.token }), 400, 'invalid_input');
    t.is((await login(account.email, STRONG_PASSWORD)).status, 201, 'no refusal changed anything');
    const third = (await login(account.email, STRONG_PASSWORD)).json.token as string;

    const reply = await change(account.token, STRONG_PASSWORD, NEW_PASSWORD);
    t.is(reply.status, 200, reply.text);
    t.is(reply.json.user.id, account.user.id);
    t.is(reply.json.revokedSessions, 3, 'the other login, the check after the refusals, and the third');
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 200, 'the calling session stays');
    for (const ended of [other, third]) isProblem(t, await api(td.url, 'GET', '/v1/me', undefined, { token: ended }), 401, 'unauthenticated');
    isProblem(t, await reset(pendingReset, OTHER_PASSWORD), 400, 'invalid_token');
    isProblem(t, await login(account.email, STRONG_PASSWORD), 401, 'invalid_credentials');
    t.is((await login(account.email, NEW_PASSWORD)).status, 201);

    const notice = await nextMail(td.smtp, account.email, CHANGED_SUBJECT, noticesBefore);
    t.regex(notice.text, /changed from a signed-in session/);
    const events = await api(td.url, 'GET', '/v1/me/events', undefined, { token: account.token });
    t.true(events.json.events.some((event: { type: string }) => event.type === 'password_changed'));
  });

  test('a wrong current password counts as a failed login: ten, and login from that address is held too', async (t) => {
    const account = await activeAccount(td, identity('guess'));
    const from = address();
    for (let i = 0; i < 10; i++) isProblem(t, await change(account.token, `wrong-guess-${i}-zzz`, NEW_PASSWORD, from), 403, 'wrong_password');
    const held = await change(account.token, STRONG_PASSWORD, NEW_PASSWORD, from);
    isProblem(t, held, 429, 'rate_limited');
    t.truthy(held.headers['retry-after']);
    isProblem(t, await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: STRONG_PASSWORD }, { from }), 429, 'rate_limited');
    t.is((await change(account.token, STRONG_PASSWORD, NEW_PASSWORD)).status, 200, 'from another address the owner goes on');
  });

  test('an email change cancels pending reset tokens, when asked and when confirmed', async (t) => {
    const account = await activeAccount(td, identity('mailchange'));
    const before = await requestReset(td, account.email);
    const newEmail = `moved-${account.username}@example.com`;
    const patched = await api(td.url, 'PATCH', '/v1/me', { email: newEmail, currentPassword: STRONG_PASSWORD }, { token: account.token });
    t.is(patched.status, 200, patched.text);
    isProblem(t, await reset(before, NEW_PASSWORD), 400, 'invalid_token');

    const during = await requestReset(td, account.email);
    const confirm = tokenOf(await td.smtp.waitFor((m) => m.to === newEmail));
    t.is((await api(td.url, 'POST', '/v1/verify', { token: confirm })).status, 200);
    isProblem(t, await reset(during, NEW_PASSWORD), 400, 'invalid_token');
    t.is((await login(newEmail, STRONG_PASSWORD)).status, 201);
  });

  test('forgot is limited per address (429 with Retry-After, known and unknown alike) and mails one email at most 5 times an hour', async (t) => {
    const account = await activeAccount(td, identity('limits'));
    const from = address();
    for (let i = 0; i < 20; i++) t.is((await forgot(i % 2 ? account.email : `ghost${i}@example.com`, from)).status, 202);
    for (const email of [account.email, 'ghost-again@example.com']) {
      const refused = await forgot(email, from);
      isProblem(t, refused, 429, 'rate_limited');
      t.true(Number(refused.headers['retry-after']) > 0);
    }
    // The 10 requests above mailed the account 5 times; more are dropped silently, still 202.
    t.is((await forgot(account.email, address())).status, 202);
    await nextMail(td.smtp, account.email, RESET_SUBJECT, 4);
    await new Promise((resolve) => setTimeout(resolve, 500));
    t.is(mailCount(td.smtp, account.email, RESET_SUBJECT), 5);
  });

  // Serial, so no other test of this file runs beside the measurement.
  test.serial('enumeration: forgot for a known and an unknown email has the same status and body, median times within 0.7–1.4x', async (t) => {
    // A daemon of its own, with the limits out of the way (every known request really writes a token
    // and a mail) and a sender that stays asleep while the requests are timed.
    const timed = await startTestDaemon({
      env: await db.env(),
      limits: { forgotsPerAddressPerHour: 100_000, resetMailsPerEmailPerHour: 100_000 },
      mailLease: { leaseMs: 120_000, pollMs: 120_000 },
    });
    t.teardown(() => timed.close());
    const account = await activeAccount(timed, identity('timing'));
    const unknown = `nobody-${account.username}@example.com`;
    const ask = async (email: string) => {
      const started = performance.now();
      const reply = await api(timed.url, 'POST', '/v1/password/forgot', { email });
      return { reply, ms: performance.now() - started };
    };
    for (let i = 0; i < 20; i++) await ask(i % 2 ? account.email : unknown); // warm up
    const times: Record<'known' | 'unknown', number[]> = { known: [], unknown: [] };
    const bodies = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const order: ('known' | 'unknown')[] = i % 2 ? ['known', 'unknown'] : ['unknown', 'known'];
      for (const kind of order) {
        const { reply, ms } = await ask(kind === 'known' ? account.email : unknown);
        t.is(reply.status, 202);
        bodies.add(reply.text);
        times[kind].push(ms);
      }
    }
    t.is(bodies.size, 1, 'one body for all');
    const ratio = median(times.known) / median(times.unknown);
    t.log(`median known ${median(times.known).toFixed(2)} ms, unknown ${median(times.unknown).toFixed(2)} ms, ratio ${ratio.toFixed(2)}`);
    t.true(ratio >= 0.7 && ratio <= 1.4, `ratio ${ratio}`);
    const queued = await timed.daemon.db.knex('mail_outbox').where('kind', 'password_reset').count({ n: '*' }).first();
    t.true(Number(queued?.n) >= 110, 'every known request queued a mail');
  });
});
