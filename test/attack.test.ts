// Under attack: races on unique names, timing, password guessing, hostile input, headers.
import fc from 'fast-check';
import { api, type Reply } from './helpers/http.js';
import { STRONG_PASSWORD, activeAccount, identity, outboxSettled, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { dumpDatabase } from './helpers/dump.js';

/**
 * Everything the daemon stored but its throttle counters: refusing a hostile request legitimately
 * counts it in rate_limits (that is how guessing gets blocked), and nothing else may change.
 */
const snapshot = (td: TestDaemon) => dumpDatabase(td.daemon.db, { except: ['rate_limits'] });

// ---- hostile input -------------------------------------------------------------------------

const nastyStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u202Eevil\u202C',
  'zero\u200Bwidth',
  'раураl', // Cyrillic lookalikes
  'аdmin',
  '𝕒𝕕𝕞𝕚𝕟',
  '\uFEFF',
  '\uD800',
  '"; DROP TABLE users; --',
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '%00',
  '\r\nSet-Cookie: x=y',
  'a'.repeat(5000),
  'é'.repeat(300),
);
const hostileString = fc.oneof(
  nastyStrings,
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => `${s}\u0007`),
  fc.string({ maxLength: 2 }),
);
const wrongType = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.object({ maxDepth: 2 }));
const hostile = fc.oneof(hostileString, wrongType);
const anyField = fc.oneof(hostile, fc.constant('fine-looking-value@example.com'), fc.constant(STRONG_PASSWORD));
const validUsername = fc.stringMatching(/^[a-z][a-z0-9]{3,12}$/);

interface HostileRequest {
  method: string;
  path: string;
  body?: unknown;
  raw?: Buffer | string;
  headers?: Record<string, string>;
  authenticated?: boolean;
}

const hostileRequest: fc.Arbitrary<HostileRequest> = fc.oneof(
  // registration with a hostile username or email: never valid
  fc.record({ email: anyField, username: hostile, password: anyField }).map((body) => ({ method: 'POST', path: '/v1/users', body })),
  fc.record({ email: hostile, username: validUsername, password: anyField }).map((body) => ({ method: 'POST', path: '/v1/users', body })),
  fc.record({ email: anyField, password: anyField }).map((body) => ({ method: 'POST', path: '/v1/sessions', body })),
  fc.record({ token: anyField }).map((body) => ({ method: 'POST', path: '/v1/verify', body })),
  fc.record({ email: hostile }).map((body) => ({ method: 'POST', path: '/v1/verify/resend', body })),
  // percent-encoded byte by byte: encodeURIComponent throws on a lone surrogate
  hostileString.map((token) => ({ method: 'GET', path: `/v1/verify?token=${[...Buffer.from(token)].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('')}` })),
  fc.constantFrom('/v1/verify?token=%ff', '/v1/verify?token=a&token=b', '/v1/%ff', '/v1/users/%E0%A4%A', '/v1//users', '/v1/me/..', '/%2e%2e/etc/passwd').map((path) => ({ method: 'GET', path })),
  fc.record({ username: hostile }).map((body) => ({ method: 'PATCH', path: '/v1/me', body, authenticated: true })),
  fc.record({ email: hostile, currentPassword: anyField }).map((body) => ({ method: 'PATCH', path: '/v1/me', body, authenticated: true })),
  fc.record({ email: fc.constant('somewhere-new@example.org'), currentPassword: hostile }).map((body) => ({ method: 'PATCH', path: '/v1/me', body, authenticated: true })),
  fc
    .constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer tm_x', `Bearer tm_${'A'.repeat(43)}`, `Bearer ${'a'.repeat(10_000)}`, 'Bearer\ttm_x', 'Bearer tm_a tm_b', 'tm_x', 'Bearer tm_' + '%00'.repeat(14))
    .chain((authorization) => fc.constantFrom('GET /v1/me', 'PATCH /v1/me', 'DELETE /v1/sessions/current').map((route) => {
      const [method, path] = route.split(' ') as [string, string];
      return { method, path, headers: { authorization, 'content-type': 'application/json' }, raw: '{"username":"hijacked"}' };
    })),
  fc.constantFrom('/v1/users', '/v1/sessions', '/v1/verify', '/v1/verify/resend').chain((path) =>
    fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ method: 'POST', path, raw: Buffer.concat([Buffer.from('{"email":"'), Buffer.from([0xff, 0xfe]), Buffer.from(bytes), Buffer.from('"}')]), headers: { 'content-type': 'application/json' } })),
      fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=latin1').map((type) => ({ method: 'POST', path, raw: 'email=a&password=b', headers: { 'content-type': type } })),
      fc.constantFrom('[', '{"a":', 'null', '"x"', '[]', '1e999', '{"__proto__":{"admin":true}}', '['.repeat(5000) + ']'.repeat(5000), '{"email":"\\ud800"}').map((raw) => ({ method: 'POST', path, raw, headers: { 'content-type': 'application/json' } })),
    ),
  ),
);

