// Deleting an account (DELETE /v1/me) through the real daemon on SQLite and PostgreSQL: the
// password again, everything of the account gone in one transaction, the names free again, and
// a goodbye email as the one mail row that outlives it.
import { activeAccount, identity, outboxSettled, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { api, type Reply } from './helpers/http.js';
import { tokenOf } from './helpers/smtp.js';

const isProblem = (reply: Reply, status: number, code: string) =>
  reply.status === status && String(reply.headers['content-type']).startsWith('application/problem+json') && reply.json?.code === code;

/** Rows that still name the user, per table. */
async function rowsOf(td: TestDaemon, userId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ['users', 'sessions', 'email_tokens', 'device_tokens', 'account_events']) {
    const query = td.daemon.db.knex(table).count({ n: '*' });
    counts[table] = Number((await (table === 'users' ? query.where('id', userId) : query.where('user_id', userId)).first())?.n);
  }
  return counts;
}

const mailRowsTo = async (td: TestDaemon, address: string) =>
  td.daemon.db.knex('mail_outbox').whereRaw('lower(to_address) = ?', [address.toLowerCase()]).select('kind', 'sent_at');

forEachDatabase((test, db) => {
  let td: TestDaemon;
  test.before(async () => {
    // A low per-account-and-address limit, so the throttle test needs few wrong passwords.
    td = await startTestDaemon({ env: await db.env(), limits: { loginFailuresPerAccountAndAddress: 3 } });
  });
  test.after.always(async () => td?.close());

  test('DELETE /v1/me with the password answers 204 and takes the user, sessions, tokens and events in one go', async (t) => {
    const account = await activeAccount(td, identity('bye'));
    const second = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
    await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: 'wrong password here' }); // a login_failed event
    await outboxSettled(td);
    const before = await rowsOf(td, account.user.id);
    t.like(before, { users: 1, sessions: 2, email_tokens: 1, device_tokens: 2 });
    t.true(before.account_events! >= 3);

    const reply = await api(td.url, 'DELETE', '/v1/me', { currentPassword: account.password }, { token: account.token });
    t.is(reply.status, 204);
    t.is(reply.text, '');
    t.deepEqual(await rowsOf(td, account.user.id), { users: 0, sessions: 0, email_tokens: 0, device_tokens: 0, account_events: 0 });

    for (const token of [account.token, second.json.token]) t.true(isProblem(await api(td.url, 'GET', '/v1/me', undefined, { token }), 401, 'unauthenticated'));
    const login = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
    t.true(isProblem(login, 401, 'invalid_credentials'), 'the account is gone: like any unknown email');
  });

  test('a goodbye email goes out, and it is the only mail row left for the address', async (t) => {
    const account = await activeAccount(td, identity('goodbye'));
    await outboxSettled(td);
    t.deepEqual((await mailRowsTo(td, account.email)).map((row) => row.kind), ['verification']);

    t.is((await api(td.url, 'DELETE', '/v1/me', { currentPassword: account.password }, { token: account.token })).status, 204);
    t.deepEqual((await mailRowsTo(td, account.email)).map((row) => row.kind), ['account_deleted'], 'the sent verification mail went with the account');
    const mail = await td.smtp.waitFor((m) => m.to === account.email && m.subject === 'Your TaskMaster account was deleted');
    t.true(mail.text.startsWith(`Hello ${account.username},`));
    t.regex(mail.text, /username and this email address are free again/);
    t.regex(mail.text, /taskmaster register/);
    t.regex(mail.text, /If you didn't do this, someone knew your password/);
    t.true(mail.html.includes('Your TaskMaster account was deleted'));
    t.false(mail.text.includes(account.password));
    await outboxSettled(td);
    const [goodbye] = await mailRowsTo(td, account.email);
    t.truthy(goodbye?.sent_at, 'delivered through the outbox like every mail');
  });

  test('the mail to a pending new address goes too, and its confirmation token with it', async (t) => {
    const account = await activeAccount(td, identity('pending'));
    const newEmail = `new-${account.email}`;
    t.is((await api(td.url, 'PATCH', '/v1/me', { email: newEmail, currentPassword: account.password }, { token: account.token })).status, 200);
    const confirmation = await td.smtp.waitFor((m) => m.to === newEmail);
    await outboxSettled(td);
    t.is((await mailRowsTo(td, newEmail)).length, 1);

    t.is((await api(td.url, 'DELETE', '/v1/me', { currentPassword: account.password }, { token: account.token })).status, 204);
    t.deepEqual(await mailRowsTo(td, newEmail), []);
    t.deepEqual((await mailRowsTo(td, account.email)).map((row) => row.kind), ['account_deleted']);
    const confirm = await api(td.url, 'POST', '/v1/verify', { token: tokenOf(confirmation) });
    t.true(isProblem(confirm, 400, 'invalid_token'), 'the emailed link does nothing now');
  });

  test('the username and the email are free again: registering with both works', async (t) => {
    const who = identity('again');
    const account = await activeAccount(td, who);
    t.is((await api(td.url, 'DELETE', '/v1/me', { currentPassword: account.password }, { token: account.token })).status, 204);
    const earlier = new Set(td.smtp.mailsTo(who.email));
    const again = await api(td.url, 'POST', '/v1/users', { ...who, email: who.email.toUpperCase(), username: who.username.toUpperCase() });
    t.is(again.status, 201, again.text);
    t.not(again.json.user.id, account.user.id, 'a new account, not the old one back');
    t.is(again.json.user.emailVerified, false);
    const verification = await td.smtp.waitFor((m) => m.to.toLowerCase() === who.email && /Activate/.test(m.subject) && !earlier.has(m));
    t.is((await api(td.url, 'POST', '/v1/verify', { token: tokenOf(verification) })).status, 200);
    const login = await api(td.url, 'POST', '/v1/sessions', { email: who.email, password: who.password });
    t.is(login.status, 201);

    // Deleted again: the first goodbye stays beside the second, so each is delivered.
    t.is((await api(td.url, 'DELETE', '/v1/me', { currentPassword: who.password }, { token: login.json.token })).status, 204);
    t.deepEqual((await mailRowsTo(td, who.email)).map((row) => row.kind), ['account_deleted', 'account_deleted']);
  });

  test('without currentPassword, or with one of another type, it is 400 invalid_input naming the field; nothing goes', async (t) => {
    const account = await activeAccount(td, identity('nopass'));
    const bodies: [unknown, RegExp][] = [
      [{}, /required/],
      [{ currentPassword: '' }, /required/],
      [{ currentPassword: 42 }, /must be a string/],
      [{ password: account.password }, /required/],
    ];
    for (const [body, message] of bodies) {
      const reply = await api(td.url, 'DELETE', '/v1/me', body, { token: account.token });
      t.true(isProblem(reply, 400, 'invalid_input'), JSON.stringify(body));
      t.regex(reply.json.errors.currentPassword, message);
    }
    const noBody = await api(td.url, 'DELETE', '/v1/me', undefined, { token: account.token });
    t.true(isProblem(noBody, 400, 'invalid_input'), 'no body at all');
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 200);
  });

  test('without a token it is 401, before the body is even looked at', async (t) => {
    const account = await activeAccount(td, identity('notoken'));
    for (const options of [{}, { token: `tm_${'A'.repeat(43)}` }]) {
      const reply = await api(td.url, 'DELETE', '/v1/me', { currentPassword: account.password }, options);
      t.true(isProblem(reply, 401, 'unauthenticated'));
    }
    t.true(isProblem(await api(td.url, 'DELETE', '/v1/me', {}), 401, 'unauthenticated'));
    t.is((await rowsOf(td, account.user.id)).users, 1);
  });

  test('a wrong password is 403 wrong_password, keeps everything, shows as a failed login, and is throttled like one', async (t) => {
    const account = await activeAccount(td, identity('wrongpw'));
    const from = '127.0.0.3';
    for (let attempt = 1; attempt <= 3; attempt++) {
      const reply = await api(td.url, 'DELETE', '/v1/me', { currentPassword: `not it ${attempt}` }, { token: account.token, from });
      t.true(isProblem(reply, 403, 'wrong_password'), `attempt ${attempt}: ${reply.status}`);
      t.truthy(reply.json.errors.currentPassword);
    }
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 200, 'the session stays');
    t.is((await rowsOf(td, account.user.id)).users, 1);

    const blocked = await api(td.url, 'DELETE', '/v1/me', { currentPassword: account.password }, { token: account.token, from });
    t.true(isProblem(blocked, 429, 'rate_limited'), 'the right password is held too while blocked');
    t.true(Number(blocked.headers['retry-after']) > 0);
    const login = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password }, { from });
    t.true(isProblem(login, 429, 'rate_limited'), 'they counted as failed logins for this account and address');
    t.is((await rowsOf(td, account.user.id)).users, 1, 'still there');

    const events = (await api(td.url, 'GET', '/v1/me/events', undefined, { token: account.token })).json.events;
    t.is(events.filter((event: { type: string; address: string }) => event.type === 'login_failed' && event.address === from).length, 3);
    t.is(td.smtp.mailsTo(account.email).filter((m) => /deleted/.test(m.subject)).length, 0);
  });

  test('two deletions at once: one 204, one goodbye', async (t) => {
    const account = await activeAccount(td, identity('race'));
    const second = (await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password })).json.token;
    const replies = await Promise.all(
      [account.token, second].map((token) => api(td.url, 'DELETE', '/v1/me', { currentPassword: account.password }, { token })),
    );
    t.deepEqual(replies.map((reply) => reply.status).sort(), [204, 401]);
    await outboxSettled(td);
    t.deepEqual((await mailRowsTo(td, account.email)).map((row) => row.kind), ['account_deleted']);
  });
});
