// Prometheus metrics (METRICS_PORT): the text a real Prometheus would scrape, read with a
// Prometheus text-format parser and, where the machine has it, promtool's lint; the counters
// moving as a user and an attacker act on a real daemon; no label that names a person; and the
// listener off unless asked for, and never on the API's port.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ParsedFamily } from 'parse-prometheus-text-format';
import { ConfigError, readConfig } from '../server/core/config.js';
import { UNMATCHED_ROUTE } from '../server/metrics/requests.js';
import { createToken } from './helpers/access-tokens.js';
import { api } from './helpers/http.js';
import { TASKMASTERD_BIN, baseEnv, runProcess, spawnDaemon } from './helpers/cli.js';
import { STRONG_PASSWORD, activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { PROMTOOL, has, histogramCountOf, promtoolCheckRules, labelValues, promtoolCheck, scrape, seriesOf, valueOf } from './helpers/prometheus.js';
import { MAIL_WAIT_MS, startSmtp } from './helpers/smtp.js';
import { wrongCode } from './helpers/totp.js';
import { enableTwoFactor, login } from './helpers/two-factor.js';

const WAIT_MS = 30_000;

/** Polls `read` until `done` holds of it, or fails with what it saw last (no timing is asserted). */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function families(td: TestDaemon): Promise<ParsedFamily[]> {
  const scraped = await scrape(td.daemon.metricsUrl!);
  if (scraped.status !== 200) throw new Error(`GET /metrics answered ${scraped.status}: ${scraped.text}`);
  return scraped.families;
}

/** A daemon with metrics on, once ready (on PostgreSQL the LISTEN connection, which the caches need, is up). */
async function metricsDaemon(env: Record<string, string>, options: Parameters<typeof startTestDaemon>[0] = {}): Promise<TestDaemon> {
  const td = await startTestDaemon({ ...options, env: { ...env, METRICS_PORT: '0' } });
  await until(() => api(td.url, 'GET', '/readyz').then((reply) => reply.status), (status) => status === 200, 'GET /readyz');
  return td;
}

/** The TCP sockets process `pid` listens on, from /proc (Linux): their inodes matched against its file descriptors. */
async function listeningSockets(pid: number): Promise<number> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  let listening = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      // st 0A is LISTEN; the 10th field is the inode
      if (fields[3] === '0A' && inodes.has(fields[9] ?? '')) listening++;
    }
  }
  return listening;
}

const promtoolTitle = PROMTOOL ? 'and `promtool check metrics` passes' : '(promtool is not installed here: its lint was NOT run, only the parser checked the text)';

