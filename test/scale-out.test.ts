// Several daemons on one PostgreSQL behind a load balancer: migrations once, sessions revoked
// everywhere within 100 ms while each daemon answers from its cache, throttles counted together,
// mail claimed and never raced, and a database that goes away and comes back. Real daemon
// processes, a real PostgreSQL, a real SMTP receiver.
import test from 'ava';
import pg from 'pg';
import { migrationSource } from '../db/migrations/index.js';
import { CACHE_TTL_MS } from '../server/sessions/store.js';
import { spawnDaemon } from './helpers/cli.js';
import { startDaemonProcess, startDaemonProcesses, type DaemonProcess } from './helpers/cluster.js';
import { STRONG_PASSWORD, identity } from './helpers/daemon.js';
import { api } from './helpers/http.js';
import { sharedPostgres, startPostgres, stopSharedPostgres } from './helpers/postgres.js';
import { REVOCATION_BOUND_MS, refusedWithin, scansBetween, settledTableScans } from './helpers/session-cache.js';
import { startSmtp, tokenOf, type SmtpReceiver } from './helpers/smtp.js';

test.after.always(stopSharedPostgres);

interface Setup {
  databaseUrl: string;
  smtp: SmtpReceiver;
  env: Record<string, string>;
}

async function setup(t: { teardown(fn: () => Promise<void>): void }): Promise<Setup> {
  const databaseUrl = await (await sharedPostgres()).createDatabase();
  const smtp = await startSmtp();
  t.teardown(() => smtp.close());
  return { databaseUrl, smtp, env: { DATABASE_URL: databaseUrl, SMTP_URL: smtp.url } };
}

function stopAll(t: { teardown(fn: () => Promise<void>): void }, daemons: DaemonProcess[]): void {
  t.teardown(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop()));
  });
}

async function query<T = Record<string, unknown>>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Registers on one daemon, verifies on another, logs in on a third: returns the token. */
async function activeAccountAcross(daemons: DaemonProcess[], smtp: SmtpReceiver, who = identity('scale')) {
  const [a, b, c] = [daemons[0]!, daemons[1 % daemons.length]!, daemons[2 % daemons.length]!];
  if ((await api(a.url, 'POST', '/v1/users', who)).status !== 201) throw new Error('register failed');
  const mail = await smtp.waitFor((m) => m.to === who.email);
  if ((await api(b.url, 'POST', '/v1/verify', { token: tokenOf(mail) })).status !== 200) throw new Error('verify failed');
  const login = await api(c.url, 'POST', '/v1/sessions', { email: who.email, password: who.password });
  if (login.status !== 201) throw new Error(`login failed: ${login.text}`);
  return { ...who, token: login.json.token as string };
}

test('three daemons started at the same moment on an empty database all come up, and each migration runs once', async (t) => {
  const { databaseUrl, env } = await setup(t);
  const daemons = await startDaemonProcesses(3, env);
  stopAll(t, daemons);
  for (const daemon of daemons) t.is((await api(daemon.url, 'GET', '/healthz')).status, 200);
  const rows = await query<{ name: string; n: number }>(databaseUrl, 'SELECT name, count(*)::int AS n FROM knex_migrations GROUP BY name ORDER BY name');
  const known = (await migrationSource.getMigrations([])).map((migration) => migrationSource.getMigrationName(migration)).sort();
  t.true(known.length > 0);
  t.deepEqual(
    rows,
    known.map((name) => ({ name, n: 1 })),
    `each of the ${known.length} migrations in db/migrations/index.ts recorded exactly once, and nothing else`,
  );
});

test('taskmasterd migrate applies the migrations and exits; a second run finds nothing to do', async (t) => {
  const databaseUrl = await (await sharedPostgres()).createDatabase();
  const { execFile } = await import('node:child_process');
  const run = () =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['bin/taskmasterd', 'migrate', '--database-url', databaseUrl], { env: { PATH: process.env.PATH ?? '' } }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end();
    });
  const first = await run();
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /applied \d+ migrations; the database is up to date/);
  const tables = await query<{ tablename: string }>(databaseUrl, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
  t.true(['users', 'sessions', 'mail_outbox', 'rate_limits'].every((name) => tables.some((row) => row.tablename === name)));
  const second = await run();
  t.is(second.code, 0);
  t.is(second.stdout.trim(), 'the database is up to date');
  // and it never started listening
  t.notRegex(first.stdout + second.stdout, /listening on/);
});

