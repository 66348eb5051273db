// The small things an API user and a CLI user run into: Allow on 405, what a body of the wrong
// shape or a field of the wrong type answers, problem types that resolve, waits said in minutes,
// and what the CLI says after an email change.
import test from 'ava';
import { ERROR_CODES } from '../server/contract/api.js';
import { cliUser } from './helpers/cli.js';
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api } from './helpers/http.js';
import { tokenOf } from './helpers/smtp.js';

let td: TestDaemon;
test.before(async () => {
  td = await startTestDaemon();
});
test.after.always(async () => td?.close());

const methods = (allow: unknown) =>
  String(allow)
    .split(',')
    .map((method) => method.trim())
    .sort();

test('405 answers say in Allow which methods the path takes, and each of those is not refused', async (t) => {
  for (const [method, path, allowed] of [
    ['PUT', '/v1/me', ['GET', 'PATCH']],
    ['DELETE', '/v1/users', ['POST']],
    ['POST', '/healthz', ['GET', 'HEAD']],
    ['PATCH', '/v1/verify', ['GET', 'HEAD', 'POST']],
    ['PROPFIND', '/problems/rate_limited', ['GET', 'HEAD']],
  ] as const) {
    const reply = await api(td.url, method, path);
    t.is(reply.status, 405, `${method} ${path}`);
    t.is(reply.json.code, 'method_not_allowed');
    t.regex(String(reply.headers['content-type']), /^application\/problem\+json/);
    const allow = methods(reply.headers.allow);
    for (const expected of allowed) t.true(allow.includes(expected), `${method} ${path}: Allow ${allow} has ${expected}`);
    t.false(allow.includes(method));
    for (const listed of allow) t.not((await api(td.url, listed, path)).status, 405, `${listed} ${path} is listed, so it is taken`);
  }
  t.is((await api(td.url, 'PUT', '/v1/nothing-here')).status, 404, 'an unknown path is 404 whatever the method');
  t.is((await api(td.url, 'PROPFIND', '/v1/nothing-here')).status, 404);
});

test('a JSON body that is not an object answers 400 invalid_input saying so; broken JSON stays malformed_json', async (t) => {
  for (const raw of ['[1,2]', '[]', '"ada@example.com"', '5', 'null', 'true']) {
    for (const path of ['/v1/users', '/v1/sessions', '/v1/verify']) {
      const reply = await api(td.url, 'POST', path, undefined, { raw, headers: { 'content-type': 'application/json' } });
      t.is(reply.status, 400, `${path} ${raw}`);
      t.is(reply.json.code, 'invalid_input', `${path} ${raw}`);
      t.is(reply.json.detail, 'The request body must be a JSON object.', `${path} ${raw}`);
    }
  }
  const broken = await api(td.url, 'POST', '/v1/users', undefined, { raw: '{"email":', headers: { 'content-type': 'application/json' } });
  t.is(broken.status, 400);
  t.is(broken.json.code, 'malformed_json');
  const empty = await api(td.url, 'POST', '/v1/sessions', undefined, { raw: '', headers: { 'content-type': 'application/json' } });
  t.is(empty.status, 400);
  t.deepEqual(empty.json.errors, { email: 'Email is required.', password: 'Password is required.' }, 'an empty body is read as {}');
});

test('a field of the wrong type says which type it must be; a missing one says it is required', async (t) => {
  const login = await api(td.url, 'POST', '/v1/sessions', { email: 5, password: ['x'] });
  t.is(login.status, 400);
  t.is(login.json.code, 'invalid_input');
  t.deepEqual(login.json.errors, { email: 'Email must be a string.', password: 'Password must be a string.' });

  const register = await api(td.url, 'POST', '/v1/users', { email: null, username: { name: 'ada' } });
  t.deepEqual(register.json.errors, { email: 'Email must be a string.', username: 'Username must be a string.', password: 'Password is required.' });

  const verify = await api(td.url, 'POST', '/v1/verify', { token: 42 });
  t.deepEqual(verify.json.errors, { token: 'Token must be a string.' });

  const account = await activeAccount(td, identity('types'));
  const patch = await api(td.url, 'PATCH', '/v1/me', { username: 5 }, { token: account.token });
  t.is(patch.status, 400);
  t.is(patch.json.errors.username, 'Username must be a string.');
});

