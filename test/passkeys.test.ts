// Passkeys over HTTP on both databases, with a software authenticator (test/helpers/
// soft-authenticator.ts) where the browser tests use Chromium's: the management API
// (`GET /v1/me/passkeys`, `DELETE /v1/me/passkeys/{id}` with the password and code again), the
// events and notice mails, and what only a forged authenticator can show: a counter that goes
// backwards, a synced passkey's 0, no user verification, an answer for another origin or RP id, a
// passkey sign-in on an account with two-factor on (no code asked).
import test from 'ava';
import { request } from 'undici';
import { leavesAWayIn } from '../server/passkeys/store.js';
import { activeAccount, identity, outboxSettled, type TestDaemon, startTestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { api, checkAgainstDocument } from './helpers/http.js';
import { cliUser } from './helpers/cli.js';
import { CeremonyClient, PASSKEY_ADDED_SUBJECT, PASSKEY_REMOVED_SUBJECT } from './helpers/passkeys.js';
import { FLAGS, SoftAuthenticator } from './helpers/soft-authenticator.js';
import { enableTwoFactor, eventTypes } from './helpers/two-factor.js';
import { WebClient } from './helpers/web.js';

const POSTGRES_KEY = '7a'.repeat(32);

/** JSON to a page's ceremony endpoint, as the page's script sends it (the browser's cookies and Origin). */
async function postJson(web: WebClient, path: string, body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await request(new URL(path, web.base), { method: 'POST', headers: { 'content-type': 'application/json', origin: web.origin, cookie: web.cookieHeader() }, body: JSON.stringify(body) });
  const text = await response.body.text();
  const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  checkAgainstDocument('POST', path, { status: response.statusCode, headers: response.headers, text, json });
  return { status: response.statusCode, json };
}

forEachDatabase((test, db) => {
  let td: TestDaemon;
  test.before(async () => {
    td = await startTestDaemon({ env: { ...(await db.env()), ...(db.dialect === 'postgres' ? { TOTP_ENCRYPTION_KEY: POSTGRES_KEY } : {}) }, limits: { loginFailuresPerAddressPerHour: 100_000 } });
  });
  test.after.always(async () => td?.close());

  /** Signs in on /login and adds a passkey from `authenticator` on /account; its id. */
  async function addPasskey(who: { email: string; password: string; code?: string }, authenticator: SoftAuthenticator, name?: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const web = new WebClient(td.url);
    const login = await web.submit('/login', '/login', { email: who.email, password: who.password });
    if (login.status === 200 && who.code) {
      const challenge = /name="challenge" value="([^"]+)"/.exec(login.text)![1]!;
      await web.post('/login', { csrf: /name="csrf" value="([^"]+)"/.exec(login.text)![1]!, challenge, code: who.code });
    }
    const account = await web.get('/account');
    const tokens = { options: /data-options-csrf="([^"]+)"/.exec(account.text)?.[1] ?? '', verify: /data-verify-csrf="([^"]+)"/.exec(account.text)?.[1] ?? '' };
    const options = await postJson(web, '/account/passkeys/options', { csrf: tokens.options });
    if (options.status !== 200) return options;
    return postJson(web, '/account/passkeys', { csrf: tokens.verify, response: authenticator.register(options.json as never), ...(name ? { name } : {}) });
  }

  /** A passkey sign-in on /login from another browser; the answer, and the session cookie it set. */
  async function signIn(authenticator: SoftAuthenticator, overrides: Parameters<SoftAuthenticator['assert']>[1] = {}) {
    const client = new CeremonyClient(td.url);
    await client.openLogin();
    const options = await client.post('/login/passkey/options', { csrf: client.tokens.options });
    const answer = await client.post('/login/passkey', { csrf: client.tokens.verify, response: authenticator.assert(options.json as never, overrides), next: '/device' });
    return { ...answer, session: answer.setCookies.find((line) => line.startsWith('taskmaster_session=tm_')) };
  }

  const list = async (token: string) => ((await api(td.url, 'GET', '/v1/me/passkeys', undefined, { token })).json as { passkeys: { id: string; name: string; createdAt: string; lastUsedAt: string | null }[] }).passkeys;

  test('GET /v1/me/passkeys lists what was added (never a key), newest first; adding one writes passkey_added and mails a notice', async (t) => {
    const account = await activeAccount(td, identity('pkapi'));
    t.deepEqual(await list(account.token), []);
    const first = new SoftAuthenticator(td.url);
    const added = await addPasskey(account, first, 'YubiKey');
    t.is(added.status, 201, JSON.stringify(added.json));
    t.is(added.json.location, '/account?done=passkey_added#passkeys');
    t.is((await addPasskey(account, new SoftAuthenticator(td.url))).status, 201);
    const passkeys = await list(account.token);
    t.deepEqual(passkeys.map((passkey) => passkey.name), ['Passkey 2', 'YubiKey'], 'newest first; a default name when none is given');
    t.deepEqual(Object.keys(passkeys[0]!).sort(), ['createdAt', 'id', 'lastUsedAt', 'name']);
    t.true((await eventTypes(td.url, account.token)).includes('passkey_added'));
    const mail = await td.smtp.waitFor((m) => m.to === account.email && PASSKEY_ADDED_SUBJECT.test(m.subject) && /YubiKey/.test(m.subject));
    t.regex(mail.text, /taskmaster passkeys remove/);
    // The same authenticator again: excluded by the options, and refused if it answers anyway.
    const again = await addPasskey(account, first);
    t.is(again.status, 401);
    t.regex(String(again.json.detail), /registered already/);
    // The list needs a session: an access token cannot see it.
    t.is((await api(td.url, 'GET', '/v1/me/passkeys')).status, 401);
  });

  test('DELETE /v1/me/passkeys/{id} needs the password again; then the passkey no longer signs in, passkey_removed and a notice mail', async (t) => {
    const account = await activeAccount(td, identity('pkdel'));
    const authenticator = new SoftAuthenticator(td.url);
    await addPasskey(account, authenticator, 'Old key');
    const [passkey] = await list(account.token);
    const path = `/v1/me/passkeys/${passkey!.id}`;
    const bare = await api(td.url, 'DELETE', path, {}, { token: account.token });
    t.is(bare.status, 400);
    t.truthy((bare.json as { errors: Record<string, string> }).errors.currentPassword);
    const wrong = await api(td.url, 'DELETE', path, { currentPassword: 'not the password' }, { token: account.token });
    t.is(wrong.status, 403);
    t.is((wrong.json as { code: string }).code, 'wrong_password');
    t.is((await list(account.token)).length, 1, 'still there');
    const stranger = await activeAccount(td, identity('pkdelx'));
    t.is((await api(td.url, 'DELETE', path, { currentPassword: stranger.password }, { token: stranger.token })).status, 404, 'another account\'s passkey is as unknown as a made-up one');
    t.is((await api(td.url, 'DELETE', path, { currentPassword: account.password }, { token: account.token })).status, 204, 'the last passkey goes: the password is still a way in');
    t.deepEqual(await list(account.token), []);
    t.is((await api(td.url, 'DELETE', path, { currentPassword: account.password }, { token: account.token })).status, 404);
    t.true((await eventTypes(td.url, account.token)).includes('passkey_removed'));
    await td.smtp.waitFor((m) => m.to === account.email && PASSKEY_REMOVED_SUBJECT.test(m.subject) && /Old key/.test(m.subject));
    const refused = await signIn(authenticator);
    t.is(refused.status, 401);
    t.regex(String(refused.json.detail), /not registered here/);
  });

  test('with two-factor on, removing asks the code too; a passkey sign-in asks no code (it counts as both factors)', async (t) => {
    const account = await enableTwoFactor(td.url, await activeAccount(td, identity('pk2fa')));
    const authenticator = new SoftAuthenticator(td.url);
    t.is((await addPasskey({ ...account, code: account.recoveryCodes[0]! }, authenticator)).status, 201);
    const signedIn = await signIn(authenticator);
    t.is(signedIn.status, 200, JSON.stringify(signedIn.json));
    t.is(signedIn.json.location, '/device', '`next` kept');
    t.truthy(signedIn.session, 'a session, no code asked');
    const [passkey] = await list(account.token);
    const path = `/v1/me/passkeys/${passkey!.id}`;
    const noCode = await api(td.url, 'DELETE', path, { currentPassword: account.password }, { token: account.token });
    t.is((noCode.json as { code: string }).code, 'otp_required');
    const wrongCode = await api(td.url, 'DELETE', path, { currentPassword: account.password, code: '000000' }, { token: account.token });
    t.is((wrongCode.json as { code: string }).code, 'invalid_code');
    t.is((await api(td.url, 'DELETE', path, { currentPassword: account.password, code: account.recoveryCodes[1]! }, { token: account.token })).status, 204);
  });

  test('counters: a key that counts must count up (a clone or a replay is refused); a synced passkey\'s 0 stays accepted', async (t) => {
    const account = await activeAccount(td, identity('pkcount'));
    const key = new SoftAuthenticator(td.url);
    await addPasskey(account, key);
    t.is((await signIn(key, { counter: 5 })).status, 200);
    const same = await signIn(key, { counter: 5 });
    t.is(same.status, 401);
    t.regex(String(same.json.detail), /counter/i);
    t.is((await signIn(key, { counter: 3 })).status, 401, 'backwards');
    t.is((await signIn(key, { counter: 0 })).status, 401, 'back to 0 once it counted');
    t.is((await signIn(key, { counter: 6 })).status, 200);
    const failed = (await eventTypes(td.url, account.token)).filter((type) => type === 'login_failed').length;
    t.is(failed, 3, 'each refused answer is a failed login');

    const synced = new SoftAuthenticator(td.url, 0);
    await addPasskey(account, synced);
    t.is((await signIn(synced)).status, 200);
    t.is((await signIn(synced)).status, 200, '0 and 0 again: allowed by the spec');
  });

  test('an answer without user verification, or made for another origin or RP id, is refused', async (t) => {
    const account = await activeAccount(td, identity('pkforge'));
    const key = new SoftAuthenticator(td.url);
    const register = await addPasskey(account, key);
    t.is(register.status, 201);
    t.regex(String((await signIn(key, { flags: FLAGS.UP })).json.detail), /[Uu]ser verification/);
    t.regex(String((await signIn(key, { origin: 'https://evil.example' })).json.detail), /origin/i);
    t.regex(String((await signIn(key, { rpId: 'evil.example' })).json.detail), /RP ID/i);
    t.is((await signIn(key)).status, 200, 'the same passkey, answered properly');
    // Registration without user verification is refused too.
    const lazy = new SoftAuthenticator(td.url);
    const web = new WebClient(td.url);
    await web.submit('/login', '/login', { email: account.email, password: account.password });
    const page = (await web.get('/account')).text;
    const options = await postJson(web, '/account/passkeys/options', { csrf: /data-options-csrf="([^"]+)"/.exec(page)![1]! });
    const refused = await postJson(web, '/account/passkeys', { csrf: /data-verify-csrf="([^"]+)"/.exec(page)![1]!, response: lazy.register(options.json as never, { flags: FLAGS.UP }) });
    t.is(refused.status, 401);
    t.regex(String(refused.json.detail), /[Uu]ser verification/);
    await outboxSettled(td);
  });

  test('the CLI: `passkeys` lists, `passkeys remove ID` asks the password again, `passkeys add` prints the page', async (t) => {
    const user = await cliUser(td.url);
    const account = await activeAccount(td, identity('pkcli'));
    t.is((await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${account.password}\n` })).code, 0);
    const none = await user.run(['passkeys']);
    t.is(none.code, 0);
    t.regex(none.stderr, /No passkeys/);
    await addPasskey(account, new SoftAuthenticator(td.url), 'Work laptop');
    const listed = await user.run(['passkeys', '--json']);
    const [passkey] = JSON.parse(listed.stdout).passkeys as { id: string; name: string }[];
    t.is(passkey!.name, 'Work laptop');
    t.regex((await user.run(['passkeys'])).stdout, /Work laptop/);
    const wrong = await user.run(['passkeys', 'remove', passkey!.id.slice(0, 8), '--password-stdin'], { input: 'not the password\n' });
    t.not(wrong.code, 0);
    t.regex(wrong.stderr, /not the password of this account: the passkey stays/);
    const unknown = await user.run(['passkeys', 'remove', 'ffffffff', '--password-stdin'], { input: `${account.password}\n` });
    t.regex(unknown.stderr, /No passkey of yours has this id/);
    const removed = await user.run(['passkeys', 'remove', passkey!.id.slice(0, 8), '--password-stdin'], { input: `${account.password}\n` });
    t.is(removed.code, 0, removed.stderr);
    t.regex(removed.stderr, /Removed the passkey "Work laptop"/);
    t.deepEqual(await list(account.token), []);
    const add = await user.run(['passkeys', 'add', '--no-browser']);
    t.is(add.code, 0);
    t.regex(add.stderr, new RegExp(`${td.url.replace(/[.]/g, '\\.')}/account#passkeys`));
  });

  test('the last way in stays: a passkey is removable while a password or another passkey remains', (t) => {
    t.true(leavesAWayIn({ password_hash: '$2b$04$abcdefghijklmnopqrstuuS5u1i8n2rXq7yQm5bQ9yq0y4c4m0bDy' }, 1));
    t.false(leavesAWayIn({ password_hash: '' }, 1), 'no password and the last passkey: refused');
    t.true(leavesAWayIn({ password_hash: '' }, 2));
  });
});

forEachDatabase((test, db) => {
  test('passkey sign-in challenges are limited per address: past the limit, 429 with Retry-After and no new row (each is a row until it expires)', async (t) => {
    const td = await startTestDaemon({ env: { ...(await db.env()), ...(db.dialect === 'postgres' ? { TOTP_ENCRYPTION_KEY: POSTGRES_KEY } : {}) }, limits: { passkeyChallengesPerAddressPerHour: 3 } });
    t.teardown(() => td.close());
    const client = new CeremonyClient(td.url);
    await client.openLogin();
    for (let i = 0; i < 3; i++) t.is((await client.post('/login/passkey/options', { csrf: client.tokens.options })).status, 200, `challenge ${i + 1}`);
    const rows = async () => Number((await td.daemon.db.knex('webauthn_challenges').count({ n: '*' }).first())?.n ?? 0);
    t.is(await rows(), 3);
    const refused = await client.post('/login/passkey/options', { csrf: client.tokens.options });
    t.is(refused.status, 429, JSON.stringify(refused.json));
    t.is(refused.json.code, 'rate_limited');
    t.true(Number(refused.headers['retry-after']) > 0);
    t.is(await rows(), 3, 'no row for the refused one');
  });
});
