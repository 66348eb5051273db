// Sessions and devices: GET /v1/sessions, DELETE /v1/sessions/{id}, DELETE /v1/sessions?scope=,
// through the real daemon on SQLite and PostgreSQL; then revocation across two daemon processes.
// Where a test says a daemon has a session cached, it proves it: in-process by the daemon's own
// queries, across processes by PostgreSQL's count of reads.
import { createHash } from 'node:crypto';
import test from 'ava';
import type { SessionInfo } from '../server/contract/api.js';
import { CACHE_TTL_MS } from '../server/sessions/store.js';
import { startDaemonProcesses, type DaemonProcess } from './helpers/cluster.js';
import { activeAccount, identity, queriesAbout, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { api, type Reply } from './helpers/http.js';
import { sharedPostgres } from './helpers/postgres.js';
import { REVOCATION_BOUND_MS, refusedWithin, scansBetween, settledTableScans } from './helpers/session-cache.js';
import { startSmtp, tokenOf, type SmtpReceiver } from './helpers/smtp.js';

const MINUTE = 60_000;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const list = async (url: string, token: string): Promise<SessionInfo[]> => {
  const reply = await api(url, 'GET', '/v1/sessions', undefined, { token });
  if (reply.status !== 200) throw new Error(`GET /v1/sessions answered ${reply.status}: ${reply.text}`);
  return reply.json.sessions;
};

const login = async (url: string, who: { email: string; password: string }, options: { from?: string; userAgent?: string } = {}) => {
  const reply = await api(url, 'POST', '/v1/sessions', { email: who.email, password: who.password }, {
    ...(options.from ? { from: options.from } : {}),
    headers: options.userAgent ? { 'user-agent': options.userAgent } : {},
  });
  if (reply.status !== 201) throw new Error(`login answered ${reply.status}: ${reply.text}`);
  return reply.json.token as string;
};

const me = (url: string, token: string) => api(url, 'GET', '/v1/me', undefined, { token });

const isProblem = (reply: Reply, status: number, code: string) =>
  reply.status === status && String(reply.headers['content-type']).startsWith('application/problem+json') && reply.json?.code === code;

// Registered before forEachDatabase's hook that stops PostgreSQL: the daemons go first.
test.after.always(async () => (await clusterStarted)?.stop());

forEachDatabase((test, db) => {
  let td: TestDaemon;
  const now = Date.now();
  test.before(async () => {
    td = await startTestDaemon({ clock: () => now, env: await db.env() });
  });
  test.after.always(async () => td?.close());

  test('the list shows every session with a public id, the caller marked, times, address and user agent as sent; never a token or its hash', async (t) => {
    const account = await activeAccount(td, identity('list'));
    const laptop = await login(td.url, account, { userAgent: 'taskmaster/9.9.9 (linux x64)' });
    const phone = await login(td.url, account, { from: '127.0.0.2', userAgent: 'Mozilla/5.0 (Phone)' });

    const reply = await api(td.url, 'GET', '/v1/sessions', undefined, { token: laptop });
    t.is(reply.status, 200);
    const sessions: SessionInfo[] = reply.json.sessions;
    t.is(sessions.length, 3, 'the helper login, the laptop, the phone');
    for (const session of sessions) {
      t.deepEqual(Object.keys(session).sort(), ['address', 'createdAt', 'current', 'expiresAt', 'id', 'lastUsedAt', 'userAgent']);
      t.regex(session.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a public id');
      t.is(session.createdAt, new Date(now).toISOString());
      t.is(session.lastUsedAt, new Date(now).toISOString());
      t.is(session.expiresAt, new Date(now + 30 * 24 * 60 * MINUTE).toISOString());
    }
    t.is(new Set(sessions.map((s) => s.id)).size, 3, 'ids are distinct');
    t.deepEqual(
      sessions.filter((s) => s.current).map((s) => s.userAgent),
      ['taskmaster/9.9.9 (linux x64)'],
      'exactly one is current: the caller',
    );
    t.like(sessions.find((s) => s.userAgent === 'Mozilla/5.0 (Phone)'), { current: false, address: '127.0.0.2' });
    t.like(sessions.find((s) => s.current), { address: '127.0.0.1' });

    for (const token of [account.token, laptop, phone]) {
      t.false(reply.text.includes(token), 'no token in the body');
      t.false(reply.text.includes(token.slice(3)), 'not even without its prefix');
      t.false(reply.text.includes(sha256(token)), 'no token hash in the body');
    }
    const rows = await td.daemon.db.knex('sessions').where('user_id', account.user.id).select('public_id');
    t.deepEqual(rows.map((row) => row.public_id).sort(), sessions.map((s) => s.id).sort(), 'the ids are the stored public ids');

    const fromPhone = await list(td.url, phone);
    t.deepEqual(fromPhone.filter((s) => s.current).map((s) => s.userAgent), ['Mozilla/5.0 (Phone)'], 'the phone sees itself as current');
  });

  test('a user agent is stored without control characters and cut at 256 characters; none at all lists as null', async (t) => {
    const account = await activeAccount(td, identity('ua'));
    const long = await login(td.url, account, { userAgent: `agent\t ${'x'.repeat(400)}` });
    const sessions = await list(td.url, long);
    const current = sessions.find((s) => s.current)!;
    t.is(current.userAgent!.length, 256);
    t.true(current.userAgent!.startsWith('agent x'));
    const bare = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password }, { headers: { 'user-agent': '' } });
    const withNone = (await list(td.url, bare.json.token)).find((s) => s.current)!;
    t.is(withNone.userAgent, null);
  });

  // Serial: a revocation by a test beside it, even of another user's session, can keep a row just
  // read from being cached (see cacheable() in server/sessions/store.ts), and this one counts on it.
  test.serial('DELETE /v1/sessions/{id} ends that session at once; the caller stays; the id is gone from the list', async (t) => {
    const account = await activeAccount(td, identity('one'));
    const other = await login(td.url, account, { userAgent: 'other device' });
    const aboutOther = [sha256(other), account.user.id];
    const first = await queriesAbout(td, aboutOther, async () => t.is((await me(td.url, other)).status, 200));
    t.true(first.length > 0, 'the first use reads the session from the database');
    const cached = await queriesAbout(td, aboutOther, async () => t.is((await me(td.url, other)).status, 200));
    t.deepEqual(cached, [], 'used once, the daemon answers from its cache: no query about this session or its user');
    const target = (await list(td.url, account.token)).find((s) => s.userAgent === 'other device')!;

    const reply = await api(td.url, 'DELETE', `/v1/sessions/${target.id}`, undefined, { token: account.token });
    t.is(reply.status, 204);
    t.is(reply.text, '');
    t.true(isProblem(await me(td.url, other), 401, 'unauthenticated'), 'the next request with that token is refused');
    t.is((await me(td.url, account.token)).status, 200, 'the caller stays');
    t.false((await list(td.url, account.token)).some((s) => s.id === target.id));

    const again = await api(td.url, 'DELETE', `/v1/sessions/${target.id}`, undefined, { token: account.token });
    t.true(isProblem(again, 404, 'not_found'), 'a second revoke finds nothing');
  });

  test('DELETE /v1/sessions/{id} of the calling session ends it too', async (t) => {
    const account = await activeAccount(td, identity('self'));
    const [current] = (await list(td.url, account.token)).filter((s) => s.current);
    t.is((await api(td.url, 'DELETE', `/v1/sessions/${current!.id}`, undefined, { token: account.token })).status, 204);
    t.is((await me(td.url, account.token)).status, 401);
  });

  test("another user's session id answers exactly like an unknown id, and that session lives on", async (t) => {
    const mallory = await activeAccount(td, identity('mallory'));
    const victim = await activeAccount(td, identity('victim'));
    const [victimSession] = await list(td.url, victim.token);

    const theirs = await api(td.url, 'DELETE', `/v1/sessions/${victimSession!.id}`, undefined, { token: mallory.token });
    const unknown = await api(td.url, 'DELETE', '/v1/sessions/00000000-0000-4000-8000-000000000000', undefined, { token: mallory.token });
    const junk = await api(td.url, 'DELETE', '/v1/sessions/not-a-uuid', undefined, { token: mallory.token });
    t.true(isProblem(theirs, 404, 'not_found'));
    for (const reply of [unknown, junk]) {
      t.is(reply.status, theirs.status);
      t.is(reply.text, theirs.text, 'the same body, byte for byte');
      t.is(reply.headers['content-type'], theirs.headers['content-type']);
    }
    t.is((await me(td.url, victim.token)).status, 200, "the victim's session is untouched");
    t.is((await list(td.url, victim.token)).length, 1);
  });

  // Serial for the same reason as the test above.
  test.serial('scope=others ends every other session and keeps the caller; scope=all ends the caller too', async (t) => {
    const account = await activeAccount(td, identity('scope'));
    const second = await login(td.url, account);
    const third = await login(td.url, account);
    const aboutThem = [sha256(account.token), sha256(second), sha256(third), account.user.id];
    const first = await queriesAbout(td, aboutThem, async () => {
      for (const token of [account.token, second, third]) t.is((await me(td.url, token)).status, 200);
    });
    t.true(first.length >= 3, 'the first use of each session reads it from the database');
    const cached = await queriesAbout(td, aboutThem, async () => {
      for (const token of [account.token, second, third]) t.is((await me(td.url, token)).status, 200);
    });
    t.deepEqual(cached, [], 'used once, all three are answered from the cache: no query about them or their user');

    const others = await api(td.url, 'DELETE', '/v1/sessions?scope=others', undefined, { token: second });
    t.is(others.status, 200);
    t.deepEqual(others.json, { revoked: 2 });
    t.is((await me(td.url, account.token)).status, 401);
    t.is((await me(td.url, third)).status, 401);
    t.is((await me(td.url, second)).status, 200, 'the caller stays');
    t.deepEqual((await list(td.url, second)).map((s) => s.current), [true]);

    const nothingLeft = await api(td.url, 'DELETE', '/v1/sessions?scope=others', undefined, { token: second });
    t.deepEqual(nothingLeft.json, { revoked: 0 });

    const fourth = await login(td.url, account);
    const all = await api(td.url, 'DELETE', '/v1/sessions?scope=all', undefined, { token: second });
    t.is(all.status, 200);
    t.deepEqual(all.json, { revoked: 2 });
    t.is((await me(td.url, second)).status, 401, 'the caller ended too');
    t.is((await me(td.url, fourth)).status, 401);
    t.is(Number((await td.daemon.db.knex('sessions').where('user_id', account.user.id).count({ n: '*' }).first())?.n), 0);
  });

  test('another scope, or none, is 400 invalid_input naming the field; nothing ends', async (t) => {
    const account = await activeAccount(td, identity('badscope'));
    for (const query of ['?scope=everything', '?scope=', '', '?scope=others&scope=all', '?scope=ALL']) {
      const reply = await api(td.url, 'DELETE', `/v1/sessions${query}`, undefined, { token: account.token });
      t.true(isProblem(reply, 400, 'invalid_input'), `${query}: ${reply.status}`);
      t.regex(reply.json.errors.scope, /"others" or "all"/, query);
    }
    t.is((await me(td.url, account.token)).status, 200);
  });

  test('every session endpoint answers 401 without a token, or with an ended one', async (t) => {
    const account = await activeAccount(td, identity('anon'));
    const [session] = await list(td.url, account.token);
    const calls: [string, string][] = [
      ['GET', '/v1/sessions'],
      ['DELETE', `/v1/sessions/${session!.id}`],
      ['DELETE', '/v1/sessions?scope=others'],
      ['DELETE', '/v1/sessions?scope=all'],
      ['DELETE', '/v1/sessions?scope=bogus'],
      ['DELETE', '/v1/sessions/current'],
    ];
    for (const [method, path] of calls) {
      const reply = await api(td.url, method, path);
      t.true(isProblem(reply, 401, 'unauthenticated'), `${method} ${path}: ${reply.status}`);
      t.is(reply.headers['www-authenticate'], 'Bearer');
    }
    t.is((await api(td.url, 'DELETE', '/v1/sessions/current', undefined, { token: account.token })).status, 204);
    for (const [method, path] of calls) {
      t.true(isProblem(await api(td.url, method, path, undefined, { token: account.token }), 401, 'unauthenticated'), `${method} ${path} with an ended token`);
    }
  });

  test('lastUsedAt is written at most once a minute; expired sessions are not listed', async (t) => {
    let clock = Date.parse('2030-01-01T00:00:00.000Z');
    const own = await startTestDaemon({ clock: () => clock, env: await db.env() });
    t.teardown(() => own.close());
    const account = await activeAccount(own, identity('lastused'));
    const other = await login(own.url, account, { userAgent: 'the other one' });
    const created = new Date(clock).toISOString();
    const stored = async () => Number((await own.daemon.db.knex('sessions').where('token_hash', sha256(other)).first('last_used_at'))?.last_used_at);
    const listedOther = async () => (await list(own.url, account.token)).find((s) => s.userAgent === 'the other one')!;

    clock += 30_000;
    t.is((await me(own.url, other)).status, 200);
    t.is(await stored(), Date.parse(created), 'used 30 s after login: not written');
    t.is((await listedOther()).lastUsedAt, created);

    clock += 31_000; // 61 s after login
    t.is((await me(own.url, other)).status, 200);
    const firstWrite = clock;
    t.is(await stored(), firstWrite, 'a minute on: written');
    t.is((await listedOther()).lastUsedAt, new Date(firstWrite).toISOString());

    for (const step of [10_000, 20_000, 29_000]) {
      clock += step;
      t.is((await me(own.url, other)).status, 200);
    }
    t.is(await stored(), firstWrite, 'three uses within the next minute: no write');
    clock += 2_000; // 61 s after the first write
    t.is((await me(own.url, other)).status, 200);
    t.is(await stored(), clock);

    // The caller's own row shows as used now, whether or not the minute has passed.
    t.is((await list(own.url, account.token)).find((s) => s.current)!.lastUsedAt, new Date(clock).toISOString());

    clock = Date.parse(created) + 30 * 24 * 60 * MINUTE + 1;
    const fresh = await login(own.url, account, { userAgent: 'after a month' });
    t.deepEqual((await list(own.url, fresh)).map((s) => s.userAgent), ['after a month'], 'the month-old sessions have expired');
    t.is((await me(own.url, other)).status, 401);
  });
});

