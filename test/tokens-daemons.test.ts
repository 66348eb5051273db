// Access tokens across several daemons on one PostgreSQL (issue 16, "Revocation and expiry"):
// in-process daemons sharing a database and an SMTP receiver, each with its own cache and its own
// invalidation listener, as behind a load balancer. A revocation, a password reset or an account
// deletion on A is refused on B on the next request; three daemons noticing expiring tokens at the
// same moment send each "expires in 7 days" mail exactly once.
//
// Serial: nothing else in this file runs while a test counts B's queries or mails.
import test, { type ExecutionContext } from 'ava';
import { createToken, isProblem, listTokens, me, sha256, shown } from './helpers/access-tokens.js';
import { activeAccount, identity, outboxSettled, queriesAbout, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api } from './helpers/http.js';
import { sharedPostgres, stopSharedPostgres } from './helpers/postgres.js';
import { requestReset } from './helpers/reset-mail.js';
import { REVOCATION_BOUND_MS, refusedWithin } from './helpers/session-cache.js';
import { startSmtp } from './helpers/smtp.js';

test.after.always(stopSharedPostgres);

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const EXPIRING = /expires in 7 days/;

/** `count` in-process daemons on one new PostgreSQL database and one SMTP receiver; closed at the end of the test. */
async function daemonsOnOneDatabase(t: ExecutionContext, count: number, clock?: { now: number }): Promise<TestDaemon[]> {
  const databaseUrl = await (await sharedPostgres()).createDatabase();
  const smtp = await startSmtp();
  const daemons: TestDaemon[] = [];
  t.teardown(async () => {
    await Promise.all(daemons.map((daemon) => daemon.close()));
    await smtp.close();
  });
  // One after the other: the first applies the migrations.
  for (let i = 0; i < count; i++) daemons.push(await startTestDaemon({ env: { DATABASE_URL: databaseUrl }, smtp, ...(clock ? { clock: () => clock.now } : {}) }));
  return daemons;
}

/**
 * Uses `token` on `daemon` until a request is answered from its cache (no query about the token):
 * a daemon caches only once its invalidation listener is connected, a moment after it starts.
 */
async function cachedOn(daemon: TestDaemon, token: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    let status = 0;
    const queries = await queriesAbout(daemon, [sha256(token)], async () => (status = (await me(daemon.url, token)).status));
    if (status !== 200) throw new Error(`GET /v1/me answered ${status}`);
    if (queries.length === 0) return;
    if (Date.now() > deadline) throw new Error('the token was never answered from the cache');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// The contract: "the token is refused on its next request, on every daemon". Each round revokes a
// token B has cached and asks B once, right after A's 204; the rounds where B still let it in are
// collected, so a failure says how often. (docs/several-daemons.md promises sessions "at once
// (tested: within 100 ms)"; the test after this one measures that bound for tokens.)
test.serial('postgres › two daemons: a token used on B (cached there) and revoked on A is refused on B on the next request', async (t) => {
  const [a, b] = (await daemonsOnOneDatabase(t, 2)) as [TestDaemon, TestDaemon];
  const account = await activeAccount(a, identity('xrevoke'));
  const keep = await createToken(a, account);
  await cachedOn(b, keep.token);
  const ROUNDS = 20;
  const letIn: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const { token, info } = await createToken(a, account);
    await cachedOn(b, token);
    t.is((await api(a.url, 'DELETE', `/v1/tokens/${info.id}`, undefined, { token: account.token })).status, 204);
    const next = await me(b.url, token);
    if (!isProblem(next, 401, 'unauthenticated')) letIn.push(`round ${round}: ${next.status}`);
  }
  t.deepEqual(letIn, [], `B let a token revoked on A in on the next request in ${letIn.length} of ${ROUNDS} rounds`);
  t.is((await me(b.url, keep.token)).status, 200, 'the token not revoked still works on B');
});

test.serial('postgres › two daemons: a token revoked on A, or ending itself there, is refused on B within 100 ms', async (t) => {
  const [a, b] = (await daemonsOnOneDatabase(t, 2)) as [TestDaemon, TestDaemon];
  const account = await activeAccount(a, identity('xbound'));
  for (let round = 1; round <= 5; round++) {
    const byId = await createToken(a, account);
    await cachedOn(b, byId.token);
    t.is((await api(a.url, 'DELETE', `/v1/tokens/${byId.info.id}`, undefined, { token: account.token })).status, 204);
    await refusedWithin(t, b.url, byId.token, { boundMs: REVOCATION_BOUND_MS, daemon: 'B', after: `DELETE /v1/tokens/{id} on A (round ${round})` });

    const itself = await createToken(a, account, { scopes: ['account:read'] });
    await cachedOn(b, itself.token);
    t.is((await api(a.url, 'DELETE', '/v1/sessions/current', undefined, { token: itself.token })).status, 204);
    await refusedWithin(t, b.url, itself.token, { boundMs: REVOCATION_BOUND_MS, daemon: 'B', after: `DELETE /v1/sessions/current on A (round ${round})` });
  }
});

test.serial('postgres › two daemons: a token that ends itself on A is refused on B on the next request', async (t) => {
  const [a, b] = (await daemonsOnOneDatabase(t, 2)) as [TestDaemon, TestDaemon];
  const account = await activeAccount(a, identity('xself'));
  const ROUNDS = 10;
  const letIn: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const { token } = await createToken(a, account, { scopes: ['account:read'] });
    await cachedOn(b, token);
    t.is((await api(a.url, 'DELETE', '/v1/sessions/current', undefined, { token })).status, 204);
    const next = await me(b.url, token);
    if (!isProblem(next, 401, 'unauthenticated')) letIn.push(`round ${round}: ${next.status}`);
  }
  t.deepEqual(letIn, [], `B let a token that ended itself on A in on the next request in ${letIn.length} of ${ROUNDS} rounds`);
});

