// Readiness (GET /readyz), as a load balancer sees it: 200 once the daemon can take traffic; 503
// not_ready with its reasons when the database lacks a migration, does not answer, or (PostgreSQL)
// the LISTEN connection that carries cache invalidations is down; 200 again once that is over,
// without a restart. /healthz stays the liveness check. No timing is asserted: each state is
// polled for, with a deadline.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrationSource } from '../db/migrations/index.js';
import { api, type Reply } from './helpers/http.js';
import { TASKMASTERD_BIN, baseEnv, runProcess } from './helpers/cli.js';
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { sharedPostgres, startPostgres } from './helpers/postgres.js';
import { has, scrape, valueOf } from './helpers/prometheus.js';

const WAIT_MS = 30_000;
const LISTEN_REASON = /LISTEN connection to PostgreSQL .* is down/;

/** Polls GET /readyz until `done` holds of the answer; fails with the last answer after WAIT_MS. */
async function readyzUntil(td: TestDaemon, done: (reply: Reply) => boolean, what: string): Promise<Reply> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const reply = await api(td.url, 'GET', '/readyz');
    if (done(reply)) return reply;
    if (Date.now() > deadline) throw new Error(`${what}: GET /readyz still answers ${reply.status} ${reply.text} after ${WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ready = (reply: Reply) => reply.status === 200;

forEachDatabase((test, db) => {
  test('GET /readyz answers 200 {status: "ready"} once the daemon can take traffic, with no credential', async (t) => {
    const td = await startTestDaemon({ env: await db.env() });
    t.teardown(() => td.close());
    const reply = await readyzUntil(td, ready, 'the daemon ready');
    t.deepEqual(reply.json, { status: 'ready' });
    t.is(reply.headers['cache-control'], 'no-store');
    t.is((await api(td.url, 'GET', '/healthz')).status, 200);
    const head = await api(td.url, 'HEAD', '/readyz');
    t.is(head.status, 200);
  });

  test('a migration rolled back under a running daemon: /readyz answers 503 not_ready naming it while /healthz stays 200; `taskmasterd migrate` makes it ready again', async (t) => {
    const env = await db.env();
    const td = await startTestDaemon({ env });
    t.teardown(() => td.close());
    await readyzUntil(td, ready, 'the daemon ready');
    // As a restore of a backup taken before the last migration would leave it.
    const [, undone] = (await td.daemon.db.knex.migrate.down({ migrationSource })) as [number, string[]];
    t.is(undone.length, 1);
    // (An answer is reused for a second, so the rollback shows within one.)
    const notReady = await readyzUntil(td, (reply) => reply.status === 503, 'the missing migration seen');
    t.is(notReady.status, 503);
    t.is(notReady.json.code, 'not_ready');
    t.is(notReady.headers['content-type'], 'application/problem+json');
    t.is(notReady.headers['retry-after'], '5');
    t.is(notReady.json.reasons.length, 1);
    t.true(notReady.json.reasons[0].includes(undone[0]!), notReady.json.reasons[0]);
    t.regex(notReady.json.detail, /taskmasterd migrate/);
    t.is((await api(td.url, 'GET', '/healthz')).status, 200, 'alive all the same: a supervisor must not restart it for this');

    const databaseUrl = env.DATABASE_URL ?? `sqlite://${td.dataDir}/taskmaster.sqlite3`;
    const migrated = await runProcess(process.execPath, [TASKMASTERD_BIN, 'migrate', '--data-dir', td.dataDir], { env: baseEnv({ DATABASE_URL: databaseUrl }), timeoutMs: 60_000 });
    t.is(migrated.code, 0, migrated.stderr);
    t.deepEqual((await readyzUntil(td, ready, 'ready once migrated')).json, { status: 'ready' });
  });

  // Only PostgreSQL is a server that can go away, and has a LISTEN connection.
  if (db.dialect !== 'postgres') return;

  test('the LISTEN connection lost while the database answers: /readyz answers 503 naming it and /healthz 200; once it reconnects, 200 again', async (t) => {
    const env = await db.env();
    const td = await startTestDaemon({ env });
    t.teardown(() => td.close());
    await readyzUntil(td, ready, 'the daemon ready');
    const name = new URL(env.DATABASE_URL!).pathname.slice(1);
    const admin = new pg.Client({ connectionString: (await sharedPostgres()).adminUrl });
    await admin.connect();
    t.teardown(() => admin.end());
    // No new connection to this database, so the listener cannot come back until allowed; the
    // daemon's pooled connections stay, so the database itself still answers.
    await admin.query(`ALTER DATABASE ${admin.escapeIdentifier(name)} ALLOW_CONNECTIONS false`);
    t.teardown(() => admin.query(`ALTER DATABASE ${admin.escapeIdentifier(name)} ALLOW_CONNECTIONS true`).then(() => undefined));
    const ended = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'taskmaster-listen'", [name]);
    t.is(ended.rowCount, 1, 'the daemon had one LISTEN connection');

    const notReady = await readyzUntil(td, (reply) => reply.status === 503, 'the LISTEN loss seen');
    t.is(notReady.json.code, 'not_ready');
    t.deepEqual(notReady.json.reasons.length, 1, JSON.stringify(notReady.json.reasons));
    t.regex(notReady.json.reasons[0], LISTEN_REASON);
    t.is((await api(td.url, 'GET', '/healthz')).status, 200, 'alive: the database answers');

    await admin.query(`ALTER DATABASE ${admin.escapeIdentifier(name)} ALLOW_CONNECTIONS true`);
    t.deepEqual((await readyzUntil(td, ready, 'the LISTEN connection back')).json, { status: 'ready' });
  });

  test('PostgreSQL stopped: /readyz answers 503 with the reasons and /metrics still answers (without the outbox gauges); restarted: 200 again from the same daemon', async (t) => {
    const server = await startPostgres(); // a cluster of its own: stopping it disturbs no other test
    t.teardown(() => server.destroy());
    const td = await startTestDaemon({ env: { DATABASE_URL: await server.createDatabase(), METRICS_PORT: '0', TOTP_ENCRYPTION_KEY: randomBytes(32).toString('hex') } });
    t.teardown(() => td.close());
    await readyzUntil(td, ready, 'the daemon ready');
    const account = await activeAccount(td, identity('readyz'));

    await server.stop();
    const down = await readyzUntil(td, (reply) => reply.status === 503 && reply.json.reasons.length === 2, 'both reasons');
    t.is(down.json.code, 'not_ready');
    t.regex(down.json.reasons[0], /the database (is not reachable|did not answer)/);
    t.regex(down.json.reasons[1], LISTEN_REASON);
    const scraped = await scrape(td.daemon.metricsUrl!);
    t.is(scraped.status, 200, 'the metrics listener needs no database');
    t.false(has(scraped.families, 'taskmaster_mail_outbox_depth'), 'a depth that could not be read is absent, not 0');
    t.true(valueOf(scraped.families, 'taskmaster_http_requests_total', { method: 'GET', route: '/readyz', status: '503' }) >= 1);

    await server.start();
    t.deepEqual((await readyzUntil(td, ready, 'PostgreSQL back')).json, { status: 'ready' });
    const me = await api(td.url, 'GET', '/v1/me', undefined, { token: account.token });
    t.is(me.status, 200);
    t.true(has((await scrape(td.daemon.metricsUrl!)).families, 'taskmaster_mail_outbox_depth'));
  });
});