// Revocation across daemons: processes of their own on one PostgreSQL, each with its cache. These
// tests are serial: nothing else in this file runs while one of them measures the 100 ms bound that
// docs/several-daemons.md promises, or counts reads.

let clusterStarted: Promise<{ a: DaemonProcess; b: DaemonProcess; smtp: SmtpReceiver; databaseUrl: string; stop(): Promise<void> }> | undefined;

/** Two daemon processes on one new PostgreSQL database, shared by the tests below. */
function cluster() {
  clusterStarted ??= (async () => {
    const databaseUrl = await (await sharedPostgres()).createDatabase();
    const smtp = await startSmtp();
    const daemons = await startDaemonProcesses(2, { DATABASE_URL: databaseUrl, SMTP_URL: smtp.url });
    const [a, b] = daemons as [DaemonProcess, DaemonProcess];
    return {
      a,
      b,
      smtp,
      databaseUrl,
      async stop() {
        await Promise.all(daemons.map((daemon) => daemon.stop()));
        await smtp.close();
      },
    };
  })();
  return clusterStarted;
}
async function accountOn(a: DaemonProcess, smtp: SmtpReceiver, prefix: string) {
  const who = identity(prefix);
  if ((await api(a.url, 'POST', '/v1/users', who)).status !== 201) throw new Error('register failed');
  const verified = await api(a.url, 'POST', '/v1/verify', { token: tokenOf(await smtp.waitFor((m) => m.to === who.email)) });
  if (verified.status !== 200) throw new Error('verify failed');
  return { ...who, token: await login(a.url, who) };
}

