// The device flow (RFC 8628) behind `taskmaster login --web`, on SQLite and PostgreSQL: codes,
// polling and its pace (slow_down on the daemon's clock, never by sleeping), approval, denial,
// expiry, single use, the throttle on guessed user codes, and what the table keeps.
import { createHash } from 'node:crypto';
import test from 'ava';
import { DEVICE_CLIENT_ID, DEVICE_GRANT_TYPE } from '../server/contract/device.js';
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { decide, oauthError, pollDevice, sessionCookie, startDevice } from './helpers/device.js';
import { api } from './helpers/http.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const SECOND = 1000;
const MINUTE = 60 * SECOND;

forEachDatabase((test, db) => {
  let td: TestDaemon;
  // The daemon's clock: tests move it forward instead of waiting.
  let offset = 0;
  const clock = () => Date.now() + offset;
  test.before(async () => {
    // TRUST_PROXY: the tests play browsers at several addresses through X-Forwarded-For.
    td = await startTestDaemon({ clock, env: { ...(await db.env()), PUBLIC_URL: 'https://accounts.example.org/auth', TRUST_PROXY: '1' }, limits: { deviceCodesPerAddressPerHour: 1000 } });
  });
  test.after.always(async () => td?.close());

  const newCode = async () => {
    const reply = await startDevice(td.url);
    if (reply.status !== 200) throw new Error(`device code: ${reply.status} ${reply.text}`);
    return reply.json as { device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string; expires_in: number; interval: number };
  };

  test('a device code: 256 bits to poll with, an 8-letter user code, the page on PUBLIC_URL, 15 minutes, poll every 5 s', async (t) => {
    const reply = await startDevice(td.url);
    t.is(reply.status, 200);
    t.regex(String(reply.headers['cache-control']), /no-store/);
    const grant = reply.json;
    t.regex(grant.device_code, /^[A-Za-z0-9_-]{43}$/, '32 random bytes in base64url');
    t.regex(grant.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    t.is(grant.verification_uri, 'https://accounts.example.org/auth/device');
    t.is(grant.verification_uri_complete, `https://accounts.example.org/auth/device?user_code=${grant.user_code}`);
    t.is(grant.expires_in, 900);
    t.is(grant.interval, 5);
    const again = await newCode();
    t.not(again.user_code, grant.user_code);
    t.not(again.device_code, grant.device_code);
  });

  test('the page address comes from PUBLIC_URL, never from the Host or X-Forwarded-Host a client sends', async (t) => {
    const reply = await startDevice(td.url, { client_id: DEVICE_CLIENT_ID }, { headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' } });
    t.is(reply.json.verification_uri, 'https://accounts.example.org/auth/device');
  });

  test('the code endpoint takes a form as well as JSON; an unknown or missing client_id is invalid_client as OAuth writes it', async (t) => {
    const form = await api(td.url, 'POST', '/v1/device/code', undefined, { raw: `client_id=${DEVICE_CLIENT_ID}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    t.is(form.status, 200);
    t.regex(form.json.user_code, /^[A-Z]{4}-[A-Z]{4}$/);
    for (const body of [{ client_id: 'someone-else' }, {}, { client_id: 42 }]) {
      const refused = await startDevice(td.url, body);
      t.is(refused.status, 400);
      t.regex(String(refused.headers['content-type']), /^application\/json/, 'an OAuth error body, not problem+json');
      t.is(refused.json.error, 'invalid_client');
    }
    const formRefused = await api(td.url, 'POST', '/v1/device/code', undefined, { raw: 'client_id=gh-cli', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    t.is(formRefused.json.error, 'invalid_client');
    const broken = await api(td.url, 'POST', '/v1/device/code', undefined, { raw: '{"client_id":', headers: { 'content-type': 'application/json' } });
    t.is(broken.json.error, 'invalid_request');
  });

  test('the device code is never stored: only its SHA-256', async (t) => {
    const grant = await newCode();
    const rows = await td.daemon.db.knex('device_authorizations').select();
    const row = rows.find((each) => each.device_code_hash === sha256(grant.device_code));
    t.truthy(row);
    t.false(JSON.stringify(rows).includes(grant.device_code));
    t.is(row.user_code, grant.user_code.replace('-', ''));
    t.is(row.client_id, DEVICE_CLIENT_ID);
    t.is(row.status, 'pending');
  });

  // Serial: these move the daemon's clock, which the concurrent tests (run after) leave alone.
  test.serial('polling: pending; sooner than the interval is slow_down and adds 5 s for every later poll; the first poll is never too soon', async (t) => {
    const grant = await newCode();
    // At once after the code, the first poll: pending, not slow_down.
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'authorization_pending');
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'slow_down', 'again at once');
    offset += 8 * SECOND;
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'slow_down', '8 s later, the interval being 10 s now');
    offset += 12 * SECOND;
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'slow_down', '12 s later, the interval being 15 s now');
    offset += 20 * SECOND;
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'authorization_pending', '20 s later, the interval being 20 s');
    offset += 20 * SECOND;
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'authorization_pending', 'a poll every 20 s stays welcome');
    const row = await td.daemon.db.knex('device_authorizations').where('device_code_hash', sha256(grant.device_code)).first('interval_seconds');
    t.is(Number(row.interval_seconds), 20);
  });

  test('parallel polls cannot all slip under the interval: one is pending, the rest slow_down', async (t) => {
    const grant = await newCode();
    const answers = await Promise.all(Array.from({ length: 6 }, () => pollDevice(td.url, grant.device_code)));
    const errors = answers.map(oauthError).sort();
    t.deepEqual(errors, ['authorization_pending', 'slow_down', 'slow_down', 'slow_down', 'slow_down', 'slow_down']);
  });

  test('approved in the browser: the next poll is a session like a login\'s, listed and revocable; a second exchange fails', async (t) => {
    const account = await activeAccount(td, identity('devok'));
    const grant = await newCode();
    t.is(await decide(td, account.token, grant.user_code, 'lookup'), 'ok');
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'authorization_pending', 'looking at the page decides nothing');
    t.is(await decide(td, account.token, grant.user_code, 'approve'), 'ok');
    const reply = await pollDevice(td.url, grant.device_code);
    t.is(reply.status, 200, reply.text);
    t.regex(String(reply.headers['cache-control']), /no-store/);
    const { access_token: token, token_type: type, expires_in: expiresIn, user, device_token: deviceToken } = reply.json;
    t.is(type, 'Bearer');
    t.is(expiresIn, 30 * 24 * 60 * 60);
    t.is(user.username, account.username);
    t.regex(deviceToken, /^tmd_/);
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token })).json.user.id, user.id);
    const sessions = (await api(td.url, 'GET', '/v1/sessions', undefined, { token: account.token })).json.sessions as { id: string; current: boolean }[];
    t.is(sessions.length, 2, 'the browser\'s session and the terminal\'s');
    const events = (await api(td.url, 'GET', '/v1/me/events', undefined, { token })).json.events.map((event: { type: string }) => event.type);
    t.deepEqual(events.slice(0, 2), ['login', 'device_approved']);

    // Used once: replayed, it is unknown.
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'invalid_grant');
    t.is(await decide(td, account.token, grant.user_code, 'approve'), 'unknown', 'an approved code cannot be approved again');

    // Revocable like any session.
    const terminal = sessions.find((session) => !session.current)!;
    t.is((await api(td.url, 'DELETE', `/v1/sessions/${terminal.id}`, undefined, { token: account.token })).status, 204);
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token })).status, 401);
  });

  test('an approved code exchanged by parallel polls gives exactly one session', async (t) => {
    const account = await activeAccount(td, identity('devpar'));
    const grant = await newCode();
    t.is(await decide(td, account.token, grant.user_code, 'approve'), 'ok');
    const answers = await Promise.all(Array.from({ length: 8 }, () => pollDevice(td.url, grant.device_code)));
    t.is(answers.filter((reply) => reply.status === 200).length, 1);
    t.true(answers.filter((reply) => reply.status !== 200).every((reply) => oauthError(reply) === 'invalid_grant'));
    const sessions = (await api(td.url, 'GET', '/v1/sessions', undefined, { token: account.token })).json.sessions;
    t.is(sessions.length, 2);
  });

  test('the user code is compared without case or dash; the device token shown is kept, as at a password login', async (t) => {
    const account = await activeAccount(td, identity('devcase'));
    const first = await newCode();
    t.is(await decide(td, account.token, first.user_code.toLowerCase().replace('-', ''), 'approve'), 'ok');
    const session = (await pollDevice(td.url, first.device_code)).json;
    const second = await newCode();
    t.is(await decide(td, account.token, ` ${second.user_code.toLowerCase()} `, 'approve'), 'ok');
    const again = await pollDevice(td.url, second.device_code, { device_token: session.device_token });
    t.is(again.json.device_token, session.device_token, 'the same device, known to the account');
    const stranger = await newCode();
    t.is(await decide(td, account.token, stranger.user_code, 'approve'), 'ok');
    const unknown = await pollDevice(td.url, stranger.device_code, { device_token: 'tmd_made-up' });
    t.not(unknown.json.device_token, 'tmd_made-up', 'an unknown device token is replaced, never adopted');
  });

  test('an approval not yet picked up dies with the browser session that gave it: after "log out everywhere" the poll hears access_denied, and no session is made', async (t) => {
    const account = await activeAccount(td, identity('devvoid'));
    const grant = await newCode();
    t.is(await decide(td, account.token, grant.user_code, 'approve'), 'ok');
    // The owner finds out and ends every session before the phisher's terminal polls.
    t.is((await api(td.url, 'DELETE', '/v1/sessions?scope=all', undefined, { token: account.token })).status, 200);
    const voided = await pollDevice(td.url, grant.device_code);
    t.is(oauthError(voided), 'access_denied', voided.text);
    t.regex(voided.json.error_description, /session that approved this code has ended/);
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'invalid_grant', 'and it is used up');
    const again = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
    t.is(again.status, 201);
    t.is((await api(td.url, 'GET', '/v1/sessions', undefined, { token: again.json.token })).json.sessions.length, 1, 'the account has no session but this new one');
  });

  test('denied in the browser: the poll hears access_denied, and the code cannot be approved after', async (t) => {
    const account = await activeAccount(td, identity('devno'));
    const grant = await newCode();
    t.is(await decide(td, account.token, grant.user_code, 'deny'), 'ok');
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'access_denied');
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'access_denied', 'and keeps hearing it');
    t.is(await decide(td, account.token, grant.user_code, 'approve'), 'unknown');
    t.is((await api(td.url, 'GET', '/v1/sessions', undefined, { token: account.token })).json.sessions.length, 1);
  });

  test.serial('after 15 minutes the code expires: expired_token for the poll, and nothing to approve', async (t) => {
    const account = await activeAccount(td, identity('devold'));
    const grant = await newCode();
    const approvedLate = await newCode();
    t.is(await decide(td, account.token, approvedLate.user_code, 'approve'), 'ok');
    offset += 14 * MINUTE + 55 * SECOND;
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'authorization_pending', 'five seconds before');
    offset += 5 * SECOND;
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'expired_token');
    t.is(await decide(td, account.token, grant.user_code, 'approve'), 'unknown');
    t.is(oauthError(await pollDevice(td.url, approvedLate.device_code)), 'expired_token', 'an approval not picked up in time expires too');
  });

  test('the token endpoint refuses other grants, other clients and missing codes, as OAuth errors', async (t) => {
    const grant = await newCode();
    const token = (body: Record<string, unknown>) => api(td.url, 'POST', '/v1/device/token', body);
    t.is(oauthError(await token({ grant_type: 'password', client_id: DEVICE_CLIENT_ID, device_code: grant.device_code })), 'unsupported_grant_type');
    t.is(oauthError(await token({ client_id: DEVICE_CLIENT_ID, device_code: grant.device_code })), 'invalid_request');
    t.is(oauthError(await token({ grant_type: DEVICE_GRANT_TYPE, client_id: 'other', device_code: grant.device_code })), 'invalid_client');
    t.is(oauthError(await token({ grant_type: DEVICE_GRANT_TYPE, client_id: DEVICE_CLIENT_ID })), 'invalid_request');
    t.is(oauthError(await token({ grant_type: DEVICE_GRANT_TYPE, client_id: DEVICE_CLIENT_ID, device_code: 'x'.repeat(43) })), 'invalid_grant');
    t.is(oauthError(await api(td.url, 'POST', '/v1/device/token', undefined, { raw: '[1]', headers: { 'content-type': 'application/json' } })), 'invalid_request');
    const form = await api(td.url, 'POST', '/v1/device/token', undefined, {
      raw: new URLSearchParams({ grant_type: DEVICE_GRANT_TYPE, client_id: DEVICE_CLIENT_ID, device_code: grant.device_code }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    t.is(oauthError(form), 'authorization_pending', 'a form is read as JSON is');
  });

  test('the page: signed out it sends to sign-in and back with the code; the request shows client, address, program and time, escaped, and says it grants full access', async (t) => {
    const signedOut = await api(td.url, 'GET', '/device?user_code=bcdf-ghjk');
    t.is(signedOut.status, 303);
    t.is(signedOut.headers.location, `/login?next=${encodeURIComponent('/device?user_code=BCDF-GHJK')}`);
    const account = await activeAccount(td, identity('devpage'));
    const cookie = sessionCookie(td, account.token);
    const entry = await api(td.url, 'GET', '/device?user_code=bcdfghjk', undefined, { headers: { cookie } });
    t.is(entry.status, 200);
    t.regex(entry.text, /name="user_code" value="BCDF-GHJK"/, 'prefilled from the link, as the terminal shows it');
    t.regex(String(entry.headers['content-security-policy']), /default-src 'none'/);

    const grant = (await startDevice(td.url, { client_id: DEVICE_CLIENT_ID }, { headers: { 'user-agent': 'taskmaster/9 <script>alert(1)</script>', 'x-forwarded-for': '192.0.2.44' } })).json;
    const csrf = /action="\/device">\s*<input type="hidden" name="csrf" value="([^"]+)"/.exec(entry.text)![1]!;
    const shown = await api(td.url, 'POST', '/device', undefined, {
      raw: new URLSearchParams({ csrf, user_code: grant.user_code }).toString(),
      headers: { cookie, origin: 'https://accounts.example.org', 'content-type': 'application/x-www-form-urlencoded' },
    });
    t.is(shown.status, 200);
    t.regex(shown.text, /full access to your account/);
    t.regex(shown.text, /192\.0\.2\.44/);
    t.regex(shown.text, /taskmaster login --web/);
    t.regex(shown.text, /taskmaster\/9 &lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    t.false(shown.text.includes('<script>'));
    t.regex(shown.text, new RegExp(grant.user_code));
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'authorization_pending', 'showing it decided nothing');
  });

  test('the page refuses a decision without its CSRF token or from another origin, and decides nothing', async (t) => {
    const account = await activeAccount(td, identity('devcsrf'));
    const cookie = sessionCookie(td, account.token);
    const grant = (await startDevice(td.url)).json;
    const entry = await api(td.url, 'GET', '/device', undefined, { headers: { cookie } });
    const csrf = /action="\/device">\s*<input type="hidden" name="csrf" value="([^"]+)"/.exec(entry.text)![1]!;
    const post = (fields: Record<string, string>, origin: string | undefined) =>
      api(td.url, 'POST', '/device', undefined, { raw: new URLSearchParams(fields).toString(), headers: { cookie, ...(origin ? { origin } : {}), 'content-type': 'application/x-www-form-urlencoded' } });
    t.is((await post({ user_code: grant.user_code, action: 'approve' }, 'https://accounts.example.org')).status, 403, 'no token');
    t.is((await post({ csrf: 'x'.repeat(43), user_code: grant.user_code, action: 'approve' }, 'https://accounts.example.org')).status, 403, 'a made-up token');
    t.is((await post({ csrf, user_code: grant.user_code, action: 'approve' }, 'https://evil.example')).status, 403, 'another origin');
    t.is((await post({ csrf, user_code: grant.user_code, action: 'approve' }, 'null')).status, 403, 'Origin: null');
    t.is((await post({ csrf, user_code: grant.user_code, action: 'approve' }, undefined)).status, 403, 'no Origin at all');
    const otherSession = (await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password })).json.token as string;
    const replayed = await api(td.url, 'POST', '/device', undefined, {
      raw: new URLSearchParams({ csrf, user_code: grant.user_code, action: 'approve' }).toString(),
      headers: { cookie: sessionCookie(td, otherSession), origin: 'https://accounts.example.org', 'content-type': 'application/x-www-form-urlencoded' },
    });
    t.is(replayed.status, 403, 'another session\'s token');
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'authorization_pending');
    const signedOut = await api(td.url, 'POST', '/device', undefined, { raw: new URLSearchParams({ csrf, user_code: grant.user_code, action: 'approve' }).toString(), headers: { origin: 'https://accounts.example.org', 'content-type': 'application/x-www-form-urlencoded' } });
    t.is(signedOut.status, 303, 'signed out: to sign-in, nothing decided');
    t.is(oauthError(await pollDevice(td.url, grant.device_code)), 'slow_down', 'still pending (polled again at once)');
  });

  test('an attacker guessing user codes in parallel from one browser session gets 20 checked, then nothing, not even a right code', async (t) => {
    const attacker = await activeAccount(td, identity('devguess'));
    const victim = await newCode();
    const wrong = (i: number) => `QQQQ-${'BCDFGHJKLMNPQRSTVWXZ'[i % 20]}${'BCDFGHJKLMNPQRSTVWXZ'[Math.floor(i / 20) % 20]}ZZ`;
    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => decide(td, attacker.token, wrong(i), 'approve', '198.51.100.7')));
    t.is(outcomes.filter((outcome) => outcome === 'unknown').length, 20);
    t.is(outcomes.filter((outcome) => outcome === 'rate_limited').length, 20);
    t.is(await decide(td, attacker.token, victim.user_code, 'approve', '198.51.100.7'), 'rate_limited');
    t.is(oauthError(await pollDevice(td.url, victim.device_code)), 'authorization_pending', 'the victim\'s code is untouched');
    // Right codes do not count: a person approving their own codes is never held.
    const owner = await activeAccount(td, identity('devown'));
    for (let i = 0; i < 25; i++) t.is(await decide(td, owner.token, (await newCode()).user_code, 'lookup', '198.51.100.8'), 'ok');
  });

  test('100 wrong user codes an hour from one address, across sessions, then none is checked', async (t) => {
    const address = '203.0.113.9';
    const who = identity('devaddr');
    await activeAccount(td, who);
    const sessions = await Promise.all(
      Array.from({ length: 6 }, async () => (await api(td.url, 'POST', '/v1/sessions', { email: who.email, password: who.password })).json.token as string),
    );
    const outcomes: string[] = [];
    for (const [index, token] of sessions.slice(0, 5).entries()) {
      outcomes.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => decide(td, token, `ZZZZ-${'BCDFGHJKLMNPQRSTVWXZ'[i]}${'BCDFG'[index]}ZZ`, 'lookup', address)))));
    }
    t.is(outcomes.filter((outcome) => outcome === 'unknown').length, 100);
    const fresh = await newCode();
    t.is(await decide(td, sessions[5]!, fresh.user_code, 'approve', address), 'rate_limited', 'a sixth session from the same address');
    t.is(await decide(td, sessions[5]!, fresh.user_code, 'approve', '203.0.113.10'), 'ok', 'another address is not held');
  });
});

test('asking for device codes is limited per address (60 an hour by default), answered as an OAuth error with Retry-After', async (t) => {
  const td = await startTestDaemon({ limits: { deviceCodesPerAddressPerHour: 3 } });
  t.teardown(() => td.close());
  for (let i = 0; i < 3; i++) t.is((await startDevice(td.url)).status, 200);
  const refused = await startDevice(td.url);
  t.is(refused.status, 429);
  t.is(refused.json.error, 'rate_limited');
  t.true(Number(refused.headers['retry-after']) > 0);
  t.is((await startDevice(td.url, undefined, { from: '127.0.0.2' })).status, 200, 'another address is not held');
});