forEachDatabase((test, db) => {
  test('40 parallel registrations racing for one username: exactly one 201, the rest 409, no 5xx', async (t) => {
    const td = await startTestDaemon({ env: await db.env() });
    t.teardown(() => td.close());
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => api(td.url, 'POST', '/v1/users', { ...identity('race'), username: i % 2 ? 'Contested' : 'contested' })),
    );
    const statuses = replies.map((reply) => reply.status);
    t.is(statuses.filter((s) => s === 201).length, 1);
    t.is(statuses.filter((s) => s === 409).length, 39);
    t.true(replies.filter((r) => r.status === 409).every((r) => r.json.code === 'username_taken'));
    t.is(Number((await td.daemon.db.knex('users').count({ n: '*' }).first())?.n), 1);
  });

  test('40 parallel registrations of distinct accounts all get 201', async (t) => {
    const td = await startTestDaemon({ env: await db.env() });
    t.teardown(() => td.close());
    const people = Array.from({ length: 40 }, () => identity('crowd'));
    const replies = await Promise.all(people.map((who) => api(td.url, 'POST', '/v1/users', who)));
    t.deepEqual(
      replies.map((reply) => reply.status),
      people.map(() => 201),
    );
    for (const who of people) await td.smtp.waitFor((m) => m.to === who.email);
    t.pass();
  });

  // Serial: measured alone in this file, not beside the storms and the fuzzer of the other tests.
  test.serial('an unknown email costs the same as a wrong password: median login times within 0.7–1.4x', async (t) => {
    // A real cost, so bcrypt dominates as in production; limits raised so guessing is not cut short.
    const td = await startTestDaemon({
      env: { ...(await db.env()), BCRYPT_COST: '10' },
      limits: { loginFailuresPerAccountAndAddress: 1000, loginFailuresPerAccountPerHour: 1000, loginFailuresPerAddressPerHour: 1000 },
    });
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('timing'));
    const time = async (email: string) => {
      const started = process.hrtime.bigint();
      const reply = await api(td.url, 'POST', '/v1/sessions', { email, password: 'wrong-horse-battery-staple' });
      t.is(reply.status, 401);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 15; i++) {
      unknown.push(await time(`nobody-${i}@example.com`));
      wrong.push(await time(account.email));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const ratio = median(unknown) / median(wrong);
    t.log(`median unknown ${median(unknown).toFixed(1)} ms, wrong password ${median(wrong).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`);
    t.true(ratio >= 0.7 && ratio <= 1.4, `ratio ${ratio}`);
  });

  test('password guessing reaches 429 with Retry-After, and the owner from another address still logs in', async (t) => {
    const td = await startTestDaemon({ env: await db.env() });
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('target'));
    const statuses: number[] = [];
    let limited: Reply | undefined;
    for (let i = 0; i < 12 && !limited; i++) {
      const reply = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: `guess-number-${i}-xyz` });
      statuses.push(reply.status);
      if (reply.status === 429) limited = reply;
    }
    t.truthy(limited, `statuses ${statuses}`);
    t.is(limited!.json.code, 'rate_limited');
    t.true(Number(limited!.headers['retry-after']) > 0);
    t.deepEqual(statuses.slice(0, 10), Array(10).fill(401), 'ten guesses are answered before the block');
    const evenRight = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: STRONG_PASSWORD });
    t.is(evenRight.status, 429, 'the blocked address gets no answer about the password');

    const owner = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: STRONG_PASSWORD }, { from: '127.0.0.2' });
    t.is(owner.status, 201, 'not locked out from another address');
  });

  test('every response carries no-store and nosniff; the HTML pages a strict CSP, no framing and no referrer', async (t) => {
    const td = await startTestDaemon({ env: await db.env() });
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('headers'));
    const replies = [
      await api(td.url, 'GET', '/v1/me', undefined, { token: account.token }),
      await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password }),
      await api(td.url, 'GET', '/v1/nothing'),
    ];
    for (const reply of replies) {
      t.is(reply.headers['cache-control'], 'no-store');
      t.is(reply.headers['x-content-type-options'], 'nosniff');
    }
    const page = await api(td.url, 'GET', '/v1/verify?token=whatever');
    const csp = String(page.headers['content-security-policy']);
    t.regex(csp, /default-src 'none'/);
    t.regex(csp, /frame-ancestors 'none'/);
    t.notRegex(csp, /unsafe-inline|unsafe-eval|\*/);
    t.is(page.headers['referrer-policy'], 'no-referrer');
    t.is(page.headers['x-frame-options'], 'DENY');
    t.is(page.headers['x-content-type-options'], 'nosniff');
    t.is(page.headers['cache-control'], 'no-store');
  });

  test('1,000 generated hostile requests across every endpoint: only 4xx, the daemon stays up, the database unchanged', async (t) => {
    const td = await startTestDaemon({ env: await db.env() });
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('fuzz'));
    await outboxSettled(td); // the sender marks its mail sent: that write is not the fuzzer's
    const before = await snapshot(td);
    t.true(before.includes(account.username) && before.includes('"sessions":[{'), 'the snapshot sees the stored account and its session');
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(hostileRequest, async (request) => {
        const headers = { ...request.headers };
        if (request.authenticated) headers.authorization = `Bearer ${account.token}`;
        const reply = await api(td.url, request.method, request.path, request.body, { headers, raw: request.raw });
        seen.set(reply.status, (seen.get(reply.status) ?? 0) + 1);
        return reply.status >= 400 && reply.status < 500;
      }),
      { numRuns: 1000 },
    );
    t.log(`statuses: ${JSON.stringify(Object.fromEntries(seen))}`);
    t.is((await api(td.url, 'GET', '/healthz')).status, 200, 'still up');
    t.is(await snapshot(td), before, 'refused requests changed nothing');
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).json.user.username, account.username);
  });
});
