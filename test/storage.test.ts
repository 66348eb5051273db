// What is stored and what survives: hashes only, mail held through SMTP outages and restarts.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { api } from './helpers/http.js';
import { spawnDaemon } from './helpers/cli.js';
import { activeAccount, identity, lastingSetup, outboxSettled, startTestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { dumpDatabase } from './helpers/dump.js';
import { tokenOf } from './helpers/smtp.js';

forEachDatabase((test, db) => {
  test('the database holds bcrypt hashes at the configured cost and no plaintext password or raw token', async (t) => {
    const td = await startTestDaemon({ env: { ...(await db.env()), BCRYPT_COST: '5' } });
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('stored'));
    // An email change leaves a confirmation token in flight as well.
    await api(td.url, 'PATCH', '/v1/me', { email: 'moved@example.org', currentPassword: account.password }, { token: account.token });
    const change = await td.smtp.waitFor((m) => m.to === 'moved@example.org');
    const verifyMail = td.smtp.mailsTo(account.email).find((m) => /Activate/.test(m.subject));
    await td.smtp.waitFor((m) => m.to === account.email && /being changed/.test(m.subject));
    await outboxSettled(td); // the sender blanks the bodies of what it delivered

    const user = await td.daemon.db.knex('users').where('username', account.username).first();
    t.regex(user.password_hash, /^\$2b\$05\$/, 'bcrypt at BCRYPT_COST=5');

    const dump = await dumpDatabase(td.daemon.db);
    t.true(dump.includes(account.username) && dump.includes('moved@example.org'), 'the dump sees what was stored');
    t.false(dump.includes(account.password), 'no plaintext password');
    t.false(dump.includes(account.token), 'no raw session token');
    t.false(dump.includes(account.token.slice(3)), 'not even without its prefix');
    t.false(dump.includes(tokenOf(verifyMail!)), 'no raw verification token');
    t.false(dump.includes(tokenOf(change)), 'no raw email-change token');
  });

  test('with SMTP refusing, registration still answers 201 and the mail arrives once SMTP accepts', async (t) => {
    const td = await startTestDaemon({ env: await db.env() });
    t.teardown(() => td.close());
    td.smtp.refusing = true;
    const who = identity('outage');
    // The daemon's start-up check may have connected already: count from here.
    const connectionsBefore = td.smtp.connections;
    const started = Date.now();
    const reply = await api(td.url, 'POST', '/v1/users', who);
    t.is(reply.status, 201);
    t.true(Date.now() - started < 2000, 'not slowed by the dead mail server');
    await new Promise((resolve) => setTimeout(resolve, 600));
    t.true(td.smtp.connections > connectionsBefore, 'the sender tried');
    const row = await td.daemon.db.knex('mail_outbox').where('to_address', who.email).first('attempts', 'last_error', 'sent_at');
    t.true(Number(row.attempts) >= 1 && row.sent_at === null, 'the refused attempt is recorded');
    t.regex(String(row.last_error), /421/, "with the server's answer");
    t.is(td.smtp.mailsTo(who.email).length, 0);
    td.smtp.refusing = false;
    const mail = await td.smtp.waitFor((m) => m.to === who.email);
    t.is((await api(td.url, 'POST', '/v1/verify', { token: tokenOf(mail) })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 700));
    t.is(td.smtp.mailsTo(who.email).length, 1, 'delivered once, not twice');
  });

  test('a daemon restarted on the same data keeps users, sessions and undelivered mail, and delivers it', async (t) => {
    const { dataDir, smtp } = await lastingSetup(t, 'restart');
    // The same data: the data folder's SQLite file, or the same PostgreSQL database.
    const env = await db.env();
    const first = await startTestDaemon({ dataDir, smtp, env });
    const account = await activeAccount(first, identity('keep'));
    smtp.refusing = true;
    const waiting = identity('held');
    t.is((await api(first.url, 'POST', '/v1/users', waiting)).status, 201);
    await first.close();
    t.is(smtp.mailsTo(waiting.email).length, 0);

    smtp.refusing = false;
    const second = await startTestDaemon({ dataDir, smtp, env });
    t.teardown(() => second.close());
    const me = await api(second.url, 'GET', '/v1/me', undefined, { token: account.token });
    t.is(me.status, 200, 'the session survived');
    t.is(me.json.user.username, account.username);
    const mail = await smtp.waitFor((m) => m.to === waiting.email);
    t.is((await api(second.url, 'POST', '/v1/verify', { token: tokenOf(mail) })).status, 200);
  });

  test('without SMTP_URL, mail is written as .eml under <data dir>/outbox/ and the link is logged', async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'taskmaster-outbox-'));
    const { child: daemon, url, log } = await spawnDaemon(['--data-dir', dataDir], await db.env());
    t.teardown(async () => {
      daemon.kill('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    });
    const until = async (pattern: RegExp) => {
      for (let i = 0; i < 100 && !pattern.test(log()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      return pattern.exec(log());
    };
    t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const who = identity('eml');
    t.is((await api(url, 'POST', '/v1/users', who)).status, 201);
    const logged = (await until(/open (http:\/\/\S+\/v1\/verify\?token=[A-Za-z0-9_-]+)/))?.[1];
    t.truthy(logged, 'the link is logged');
    const files = (await readdir(join(dataDir, 'outbox'))).filter((name) => name.endsWith('.eml'));
    t.is(files.length, 1);
    const eml = await readFile(join(dataDir, 'outbox', files[0]!), 'utf8');
    t.regex(eml, new RegExp(`^To: ${who.email}`, 'mi'));
    t.true(eml.includes(logged!), 'the .eml holds the same link, unbroken');
    t.is((await api(url, 'GET', new URL(logged!).pathname + new URL(logged!).search)).status, 200);

    const exited = new Promise<number | null>((resolve) => daemon.on('exit', (code) => resolve(code)));
    daemon.kill('SIGTERM');
    t.is(await exited, 0, 'SIGTERM stops it cleanly with exit 0');
  });

  test('one structured log line per request, with no password or token in any line', async (t) => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const td = await startTestDaemon({ env: await db.env(), log: pino({ level: 'info' }, sink) });
    t.teardown(() => td.close());
    const account = identity('logged');
    await api(td.url, 'POST', '/v1/users', account);
    const verifyToken = tokenOf(await td.smtp.waitFor((m) => m.to === account.email));
    // The link opened while the token is fresh (its page answers 200 whatever it does), then pasted.
    await api(td.url, 'GET', `/v1/verify?token=${verifyToken}`);
    await api(td.url, 'POST', '/v1/verify', { token: verifyToken });
    const token = (await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password })).json.token as string;
    await api(td.url, 'GET', '/v1/me', undefined, { token });
    await api(td.url, 'DELETE', '/v1/sessions/current', undefined, { token });

    const requests = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request');
    t.is(requests.length, 6, 'register, verify link, verify, login, me, logout');
    for (const entry of requests) {
      t.truthy(entry.method && entry.path && entry.status && typeof entry.ms === 'number');
    }
    t.deepEqual(
      requests.map((entry) => `${entry.method} ${entry.path} ${entry.status}`),
      ['POST /v1/users 201', 'GET /v1/verify 200', 'POST /v1/verify 200', 'POST /v1/sessions 201', 'GET /v1/me 200', 'DELETE /v1/sessions/current 204'],
    );
    const all = lines.join('\n');
    t.false(all.includes(account.password));
    t.regex(token, /^tm_/);
    t.false(all.includes(token));
    t.false(all.includes(verifyToken), 'the SMTP setup logs no link');
  });

  test('/healthz answers 503 when the database is unreachable', async (t) => {
    const td = await startTestDaemon({ env: await db.env() });
    t.teardown(() => td.close().catch(() => undefined));
    await td.daemon.db.knex.destroy();
    const reply = await api(td.url, 'GET', '/healthz');
    t.is(reply.status, 503);
    t.is(reply.json.code, 'service_unavailable');
  });
});