forEachDatabase((test, db) => {
  test(`GET /metrics on the metrics port answers the Prometheus text format: it parses ${promtoolTitle}; the API port does not serve it`, async (t) => {
    const td = await metricsDaemon(await db.env());
    t.teardown(() => td.close());
    await activeAccount(td); // some traffic, so every kind of series is in the text
    const scraped = await scrape(td.daemon.metricsUrl!);
    t.is(scraped.status, 200);
    t.is(scraped.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    const names = new Set(scraped.families.map((family) => family.name));
    for (const name of ['taskmaster_http_requests_total', 'taskmaster_http_request_duration_seconds', 'taskmaster_logins_total', 'taskmaster_registrations_total', 'taskmaster_login_blocks_total', 'taskmaster_codes_refused_total', 'taskmaster_tokens_refused_total', 'taskmaster_mails_sent_total', 'taskmaster_mail_outbox_depth', 'taskmaster_credential_cache_hits_total', 'taskmaster_credential_cache_misses_total', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']) {
      t.true(names.has(name), `${name} is in the scrape`);
    }
    for (const family of scraped.families.filter((candidate) => candidate.name.startsWith('taskmaster_'))) {
      if (family.type === 'COUNTER') t.regex(family.name, /_total$/, `${family.name} is a counter`);
      if (family.type === 'HISTOGRAM') t.regex(family.name, /_seconds$/, `${family.name} is a duration`);
    }
    if (PROMTOOL) {
      const lint = promtoolCheck(scraped.text);
      t.is(lint.code, 0, lint.output);
    } else {
      t.log('promtool is not installed (Debian package `prometheus`): `promtool check metrics` was NOT run; the text was checked by the parser only');
    }

    // The API's port has no /metrics; the metrics port has nothing but it.
    const onApi = await api(td.url, 'GET', '/metrics');
    t.is(onApi.status, 404);
    t.is((await scrape(new URL('/v1/me', td.daemon.metricsUrl!).toString())).status, 404);
    const post = await fetch(td.daemon.metricsUrl!, { method: 'POST' });
    t.is(post.status, 405);
    t.is(post.headers.get('allow'), 'GET, HEAD');
  });

  test('the counters move as the actions happen, by route pattern and result, and no label names a user, an address or a token', async (t) => {
    // PostgreSQL daemons need the operator's key for two-factor (on SQLite one is made in the data folder).
    const totpKey: Record<string, string> = db.dialect === 'postgres' ? { TOTP_ENCRYPTION_KEY: randomBytes(32).toString('hex') } : {};
    const td = await metricsDaemon({ ...(await db.env()), ...totpKey }, { limits: { loginFailuresPerAccountAndAddress: 3 } });
    t.teardown(() => td.close());
    let before = await families(td);
    const alice = await activeAccount(td, identity('metrics'));
    let after = await until(() => families(td), (now) => valueOf(now, 'taskmaster_mails_sent_total', { kind: 'verification' }) >= 1, 'the verification mail counted as sent', MAIL_WAIT_MS);
    t.is(valueOf(after, 'taskmaster_registrations_total') - valueOf(before, 'taskmaster_registrations_total'), 1, 'one registration');
    t.is(valueOf(after, 'taskmaster_mails_sent_total', { kind: 'verification' }), 1, 'one verification mail');
    t.is(valueOf(after, 'taskmaster_logins_total', { result: 'success' }), 1, 'one login');

    // One wrong password moves the failure counter by exactly 1, and nothing else of the logins.
    before = after;
    t.is((await login(td.url, alice, 'not-the-password-at-all')).status, 401);
    after = await families(td);
    t.is(valueOf(after, 'taskmaster_logins_total', { result: 'invalid_credentials' }) - valueOf(before, 'taskmaster_logins_total', { result: 'invalid_credentials' }), 1);
    for (const series of seriesOf(after, 'taskmaster_logins_total').filter((labels) => labels.result !== 'invalid_credentials')) {
      t.is(valueOf(after, 'taskmaster_logins_total', series), valueOf(before, 'taskmaster_logins_total', series), `logins{result="${series.result}"} did not move`);
    }
    t.is(valueOf(after, 'taskmaster_login_blocks_total', { scope: 'account_and_address' }), 0, 'one failure sets no block');

    // Repeated GET /v1/me: answered from the session cache.
    const beforeText = (await scrape(td.daemon.metricsUrl!)).text;
    before = await families(td);
    for (let i = 0; i < 5; i++) t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: alice.token })).status, 200);
    const afterText = (await scrape(td.daemon.metricsUrl!)).text;
    after = await families(td);
    const moved = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
    t.is(moved('taskmaster_credential_cache_hits_total', { cache: 'sessions' }) + moved('taskmaster_credential_cache_misses_total', { cache: 'sessions' }), 5, 'one session lookup per request');
    t.true(moved('taskmaster_credential_cache_hits_total', { cache: 'sessions' }) >= 4, 'the repeats came from the cache');
    t.is(moved('taskmaster_http_requests_total', { method: 'GET', route: '/v1/me', status: '200' }), 5);
    t.is(histogramCountOf(afterText, 'taskmaster_http_request_duration_seconds', { method: 'GET', route: '/v1/me', status: '200' }) - histogramCountOf(beforeText, 'taskmaster_http_request_duration_seconds', { method: 'GET', route: '/v1/me', status: '200' }), 5);

    // The same with an access token: its lookups are counted by its own cache's label.
    const accessToken = (await createToken(td, alice, { scopes: ['account:read'] })).token;
    before = await families(td);
    for (let i = 0; i < 5; i++) t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: accessToken })).status, 200);
    after = await families(td);
    t.is(moved('taskmaster_credential_cache_hits_total', { cache: 'access_tokens' }) + moved('taskmaster_credential_cache_misses_total', { cache: 'access_tokens' }), 5, 'one access token lookup per request');
    t.true(moved('taskmaster_credential_cache_hits_total', { cache: 'access_tokens' }) >= 4, 'the repeats came from the cache');

    // A route with a parameter is counted by its pattern, never by the id in the path.
    const second = await login(td.url, alice, alice.password);
    t.is(second.status, 201);
    const listed = await api(td.url, 'GET', '/v1/sessions', undefined, { token: alice.token });
    const other = (listed.json.sessions as { id: string; current: boolean }[]).find((session) => !session.current)!;
    t.is((await api(td.url, 'DELETE', `/v1/sessions/${other.id}`, undefined, { token: alice.token })).status, 204);
    t.is((await api(td.url, 'GET', `/v1/users/${alice.email}/${alice.user.id}`)).status, 404);

    // Tokens and codes refused, as an attacker would send them.
    const forged = `tm_${randomBytes(32).toString('base64url')}`;
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: forged })).status, 401);
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: second.json.token })).status, 401, 'the revoked session');
    const forgedAccessToken = `tmp_${randomBytes(27).toString('base64url')}`;
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: forgedAccessToken })).status, 401);
    t.is((await api(td.url, 'POST', '/v1/verify', { token: randomBytes(32).toString('base64url') })).status, 400);
    t.is((await api(td.url, 'POST', '/v1/password/reset', { token: randomBytes(32).toString('base64url'), password: STRONG_PASSWORD })).status, 400);

    const bob = await activeAccount(td, identity('metrics2fa'));
    const guarded = await enableTwoFactor(td.url, { ...bob, token: bob.token });
    t.is((await login(td.url, bob, bob.password)).status, 401, 'otp_required');
    t.is((await login(td.url, bob, bob.password, { code: wrongCode(guarded.secret) })).status, 403, 'invalid_code');

    // A block: the third wrong password from one address sets it, the fourth attempt meets it.
    const carol = await activeAccount(td, identity('metricsblock'));
    for (let i = 0; i < 3; i++) t.is((await login(td.url, carol, 'wrong-password-for-carol')).status, 401);
    t.is((await login(td.url, carol, carol.password)).status, 429);

    const end = await families(td);
    const since = (name: string, labels: Record<string, string> = {}) => valueOf(end, name, labels) - valueOf(after, name, labels);
    t.is(since('taskmaster_http_requests_total', { method: 'DELETE', route: '/v1/sessions/:id', status: '204' }), 1);
    t.is(since('taskmaster_http_requests_total', { method: 'GET', route: UNMATCHED_ROUTE, status: '404' }), 1);
    t.is(since('taskmaster_tokens_refused_total', { kind: 'session' }), 2);
    t.is(since('taskmaster_tokens_refused_total', { kind: 'access_token' }), 1);
    t.is(since('taskmaster_tokens_refused_total', { kind: 'email_verification' }), 1);
    t.is(since('taskmaster_tokens_refused_total', { kind: 'password_reset' }), 1);
    t.is(since('taskmaster_logins_total', { result: 'otp_required' }), 1);
    t.is(since('taskmaster_logins_total', { result: 'invalid_code' }), 1);
    t.is(since('taskmaster_codes_refused_total'), 1);
    t.is(since('taskmaster_logins_total', { result: 'invalid_credentials' }), 3);
    t.is(since('taskmaster_login_blocks_total', { scope: 'account_and_address' }), 1);
    t.is(since('taskmaster_login_blocks_total', { scope: 'account' }), 0);
    t.is(since('taskmaster_logins_total', { result: 'blocked' }), 1);
    t.is(since('taskmaster_registrations_total'), 2);

    // No label value, and nothing anywhere in the text, names who or what was involved.
    const scraped = await scrape(td.daemon.metricsUrl!);
    const routes = new Set(seriesOf(scraped.families, 'taskmaster_http_requests_total').map((labels) => labels.route));
    t.true(routes.has('/v1/sessions/:id'));
    for (const route of routes) t.true(route === UNMATCHED_ROUTE || !/[0-9a-f]{8}-|@/.test(route ?? ''), `route label ${route} is a pattern`);
    const secrets = [alice, bob, carol].flatMap((who) => [who.email, who.email.toLowerCase(), who.username, who.user.id, who.token]);
    secrets.push(second.json.token, second.json.deviceToken, other.id, forged, forgedAccessToken, '127.0.0.1');
    const values = labelValues(scraped.families);
    for (const secret of secrets) {
      t.false(values.some((value) => value.includes(secret)), `no label value contains ${secret}`);
      t.false(scraped.text.includes(secret), `the text does not contain ${secret}`);
    }
  });

  test('the outbox depth counts the mail waiting while the SMTP server stalls, and returns to 0 once it answers', async (t) => {
    const td = await metricsDaemon(await db.env());
    t.teardown(() => td.close());
    t.is(valueOf(await families(td), 'taskmaster_mail_outbox_depth'), 0);
    td.smtp.hold();
    for (let i = 0; i < 3; i++) t.is((await api(td.url, 'POST', '/v1/users', identity('queued'))).status, 201);
    // Read until it says 3 (a scrape may meet the sender mid-lease on SQLite's one connection); a mail
    // that got through the held server would keep it at 2, and the rows are shown then.
    const held = await families(td);
    t.is(valueOf(held, 'taskmaster_mail_outbox_depth'), 3, 'the three mails wait');
    t.true(has(held, 'taskmaster_mail_outbox_oldest_age_seconds'));
    td.smtp.release();
    // The sent counter moves just after a mail's row is marked sent: a scrape between the two sees
    // the outbox empty and the counter one behind, so both are waited for.
    const drained = await until(() => families(td), (now) => valueOf(now, 'taskmaster_mail_outbox_depth') === 0 && valueOf(now, 'taskmaster_mails_sent_total', { kind: 'verification' }) === 3, 'the outbox drained and every mail counted', MAIL_WAIT_MS);
    t.is(valueOf(drained, 'taskmaster_mail_outbox_oldest_age_seconds'), 0);
    t.is(valueOf(drained, 'taskmaster_mails_sent_total', { kind: 'verification' }), 3);
  });

  test('a mail the SMTP server refuses counts as a failed attempt, then as failed for good when it is given up', async (t) => {
    const smtp = await startSmtp({ refuseRecipient: (address) => (address.startsWith('bounce') ? { code: 550, text: '5.1.1 User unknown' } : undefined) });
    t.teardown(() => smtp.close());
    const td = await metricsDaemon(await db.env(), { smtp, mailRetry: { baseMs: 100, maxMs: 200, permanentBaseMs: 100, permanentMaxMs: 200, giveUpAfterMs: 1_000 } });
    t.teardown(() => td.close());
    t.is((await api(td.url, 'POST', '/v1/users', identity('bounce'))).status, 201);
    const end = await until(() => families(td), (now) => valueOf(now, 'taskmaster_mails_failed_total', { kind: 'verification' }) === 1, 'the refused mail given up', MAIL_WAIT_MS);
    t.true(valueOf(end, 'taskmaster_mail_attempts_failed_total', { kind: 'verification', permanent: 'true' }) >= 1, 'the refusals before it was given up');
    t.is(valueOf(end, 'taskmaster_mails_sent_total', { kind: 'verification' }), 0);
    t.is(valueOf(end, 'taskmaster_mail_outbox_depth'), 0, 'a mail given up no longer waits');
  });

  test('two daemons in one process keep their counts apart (a registry each)', async (t) => {
    const env = await db.env();
    const first = await metricsDaemon(env);
    t.teardown(() => first.close());
    const second = await metricsDaemon(await db.env());
    t.teardown(() => second.close());
    t.is((await login(first.url, { email: 'nobody@example.com' }, 'wrong-password-here')).status, 401);
    t.is(valueOf(await families(first), 'taskmaster_logins_total', { result: 'invalid_credentials' }), 1);
    t.is(valueOf(await families(second), 'taskmaster_logins_total', { result: 'invalid_credentials' }), 0);
    t.not(first.daemon.metricsUrl, second.daemon.metricsUrl);
  });

  test('metrics are off by default: the daemon listens on its API port only; with METRICS_PORT on one more, which serves /metrics', async (t) => {
    const env = await db.env();
    const dataDir = await mkdtemp(join(tmpdir(), 'taskmaster-metrics-'));
    t.teardown(() => rm(dataDir, { recursive: true, force: true }));
    const plain = await spawnDaemon(['--data-dir', dataDir], env);
    t.teardown(() => void plain.child.kill('SIGTERM'));
    t.is(await listeningSockets(plain.child.pid!), 1, 'one listening socket: the API');
    t.notRegex(plain.log(), /metrics at/);
    t.is((await api(plain.url, 'GET', '/metrics')).status, 404);
    plain.child.kill('SIGTERM');

    const withMetrics = await spawnDaemon(['--data-dir', dataDir, '--metrics-port', '0'], env);
    t.teardown(() => void withMetrics.child.kill('SIGTERM'));
    const metricsUrl = await until(async () => /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(withMetrics.log())?.[1], (url) => url !== undefined, 'the metrics line in the log');
    t.is(await listeningSockets(withMetrics.child.pid!), 2, 'the API and the metrics');
    const scraped = await scrape(metricsUrl!);
    t.is(scraped.status, 200);
    t.true(has(scraped.families, 'taskmaster_build_info'));
  });
});