// Serial: the 100 ms bound is measured, so these two do not share the CPU with the other tests here.
test.serial('a token from any daemon works on all; a logout on one is refused on another within 100 ms', async (t) => {
  const { env, smtp } = await setup(t);
  const daemons = await startDaemonProcesses(3, env);
  stopAll(t, daemons);
  const [a, b, c] = daemons as [DaemonProcess, DaemonProcess, DaemonProcess];
  const account = await activeAccountAcross(daemons, smtp);
  // Every daemon has now seen the session, and so caches it for 5 s: that one request is enough for
  // a daemon to answer from its cache is what 'a daemon that has seen a session answers GET /v1/me
  // from its cache …' below proves, with PostgreSQL's count of reads.
  for (const daemon of daemons) t.is((await api(daemon.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 200);

  t.is((await api(b.url, 'DELETE', '/v1/sessions/current', undefined, { token: account.token })).status, 204);
  await refusedWithin(t, c.url, account.token, { boundMs: REVOCATION_BOUND_MS, daemon: 'C', after: 'the logout on B' });
  t.is((await api(a.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 401);
});

test('an email change on one daemon ends the other sessions on every daemon, and every daemon shows the new username at once', async (t) => {
  const { env, smtp } = await setup(t);
  const daemons = await startDaemonProcesses(2, env);
  stopAll(t, daemons);
  const [a, b] = daemons as [DaemonProcess, DaemonProcess];
  const account = await activeAccountAcross(daemons, smtp);
  const other = await api(b.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
  t.is((await api(b.url, 'GET', '/v1/me', undefined, { token: other.json.token })).status, 200);

  const renamed = `${account.username}r`;
  t.is((await api(a.url, 'PATCH', '/v1/me', { username: renamed }, { token: account.token })).status, 200);
  t.is((await api(b.url, 'GET', '/v1/me', undefined, { token: account.token })).json.user.username, renamed, 'B does not serve the cached old name');

  const change = await api(a.url, 'PATCH', '/v1/me', { email: `moved-${account.email}`, currentPassword: account.password }, { token: account.token });
  t.is(change.status, 200);
  t.is((await api(b.url, 'GET', '/v1/me', undefined, { token: other.json.token })).status, 401, 'the other session ended on B too');
  t.is((await api(b.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 200, 'the session that made the change stays');
});

test.serial('with the listening connection killed, a logout elsewhere is still refused within the cache lifetime, and the daemon listens again', async (t) => {
  const { env, smtp, databaseUrl } = await setup(t);
  const daemons = await startDaemonProcesses(2, env);
  stopAll(t, daemons);
  const [a, b] = daemons as [DaemonProcess, DaemonProcess];
  const account = await activeAccountAcross(daemons, smtp);
  t.is((await api(b.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 200, 'B has the session cached');

  const listeners = () => query<{ pid: number }>(databaseUrl, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'taskmaster-listen'");
  const before = await listeners();
  t.is(before.length, 2, 'one listening connection per daemon');
  await query(databaseUrl, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'taskmaster-listen'");
  t.is((await api(a.url, 'DELETE', '/v1/sessions/current', undefined, { token: account.token })).status, 204);

  const started = performance.now();
  let status = 0;
  while (performance.now() - started < 5_000 + 1_000) {
    status = (await api(b.url, 'GET', '/v1/me', undefined, { token: account.token })).status;
    if (status === 401) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.is(status, 401, 'refused within the 5 s cache lifetime');
  t.log(`refused ${Math.round(performance.now() - started)} ms after the logout`);

  // The daemons reconnect by themselves and invalidations flow again.
  const deadline = Date.now() + 10_000;
  let after = await listeners();
  while (after.length < 2 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    after = await listeners();
  }
  t.is(after.length, 2, 'both daemons listen again');
  t.true(after.every((row) => !before.some((old) => old.pid === row.pid)), 'on new connections');
  const again = await api(a.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
  t.is((await api(b.url, 'GET', '/v1/me', undefined, { token: again.json.token })).status, 200);
  t.is((await api(a.url, 'DELETE', '/v1/sessions/current', undefined, { token: again.json.token })).status, 204);
  await refusedWithin(t, b.url, again.json.token, { boundMs: REVOCATION_BOUND_MS, daemon: 'B', after: 'a logout on A once both listen again' });
});

// What the cache spares PostgreSQL, counted by PostgreSQL itself (pg_stat_user_tables), whichever
// process asked. Exact because nothing else reads `sessions` or `users` in this database meanwhile:
// the test has a database of its own; the daemons' mail senders poll mail_outbox only; the sweep of
// expired sessions runs once an hour; last_used_at is written at most once a minute per session, and
// this one is seconds old; the listening connections read no table; autovacuum's work is not
// counted as scans. The counts are read only once PostgreSQL has published them (STATS_SETTLE_MS).
// Without the cache each of the 21 requests would read both tables: 21 scans of each.
test('a daemon that has seen a session answers GET /v1/me from its cache: 20 more requests read neither the sessions nor the users table', async (t) => {
  const tables = ['sessions', 'users'];
  const { env, smtp, databaseUrl } = await setup(t);
  const daemons = await startDaemonProcesses(2, env);
  stopAll(t, daemons);
  const [a, b] = daemons as [DaemonProcess, DaemonProcess];
  const account = await activeAccountAcross([a], smtp); // registered, verified and logged in on A: B has seen neither session nor user
  const before = await settledTableScans(databaseUrl, tables);

  const started = performance.now();
  t.is((await api(b.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 200, 'the first request on B');
  for (let i = 0; i < 20; i++) t.is((await api(b.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 200);
  const tookMs = performance.now() - started;
  t.true(tookMs < CACHE_TTL_MS, `the 21 requests took ${Math.round(tookMs)} ms: all within the ${CACHE_TTL_MS} ms a cache entry lives`);

  const reads = scansBetween(before, await settledTableScans(databaseUrl, tables));
  t.deepEqual(reads, { sessions: 1, users: 1 }, 'the first request reads the session and the user once each; the 20 after it read nothing');
});

test('failed logins spread round-robin over three daemons are blocked after the shared limit, not three times it', async (t) => {
  const { env, smtp } = await setup(t);
  const daemons = await startDaemonProcesses(3, env);
  stopAll(t, daemons);
  const account = await activeAccountAcross(daemons, smtp);
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) {
    const daemon = daemons[i % 3]!;
    statuses.push((await api(daemon.url, 'POST', '/v1/sessions', { email: account.email, password: `${STRONG_PASSWORD}-wrong` })).status);
  }
  t.deepEqual(statuses.slice(0, 10), Array(10).fill(401), 'ten wrong passwords are answered');
  t.deepEqual(statuses.slice(10), [429, 429], 'the eleventh and twelfth are blocked, whichever daemon answers');
  for (const daemon of daemons) {
    const right = await api(daemon.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
    t.is(right.status, 429, 'even the right password waits out the block from this address');
    t.true(Number(right.headers['retry-after']) > 50 && Number(right.headers['retry-after']) <= 60, `Retry-After ${right.headers['retry-after']}`);
  }
});

test('a throttle survives a restart of every daemon', async (t) => {
  const { env, smtp } = await setup(t);
  const first = await startDaemonProcess(env);
  const account = await activeAccountAcross([first], smtp);
  for (let i = 0; i < 10; i++) await api(first.url, 'POST', '/v1/sessions', { email: account.email, password: `${STRONG_PASSWORD}-wrong` });
  await first.stop();
  const second = await startDaemonProcess(env);
  stopAll(t, [second]);
  const reply = await api(second.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
  t.is(reply.status, 429);
});

test('200 registrations spread over three daemons: every mail arrives exactly once', async (t) => {
  const { env, smtp } = await setup(t);
  const daemons = await startDaemonProcesses(3, env, { mailLease: { leaseMs: 30_000, pollMs: 200 } });
  stopAll(t, daemons);
  const people = Array.from({ length: 200 }, () => identity('mail'));
  const queue = [...people.entries()];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [i, who] = next;
      const reply = await api(daemons[i % 3]!.url, 'POST', '/v1/users', who);
      if (reply.status !== 201) throw new Error(`registration ${i}: ${reply.status}`);
    }
  };
  await Promise.all(Array.from({ length: 12 }, worker));
  const deadline = Date.now() + 60_000;
  while (smtp.mails.length < 200 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // a duplicate would come late
  t.is(smtp.mails.length, 200);
  for (const who of people) t.is(smtp.mailsTo(who.email).length, 1, who.email);
  const ids = new Set(smtp.mails.map((mail) => mail.parsed.messageId));
  t.is(ids.size, 200, 'every Message-ID is different');
});

test('kill -9 of a daemon mid-delivery: another daemon delivers its leased mail once the lease runs out, nothing lost', async (t) => {
  const { env, smtp, databaseUrl } = await setup(t);
  const lease = { leaseMs: 3_000, pollMs: 200 };
  const doomed = await startDaemonProcess(env, { mailLease: lease });
  smtp.hold(); // the server stalls before its greeting: the daemon is stuck in delivery
  const people = Array.from({ length: 5 }, () => identity('lease'));
  for (const who of people) t.is((await api(doomed.url, 'POST', '/v1/users', who)).status, 201);
  while (smtp.stalled === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const leased = await query<{ n: number }>(databaseUrl, 'SELECT count(*)::int AS n FROM mail_outbox WHERE sent_at IS NULL AND locked_until IS NOT NULL');
  t.true(leased[0]!.n >= 1, `${leased[0]!.n} mails leased by the daemon about to die`);
  await doomed.kill();
  const killedAt = Date.now();
  smtp.release();

  const survivor = await startDaemonProcess(env, { mailLease: lease });
  stopAll(t, [survivor]);
  for (const who of people) await smtp.waitFor((m) => m.to === who.email, 20_000);
  const leasedDeliveredAfter = Date.now() - killedAt;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  for (const who of people) t.is(smtp.mailsTo(who.email).length, 1, `${who.email} once`);
  t.true(leasedDeliveredAfter >= 2_000, `the leased mail waited for its lease (${leasedDeliveredAfter} ms)`);
  const pending = await query<{ n: number }>(databaseUrl, 'SELECT count(*)::int AS n FROM mail_outbox WHERE sent_at IS NULL');
  t.is(pending[0]!.n, 0);
});

test('when PostgreSQL stops the daemon answers 503, never crashes, and recovers by itself when it is back', async (t) => {
  const cluster = await startPostgres();
  t.teardown(() => cluster.destroy());
  const smtp = await startSmtp();
  t.teardown(() => smtp.close());
  const databaseUrl = await cluster.createDatabase();
  const daemon = await spawnDaemon([], { DATABASE_URL: databaseUrl, SMTP_URL: smtp.url });
  t.teardown(() => void daemon.child.kill('SIGTERM'));
  const account = await activeAccountAcross([{ url: daemon.url } as DaemonProcess], smtp);

  await cluster.stop();
  const health = await api(daemon.url, 'GET', '/healthz');
  t.is(health.status, 503);
  const me = await api(daemon.url, 'GET', '/v1/me', undefined, { token: account.token });
  t.is(me.status, 503);
  t.is(me.json.code, 'service_unavailable');
  const login = await api(daemon.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
  t.is(login.status, 503);
  t.is(login.json.code, 'service_unavailable');
  const register = await api(daemon.url, 'POST', '/v1/users', identity('down'));
  t.is(register.status, 503);
  t.is(daemon.child.exitCode, null, 'still running');
  t.notRegex(daemon.log(), /"status":500/);

  await cluster.start();
  const deadline = Date.now() + 15_000;
  let healthy = 0;
  while (Date.now() < deadline && healthy !== 200) {
    healthy = (await api(daemon.url, 'GET', '/healthz')).status;
    if (healthy !== 200) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  t.is(healthy, 200, 'healthy again');
  t.is((await api(daemon.url, 'GET', '/v1/me', undefined, { token: account.token })).status, 200);
  t.is((await api(daemon.url, 'POST', '/v1/sessions', { email: account.email, password: account.password })).status, 201);
});