// The tests after this one say "B has it cached" after one request: this one proves that one request
// is enough, with PostgreSQL's own count of reads of the two tables, whichever process asked (the
// counts are read once PostgreSQL has published them: see STATS_SETTLE_MS). Exact because nothing
// else reads them meanwhile: the tests here are serial and the database is the cluster's own; the
// mail senders poll mail_outbox only; the sweep of expired sessions runs hourly; last_used_at is
// written at most once a minute per session, and this one is seconds old. Without the cache each of
// the 21 requests would read both tables: 21 scans of each.
test.serial('postgres › two daemons: a token from A, once used on B, is answered there from its cache: 20 more GET /v1/me read neither sessions nor users', async (t) => {
  const tables = ['sessions', 'users'];
  const { a, b, smtp, databaseUrl } = await cluster();
  const account = await accountOn(a, smtp, 'xcache'); // registered, verified and logged in on A: B has seen neither session nor user
  const before = await settledTableScans(databaseUrl, tables);

  const started = performance.now();
  t.is((await me(b.url, account.token)).status, 200, 'the first request on B');
  for (let i = 0; i < 20; i++) t.is((await me(b.url, account.token)).status, 200);
  const tookMs = performance.now() - started;
  t.true(tookMs < CACHE_TTL_MS, `the 21 requests took ${Math.round(tookMs)} ms: all within the ${CACHE_TTL_MS} ms a cache entry lives`);

  const reads = scansBetween(before, await settledTableScans(databaseUrl, tables));
  t.deepEqual(reads, { sessions: 1, users: 1 }, 'the first request reads the session and the user once each; the 20 after it read nothing');
});