test('METRICS_PORT and METRICS_HOST are read, checked and named in --help; the metrics port may not be the API port', async (t) => {
  const run = (argv: string[], env: Record<string, string> = {}) => readConfig(argv, { TASKMASTER_DATA_DIR: tmpdir(), ...env });
  const off = run([]);
  t.true(off.kind === 'run' && off.config.metricsPort === undefined && off.config.metricsHost === '127.0.0.1');
  const on = run(['--metrics-port', '9464']);
  t.true(on.kind === 'run' && on.config.metricsPort === 9464 && on.config.metricsHost === '127.0.0.1');
  const env = run([], { METRICS_PORT: '9100', METRICS_HOST: '0.0.0.0' });
  t.true(env.kind === 'run' && env.config.metricsPort === 9100 && env.config.metricsHost === '0.0.0.0');
  const flagWins = run(['--metrics-port', '9200'], { METRICS_PORT: '9100' });
  t.true(flagWins.kind === 'run' && flagWins.config.metricsPort === 9200);
  t.throws(() => run(['--metrics-port', 'nine']), { instanceOf: ConfigError, message: /METRICS_PORT must be a number/ });
  t.throws(() => run(['--metrics-port', '70000']), { instanceOf: ConfigError, message: /METRICS_PORT must be a number/ });
  t.throws(() => run(['--port', '4000', '--metrics-port', '4000']), { instanceOf: ConfigError, message: /METRICS_PORT must differ from PORT/ });
  const hostOnly = run([], { METRICS_HOST: '0.0.0.0' });
  t.true(hostOnly.kind === 'run' && hostOnly.config.metricsPort === undefined && hostOnly.config.warnings.some((warning) => /METRICS_HOST is set but METRICS_PORT is not/.test(warning)));

  const help = await runProcess(process.execPath, [TASKMASTERD_BIN, '--help']);
  t.regex(help.stdout, /--metrics-port N\s+METRICS_PORT/);
  t.regex(help.stdout, /--metrics-host ADDR\s+METRICS_HOST/);
  t.regex(help.stdout, /GET \/readyz/);
  const same = await runProcess(process.execPath, [TASKMASTERD_BIN, '--port', '4100', '--metrics-port', '4100'], { env: baseEnv() });
  t.is(same.code, 2);
  t.regex(same.stderr, /METRICS_PORT must differ from PORT/);
});

