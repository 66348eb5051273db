// Access tokens for scripts and CI (issue 16; ../shared/contract.md, "Milestone 3 additions", "Access
// tokens for scripts and CI"), as a CI user and as an attacker meet them: the real daemon, the real
// SMTP receiver, SQLite and PostgreSQL. What several daemons on one database do is in
// tokens-daemons.test.ts.
//
// Most tests share one daemon per dialect whose clock stands still (so a cache entry never ages
// out under a test that counts queries); a test that moves the clock starts a daemon of its own.
// Tests marked serial either compare whole database dumps or count on no invalidation arriving
// while they read a token (see CredentialCache in server/sessions/cache.ts): ava runs them before
// the concurrent ones, alone.
import { crc32 as zlibCrc32 } from 'node:zlib';
import type { ExecutionContext } from 'ava';
import type { AccessTokenInfo } from '../server/contract/api.js';
import {
  TOKEN_SHAPE,
  checksumOf,
  crc32Ieee,
  createToken,
  flat,
  isProblem,
  listTokens,
  mailTime,
  me,
  postToken,
  sha256,
  shown,
  tokenName,
  unchecked,
  wellFormedToken,
  withWrongChecksum,
  type TokenBody,
} from './helpers/access-tokens.js';
import { activeAccount, identity, outboxSettled, queriesAbout, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { dumpDatabase } from './helpers/dump.js';
import { api, type Reply } from './helpers/http.js';
import { requestReset } from './helpers/reset-mail.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const BOTH = ['account:read', 'account:write'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NIL_ID = '00000000-0000-4000-8000-000000000000';
const NEW_PASSWORD = 'lantern-orchard-violet-98-quartz';
const OTHER_PASSWORD = 'glacier-tambourine-sparrow-61';
/** The codes with which the daemon refuses a credential, as opposed to what a route answers once it let the caller in. */
const AUTH_CODES = new Set(['unauthenticated', 'session_required', 'insufficient_scope', 'address_not_allowed']);
const iso = (ms: number) => new Date(ms).toISOString();
const insufficientScope = (scope: string) => `Bearer error="insufficient_scope", scope="${scope}"`;

/** Everything the daemon stored but its throttle counters (a wrong password is rightly counted there). */
const snapshot = (td: TestDaemon) => dumpDatabase(td.daemon.db, { except: ['rate_limits'] });

/** Asserts `reply` is 401 unauthenticated with `WWW-Authenticate: Bearer`. */
function refused401(t: ExecutionContext, reply: Reply, label: string): void {
  t.true(isProblem(reply, 401, 'unauthenticated'), `${label}: ${shown(reply)}`);
  t.is(reply.headers['www-authenticate'], 'Bearer', `${label}: WWW-Authenticate`);
}

forEachDatabase((test, db) => {
  let td: TestDaemon;
  const now = Date.now();
  test.before(async () => {
    td = await startTestDaemon({ clock: () => now, env: await db.env() });
  });
  test.after.always(async () => td?.close());

  /** A daemon of the test's own, on a fresh database, whose clock the test moves. */
  async function ownDaemon(t: ExecutionContext, env: Record<string, string> = {}, start = Date.parse('2030-06-01T12:00:00.000Z')) {
    const clock = { now: start };
    const own = await startTestDaemon({ clock: () => clock.now, env: { ...(await db.env()), ...env } });
    t.teardown(() => own.close());
    return { own, clock };
  }

  // ---- 1. creating ------------------------------------------------------------------------------

  test('a new token is tmp_, 30 random characters and the base-62 CRC-32 of them; prefix is its first 8 characters; the list never shows more', async (t) => {
    const account = await activeAccount(td, identity('create'));
    const name = tokenName('deploy');
    const reply = await postToken(td, account, { name, scopes: ['account:read'], expiresInDays: 30, allowedCidrs: ['203.0.113.0/24', '2001:db8::/32'] });
    t.is(reply.status, 201, shown(reply));
    t.deepEqual(Object.keys(reply.json).sort(), ['accessToken', 'token']);
    const token: string = reply.json.token;
    const shape = TOKEN_SHAPE.exec(token);
    t.truthy(shape, `the shape: ${token}`);
    const [, random, checksum] = shape!;
    t.is(crc32Ieee(random!), zlibCrc32(random!), "the test's own CRC-32 agrees with zlib's");
    t.is(checksum, checksumOf(random!), 'the last 6 characters are the CRC-32 of the 30 before them, in base 62, padded with 0');
    const info: AccessTokenInfo = reply.json.accessToken;
    t.regex(info.id, UUID);
    t.deepEqual(info, {
      id: info.id,
      name,
      scopes: ['account:read'],
      createdAt: iso(now),
      expiresAt: iso(now + 30 * DAY),
      lastUsedAt: null,
      lastUsedAddress: null,
      allowedCidrs: ['203.0.113.0/24', '2001:db8::/32'],
      prefix: token.slice(0, 8),
    });

    const listReply = await api(td.url, 'GET', '/v1/tokens', undefined, { token: account.token });
    t.deepEqual(listReply.json.accessTokens, [info], 'the list shows what the answer showed');
    for (const part of [token, token.slice(4), token.slice(8), sha256(token)]) t.false(listReply.text.includes(part), 'no more of the token than its prefix, nor its hash');

    // A few more: each has a checksum that verifies, and they differ from the first characters on.
    const more = await Promise.all([1, 2, 3, 4].map(() => createToken(td, account, { scopes: ['account:read'] })));
    for (const { token: other } of more) {
      const [, r, c] = TOKEN_SHAPE.exec(other)!;
      t.is(c, checksumOf(r!), other);
    }
    t.is(new Set([token, ...more.map((m) => m.token)].map((x) => x.slice(4, 14))).size, 5, 'random from the first character after tmp_');
  });

  test('only the SHA-256 of a token is stored: a dump of every table holds neither the token nor its random part beyond the prefix', async (t) => {
    const account = await activeAccount(td, identity('stored'));
    const { token, info } = await createToken(td, account);
    t.is((await me(td.url, token)).status, 200, 'used once, so last_used_* are written too');
    await outboxSettled(td);
    const dump = await dumpDatabase(td.daemon.db);
    t.false(dump.includes(token), 'not the token');
    t.false(dump.includes(token.slice(4)), 'not the token without tmp_');
    t.false(dump.includes(token.slice(8)), 'nothing after the 8-character prefix');
    t.true(dump.includes(sha256(token)), 'its SHA-256 is there');
    const row = await td.daemon.db.knex('access_tokens').where('id', info.id).first();
    t.is(row.token_hash, sha256(token));
    t.is(row.prefix, token.slice(0, 8));
  });

  test('a notice mail tells the owner what was created: name, scopes, expiry, ranges and where from; never the token', async (t) => {
    const account = await activeAccount(td, identity('notice'));
    const name = tokenName('nightly');
    const { token, info } = await createToken(td, account, { name, scopes: ['account:read'], expiresInDays: 45, allowedCidrs: ['198.51.100.0/24'] });
    const mail = await td.smtp.waitFor((m) => m.to === account.email && m.subject.includes(name));
    const text = flat(mail.text);
    t.regex(mail.subject, /access token/i);
    t.true(text.includes(`"${name}"`), text);
    t.true(text.includes('account:read'), 'the scope it has');
    t.false(text.includes('account:write'), 'not one it lacks');
    t.true(text.includes(mailTime(info.expiresAt)), `the expiry ${mailTime(info.expiresAt)}: ${text}`);
    t.true(text.includes('198.51.100.0/24'), 'the range');
    t.true(text.includes('127.0.0.1'), 'where it was created from');
    t.regex(text, /taskmaster token revoke/, 'what to do if it was not the owner');
    for (const part of [token, token.slice(4), token.slice(8)]) t.false(mail.raw.includes(part), 'the token is in the answer only');
    await outboxSettled(td);
    t.is(td.smtp.mailsTo(account.email).filter((m) => m.subject.includes(name)).length, 1, 'one mail');
  });

  test.serial('creating needs a session and the password: a wrong one is 403 wrong_password with no token, and nothing is stored or mailed', async (t) => {
    const account = await activeAccount(td, identity('wrongpw'));
    await outboxSettled(td);
    const before = await snapshot(td);

    const wrong = await postToken(td, account, { currentPassword: `${account.password}-not` });
    t.true(isProblem(wrong, 403, 'wrong_password'), shown(wrong));
    t.truthy(wrong.json.errors?.currentPassword);
    t.false(wrong.text.includes('tmp_'), 'no token in the answer');
    const missing = await postToken(td, account, { currentPassword: undefined });
    t.true(isProblem(missing, 400, 'invalid_input'), shown(missing));
    t.truthy(missing.json.errors?.currentPassword, 'the password is required');
    const anonymous = await api(td.url, 'POST', '/v1/tokens', { name: 'x', scopes: BOTH, expiresInDays: 30, currentPassword: account.password });
    refused401(t, anonymous, 'no session');

    t.is(await snapshot(td), before, 'no token row, no mail queued, no event');
    t.deepEqual(await listTokens(td.url, account.token), []);
  });

  test('the expiry is 1–366 whole days and always given; scopes a non-empty list of known ones; a name 1–64 printable characters: anything else is 400 naming the field, and nothing is created', async (t) => {
    const account = await activeAccount(td, identity('invalid'));
    const cases: [string, TokenBody, string][] = [
      ['no expiry', { expiresInDays: undefined }, 'expiresInDays'],
      ['0 days', { expiresInDays: 0 }, 'expiresInDays'],
      ['-1 days', { expiresInDays: -1 }, 'expiresInDays'],
      ['367 days', { expiresInDays: 367 }, 'expiresInDays'],
      ['a million days', { expiresInDays: 1_000_000 }, 'expiresInDays'],
      ['1.5 days', { expiresInDays: 1.5 }, 'expiresInDays'],
      ['"30" as a string', { expiresInDays: '30' }, 'expiresInDays'],
      ['null days', { expiresInDays: null }, 'expiresInDays'],
      ['no scopes field', { scopes: undefined }, 'scopes'],
      ['empty scopes', { scopes: [] }, 'scopes'],
      ['an unknown scope', { scopes: ['admin'] }, 'scopes'],
      ['a known and an unknown scope', { scopes: ['account:read', 'account:delete'] }, 'scopes'],
      ['a scope in capitals', { scopes: ['ACCOUNT:READ'] }, 'scopes'],
      ['a wildcard scope', { scopes: ['account:*'] }, 'scopes'],
      ['a scope with a space', { scopes: ['account:read '] }, 'scopes'],
      ['scopes as a string', { scopes: 'account:read' }, 'scopes'],
      ['scopes as a space-separated string', { scopes: 'account:read account:write' }, 'scopes'],
      ['a null scope', { scopes: [null] }, 'scopes'],
      ['no name', { name: undefined }, 'name'],
      ['an empty name', { name: '' }, 'name'],
      ['a blank name', { name: '   ' }, 'name'],
      ['a 65-character name', { name: 'n'.repeat(65) }, 'name'],
      ['a 10 KB name', { name: 'n'.repeat(10_240) }, 'name'],
      ['a name with a newline', { name: 'ci\nBcc: evil@example.com' }, 'name'],
      ['a name with NUL', { name: 'ci\u0000' }, 'name'],
      ['a name that is a number', { name: 42 }, 'name'],
    ];
    for (const [label, body, field] of cases) {
      const reply = await postToken(td, account, body);
      t.true(isProblem(reply, 400, 'invalid_input'), `${label}: ${shown(reply)}`);
      t.truthy(reply.json?.errors?.[field], `${label}: names ${field}: ${reply.text.slice(0, 200)}`);
    }
    t.deepEqual(await listTokens(td.url, account.token), [], 'nothing was created');

    for (const days of [1, 366]) {
      const { info } = await createToken(td, account, { expiresInDays: days });
      t.is(Date.parse(info.expiresAt) - Date.parse(info.createdAt), days * DAY, `${days} days is fine`);
    }
    const long = await createToken(td, account, { name: 'n'.repeat(64) });
    t.is(long.info.name, 'n'.repeat(64), 'a 64-character name is fine');
    const twice = await createToken(td, account, { scopes: ['account:read', 'account:read'] });
    t.deepEqual(twice.info.scopes, ['account:read'], 'a scope given twice is kept once');
  });

  test('a name already used by a live token is 400 naming `name` (surrounding spaces aside); another account, or a revoked token, leaves it free', async (t) => {
    const account = await activeAccount(td, identity('dupname'));
    const name = tokenName('deploy');
    const first = await createToken(td, account, { name });
    for (const taken of [name, `  ${name}  `]) {
      const reply = await postToken(td, account, { name: taken });
      t.true(isProblem(reply, 400, 'invalid_input'), shown(reply));
      t.true(String(reply.json.errors?.name).includes(name), `the error names the name: ${reply.text}`);
    }
    t.deepEqual((await listTokens(td.url, account.token)).map((x) => x.id), [first.info.id]);
    t.is((await me(td.url, first.token)).status, 200, 'the first token is untouched');

    const other = await activeAccount(td, identity('dupother'));
    t.is((await postToken(td, other, { name })).status, 201, 'another account may use the same name');

    t.is((await api(td.url, 'DELETE', `/v1/tokens/${first.info.id}`, undefined, { token: account.token })).status, 204);
    t.is((await postToken(td, account, { name })).status, 201, 'a revoked token leaves its name free');
  });

  test('six creations at once with one name: exactly one token, the others 400 naming `name`, never a 5xx', async (t) => {
    const account = await activeAccount(td, identity('race'));
    const name = tokenName('race');
    const replies = await Promise.all(Array.from({ length: 6 }, () => postToken(td, account, { name })));
    t.deepEqual(replies.map((r) => r.status).sort(), [201, 400, 400, 400, 400, 400], replies.map(shown).join('\n'));
    for (const reply of replies.filter((r) => r.status === 400)) t.truthy(reply.json.errors?.name);
    t.is((await listTokens(td.url, account.token)).length, 1);
  });

  test("an expired token's name can be used again: the new token replaces the expired one", async (t) => {
    const { own, clock } = await ownDaemon(t);
    const account = await activeAccount(own, identity('reuse'));
    const name = 'nightly-build';
    const old = await createToken(own, account, { name, expiresInDays: 1 });
    clock.now += DAY - 1;
    const early = await postToken(own, account, { name });
    t.true(isProblem(early, 400, 'invalid_input') && Boolean(early.json.errors?.name), `a millisecond before it expires the name is taken: ${shown(early)}`);
    clock.now += 1;
    refused401(t, await me(own.url, old.token), 'the old token at its expiry');
    const fresh = await postToken(own, account, { name });
    t.is(fresh.status, 201, shown(fresh));
    t.is((await me(own.url, fresh.json.token)).status, 200);
    refused401(t, await me(own.url, old.token), 'the old token after the new one');
    t.deepEqual(
      (await listTokens(own.url, account.token)).filter((x) => x.name === name).map((x) => x.id),
      [fresh.json.accessToken.id],
      'one token of that name: the new one',
    );
  });

  // ---- 3. addresses ---------------------------------------------------------------------------

  test('hostile address ranges are 400 naming allowedCidrs, never a 5xx, and create nothing; 20 ranges are fine', async (t) => {
    const account = await activeAccount(td, identity('cidr'));
    const hostile: [string, unknown][] = [
      ['0.0.0.0/0 (everything)', ['0.0.0.0/0']],
      ['::/0 (everything)', ['::/0']],
      ['0:0:0:0:0:0:0:0/0 (everything, spelled out)', ['0:0:0:0:0:0:0:0/0']],
      ['a good range beside 0.0.0.0/0', ['203.0.113.0/24', '0.0.0.0/0']],
      ['10.0.0.0/33', ['10.0.0.0/33']],
      ['2001:db8::/129', ['2001:db8::/129']],
      ['300.1.2.3/8', ['300.1.2.3/8']],
      ['10.0.0.0/-1', ['10.0.0.0/-1']],
      ['10.0.0.0/ (no length)', ['10.0.0.0/']],
      ['/8 (no address)', ['/8']],
      ['10.0.0.0/8/8', ['10.0.0.0/8/8']],
      ["'localhost'", ['localhost']],
      ["''", ['']],
      ['10 KB', ['1'.repeat(10_240)]],
      ['SQL', ["203.0.113.0/24'; DROP TABLE access_tokens; --"]],
      ['NUL', ['203.0.113.0/24\u0000']],
      ['21 ranges', Array.from({ length: 21 }, (_, i) => `10.${i}.0.0/16`)],
      ['a string, not a list', '10.0.0.0/8'],
      ['an object', { cidr: '10.0.0.0/8' }],
      ['a number', 10],
      ['a list of numbers', [10]],
      ['a nested list', [['10.0.0.0/8']]],
    ];
    for (const [label, allowedCidrs] of hostile) {
      const reply = await postToken(td, account, { allowedCidrs });
      t.true(reply.status < 500, `${label}: ${shown(reply)}`);
      t.true(isProblem(reply, 400, 'invalid_input'), `${label}: ${shown(reply)}`);
      t.truthy(reply.json?.errors?.allowedCidrs, `${label}: names allowedCidrs: ${reply.text.slice(0, 200)}`);
    }
    t.deepEqual(await listTokens(td.url, account.token), [], 'nothing was created');
    const twenty = Array.from({ length: 20 }, (_, i) => `10.${i}.0.0/16`);
    t.deepEqual((await createToken(td, account, { allowedCidrs: twenty })).info.allowedCidrs, twenty);
  });

  test('without TRUST_PROXY, X-Forwarded-For is not believed: a forged one neither opens a fenced token nor closes an open one', async (t) => {
    const account = await activeAccount(td, identity('forged'));
    const fenced = await createToken(td, account, { allowedCidrs: ['203.0.113.0/24'] });
    const forged = await me(td.url, fenced.token, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    t.true(isProblem(forged, 403, 'address_not_allowed'), shown(forged));
    const local = await createToken(td, account, { allowedCidrs: ['127.0.0.1/32'] });
    t.is((await me(td.url, local.token, { headers: { 'x-forwarded-for': '198.51.100.1' } })).status, 200, 'the socket address is the address');
    t.true(isProblem(await me(td.url, local.token, { from: '127.0.0.2' }), 403, 'address_not_allowed'), 'another loopback address is another client');
    t.is((await listTokens(td.url, account.token)).find((x) => x.id === local.info.id)?.lastUsedAddress, '127.0.0.1');
  });

  test('with TRUST_PROXY=1 the address is what the proxy reports: IPv4 and IPv6 ranges, an IPv4-mapped client; an entry the client wrote before the proxy\'s does not help', async (t) => {
    const { own } = await ownDaemon(t, { TRUST_PROXY: '1' });
    const account = await activeAccount(own, identity('proxied'));
    const { token } = await createToken(own, account, { allowedCidrs: ['203.0.113.0/24', '2001:db8::/32'] });
    const cases: [string | undefined, boolean][] = [
      ['203.0.113.7', true],
      ['203.0.113.255', true],
      ['203.0.114.1', false],
      ['198.51.100.1', false],
      ['2001:db8::1', true],
      ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', true],
      ['2001:db9::1', false],
      ['2001:db7:ffff::1', false],
      ['::ffff:203.0.113.7', true],
      ['::ffff:198.51.100.1', false],
      ['203.0.113.7, 198.51.100.1', false], // the client wrote the first entry; the proxy appended the real one
      ['198.51.100.1, 203.0.113.7', true],
      ['not-an-address', false],
      [undefined, false], // no header: the socket's 127.0.0.1
    ];
    for (const [forwarded, allowed] of cases) {
      const reply = await me(own.url, token, forwarded === undefined ? {} : { headers: { 'x-forwarded-for': forwarded } });
      if (allowed) t.is(reply.status, 200, `${forwarded}: ${shown(reply)}`);
      else t.true(isProblem(reply, 403, 'address_not_allowed'), `${forwarded}: ${shown(reply)}`);
    }
    const listed = (await listTokens(own.url, account.token)).find((x) => x.allowedCidrs !== null)!;
    t.true(['203.0.113.7', '2001:db8::1', '::ffff:203.0.113.7'].includes(String(listed.lastUsedAddress)), `lastUsedAddress is a proxied client: ${listed.lastUsedAddress}`);

    // One address, written bare, is that address alone.
    const single = await createToken(own, account, { allowedCidrs: ['2001:db8::7'] });
    t.is((await me(own.url, single.token, { headers: { 'x-forwarded-for': '2001:db8::7' } })).status, 200);
    t.true(isProblem(await me(own.url, single.token, { headers: { 'x-forwarded-for': '2001:db8::8' } }), 403, 'address_not_allowed'));
  });

  // The contract is silent on ranges written as IPv4-mapped IPv6; the daemon compares a mapped
  // client as the IPv4 address it is, so a mapped range must either cover those IPv4 clients or be
  // refused when the token is made: a CI user must never get a token that no address can use.
  test('a range written as IPv4-mapped IPv6 (::ffff:203.0.113.0/120) covers 203.0.113.7, or is refused at creation', async (t) => {
    const { own } = await ownDaemon(t, { TRUST_PROXY: '1' });
    const account = await activeAccount(own, identity('mapped'));
    const reply = await postToken(own, account, { allowedCidrs: ['::ffff:203.0.113.0/120'] });
    if (reply.status === 400) {
      t.truthy(reply.json.errors?.allowedCidrs);
      return;
    }
    t.is(reply.status, 201, shown(reply));
    for (const client of ['203.0.113.7', '::ffff:203.0.113.7']) {
      const used = await me(own.url, reply.json.token, { headers: { 'x-forwarded-for': client } });
      t.is(used.status, 200, `created with ${JSON.stringify(reply.json.accessToken.allowedCidrs)}, used from ${client}: ${shown(used)}`);
    }
  });

  // ---- 2. enforcement, every operation × every credential -----------------------------------

  // The operations come from the document the daemon serves, so a route added later is in this
  // table without anyone remembering to add it. What each one needs is read from its `security`,
  // and that is held to the contract first: the scopes it lists, the public routes there were
  // before tokens, and a session for everything else.
  //
  // Bodies: an operation with a request body gets `{}`, its path parameters a made-up id. A
  // credential that gets through then meets the route's own answer (400 invalid_input for a
  // missing field, 404 for an unknown id), which changes nothing; a credential that does not gets
  // the auth refusal instead of that 400: so the auth decision comes before the body is validated,
  // and nothing in the table can delete the account or change a password. (Only a body that is not
  // JSON at all is refused before auth, by the body parser; that is no access to anything.)
  // PATCH /v1/me gets the current username, so that a token allowed to call it gets a 200. The one
  // operation that ends the credential calling it, DELETE /v1/sessions/current, runs last.
  test('every operation of the served OpenAPI document answers every kind of credential as the contract says', async (t) => {
    const { own, clock } = await ownDaemon(t);
    const document = (await api(own.url, 'GET', '/v1/openapi.json')).json;

    const PUBLIC = new Set([
      'GET /healthz',
      'POST /v1/users',
      'GET /v1/verify',
      'POST /v1/verify',
      'POST /v1/verify/resend',
      'POST /v1/sessions',
      'POST /v1/sessions/otp',
      'POST /v1/password/forgot',
      'GET /v1/password/reset',
      'POST /v1/password/reset',
      'GET /problems/{code}',
      'GET /v1/openapi.json',
      // Since: readiness, the device flow (a terminal has no credential yet), and the web pages,
      // whose credential is the browser's cookie, never a bearer token.
      'GET /readyz',
      'POST /v1/device/code',
      'POST /v1/device/token',
      'GET /device',
      'POST /device',
      'GET /',
      'GET /login',
      'POST /login',
      'POST /login/resend',
      'GET /register',
      'POST /register',
      'GET /password/forgot',
      'POST /password/forgot',
      'GET /account',
      'POST /account/username',
      'POST /account/email',
      'POST /account/sessions/end',
      'POST /account/sessions/end-others',
      'POST /account/tokens/revoke',
      'POST /logout',
      'GET /assets/passkeys.js',
      'POST /login/passkey/options',
      'POST /login/passkey',
      'POST /account/passkeys/options',
      'POST /account/passkeys',
      'POST /account/passkeys/confirm',
      'POST /account/passkeys/rename',
      'POST /account/passkeys/remove',
    ]);
    // The passkey script's JSON on /account answers 401 without the browser's session cookie: to a
    // bearer token, of any kind, exactly as to no credential (a token never opens a cookie's route).
    const COOKIE_ONLY = new Set(['POST /account/passkeys/options', 'POST /account/passkeys']);
    const SCOPED: Record<string, string> = {
      'GET /v1/me': 'account:read',
      'GET /v1/sessions': 'account:read',
      'GET /v1/me/events': 'account:read',
      'PATCH /v1/me': 'account:write',
      'DELETE /v1/sessions/{id}': 'account:write',
      'DELETE /v1/sessions/current': 'any',
    };
    type Need = 'public' | 'session' | 'any' | string;
    const needOf = (security: Record<string, string[]>[]): Need => {
      if (security.length === 0) return 'public';
      const token = security.find((entry) => 'accessToken' in entry)?.accessToken;
      if (!token) return 'session';
      return token.length === 0 ? 'any' : token.join(' ');
    };
    interface Operation {
      key: string;
      method: string;
      path: string;
      body: unknown;
      need: Need;
    }
    const operations: Operation[] = [];
    for (const [template, methods] of Object.entries(document.paths as Record<string, Record<string, { security: Record<string, string[]>[]; requestBody?: unknown }>>)) {
      for (const [method, spec] of Object.entries(methods)) {
        const key = `${method.toUpperCase()} ${template}`;
        const need = needOf(spec.security);
        t.is(need, PUBLIC.has(key) ? 'public' : (SCOPED[key] ?? 'session'), `${key}: the document's security agrees with the contract`);
        operations.push({ key, method: method.toUpperCase(), path: template.replace(/\{[^}]+\}/g, NIL_ID), body: spec.requestBody ? {} : undefined, need });
      }
    }
    t.true(operations.length >= 23, `${operations.length} operations`);
    for (const key of [...PUBLIC, ...Object.keys(SCOPED), 'POST /v1/tokens', 'GET /v1/tokens', 'DELETE /v1/tokens/{id}', 'DELETE /v1/me', 'POST /v1/me/password', 'DELETE /v1/sessions']) {
      t.true(operations.some((op) => op.key === key), `${key} is in the document`);
    }
    operations.sort((a, b) => Number(a.key === 'DELETE /v1/sessions/current') - Number(b.key === 'DELETE /v1/sessions/current'));

    // The credentials, all of one account.
    const account = await activeAccount(own, identity('table'));
    operations.find((op) => op.key === 'PATCH /v1/me')!.body = { username: account.username };
    const make = async (body: TokenBody) => createToken(own, account, { expiresInDays: 366, ...body });
    const read = await make({ scopes: ['account:read'] });
    const write = await make({ scopes: ['account:write'] });
    const readWrite = await make({ scopes: BOTH });
    const outside = await make({ scopes: BOTH, allowedCidrs: ['192.0.2.0/24'] });
    const expired = await make({ scopes: BOTH, expiresInDays: 1 });
    const revoked = await make({ scopes: BOTH });
    t.is((await api(own.url, 'DELETE', `/v1/tokens/${revoked.info.id}`, undefined, { token: account.token })).status, 204);
    clock.now += DAY + MINUTE; // `expired` is past its day; the session (30 days) and the other tokens live on

    interface Kind {
      label: string;
      token: string | undefined;
      /** Scopes of a live token from an allowed address; undefined for the rest. */
      scopes?: string[];
      refusal?: 'unauthenticated' | 'address_not_allowed';
      session?: true;
    }
    const kinds: Kind[] = [
      { label: 'no credential', token: undefined, refusal: 'unauthenticated' },
      { label: 'a session', token: account.token, session: true },
      { label: 'a read-only token', token: read.token, scopes: ['account:read'] },
      { label: 'a write-only token', token: write.token, scopes: ['account:write'] },
      { label: 'a read+write token', token: readWrite.token, scopes: BOTH },
      { label: 'a token from outside its allowedCidrs', token: outside.token, refusal: 'address_not_allowed' },
      { label: 'an expired token', token: expired.token, refusal: 'unauthenticated' },
      { label: 'a revoked token', token: revoked.token, refusal: 'unauthenticated' },
      { label: 'a malformed token', token: 'tmp_this-is-not-a-token', refusal: 'unauthenticated' },
      { label: 'a token with a wrong checksum', token: withWrongChecksum(readWrite.token), refusal: 'unauthenticated' },
      { label: 'a well-formed token never issued', token: wellFormedToken(), refusal: 'unauthenticated' },
    ];

    let checked = 0;
    for (const op of operations) {
      const replies = new Map<Kind, Reply>();
      for (const kind of kinds) replies.set(kind, await api(own.url, op.method, op.path, op.body, kind.token ? { token: kind.token } : {}));
      const sessionReply = replies.get(kinds[1]!)!;
      const anonymousReply = replies.get(kinds[0]!)!;
      for (const kind of kinds) {
        const reply = replies.get(kind)!;
        const label = `${op.key} with ${kind.label}`;
        checked++;
        t.true(reply.status < 500, `${label}: never a 5xx: ${shown(reply)}`);
        if (op.need === 'public') {
          t.is(reply.status, anonymousReply.status, `${label}: a public route answers the same whatever the credential: ${shown(reply)}`);
          t.is(reply.json?.code, anonymousReply.json?.code, `${label}: the same code`);
          if (COOKIE_ONLY.has(op.key)) t.true(isProblem(reply, 401, 'unauthenticated'), `${label}: only the browser's cookie signs in here: ${shown(reply)}`);
          else t.false(AUTH_CODES.has(reply.json?.code), `${label}: no credential is refused: ${shown(reply)}`);
          continue;
        }
        if (kind.refusal === 'unauthenticated') {
          refused401(t, reply, label);
        } else if (kind.refusal === 'address_not_allowed') {
          t.true(isProblem(reply, 403, 'address_not_allowed'), `${label}: ${shown(reply)}`);
        } else if (kind.session || op.need === 'any' || (op.need !== 'session' && kind.scopes!.includes(op.need))) {
          // Let in: the route's own answer, as a session gets it.
          t.false(AUTH_CODES.has(reply.json?.code), `${label}: let in: ${shown(reply)}`);
          t.is(reply.status, sessionReply.status, `${label}: what a session gets: ${shown(reply)} vs ${shown(sessionReply)}`);
          t.is(reply.json?.code, sessionReply.json?.code, `${label}: the same code as a session`);
        } else if (op.need === 'session') {
          t.true(isProblem(reply, 403, 'session_required'), `${label}: ${shown(reply)}`);
        } else {
          t.true(isProblem(reply, 403, 'insufficient_scope'), `${label}: ${shown(reply)}`);
          t.is(reply.headers['www-authenticate'], insufficientScope(op.need), `${label}: RFC 6750 names the scope`);
        }
      }
    }
    t.log(`${operations.length} operations × ${kinds.length} credentials: ${checked} answers checked`);

    // DELETE /v1/sessions/current ran last: each live credential ended itself, and only itself.
    for (const kind of kinds.filter((k) => k.session || k.scopes)) refused401(t, await me(own.url, kind.token!), `${kind.label} after DELETE /v1/sessions/current`);
    const login = await api(own.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
    const left = (await listTokens(own.url, login.json.token)).map((x) => x.id).sort();
    t.deepEqual(left, [outside.info.id, expired.info.id].sort(), 'the fenced token (refused before it could end itself) and the expired one are still listed');
  });

  test('PATCH /v1/me: a write token changes the username but never the email (403 session_required, nothing changes, no mail); a read token gets insufficient_scope', async (t) => {
    const account = await activeAccount(td, identity('patch'));
    const write = await createToken(td, account, { scopes: ['account:write'] });
    const readOnly = await createToken(td, account, { scopes: ['account:read'] });
    const newName = `${account.username}r`;
    const renamed = await api(td.url, 'PATCH', '/v1/me', { username: newName }, { token: write.token });
    t.is(renamed.status, 200, shown(renamed));
    t.is(renamed.json.user.username, newName);

    const elsewhere = `elsewhere-${account.username}@example.org`;
    const attempts: [string, unknown][] = [
      ['email', { email: elsewhere, currentPassword: account.password }],
      ['email and username', { username: `${account.username}x`, email: elsewhere, currentPassword: account.password }],
      ['the same email', { email: account.email, currentPassword: account.password }],
      ['email without a password', { email: elsewhere }],
      ['email: null', { email: null, username: `${account.username}y` }],
    ];
    for (const [label, body] of attempts) {
      // Not through api(): the document does not list this 403 (the next test shows that); here, what the daemon does.
      const reply = await unchecked(td.url, 'PATCH', '/v1/me', body, write.token);
      t.true(isProblem(reply, 403, 'session_required'), `${label}: ${shown(reply)}`);
    }
    const scoped = await api(td.url, 'PATCH', '/v1/me', { username: `${account.username}z` }, { token: readOnly.token });
    t.true(isProblem(scoped, 403, 'insufficient_scope'), shown(scoped));
    t.is(scoped.headers['www-authenticate'], insufficientScope('account:write'));

    const after = (await me(td.url, account.token)).json.user;
    t.is(after.username, newName, 'only the first change happened');
    t.is(after.email, account.email);
    const row = await td.daemon.db.knex('users').where('id', account.user.id).first('pending_email');
    t.is(row.pending_email, null, 'no email change pending');
    t.is(Number((await td.daemon.db.knex('mail_outbox').where('to_address', elsewhere).count({ n: '*' }).first())?.n), 0, 'no mail to the new address');
  });

  test('the served document lists the 403 session_required that PATCH /v1/me gives a write token asking for an email change', async (t) => {
    const document = (await api(td.url, 'GET', '/v1/openapi.json')).json;
    const forbidden = document.paths['/v1/me'].patch.responses['403'];
    const resolved = forbidden.$ref ? document.components.responses[forbidden.$ref.split('/').pop()] : forbidden;
    const schema = resolved.content['application/problem+json'].schema;
    const codes: string[] = schema.allOf?.[1]?.properties?.code?.enum ?? [schema.allOf?.[1]?.properties?.code?.const];
    t.true(codes.includes('session_required'), `PATCH /v1/me documents 403 with ${JSON.stringify(codes)}: a client generated from the document cannot expect the answer a write token gets for {email}`);
  });

  // ---- 4. hostile tokens ----------------------------------------------------------------------

  test('hostile tokens are 401 unauthenticated, never a 5xx, and change nothing; a well-formed one never issued is answered exactly like a revoked one', async (t) => {
    const account = await activeAccount(td, identity('hostile'));
    const live = await createToken(td, account);
    const other = await createToken(td, account);
    const revoked = await createToken(td, account);
    t.is((await api(td.url, 'DELETE', `/v1/tokens/${revoked.info.id}`, undefined, { token: account.token })).status, 204);
    const neverIssued = wellFormedToken();
    const flipCase = (text: string) => text.replace(/[A-Za-z]/g, (c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()));
    const headers: [string, string][] = [
      ['tmp_ alone', 'Bearer tmp_'],
      ['too short', 'Bearer tmp_abc'],
      ['one character short', `Bearer ${live.token.slice(0, -1)}`],
      ['one character long', `Bearer ${live.token}0`],
      ['a character outside base 62', `Bearer ${live.token.slice(0, 10)}-${live.token.slice(11)}`],
      ['a wrong checksum', `Bearer ${withWrongChecksum(live.token)}`],
      ['a random character changed, checksum kept', `Bearer ${live.token.slice(0, 5)}${live.token[5] === 'A' ? 'B' : 'A'}${live.token.slice(6)}`],
      ['the case flipped', `Bearer tmp_${flipCase(live.token.slice(4))}`],
      ['right shape, never issued', `Bearer ${neverIssued}`],
      ['revoked', `Bearer ${revoked.token}`],
      ['10 KB', `Bearer tmp_${'A'.repeat(10_240)}`],
      ['a live token and 10 KB more', `Bearer ${live.token}${'A'.repeat(10_240)}`],
      ['tm_ in front of an access token', `Bearer tm_${live.token.slice(4)}`],
      ['tmp_ in front of a session token', `Bearer tmp_${account.token.slice(3)}`],
      ['TMP_', `Bearer TMP_${live.token.slice(4)}`],
      ['tmp- for tmp_', `Bearer tmp-${live.token.slice(4)}`],
      ['a space inside', `Bearer ${live.token.slice(0, 20)} ${live.token.slice(20)}`],
      ['a tab for the space', `Bearer\t${live.token}`],
      ['no space', `Bearer${live.token}`],
      ['two tokens', `Bearer ${live.token} ${other.token}`],
      ['two tokens, a comma', `Bearer ${live.token},${other.token}`],
      ['two credentials', `Bearer ${live.token}, Bearer ${other.token}`],
      ['no scheme', live.token],
      ['Basic', `Basic ${Buffer.from(`${account.username}:${live.token}`).toString('base64')}`],
      ['Basic with the token', `Basic ${live.token}`],
      ['obs-text after the token', `Bearer ${live.token}\u00e9`],
    ];
    const before = (await me(td.url, account.token)).json.user;
    const refusals = new Map<string, Reply>();
    for (const [label, authorization] of headers) {
      const requests: [string, string, unknown][] = [
        ['GET', '/v1/me', undefined],
        ['PATCH', '/v1/me', { username: `${account.username}h` }],
        ['DELETE', '/v1/sessions/current', undefined],
        ['GET', '/v1/sessions', undefined],
      ];
      for (const [method, path, body] of requests) {
        const reply = await api(td.url, method, path, body, { headers: { authorization } });
        t.true(reply.status < 500, `${label}, ${method} ${path}: ${shown(reply)}`);
        refused401(t, reply, `${label}, ${method} ${path}`);
        t.false(reply.text.includes(live.token), `${label}: the answer does not echo a token`);
        if (method === 'GET' && path === '/v1/me') refusals.set(label, reply);
      }
    }
    // Only the Authorization header carries a token, never the URL (where logs and referrers keep it).
    for (const query of [`access_token=${live.token}`, `token=${live.token}`, `bearer=${live.token}`]) {
      refused401(t, await api(td.url, 'GET', `/v1/me?${query}`), `a token in the query (${query.split('=')[0]})`);
    }
    const never = refusals.get('right shape, never issued')!;
    const gone = refusals.get('revoked')!;
    t.is(never.text, gone.text, 'a token never issued and a revoked one: the same body, byte for byte');
    t.is(never.headers['content-type'], gone.headers['content-type']);
    t.is(never.headers['www-authenticate'], gone.headers['www-authenticate']);

    t.is((await me(td.url, live.token)).status, 200, 'the live token still works');
    t.is((await me(td.url, other.token)).status, 200);
    t.deepEqual((await me(td.url, account.token)).json.user, before, 'nothing changed');
  });

  test('a token with a wrong checksum is refused without a database query', async (t) => {
    const account = await activeAccount(td, identity('checksum'));
    const { token } = await createToken(td, account);
    for (const bad of [withWrongChecksum(token), withWrongChecksum(wellFormedToken())]) {
      let reply: Reply | undefined;
      const queries = await queriesAbout(td, [sha256(bad)], async () => (reply = await me(td.url, bad)));
      refused401(t, reply!, bad);
      t.deepEqual(queries, [], 'the checksum refuses it offline');
    }
  });

  // ---- 5. revocation and expiry ---------------------------------------------------------------

  test("DELETE /v1/tokens/{id} ends the token on its next request, cached or not; another account's id is 404 byte for byte like an unknown one, and that token lives on", async (t) => {
    const owner = await activeAccount(td, identity('revoker'));
    const victim = await activeAccount(td, identity('revokee'));
    const mine = await createToken(td, owner);
    const theirs = await createToken(td, victim);
    for (let i = 0; i < 2; i++) t.is((await me(td.url, mine.token)).status, 200, 'used twice: cached');

    const revoke = await api(td.url, 'DELETE', `/v1/tokens/${mine.info.id}`, undefined, { token: owner.token });
    t.is(revoke.status, 204);
    t.is(revoke.text, '');
    refused401(t, await me(td.url, mine.token), 'the next request');
    refused401(t, await api(td.url, 'PATCH', '/v1/me', { username: `${owner.username}q` }, { token: mine.token }), 'a write after revocation');
    t.false((await listTokens(td.url, owner.token)).some((x) => x.id === mine.info.id), 'gone from the list');

    const other = await api(td.url, 'DELETE', `/v1/tokens/${theirs.info.id}`, undefined, { token: owner.token });
    t.true(isProblem(other, 404, 'not_found'), shown(other));
    for (const id of [NIL_ID, mine.info.id, 'not-a-uuid', 'x'.repeat(2_000), '%E2%80%AE', "1' OR '1'='1"]) {
      const reply = await api(td.url, 'DELETE', `/v1/tokens/${id.includes('%') ? id : encodeURIComponent(id)}`, undefined, { token: owner.token });
      t.is(reply.status, other.status, `${id.slice(0, 40)}: ${shown(reply)}`);
      t.is(reply.text, other.text, `${id.slice(0, 40)}: the same body, byte for byte`);
      t.is(reply.headers['content-type'], other.headers['content-type']);
    }
    t.is((await me(td.url, theirs.token)).status, 200, "the other account's token lives on");
    t.deepEqual((await listTokens(td.url, victim.token)).map((x) => x.id), [theirs.info.id]);
  });

  test('a token ends itself with DELETE /v1/sessions/current, whatever its scopes; the session and the other tokens live on', async (t) => {
    const account = await activeAccount(td, identity('selfend'));
    const keep = await createToken(td, account);
    for (const scopes of [['account:read'], ['account:write'], BOTH]) {
      const { token, info } = await createToken(td, account, { scopes });
      t.is((await me(td.url, token)).status, scopes.includes('account:read') ? 200 : 403, 'used once: cached');
      const bye = await api(td.url, 'DELETE', '/v1/sessions/current', undefined, { token });
      t.is(bye.status, 204, `${scopes}: ${shown(bye)}`);
      refused401(t, await me(td.url, token), `${scopes}: the next request`);
      refused401(t, await api(td.url, 'DELETE', '/v1/sessions/current', undefined, { token }), `${scopes}: a second time`);
      t.false((await listTokens(td.url, account.token)).some((x) => x.id === info.id), 'gone from the list');
    }
    t.is((await me(td.url, keep.token)).status, 200, 'the other token lives on');
    t.is((await me(td.url, account.token)).status, 200, 'the session lives on');
    const events = (await api(td.url, 'GET', '/v1/me/events', undefined, { token: account.token })).json.events as { type: string }[];
    t.is(events.filter((e) => e.type === 'token_revoked').length, 3, 'each shows in the activity');
  });

  test('expiry: refused from the millisecond it expires, even right after a cache hit; it stays listed, its expiry past', async (t) => {
    const { own, clock } = await ownDaemon(t);
    const account = await activeAccount(own, identity('expiry'));
    const { token, info } = await createToken(own, account, { expiresInDays: 1 });
    const expiresAt = Date.parse(info.expiresAt);
    t.is(expiresAt, clock.now + DAY);

    clock.now = expiresAt - 1;
    t.is((await me(own.url, token)).status, 200, 'a millisecond before: it works (and is now cached)');
    const keys = [sha256(token)];
    const hit = await queriesAbout(own, keys, async () => t.is((await me(own.url, token)).status, 200));
    t.deepEqual(hit, [], 'answered from the cache');

    clock.now = expiresAt;
    let refused: Reply | undefined;
    const atExpiry = await queriesAbout(own, keys, async () => (refused = await me(own.url, token)));
    refused401(t, refused!, 'at its expiry');
    t.regex(refused!.json.detail, /expired/);
    t.deepEqual(atExpiry, [], 'refused from the same cache entry: expiry is checked on every request');
    refused401(t, await api(own.url, 'PATCH', '/v1/me', { username: `${account.username}e` }, { token }), 'a write at its expiry');

    const listed = (await listTokens(own.url, account.token)).find((x) => x.id === info.id);
    t.truthy(listed, 'an expired token does not vanish from view');
    t.is(listed?.expiresAt, info.expiresAt);
  });

  test('a password reset ends every access token, and the notice says so; a password change keeps them', async (t) => {
    const account = await activeAccount(td, identity('resetends'));
    const a = await createToken(td, account);
    const b = await createToken(td, account, { scopes: ['account:read'] });
    for (const { token } of [a, b]) t.is((await me(td.url, token)).status, 200, 'used: cached');

    const change = await api(td.url, 'POST', '/v1/me/password', { currentPassword: account.password, newPassword: NEW_PASSWORD }, { token: account.token });
    t.is(change.status, 200, shown(change));
    for (const { token } of [a, b]) t.is((await me(td.url, token)).status, 200, 'a password change keeps the tokens');
    t.is((await listTokens(td.url, account.token)).length, 2);

    const resetToken = await requestReset(td, account.email);
    const reset = await api(td.url, 'POST', '/v1/password/reset', { token: resetToken, password: OTHER_PASSWORD });
    t.is(reset.status, 200, shown(reset));
    for (const { token } of [a, b]) refused401(t, await me(td.url, token), 'after the reset');
    const notice = await td.smtp.waitFor((m) => m.to === account.email && /reset from the emailed link/.test(flat(m.text)));
    t.regex(flat(notice.text), /access token/, `the notice says the tokens ended: ${flat(notice.text)}`);

    const login = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: OTHER_PASSWORD });
    t.deepEqual(await listTokens(td.url, login.json.token), [], 'none left');
    t.is(Number((await td.daemon.db.knex('access_tokens').where('user_id', account.user.id).count({ n: '*' }).first())?.n), 0);
  });

  test('deleting the account ends every access token', async (t) => {
    const account = await activeAccount(td, identity('deleteends'));
    const { token } = await createToken(td, account);
    t.is((await me(td.url, token)).status, 200, 'used: cached');
    t.is((await api(td.url, 'DELETE', '/v1/me', { currentPassword: account.password }, { token: account.token })).status, 204);
    refused401(t, await me(td.url, token), 'after the deletion');
    t.is(Number((await td.daemon.db.knex('access_tokens').where('user_id', account.user.id).count({ n: '*' }).first())?.n), 0);
  });

  // ---- 6. last use ----------------------------------------------------------------------------

  test('lastUsedAt and lastUsedAddress are written at most once a minute', async (t) => {
    const { own, clock } = await ownDaemon(t);
    const account = await activeAccount(own, identity('lastused'));
    const { token, info } = await createToken(own, account);
    const listed = async () => {
      const found = (await listTokens(own.url, account.token)).find((x) => x.id === info.id)!;
      return { lastUsedAt: found.lastUsedAt, lastUsedAddress: found.lastUsedAddress };
    };
    t.deepEqual(await listed(), { lastUsedAt: null, lastUsedAddress: null }, 'never used');
    const start = clock.now;

    clock.now = start + 10_000;
    t.is((await me(own.url, token)).status, 200);
    const firstUse = clock.now;
    t.deepEqual(await listed(), { lastUsedAt: iso(firstUse), lastUsedAddress: '127.0.0.1' }, 'the first use is written');

    for (const offset of [1_000, 30_000, 59_999]) {
      clock.now = firstUse + offset;
      t.is((await me(own.url, token, { from: '127.0.0.2' })).status, 200);
      t.deepEqual(await listed(), { lastUsedAt: iso(firstUse), lastUsedAddress: '127.0.0.1' }, `${offset} ms later, from elsewhere: not written`);
    }
    clock.now = firstUse + MINUTE;
    t.is((await me(own.url, token, { from: '127.0.0.2' })).status, 200);
    const secondWrite = clock.now;
    t.deepEqual(await listed(), { lastUsedAt: iso(secondWrite), lastUsedAddress: '127.0.0.2' }, 'a minute on: written, with the new address');

    const writes = await queriesAbout(own, [sha256(token)], async () => {
      for (const offset of [5_000, 20_000, 40_000, 59_000]) {
        clock.now = secondWrite + offset;
        t.is((await me(own.url, token)).status, 200);
      }
    });
    t.deepEqual(writes.filter((sql) => /^update/i.test(sql)), [], 'four uses within the next minute: no write');
    t.deepEqual(await listed(), { lastUsedAt: iso(secondWrite), lastUsedAddress: '127.0.0.2' });
  });

  // ---- 7. GET /v1/me names the credential ----------------------------------------------------

  test('GET /v1/me answers {user, credential}: {type: session} for a session; the id, name, scopes and expiry for a token', async (t) => {
    const account = await activeAccount(td, identity('whoami'));
    const bySession = await me(td.url, account.token);
    t.is(bySession.status, 200);
    t.deepEqual(Object.keys(bySession.json).sort(), ['credential', 'user']);
    t.deepEqual(bySession.json.credential, { type: 'session' });
    t.is(bySession.json.user.id, account.user.id);

    for (const scopes of [['account:read'], BOTH]) {
      const name = tokenName('whoami');
      const { token, info } = await createToken(td, account, { name, scopes, expiresInDays: 10 });
      const byToken = await me(td.url, token);
      t.is(byToken.status, 200);
      t.deepEqual(byToken.json, {
        user: bySession.json.user,
        credential: { type: 'access_token', id: info.id, name, scopes, expiresAt: iso(now + 10 * DAY) },
      });
      t.false(byToken.text.includes(token.slice(4)), 'not the token');
      t.false(byToken.text.includes(sha256(token)), 'not its hash');
    }
  });

  // ---- 8. the expiry mail, on one daemon (several: tokens-daemons.test.ts) -------------------

  test('7 days before it expires, the owner gets one mail naming the token and its expiry; a token of 7 days or less gets none', async (t) => {
    const { own, clock } = await ownDaemon(t);
    const account = await activeAccount(own, identity('expiring'));
    const name = tokenName('monthly');
    const long = await createToken(own, account, { name, expiresInDays: 30 });
    const short = await createToken(own, account, { name: tokenName('weekly'), expiresInDays: 7 });
    t.is(await own.daemon.jobs.noticeExpiringTokens(), 0, 'at creation: the 7-day token is within its last 7 days, but lived no longer than that');
    await outboxSettled(own); // the creation notices go out before the clock jumps (the outbox's leases run on it)

    clock.now += 23 * DAY - 1;
    t.is(await own.daemon.jobs.noticeExpiringTokens(), 0, 'a millisecond early');
    clock.now += 1;
    t.is(await own.daemon.jobs.noticeExpiringTokens(), 1, 'exactly 7 days before');
    t.is(await own.daemon.jobs.noticeExpiringTokens(), 0, 'not twice');
    const mail = await own.smtp.waitFor((m) => m.to === account.email && /expires in 7 days/.test(m.subject));
    t.true(mail.subject.includes(name), mail.subject);
    const text = flat(mail.text);
    t.true(text.includes(`"${name}"`), text);
    t.true(text.includes(mailTime(long.info.expiresAt)), `the expiry ${mailTime(long.info.expiresAt)}: ${text}`);
    t.regex(text, /never been used/);
    t.regex(text, /taskmaster token create/, 'what to do');
    await outboxSettled(own);
    t.deepEqual(
      own.smtp.mailsTo(account.email).filter((m) => /expires in 7 days/.test(m.subject)).map((m) => m.subject),
      [mail.subject],
      `one such mail, none for ${short.info.name}`,
    );
  });

  // ---- 9. the cache ---------------------------------------------------------------------------

  test.serial('on a cache hit the token check runs no query: not for an answer, nor for a scope refusal, nor for an address refusal', async (t) => {
    const account = await activeAccount(td, identity('cache'));
    const readWrite = await createToken(td, account);
    const readOnly = await createToken(td, account, { scopes: ['account:read'] });
    const fenced = await createToken(td, account, { allowedCidrs: ['192.0.2.0/24'] });
    const cases: [string, string, () => Promise<Reply>, (reply: Reply) => boolean][] = [
      ['GET /v1/me', readWrite.token, () => me(td.url, readWrite.token), (r) => r.status === 200],
      ['PATCH /v1/me with a read-only token', readOnly.token, () => api(td.url, 'PATCH', '/v1/me', { username: `${account.username}c` }, { token: readOnly.token }), (r) => isProblem(r, 403, 'insufficient_scope')],
      ['GET /v1/tokens with a token', readWrite.token, () => api(td.url, 'GET', '/v1/tokens', undefined, { token: readWrite.token }), (r) => isProblem(r, 403, 'session_required')],
      ['GET /v1/me from outside allowedCidrs', fenced.token, () => me(td.url, fenced.token), (r) => isProblem(r, 403, 'address_not_allowed')],
    ];
    for (const [label, token, request, expected] of cases) {
      const keys = [sha256(token), account.user.id];
      await request(); // read into the cache (maybe already)
      for (let i = 0; i < 3; i++) {
        let reply: Reply | undefined;
        const queries = await queriesAbout(td, keys, async () => (reply = await request()));
        t.true(expected(reply!), `${label}: ${shown(reply!)}`);
        t.deepEqual(queries, [], `${label}: a cache hit runs no query about the token or its user`);
      }
    }
    // And the first use does read the database: the count above could not be empty by accident.
    const fresh = await createToken(td, account);
    const first = await queriesAbout(td, [sha256(fresh.token)], () => me(td.url, fresh.token));
    t.true(first.length > 0, 'the first use reads the token');
  });
});