const within = (daemon: string, after: string) => ({ boundMs: REVOCATION_BOUND_MS, daemon, after });

test.serial('postgres › two daemons: a session revoked by id on A is refused on B within 100 ms, the others live on', async (t) => {
  const { a, b, smtp } = await cluster();
  const account = await accountOn(a, smtp, 'xrevoke');
  const laptop = await login(b.url, account, { userAgent: 'laptop' });
  for (const token of [account.token, laptop]) t.is((await me(b.url, token)).status, 200, 'used once on B, so B has it cached');

  const target = (await list(b.url, account.token)).find((s) => s.userAgent === 'laptop')!;
  t.is((await api(a.url, 'DELETE', `/v1/sessions/${target.id}`, undefined, { token: account.token })).status, 204);
  await refusedWithin(t, b.url, laptop, within('B', 'the revoke on A'));
  t.is((await me(b.url, account.token)).status, 200, 'the caller still works on B');
});

test.serial('postgres › two daemons: scope=others on A ends the other sessions on B; scope=all on B ends the caller on A; each within 100 ms', async (t) => {
  const { a, b, smtp } = await cluster();
  const account = await accountOn(a, smtp, 'xscope');
  const second = await login(b.url, account);
  for (const token of [account.token, second]) {
    t.is((await me(a.url, token)).status, 200, 'used once on A, so A has it cached');
    t.is((await me(b.url, token)).status, 200, 'used once on B, so B has it cached');
  }
  t.deepEqual((await api(a.url, 'DELETE', '/v1/sessions?scope=others', undefined, { token: account.token })).json, { revoked: 1 });
  await refusedWithin(t, b.url, second, within('B', 'scope=others on A'));
  t.is((await me(b.url, account.token)).status, 200);

  t.deepEqual((await api(b.url, 'DELETE', '/v1/sessions?scope=all', undefined, { token: account.token })).json, { revoked: 1 });
  await refusedWithin(t, a.url, account.token, within('A', 'scope=all on B'));
});

test.serial('postgres › two daemons: an account deleted on A has every token refused on B within 100 ms', async (t) => {
  const { a, b, smtp } = await cluster();
  const account = await accountOn(a, smtp, 'xdelete');
  const second = await login(b.url, account);
  for (const token of [account.token, second]) t.is((await me(b.url, token)).status, 200, 'used once on B, so B has it cached');

  t.is((await api(a.url, 'DELETE', '/v1/me', { currentPassword: account.password }, { token: account.token })).status, 204);
  await refusedWithin(t, b.url, second, within('B', 'the deletion on A'));
  t.is((await me(b.url, account.token)).status, 401);
  t.regex((await smtp.waitFor((m) => m.to === account.email && /deleted/.test(m.subject))).subject, /account was deleted/);
});