test('a metrics port already taken stops the start with a message naming METRICS_PORT, before the database is touched', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const port = (taken.address() as { port: number }).port;
  const dataDir = await mkdtemp(join(tmpdir(), 'taskmaster-metrics-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const started = await runProcess(process.execPath, [TASKMASTERD_BIN, '--port', '0', '--data-dir', dataDir, '--metrics-port', String(port)], { env: baseEnv({ BCRYPT_COST: '4' }), timeoutMs: 60_000 });
  t.is(started.code, 1);
  t.regex(started.stderr, new RegExp(`METRICS_PORT ${port} is in use`));
  t.deepEqual(await readdir(dataDir), [], 'no database was made');
});

test(`the Grafana dashboard (docs/grafana-dashboard.json) asks only for metrics the daemon serves${PROMTOOL ? ', in PromQL promtool accepts' : ' (promtool is not installed here: its PromQL was NOT checked)'}`, async (t) => {
  const dashboard = JSON.parse(await readFile(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: { type: string; title: string; targets?: { expr: string }[] }[] };
  const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));
  t.true(queries.length >= 10);
  const td = await metricsDaemon({});
  t.teardown(() => td.close());
  await activeAccount(td);
  const served = new Set((await families(td)).flatMap((family) => (family.type === 'HISTOGRAM' ? [`${family.name}_bucket`, `${family.name}_sum`, `${family.name}_count`] : [family.name])));
  for (const { panel, expr } of queries) {
    for (const name of expr.match(/\b(?:taskmaster|process|nodejs)_[a-z_]+\b/g) ?? []) t.true(served.has(name), `"${panel}" asks for ${name}, which /metrics serves`);
  }
  // Grafana's variables, as it would fill them in, then each query as a recording rule.
  const promql = queries.map(({ expr }) => expr.replaceAll('$__rate_interval', '5m').replaceAll('$job', '.*').replaceAll('$instance', '.*'));
  if (!PROMTOOL) return void t.log('promtool is not installed (Debian package `prometheus`): the PromQL of the dashboard was NOT checked');
  const rulesDir = await mkdtemp(join(tmpdir(), 'taskmaster-rules-'));
  t.teardown(() => rm(rulesDir, { recursive: true, force: true }));
  const rulesFile = join(rulesDir, 'dashboard.rules.yml');
  await writeFile(rulesFile, `groups:\n  - name: dashboard\n    rules:\n${promql.map((expr, i) => `      - record: dashboard:query${i}\n        expr: ${JSON.stringify(expr)}\n`).join('')}`);
  const checked = promtoolCheckRules(rulesFile);
  t.is(checked.code, 0, checked.output);
  t.regex(checked.output, new RegExp(`SUCCESS: ${promql.length} rules found`));
});