test.serial('postgres › two daemons: a password reset on A, or an account deletion on A, ends every token cached on B at the next request', async (t) => {
  const [a, b] = (await daemonsOnOneDatabase(t, 2)) as [TestDaemon, TestDaemon];
  const ROUNDS = 4;
  const letIn: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const resetting = await activeAccount(a, identity('xreset'));
    const tokens = [await createToken(a, resetting), await createToken(a, resetting, { scopes: ['account:read'] })];
    for (const { token } of tokens) await cachedOn(b, token);
    const resetToken = await requestReset(a, resetting.email);
    t.is((await api(a.url, 'POST', '/v1/password/reset', { token: resetToken, password: 'lantern-orchard-violet-98-quartz' })).status, 200);
    for (const [i, { token }] of tokens.entries()) {
      const next = await me(b.url, token);
      if (!isProblem(next, 401, 'unauthenticated')) letIn.push(`reset, round ${round}, token ${i + 1}: ${next.status}`);
    }

    const leaving = await activeAccount(a, identity('xleave'));
    const theirs = await createToken(a, leaving);
    await cachedOn(b, theirs.token);
    t.is((await api(a.url, 'DELETE', '/v1/me', { currentPassword: leaving.password }, { token: leaving.token })).status, 204);
    const next = await me(b.url, theirs.token);
    if (!isProblem(next, 401, 'unauthenticated')) letIn.push(`deletion, round ${round}: ${next.status}`);
  }
  t.deepEqual(letIn, [], `B let in, on the next request, ${letIn.length} of ${ROUNDS * 3} tokens ended on A`);
});

test.serial('postgres › a password change on A keeps the tokens working on B', async (t) => {
  const [a, b] = (await daemonsOnOneDatabase(t, 2)) as [TestDaemon, TestDaemon];
  const account = await activeAccount(a, identity('xchange'));
  const { token } = await createToken(a, account);
  await cachedOn(b, token);
  const change = await api(a.url, 'POST', '/v1/me/password', { currentPassword: account.password, newPassword: 'lantern-orchard-violet-98-quartz' }, { token: account.token });
  t.is(change.status, 200, shown(change));
  t.is((await me(b.url, token)).status, 200);
});

test.serial('postgres › three daemons noticing expiring tokens at the same moment send each "expires in 7 days" mail exactly once; a second round sends none; tokens of 7 days or less get none', async (t) => {
  const clock = { now: Date.parse('2030-09-01T08:00:00.000Z') };
  const created = clock.now;
  const daemons = await daemonsOnOneDatabase(t, 3, clock);
  const a = daemons[0]!;
  const smtp = a.smtp;
  const account = await activeAccount(a, identity('xexpiry'));
  const monthly = await Promise.all(Array.from({ length: 8 }, (_, i) => createToken(a, account, { name: `monthly-${i}`, expiresInDays: 30 })));
  const eightDays = await createToken(a, account, { name: 'eight-days', expiresInDays: 8 });
  const weekly = await createToken(a, account, { name: 'weekly', expiresInDays: 7 });
  const daily = await createToken(a, account, { name: 'daily', expiresInDays: 1 });
  const allAtOnce = async () => (await Promise.all(daemons.map((daemon) => daemon.daemon.jobs.noticeExpiringTokens()))).reduce((sum, n) => sum + n, 0);

  // Between the steps, every queued mail is delivered before the clock moves on: the outbox's
  // leases run on the same clock, and a jump of days under a mail in flight would (rightly) let
  // another daemon take it over, as if its sender had died.
  const settled = async () => Promise.all(daemons.map((daemon) => outboxSettled(daemon)));
  t.is(await allAtOnce(), 0, 'at creation: the 1- and 7-day tokens are within their last 7 days, but never lived longer than that');
  await settled(); // the creation notices
  clock.now = created + DAY + MINUTE;
  t.is(await allAtOnce(), 1, 'a day on: the 8-day token enters its last 7 days; one daemon of three queues its mail');
  await settled();
  clock.now = created + 23 * DAY + MINUTE;
  t.is(await allAtOnce(), 8, 'the 30-day tokens: each queued once among the three');
  t.is(await allAtOnce(), 0, 'a second round queues nothing');
  await settled();
  clock.now += 6 * DAY;
  t.is(await allAtOnce(), 0, 'nor later in the last 7 days');

  const names = [eightDays, ...monthly].map(({ info }) => info.name);
  await smtp.waitFor(() => smtp.mailsTo(account.email).filter((m) => EXPIRING.test(m.subject)).length >= names.length);
  await settled();
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // room for a duplicate to arrive
  const subjects = smtp.mailsTo(account.email).filter((m) => EXPIRING.test(m.subject)).map((m) => m.subject);
  t.is(subjects.length, names.length, subjects.join('\n'));
  for (const name of names) t.is(subjects.filter((subject) => subject.includes(` ${name} `)).length, 1, `exactly one mail for ${name}`);
  for (const name of [weekly.info.name, daily.info.name]) t.false(subjects.some((subject) => subject.includes(` ${name} `)), `none for ${name}`);
  const queued = await a.daemon.db.knex('mail_outbox').where('kind', 'token_expiring').count({ n: '*' }).first();
  t.is(Number(queued?.n), names.length, 'one row each in the outbox');
  t.is((await listTokens(a.url, account.token)).length, 11, 'every token still listed');
});