test('every problem type resolves: GET /problems/<code> answers a short page, HTML by default and JSON when asked', async (t) => {
  const seen = new Set<string>();
  for (const code of ERROR_CODES) {
    const page = await api(td.url, 'GET', `/problems/${code}`);
    t.is(page.status, 200, code);
    t.regex(String(page.headers['content-type']), /^text\/html; charset=utf-8/);
    t.regex(String(page.headers['content-security-policy']), /default-src 'none'/);
    t.regex(page.text, new RegExp(`<code>${code}</code>`), code);
    t.notRegex(page.text, /<script|\bsrc=/i);

    const json = await api(td.url, 'GET', `/problems/${code}`, undefined, { headers: { accept: 'application/json' } });
    t.is(json.status, 200, code);
    t.regex(String(json.headers['content-type']), /^application\/json/);
    t.is(json.json.type, `/problems/${code}`);
    t.is(json.json.code, code);
    t.true(json.json.title.length > 3 && json.json.description.length > 20, code);
    t.true(page.text.includes(json.json.title), `${code}: the page shows the same title`);
    seen.add(json.json.title);
  }
  t.is(seen.size, ERROR_CODES.length, 'each code has its own title');

  // A real problem's type is a link that works, and its title is the page's.
  const refused = await api(td.url, 'POST', '/v1/sessions', {});
  const followed = await api(td.url, 'GET', refused.json.type, undefined, { headers: { accept: 'application/json' } });
  t.is(followed.status, 200);
  t.is(followed.json.title, refused.json.title);
  t.is(followed.json.status, 400);

  const unknown = await api(td.url, 'GET', '/problems/no_such_code');
  t.is(unknown.status, 404);
  t.is(unknown.json.code, 'not_found');
  t.is((await api(td.url, 'GET', '/problems/__proto__')).status, 404);
});

test('after an email change is confirmed with taskmaster verify, the CLI says the new address is confirmed', async (t) => {
  const user = await cliUser(td.url);
  const who = identity('cliemail');
  await user.run(['register', '--email', who.email, '--username', who.username, '--password-stdin'], { input: `${who.password}\n` });
  const activated = await user.run(['verify', tokenOf(await td.smtp.waitFor((m) => m.to === who.email))]);
  t.is(activated.code, 0);
  t.regex(activated.stderr, /Your account .* is active/);
  t.regex(activated.stderr, /Next: taskmaster login/);
  t.is((await user.run(['login', '--email', who.email, '--password-stdin'], { input: `${who.password}\n` })).code, 0);

  const newEmail = `moved-${who.email}`;
  const update = await user.run(['profile', 'update', '--email', newEmail, '--password-stdin'], { input: `${who.password}\n` });
  t.is(update.code, 0, update.stderr);
  const token = tokenOf(await td.smtp.waitFor((m) => m.to === newEmail));
  const confirmed = await user.run(['verify', token]);
  t.is(confirmed.code, 0, confirmed.stderr);
  t.regex(confirmed.stderr, new RegExp(`Your new email ${newEmail.replace(/\./g, '\\.')} is confirmed`));
  t.notRegex(confirmed.stderr, /taskmaster login/);
  t.notRegex(confirmed.stderr, /is active/);

  const json = await user.run(['verify', token, '--json']);
  t.is(json.code, 0);
  t.like(JSON.parse(json.stdout), { outcome: 'already_active', user: { email: newEmail } });
});

test('changing the email to one another account uses says so in words for someone logged in', async (t) => {
  const user = await cliUser(td.url);
  const other = await activeAccount(td, identity('taken'));
  const who = identity('wants');
  await activeAccount(td, who);
  t.is((await user.run(['login', '--email', who.email, '--password-stdin'], { input: `${who.password}\n` })).code, 0);
  const result = await user.run(['profile', 'update', '--email', other.email, '--password-stdin'], { input: `${who.password}\n` });
  t.is(result.code, 1);
  t.regex(result.stderr, /Another account already uses this email/);
  t.notRegex(result.stderr, /Log in|taskmaster verify/);
});
