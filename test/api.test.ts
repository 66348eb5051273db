// Every row of the contract's HTTP table, against the real daemon with a real SMTP receiver.
import { api } from './helpers/http.js';
import { STRONG_PASSWORD, activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { tokenOf } from './helpers/smtp.js';

const isProblem = (reply: { headers: Record<string, unknown>; json: { type?: string; title?: string; status?: number; detail?: string; code?: string } }, status: number, code: string) =>
  String(reply.headers['content-type']).startsWith('application/problem+json') &&
  reply.json?.status === status &&
  reply.json?.code === code &&
  typeof reply.json?.type === 'string' &&
  typeof reply.json?.title === 'string' &&
  typeof reply.json?.detail === 'string';

interface HtmlForm {
  method: string;
  action: URL;
  enctype: string;
  /** The label of its submit button. */
  button: string;
  /** What a browser sends when that button is pressed. */
  fields: URLSearchParams;
}

const decodeEntities = (text: string) =>
  text.replace(/&(amp|quot|#39|#x27|lt|gt);/g, (_, name: string) => ({ amp: '&', quot: '"', '#39': "'", '#x27': "'", lt: '<', gt: '>' })[name]!);

const attribute = (tag: string, name: string): string | undefined => {
  const match = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'>]+))`, 'i').exec(tag);
  return match ? decodeEntities(match[1] ?? match[2] ?? match[3] ?? '') : undefined;
};

/** The page's form, read the way a browser reads it (the first form; its first submit button). */
function confirmForm(html: string, pageUrl: URL): HtmlForm {
  const form = /(<form\b[^>]*>)([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`the page has no form:\n${html}`);
  const [, tag, inner] = form as unknown as [string, string, string];
  const fields = new URLSearchParams();
  for (const [input] of inner.matchAll(/<input\b[^>]*>/gi)) {
    const name = attribute(input, 'name');
    const type = (attribute(input, 'type') ?? 'text').toLowerCase();
    if (!name || ['submit', 'button', 'reset', 'image', 'file'].includes(type)) continue;
    if ((type === 'checkbox' || type === 'radio') && !/\schecked\b/i.test(input)) continue;
    fields.append(name, attribute(input, 'value') ?? '');
  }
  const submitter =
    /<button\b([^>]*)>([\s\S]*?)<\/button>/i.exec(inner) ?? /<input\b([^>]*\stype\s*=\s*["']?submit[^>]*)>()/i.exec(inner);
  if (!submitter) throw new Error(`the form has no button:\n${form[0]}`);
  const buttonTag = ` ${submitter[1]}`;
  if (/\stype\s*=\s*["']?(button|reset)\b/i.test(buttonTag)) throw new Error(`the form's button does not submit:\n${form[0]}`);
  const buttonName = attribute(buttonTag, 'name');
  if (buttonName) fields.append(buttonName, attribute(buttonTag, 'value') ?? '');
  return {
    method: (attribute(tag, 'method') ?? 'get').toLowerCase(),
    action: new URL(attribute(tag, 'action') ?? '', pageUrl),
    enctype: (attribute(tag, 'enctype') ?? 'application/x-www-form-urlencoded').toLowerCase(),
    button: decodeEntities((submitter[2] || attribute(buttonTag, 'value') || '').replace(/<[^>]*>/g, '').trim()),
    fields,
  };
}

/** Presses the form's button, as a browser would. */
function submit(form: HtmlForm) {
  return api(form.action.origin, 'POST', form.action.pathname + form.action.search, undefined, {
    raw: form.fields.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
  });
}

forEachDatabase((test, db) => {
  let td: TestDaemon;
  let now = Date.now();
  test.before(async () => {
    td = await startTestDaemon({ clock: () => now, env: await db.env() });
  });
  test.after.always(async () => td?.close());

  test('GET /healthz answers ok', async (t) => {
    const reply = await api(td.url, 'GET', '/healthz');
    t.is(reply.status, 200);
    t.deepEqual(reply.json, { status: 'ok' });
  });

  test('registration answers 201 with the user and emails a link and the bare token', async (t) => {
    const who = identity('reg');
    const reply = await api(td.url, 'POST', '/v1/users', { ...who, email: `  ${who.email.toUpperCase()}  ` });
    t.is(reply.status, 201);
    const { user } = reply.json;
    t.like(user, { username: who.username, email: who.email.toUpperCase(), emailVerified: false, pendingEmail: null });
    t.regex(user.id, /^[0-9a-f-]{36}$/);
    t.false('password' in user || 'passwordHash' in user);
    t.truthy(Date.parse(user.createdAt) && Date.parse(user.updatedAt));

    const mail = await td.smtp.waitFor((m) => m.to.toLowerCase() === who.email);
    const token = tokenOf(mail);
    t.true(mail.text.includes(`${td.url}/v1/verify?token=${token}`));
    t.true(mail.html.includes(`/v1/verify?token=${token}`), 'the HTML part carries the link too');
    t.regex(mail.text, /expire in 24 hours/);
    t.regex(mail.raw, /multipart\/alternative/);
  });

  test('registration refuses bad fields with a message per field and creates nothing', async (t) => {
    const reply = await api(td.url, 'POST', '/v1/users', { email: 'not-an-email', username: '-x', password: 'short' });
    t.is(reply.status, 400);
    t.true(isProblem(reply, 400, 'invalid_input'));
    t.deepEqual(Object.keys(reply.json.errors).sort(), ['email', 'password', 'username']);
    const count = await td.daemon.db.knex('users').where('email_normalized', 'not-an-email').count({ n: '*' }).first();
    t.is(Number(count?.n), 0);
  });

  test('registration refuses a common password, and one that contains the username or the email', async (t) => {
    const who = identity('weak');
    for (const password of ['password123', `${who.username}-blue-otter-galaxy`, `xx${who.email.split('@')[0]}-blue-otter`]) {
      const reply = await api(td.url, 'POST', '/v1/users', { ...who, password });
      t.is(reply.status, 400, password);
      t.truthy(reply.json.errors.password);
    }
    t.is((await api(td.url, 'POST', '/v1/users', { ...who, password: 'x'.repeat(257) })).status, 400, 'over 256 characters');
  });

  test('usernames and emails are unique whatever their case: 409 username_taken / email_taken', async (t) => {
    const who = identity('dup');
    t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
    const sameName = await api(td.url, 'POST', '/v1/users', { ...identity('other'), username: who.username.toUpperCase() });
    t.true(isProblem(sameName, 409, 'username_taken'));
    const sameEmail = await api(td.url, 'POST', '/v1/users', { ...identity('other'), email: who.email.toUpperCase() });
    t.true(isProblem(sameEmail, 409, 'email_taken'));
  });

  /** What the account row says, read through the daemon's own connection. */
  const emailVerified = async (email: string) => {
    const row = await td.daemon.db.knex('users').where('email_normalized', email.toLowerCase()).first();
    if (!row) throw new Error(`no account for ${email}`);
    return row.email_verified_at !== null;
  };

  test('GET /v1/verify shows a Confirm button and changes nothing (nor does HEAD); only the form POST activates', async (t) => {
    const who = identity('link');
    await api(td.url, 'POST', '/v1/users', who);
    const token = tokenOf(await td.smtp.waitFor((m) => m.to === who.email));
    const link = `/v1/verify?token=${token}`;

    // What a mail scanner does: fetch the link, maybe twice, maybe HEAD only.
    const page = await api(td.url, 'GET', link);
    t.is(page.status, 200);
    t.regex(String(page.headers['content-type']), /^text\/html/);
    t.regex(page.text, /Confirm/);
    t.notRegex(page.text, /Account activated/);
    t.notRegex(page.text, /<script|src=|href="http/i, 'self-contained: no external assets');
    t.is((await api(td.url, 'GET', link)).status, 200, 'opening it again shows the button again');
    const head = await api(td.url, 'HEAD', link);
    t.is(head.status, 200);
    t.is(head.text, '');
    t.false(await emailVerified(who.email), 'opening the link activated nothing');
    t.true(isProblem(await api(td.url, 'POST', '/v1/sessions', { email: who.email, password: who.password }), 403, 'email_not_verified'));

    // What a person does: press the button, as a browser would submit the form.
    const form = confirmForm(page.text, new URL(link, td.url));
    t.is(form.method, 'post');
    t.is(form.action.origin, new URL(td.url).origin);
    t.is(form.action.pathname, '/v1/verify');
    t.is(form.enctype, 'application/x-www-form-urlencoded');
    t.regex(form.button, /Confirm/, 'the submit button says Confirm');
    t.is(form.fields.get('token'), token, 'the form carries the token');
    const formAction = /(?:^|;)\s*form-action\s+([^;]*)/.exec(String(page.headers['content-security-policy']))?.[1];
    t.true(formAction === undefined || /'self'/.test(formAction) || formAction.includes(form.action.origin), `the page's CSP lets the form post (form-action ${formAction})`);

    const pressed = await submit(form);
    t.is(pressed.status, 200);
    t.regex(String(pressed.headers['content-type']), /^text\/html/);
    t.regex(pressed.text, /Account activated/);
    t.regex(pressed.text, /taskmaster login/);
    t.notRegex(pressed.text, /<script|src=|href="http/i, 'self-contained: no external assets');
    t.true(await emailVerified(who.email));
    t.is((await api(td.url, 'POST', '/v1/sessions', { email: who.email, password: who.password })).status, 201);

    const again = await submit(form);
    t.is(again.status, 200);
    t.regex(String(again.headers['content-type']), /^text\/html/);
    t.regex(again.text, /already active/i);

    const bad = await api(td.url, 'GET', '/v1/verify?token=nope');
    t.is(bad.status, 400);
    t.regex(String(bad.headers['content-type']), /^text\/html/);
    t.regex(bad.text, /not valid/);
    t.is((await api(td.url, 'GET', '/v1/verify')).status, 400);
  });

  test('POST /v1/verify activates with the pasted token; unknown and expired tokens are refused', async (t) => {
    const who = identity('paste');
    await api(td.url, 'POST', '/v1/users', who);
    const token = tokenOf(await td.smtp.waitFor((m) => m.to === who.email));
    const reply = await api(td.url, 'POST', '/v1/verify', { token });
    t.is(reply.status, 200);
    t.like(reply.json.user, { username: who.username, emailVerified: true });
    t.true(isProblem(await api(td.url, 'POST', '/v1/verify', { token: 'A'.repeat(43) }), 400, 'invalid_token'));
    t.true(isProblem(await api(td.url, 'POST', '/v1/verify', {}), 400, 'invalid_input'));
  });

  test.serial('a verification token expires after 24 hours', async (t) => {
    const who = identity('expire');
    await api(td.url, 'POST', '/v1/users', who);
    const token = tokenOf(await td.smtp.waitFor((m) => m.to === who.email));
    now += 24 * 60 * 60 * 1000 + 1000;
    try {
      t.true(isProblem(await api(td.url, 'POST', '/v1/verify', { token }), 400, 'expired_token'));
      const page = await api(td.url, 'GET', `/v1/verify?token=${token}`);
      t.is(page.status, 400);
      t.regex(page.text, /expired/);
    } finally {
      now = Date.now();
    }
  });

  test('resend answers 202 for any email, and mails a new token that replaces the old one', async (t) => {
    const who = identity('resend');
    await api(td.url, 'POST', '/v1/users', who);
    const first = tokenOf(await td.smtp.waitFor((m) => m.to === who.email));
    const unknown = await api(td.url, 'POST', '/v1/verify/resend', { email: 'nobody-here@example.com' });
    const known = await api(td.url, 'POST', '/v1/verify/resend', { email: who.email });
    t.is(unknown.status, 202);
    t.is(known.status, 202);
    t.deepEqual(unknown.json, known.json, 'the answer does not tell whether the account exists');
    const second = tokenOf(await td.smtp.waitFor((m) => m.to === who.email && tokenOf(m) !== first));
    t.true(isProblem(await api(td.url, 'POST', '/v1/verify', { token: first }), 400, 'invalid_token'));
    t.is((await api(td.url, 'POST', '/v1/verify', { token: second })).status, 200);
    t.true(isProblem(await api(td.url, 'POST', '/v1/verify/resend', { email: 'bad' }), 400, 'invalid_input'));
    t.is(td.smtp.mailsTo('nobody-here@example.com').length, 0);
  });

  test('login answers a tm_ token valid 30 days; unknown email and wrong password get the same 401', async (t) => {
    const account = await activeAccount(td, identity('login'));
    t.regex(account.token, /^tm_[A-Za-z0-9_-]{43}$/);
    const login = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
    const days = (Date.parse(login.json.expiresAt) - Date.now()) / 86_400_000;
    t.true(days > 29.9 && days <= 30.01, `expires in ${days} days`);
    t.like(login.json.user, { username: account.username, emailVerified: true });

    const wrong = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: 'wrong-horse-battery-staple' });
    const unknown = await api(td.url, 'POST', '/v1/sessions', { email: 'ghost@example.com', password: 'wrong-horse-battery-staple' });
    t.true(isProblem(wrong, 401, 'invalid_credentials'));
    t.deepEqual(wrong.json, unknown.json);
  });

  test('login before verifying the email is refused with 403 email_not_verified', async (t) => {
    const who = identity('unverified');
    await api(td.url, 'POST', '/v1/users', who);
    const reply = await api(td.url, 'POST', '/v1/sessions', { email: who.email, password: who.password });
    t.true(isProblem(reply, 403, 'email_not_verified'));
    t.false('token' in reply.json);
  });

  test('GET /v1/me answers the user for a valid token and 401 otherwise', async (t) => {
    const account = await activeAccount(td, identity('me'));
    const reply = await api(td.url, 'GET', '/v1/me', undefined, { token: account.token });
    t.is(reply.status, 200);
    t.like(reply.json.user, { username: account.username, email: account.email, emailVerified: true, pendingEmail: null });
    t.true(isProblem(await api(td.url, 'GET', '/v1/me'), 401, 'unauthenticated'));
    t.true(isProblem(await api(td.url, 'GET', '/v1/me', undefined, { token: 'tm_nonsense' }), 401, 'unauthenticated'));
    const inUrl = await api(td.url, 'GET', `/v1/me?token=${account.token}`);
    t.is(inUrl.status, 401, 'a token in the URL is not accepted');
  });

  test('PATCH /v1/me changes the username, refusing a taken one', async (t) => {
    const account = await activeAccount(td, identity('rename'));
    const other = identity('taken');
    await api(td.url, 'POST', '/v1/users', other);
    const renamed = await api(td.url, 'PATCH', '/v1/me', { username: `${account.username}-new` }, { token: account.token });
    t.is(renamed.status, 200);
    t.is(renamed.json.user.username, `${account.username}-new`);
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).json.user.username, `${account.username}-new`);
    t.true(isProblem(await api(td.url, 'PATCH', '/v1/me', { username: other.username.toUpperCase() }, { token: account.token }), 409, 'username_taken'));
    t.true(isProblem(await api(td.url, 'PATCH', '/v1/me', { username: 'a b' }, { token: account.token }), 400, 'invalid_input'));
    t.true(isProblem(await api(td.url, 'PATCH', '/v1/me', { username: 'someone' }), 401, 'unauthenticated'));
  });

  test('PATCH /v1/me email change needs the current password and waits for the new address to confirm', async (t) => {
    const account = await activeAccount(td, identity('move'));
    const otherSession = (await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password })).json.token;
    const newEmail = `${account.username}-new@example.org`;

    const noPassword = await api(td.url, 'PATCH', '/v1/me', { email: newEmail }, { token: account.token });
    t.true(isProblem(noPassword, 400, 'invalid_input'));
    t.truthy(noPassword.json.errors.currentPassword);
    t.true(isProblem(await api(td.url, 'PATCH', '/v1/me', { email: newEmail, currentPassword: 'not-my-password-at-all' }, { token: account.token }), 403, 'wrong_password'));
    const taken = identity('occupied');
    await api(td.url, 'POST', '/v1/users', taken);
    t.true(isProblem(await api(td.url, 'PATCH', '/v1/me', { email: taken.email, currentPassword: account.password }, { token: account.token }), 409, 'email_taken'));

    const changed = await api(td.url, 'PATCH', '/v1/me', { email: newEmail, currentPassword: account.password }, { token: account.token });
    t.is(changed.status, 200);
    t.like(changed.json.user, { email: account.email, pendingEmail: newEmail });

    const notice = await td.smtp.waitFor((m) => m.to === account.email && /being changed/.test(m.subject));
    t.true(notice.text.includes(newEmail), 'the old address is told of the change');
    const confirm = await td.smtp.waitFor((m) => m.to === newEmail);
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: otherSession })).status, 401, 'other sessions end on an email change');

    const verified = await api(td.url, 'POST', '/v1/verify', { token: tokenOf(confirm) });
    t.is(verified.status, 200);
    t.like(verified.json.user, { email: newEmail, pendingEmail: null, emailVerified: true });
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).json.user.email, newEmail);
    t.is((await api(td.url, 'POST', '/v1/sessions', { email: newEmail, password: account.password })).status, 201);
    t.is((await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password })).status, 401);
  });

  test('DELETE /v1/sessions/current ends the session: the token never works again', async (t) => {
    const account = await activeAccount(td, identity('logout'));
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 200, 'cached as valid first');
    const reply = await api(td.url, 'DELETE', '/v1/sessions/current', undefined, { token: account.token });
    t.is(reply.status, 204);
    t.is(reply.text, '');
    t.true(isProblem(await api(td.url, 'GET', '/v1/me', undefined, { token: account.token }), 401, 'unauthenticated'));
    t.true(isProblem(await api(td.url, 'DELETE', '/v1/sessions/current', undefined, { token: account.token }), 401, 'unauthenticated'));
    t.true(isProblem(await api(td.url, 'DELETE', '/v1/sessions/current'), 401, 'unauthenticated'));
  });

  test.serial('an expired session is refused on its next request', async (t) => {
    const account = await activeAccount(td, identity('stale'));
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 200);
    now += 30 * 24 * 60 * 60 * 1000 + 1000;
    try {
      t.true(isProblem(await api(td.url, 'GET', '/v1/me', undefined, { token: account.token }), 401, 'unauthenticated'));
    } finally {
      now = Date.now();
    }
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 401, 'and it stays ended');
  });

  test('bodies over 1 MiB get 413, malformed JSON 400, other content types 415, unknown routes 404: all problem+json', async (t) => {
    t.true(isProblem(await api(td.url, 'POST', '/v1/users', undefined, { raw: JSON.stringify({ email: 'a'.repeat(1_100_000) }), headers: { 'content-type': 'application/json' } }), 413, 'payload_too_large'));
    t.true(isProblem(await api(td.url, 'POST', '/v1/users', undefined, { raw: '{"email":', headers: { 'content-type': 'application/json' } }), 400, 'malformed_json'));
    t.true(isProblem(await api(td.url, 'POST', '/v1/users', undefined, { raw: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type'));
    t.true(isProblem(await api(td.url, 'GET', '/v1/nothing-here'), 404, 'not_found'));
    const wrongMethod = await api(td.url, 'PUT', '/v1/me');
    t.true(isProblem(wrongMethod, 405, 'method_not_allowed'));
    t.true(isProblem(await api(td.url, 'POST', '/v1/users', [1, 2]), 400, 'invalid_input'));
  });

  test('no response leaks a password or a hash', async (t) => {
    const who = identity('leak');
    const replies = [
      await api(td.url, 'POST', '/v1/users', who),
      await api(td.url, 'POST', '/v1/sessions', { email: who.email, password: who.password }),
      await api(td.url, 'POST', '/v1/sessions', { email: who.email, password: `${STRONG_PASSWORD}x` }),
    ];
    for (const reply of replies) {
      t.false(reply.text.includes(who.password));
      t.notRegex(reply.text, /\$2[aby]\$/);
    }
  });

  test('long and Unicode passwords work, and bytes past bcrypt\'s 72 still count', async (t) => {
    const who = identity('long');
    const password = `${'ünïcødé-pässphrase-'.repeat(5)}tail-one`; // well over 72 bytes
    const account = await activeAccount(td, { ...who, password });
    t.regex(account.token, /^tm_/);
    const sameStart = `${'ünïcødé-pässphrase-'.repeat(5)}tail-two`;
    t.true(Buffer.byteLength(sameStart) > 72 && sameStart.slice(0, 60) === password.slice(0, 60));
    t.true(isProblem(await api(td.url, 'POST', '/v1/sessions', { email: who.email, password: sameStart }), 401, 'invalid_credentials'));
    t.is((await api(td.url, 'POST', '/v1/sessions', { email: who.email, password: ` ${password}` })).status, 401, 'no trimming');
  });
});
