// SMTP as people run it: STARTTLS and TLS on connect with a self-signed certificate, AUTH with a
// password kept out of the URL, TLS required for any host that is not loopback, the reasons of
// failed deliveries in the log, and `taskmasterd --check-mail`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError, readConfig, type Config } from '../server/core/config.js';
import { describeSmtp } from '../server/mail/transports.js';
import { emailChangeNoticeMail } from '../server/accounts/mails.js';
import { api } from './helpers/http.js';
import { TASKMASTERD_BIN, baseEnv, runProcess, type CliResult } from './helpers/cli.js';
import { identity, outboxSettled, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { capturedLog, nonLoopbackAddress, selfSignedCertificate, startSmtp, type CapturedLogLine, type SmtpReceiver, type SmtpReceiverOptions } from './helpers/smtp.js';

const remote = nonLoopbackAddress();
const certificate = selfSignedCertificate(['localhost', '127.0.0.1', remote.reachAs]);
// Characters that must be URL-encoded in SMTP_URL, and that a careless log would show as they are.
const SMTP_PASSWORD = 'p@ss:w/rd%25 and more';

type LogLine = CapturedLogLine;

async function tempFile(t: { teardown(fn: () => Promise<void>): void }, name: string, content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmaster-smtp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, name);
  await writeFile(path, content, { mode: 0o600 });
  return path;
}

async function receiver(t: { teardown(fn: () => Promise<void>): void }, options: SmtpReceiverOptions): Promise<SmtpReceiver> {
  const smtp = await startSmtp(options);
  t.teardown(() => smtp.close());
  return smtp;
}

/** SMTP_URL with a user (URL-encoded) and no password. */
function urlWithUser(smtp: SmtpReceiver, user: string): string {
  return smtp.url.replace('://', `://${encodeURIComponent(user)}@`);
}

async function outboxRow(td: TestDaemon, email: string) {
  return td.daemon.db.knex('mail_outbox').where('to_address', email).orderBy('id', 'desc').first();
}

function config(env: Record<string, string>): Config {
  const result = readConfig([], { PORT: '0', TASKMASTER_DATA_DIR: '/tmp/taskmaster-config-only', ...env });
  if (result.kind !== 'run') throw new Error('unexpected config result');
  return result.config;
}

function runDaemon(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runProcess(process.execPath, [TASKMASTERD_BIN, ...args], { env: baseEnv(env) });
}

test('smtps:// means TLS on connect (port 465); smtp:// means STARTTLS (port 587), required for any host that is not loopback', (t) => {
  const implicit = config({ SMTP_URL: 'smtps://mail.example.org' }).smtp!;
  t.like(implicit, { implicitTls: true, port: 465, host: 'mail.example.org' });
  const submission = config({ SMTP_URL: 'smtp://mail.example.org' }).smtp!;
  t.like(submission, { implicitTls: false, port: 587, requireTls: true });
  t.is(config({ SMTP_URL: 'smtp://192.0.2.10:2525' }).smtp!.requireTls, true, 'an address that is not loopback');
  for (const host of ['127.0.0.1', '127.0.0.53', 'localhost', '[::1]']) {
    t.is(config({ SMTP_URL: `smtp://${host}:25` }).smtp!.requireTls, false, `${host} is loopback`);
  }
  const insecure = config({ SMTP_URL: 'smtp://mail.example.org:25', SMTP_INSECURE: '1' });
  t.like(insecure.smtp, { requireTls: false, insecure: true });
  t.true(insecure.warnings.some((warning) => /SMTP_INSECURE/.test(warning) && /plaintext/.test(warning)));
  t.throws(() => config({ SMTP_URL: 'smtp://mail.example.org?tls.rejectUnauthorized=false' }), { instanceOf: ConfigError, message: /SMTP_TLS_CA_FILE and SMTP_INSECURE/ });
  t.throws(() => config({ SMTP_URL: 'http://mail.example.org' }), { instanceOf: ConfigError });
});

test('on loopback TLS is opportunistic: certificates are not checked without SMTP_TLS_CA_FILE, checked against it (not the host name) with one; every other host keeps the full check; the start-up line says which', (t) => {
  const bare = config({ SMTP_URL: 'smtp://127.0.0.1:25' }).smtp!;
  t.like(bare, { requireTls: false, certificates: 'none' });
  t.is(describeSmtp(bare), 'smtp://127.0.0.1:25 (STARTTLS if offered, else plaintext: loopback host, certificates not checked: opportunistic TLS on loopback, as between mail servers)');
  t.is(config({ SMTP_URL: 'smtp://localhost:25' }).smtp!.certificates, 'none');
  t.is(describeSmtp(config({ SMTP_URL: 'smtps://127.0.0.1' }).smtp!), 'smtps://127.0.0.1:465 (TLS on connect, certificates not checked: loopback host)');
  const caFile = '/dev/null';
  t.throws(() => config({ SMTP_URL: 'smtp://127.0.0.1:25', SMTP_TLS_CA_FILE: caFile }), { message: /no PEM certificate/ }, 'a CA file is still read and checked');
  const remoteHost = config({ SMTP_URL: 'smtp://mail.example.org' }).smtp!;
  t.like(remoteHost, { requireTls: true, certificates: 'system' });
  t.is(describeSmtp(remoteHost), 'smtp://mail.example.org:587 (STARTTLS required, certificates checked)');
});

test('SMTP_INSECURE with SMTP_TLS_CA_FILE warns that the CA file is ignored (and does not read it)', (t) => {
  const insecure = config({ SMTP_URL: 'smtp://mail.example.org', SMTP_INSECURE: '1', SMTP_TLS_CA_FILE: '/nonexistent/ca.pem' });
  t.true(insecure.warnings.some((warning) => /^SMTP_TLS_CA_FILE is ignored: SMTP_INSECURE turns certificate checks off/.test(warning)), insecure.warnings.join('\n'));
  t.like(insecure.smtp, { ca: undefined, certificates: 'none' });
  t.false(config({ SMTP_URL: 'smtp://mail.example.org', SMTP_INSECURE: '1' }).warnings.some((warning) => /SMTP_TLS_CA_FILE/.test(warning)), 'no such warning without the file');
});

test('the SMTP user and password are URL-decoded; SMTP_PASSWORD or SMTP_PASSWORD_FILE replaces the URL password; two sources are refused', async (t) => {
  const fromUrl = config({ SMTP_URL: `smtp://mailer%40example.org:${encodeURIComponent(SMTP_PASSWORD)}@mail.example.org:587` }).smtp!;
  t.is(fromUrl.user, 'mailer@example.org');
  t.is(fromUrl.password, SMTP_PASSWORD);
  t.is(config({ SMTP_URL: 'smtp://mailer@mail.example.org', SMTP_PASSWORD }).smtp!.password, SMTP_PASSWORD);
  const file = await tempFile(t, 'password', `${SMTP_PASSWORD}\n`);
  t.is(config({ SMTP_URL: 'smtp://mailer@mail.example.org', SMTP_PASSWORD_FILE: file }).smtp!.password, SMTP_PASSWORD, 'the trailing newline is not part of it');

  const twice = t.throws(() => config({ SMTP_URL: 'smtp://mailer:secret@mail.example.org', SMTP_PASSWORD: 'other' }), { instanceOf: ConfigError });
  t.regex(twice!.message, /once/);
  t.throws(() => config({ SMTP_URL: 'smtp://mail.example.org', SMTP_PASSWORD: 'secret' }), { instanceOf: ConfigError, message: /user name/ });
  t.throws(() => config({ SMTP_URL: 'smtp://mailer@mail.example.org' }), { instanceOf: ConfigError, message: /no password is set: use SMTP_PASSWORD_FILE/ });
  t.throws(() => config({ SMTP_URL: 'smtp://mailer@mail.example.org', SMTP_PASSWORD_FILE: '/nonexistent/password' }), { instanceOf: ConfigError, message: /ENOENT/ });
  const bad = t.throws(() => config({ SMTP_URL: 'smtp://mailer:100%zz@mail.example.org' }), { instanceOf: ConfigError });
  t.regex(bad!.message, /%40/, 'says how to encode');
  t.false(bad!.message.includes('100%zz'), 'never echoes the password');

  const fromFlag = readConfig(['--smtp-url', 'smtp://mailer:secret@mail.example.org'], { PORT: '0' });
  t.true(fromFlag.kind === 'run' && fromFlag.config.warnings.some((warning) => /ps/.test(warning) && /SMTP_PASSWORD_FILE/.test(warning)), 'a password on the command line is warned about');
});

test("MAIL_FROM and the EHLO name come from PUBLIC_URL's host; SUPPORT_EMAIL is optional", (t) => {
  t.is(config({}).mailFrom, 'TaskMaster <no-reply@taskmaster.local>', 'no PUBLIC_URL');
  const named = config({ PUBLIC_URL: 'https://accounts.example.org/', SMTP_URL: 'smtp://127.0.0.1:25' });
  t.is(named.mailFrom, 'TaskMaster <no-reply@accounts.example.org>');
  t.is(named.smtp!.ehloName, 'accounts.example.org');
  const byAddress = config({ PUBLIC_URL: 'http://192.0.2.7:4000', SMTP_URL: 'smtp://127.0.0.1:25' });
  t.is(byAddress.mailFrom, 'TaskMaster <no-reply@taskmaster.local>', 'an address makes no mail domain');
  t.is(byAddress.smtp!.ehloName, '[192.0.2.7]', 'an address literal in EHLO');
  t.is(config({ PUBLIC_URL: 'https://accounts.example.org', MAIL_FROM: 'Tasks <tasks@example.org>' }).mailFrom, 'Tasks <tasks@example.org>');
  t.throws(() => config({ MAIL_FROM: 'nobody' }), { instanceOf: ConfigError, message: /MAIL_FROM/ });
  t.is(config({}).supportEmail, undefined);
  t.is(config({ SUPPORT_EMAIL: 'help@example.org' }).supportEmail, 'help@example.org');
  t.throws(() => config({ SUPPORT_EMAIL: 'help' }), { instanceOf: ConfigError, message: /SUPPORT_EMAIL/ });
});

test('the email-change notice points to `taskmaster password change`, and names SUPPORT_EMAIL only when one is set', (t) => {
  const without = emailChangeNoticeMail({ username: 'ada', newEmail: 'new@example.org' });
  t.regex(without.text, /taskmaster password change/);
  t.notRegex(without.text, /support|write to/i, 'no invented support address');
  const withSupport = emailChangeNoticeMail({ username: 'ada', newEmail: 'new@example.org', supportEmail: 'help@example.org' });
  t.regex(withSupport.text, /taskmaster password change/);
  t.regex(withSupport.text, /help@example\.org/);
  t.regex(withSupport.html, /help@example\.org/);
});

test('STARTTLS with AUTH to a host that is not loopback: password from SMTP_PASSWORD_FILE, CA from SMTP_TLS_CA_FILE, EHLO name and sender from PUBLIC_URL', async (t) => {
  const smtp = await receiver(t, { host: remote.listen, urlHost: remote.reachAs, tls: certificate, auth: { user: 'mailer@example.org', password: SMTP_PASSWORD } });
  const logs = capturedLog();
  const td = await startTestDaemon({
    smtp,
    log: logs.log,
    env: {
      SMTP_URL: urlWithUser(smtp, 'mailer@example.org'),
      SMTP_PASSWORD_FILE: await tempFile(t, 'password', `${SMTP_PASSWORD}\n`),
      SMTP_TLS_CA_FILE: await tempFile(t, 'ca.pem', certificate.cert),
      PUBLIC_URL: 'https://accounts.example.org',
    },
  });
  t.teardown(() => td.close());
  t.true(td.config.smtp!.requireTls, `${remote.reachAs} is not loopback`);
  await logs.waitFor((line) => /SMTP server .* answered and accepted the login/.test(line.msg));

  const who = identity('tls');
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const mail = await smtp.waitFor((m) => m.to === who.email);
  t.true(mail.secure, 'sent after STARTTLS');
  t.is(mail.user, 'mailer@example.org', 'logged in with the URL-encoded user');
  t.is(mail.ehloName, 'accounts.example.org', 'EHLO from PUBLIC_URL');
  t.is(mail.from, 'no-reply@accounts.example.org', 'envelope sender from PUBLIC_URL');
  t.is(mail.parsed.from?.text, '"TaskMaster" <no-reply@accounts.example.org>');
  t.regex(mail.text, /https:\/\/accounts\.example\.org\/v1\/verify\?token=/);
  t.false(logs.all().includes(SMTP_PASSWORD), 'no password in the log');
});

test('smtps:// delivers to a server that speaks TLS from the first byte', async (t) => {
  const smtp = await receiver(t, { tls: certificate, implicitTls: true });
  t.regex(smtp.url, /^smtps:\/\//);
  const td = await startTestDaemon({ smtp, env: { SMTP_TLS_CA_FILE: await tempFile(t, 'ca.pem', certificate.cert) } });
  t.teardown(() => td.close());
  const who = identity('smtps');
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const mail = await smtp.waitFor((m) => m.to === who.email);
  t.true(mail.secure);
});

test('a server without STARTTLS on a host that is not loopback gets no mail in plaintext and is never sent STARTTLS: the log says it does not offer it, and retries wait longer', async (t) => {
  const smtp = await receiver(t, { host: remote.listen, urlHost: remote.reachAs });
  const logs = capturedLog();
  const td = await startTestDaemon({ smtp, log: logs.log });
  t.teardown(() => td.close());
  const check = await logs.waitFor((line) => /SMTP check failed/.test(line.msg));
  t.is(check.level, 40, 'the start-up check warns');
  t.regex(check.msg, /the server does not offer STARTTLS/);

  const who = identity('plain');
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const failure = await logs.waitFor((line) => /not delivered/.test(line.msg));
  t.is(failure.level, 50, 'at error level: retrying cannot fix it');
  t.regex(String(failure.reason), /^the server does not offer STARTTLS .*TLS is required for a host that is not loopback/);
  t.notRegex(String(failure.reason), /refused/);
  t.regex(String(failure.hint), /SMTP_INSECURE/);
  t.is(failure.errorCode, 'ENOSTARTTLS');
  t.is(smtp.mails.length, 0, 'nothing was sent in plaintext');
  const said = smtp.commands.map((entry) => entry.command);
  t.false(said.includes('STARTTLS'), `STARTTLS was not sent to a server that did not offer it: ${said.join(' ')}`);
  t.false(said.includes('MAIL') || said.includes('AUTH'), 'nothing past EHLO in plaintext');
  t.true(said.includes('QUIT'), 'the session is ended politely');
  const row = await outboxRow(td, who.email);
  t.is(row.failed_at, null, 'not given up yet');
  t.true(Number(row.next_attempt_at) - Date.now() > 30_000, 'the next try waits longer than a transient failure would');
  t.regex(row.last_error, /STARTTLS/);
});

test('SMTP_INSECURE sends in plaintext to such a host, and says so at start', async (t) => {
  const smtp = await receiver(t, { host: remote.listen, urlHost: remote.reachAs });
  const logs = capturedLog();
  const td = await startTestDaemon({ smtp, log: logs.log, env: { SMTP_INSECURE: '1' } });
  t.teardown(() => td.close());
  const warning = await logs.waitFor((line) => /SMTP_INSECURE/.test(line.msg));
  t.is(warning.level, 40);
  t.regex(warning.msg, /plaintext/);
  const who = identity('insecure');
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const mail = await smtp.waitFor((m) => m.to === who.email);
  t.false(mail.secure);
});

test('a certificate the daemon does not trust on a host that is not loopback: the reason is logged, the mail is held, then marked failed 3 days after it was queued', async (t) => {
  const smtp = await receiver(t, { host: remote.listen, urlHost: remote.reachAs, tls: certificate });
  const logs = capturedLog();
  let now = Date.now();
  const td = await startTestDaemon({ smtp, log: logs.log, clock: () => now, mailLease: { leaseMs: 120_000, pollMs: 100 } });
  t.teardown(() => td.close());
  const who = identity('untrusted');
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const failure = await logs.waitFor((line) => /not delivered/.test(line.msg));
  t.is(failure.level, 50);
  t.is(failure.errorCode, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  t.regex(String(failure.reason), /^TLS: DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate/);
  t.regex(String(failure.hint), /SMTP_TLS_CA_FILE/);
  t.is((await outboxRow(td, who.email)).failed_at, null);

  now += 3 * 24 * 60 * 60 * 1000;
  const gaveUp = await logs.waitFor((line) => /failed for good/.test(line.msg));
  t.is(gaveUp.level, 50);
  t.regex(gaveUp.msg, /72 h: TLS: DEPTH_ZERO_SELF_SIGNED_CERT/);
  const row = await outboxRow(td, who.email);
  t.is(Number(row.failed_at), now);
  t.is(row.text_body, null, 'the token-bearing body is blanked');
  t.is(smtp.mails.length, 0);
});

test('a 550 refusal is logged with its code and text, retried later, and the mail marked failed after the bound', async (t) => {
  const smtp = await receiver(t, { refuseRecipient: (address) => (address.startsWith('nobody') ? { code: 550, text: '5.1.1 Recipient address rejected: User unknown' } : undefined) });
  const logs = capturedLog();
  let now = Date.now();
  const bound = 10 * 60_000;
  const td = await startTestDaemon({ smtp, log: logs.log, clock: () => now, mailRetry: { giveUpAfterMs: bound }, mailLease: { leaseMs: 120_000, pollMs: 100 } });
  t.teardown(() => td.close());
  const who = { ...identity('bounce'), email: `nobody${process.pid}@example.com` };
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const failure = await logs.waitFor((line) => /not delivered/.test(line.msg));
  t.is(failure.level, 50);
  t.is(failure.smtpCode, 550);
  t.is(failure.reason, 'SMTP 550 5.1.1 Recipient address rejected: User unknown (answer to RCPT TO)');
  t.is(failure.retryInMs, 60_000, 'a refusal waits a minute, not a second');
  t.is((await outboxRow(td, who.email)).failed_at, null);

  now += bound;
  const gaveUp = await logs.waitFor((line) => /failed for good/.test(line.msg));
  t.is(gaveUp.level, 50);
  t.regex(gaveUp.msg, /after 2 attempts.*550 5\.1\.1 Recipient address rejected/);
  const row = await outboxRow(td, who.email);
  t.is(Number(row.failed_at), now);
  t.regex(row.last_error, /^SMTP 550 5\.1\.1/);
  t.is(smtp.mails.length, 0);
});

test('a transient 421 is logged at warn with its reason and retried soon', async (t) => {
  const smtp = await receiver(t, {});
  const logs = capturedLog();
  const td = await startTestDaemon({ smtp, log: logs.log });
  t.teardown(() => td.close());
  smtp.refusing = true;
  const who = identity('busy');
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const failure = await logs.waitFor((line) => /not delivered/.test(line.msg));
  t.is(failure.level, 40);
  t.is(failure.smtpCode, 421);
  t.regex(String(failure.reason), /^SMTP 421 Service not available/);
  t.true(Number(failure.retryInMs) <= 500, 'the short backoff of a transient failure');
  smtp.refusing = false;
  t.truthy(await smtp.waitFor((m) => m.to === who.email));
});

test('on loopback a server offering STARTTLS with a self-signed certificate gets the mail over TLS, once, without SMTP_TLS_CA_FILE', async (t) => {
  const smtp = await receiver(t, { tls: selfSignedCertificate(['mail.example.org'], 'mail.example.org') });
  const logs = capturedLog();
  const td = await startTestDaemon({ smtp, log: logs.log });
  t.teardown(() => td.close());
  const listening = await logs.waitFor((line) => /listening on/.test(line.msg));
  t.regex(String(listening.mail), /STARTTLS if offered, else plaintext: loopback host, certificates not checked: opportunistic TLS on loopback/);
  const who = identity('snakeoil');
  const started = Date.now();
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const mail = await smtp.waitFor((m) => m.to === who.email, 15_000);
  t.true(Date.now() - started < 15_000, 'within seconds, at the first attempt');
  t.true(mail.secure, 'encrypted: STARTTLS was used');
  await outboxSettled(td);
  t.is(smtp.mailsTo(who.email).length, 1, 'once');
  t.false(logs.lines.some((line) => /not delivered/.test(line.msg)), 'no failed attempt');
});

test('on loopback with SMTP_TLS_CA_FILE the certificate is checked against it, not against the host name', async (t) => {
  const named = selfSignedCertificate(['mail.example.org'], 'mail.example.org');
  const smtp = await receiver(t, { tls: named });
  const td = await startTestDaemon({ smtp, env: { SMTP_TLS_CA_FILE: await tempFile(t, 'ca.pem', named.cert) } });
  t.teardown(() => td.close());
  const who = identity('loopca');
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  t.true((await smtp.waitFor((m) => m.to === who.email)).secure, 'a certificate for mail.example.org, reached as 127.0.0.1');

  const stranger = await receiver(t, { tls: selfSignedCertificate(['127.0.0.1'], 'someone else') });
  const logs = capturedLog();
  const other = await startTestDaemon({ smtp: stranger, log: logs.log, env: { SMTP_TLS_CA_FILE: await tempFile(t, 'ca.pem', named.cert) } });
  t.teardown(() => other.close());
  const elsewhere = identity('loopca');
  t.is((await api(other.url, 'POST', '/v1/users', elsewhere)).status, 201);
  const failure = await logs.waitFor((line) => /not delivered/.test(line.msg));
  t.regex(String(failure.reason), /^TLS: /);
  t.regex(String(failure.hint), /^SMTP_TLS_CA_FILE does not vouch for this server's certificate/);
  t.is(stranger.mails.length, 0, 'a certificate the CA file does not vouch for gets nothing');
});

test('a 5xx at RCPT TO without an SMTP user hints that the server probably wants a login; an unknown mailbox does not', async (t) => {
  const smtp = await receiver(t, {
    refuseRecipient: (address) =>
      address.startsWith('nobody') ? { code: 550, text: '5.1.1 <' + address + '>: Recipient address rejected: User unknown' } : { code: 554, text: '5.7.1 <' + address + '>: Relay access denied' },
  });
  const logs = capturedLog();
  const td = await startTestDaemon({ smtp, log: logs.log });
  t.teardown(() => td.close());
  const who = identity('relay');
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const denied = await logs.waitFor((line) => /not delivered/.test(line.msg) && /Relay access denied/.test(String(line.reason)));
  t.is(denied.smtpCode, 554);
  t.regex(String(denied.hint), /the server probably wants a login/);
  t.regex(String(denied.hint), /user in SMTP_URL/);
  t.regex(String(denied.hint), /SMTP_PASSWORD_FILE/);
  t.regex(denied.msg, /probably wants a login/, 'the hint is in the message too');

  const nobody = { ...identity('relay'), email: `nobody${process.pid}x@example.com` };
  t.is((await api(td.url, 'POST', '/v1/users', nobody)).status, 201);
  const unknown = await logs.waitFor((line) => /not delivered/.test(line.msg) && /User unknown/.test(String(line.reason)));
  t.is(unknown.hint, undefined, 'a refused mailbox is not a missing login');
});

test('--check-mail sends one test message with the configured settings and exits 0, without a database', async (t) => {
  const smtp = await receiver(t, { host: remote.listen, urlHost: remote.reachAs, tls: certificate, auth: { user: 'mailer', password: SMTP_PASSWORD } });
  const dataDir = join(tmpdir(), `taskmaster-never-${process.pid}-${Date.now()}`);
  const result = await runDaemon(['--check-mail', 'ops@example.org'], {
    TASKMASTER_DATA_DIR: dataDir,
    SMTP_URL: urlWithUser(smtp, 'mailer'),
    SMTP_PASSWORD,
    SMTP_TLS_CA_FILE: await tempFile(t, 'ca.pem', certificate.cert),
    PUBLIC_URL: 'https://accounts.example.org',
  });
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /Sending a test message to ops@example\.org from TaskMaster <no-reply@accounts\.example\.org>/);
  t.regex(result.stdout, /STARTTLS required, certificates checked against SMTP_TLS_CA_FILE, login as mailer/);
  t.regex(result.stdout, /accepted: the server answered 250/);
  const mail = await smtp.waitFor((m) => m.to === 'ops@example.org');
  t.is(mail.subject, 'TaskMaster test message');
  t.true(mail.secure);
  t.is(mail.ehloName, 'accounts.example.org');
  t.false(existsSync(dataDir), 'no data folder, no database');
  t.false(result.stdout.includes(SMTP_PASSWORD) || result.stderr.includes(SMTP_PASSWORD));
});

test('--check-mail says why a delivery failed and exits 1: a refused login, an untrusted certificate, a closed port', async (t) => {
  // A careless server that echoes the password it was given: it must still not reach the output.
  const smtp = await receiver(t, { tls: certificate, auth: { user: 'mailer', password: 'the right one', refusal: (given) => `5.7.8 bad credentials for ${given.user}/${given.password}` } });
  const caFile = await tempFile(t, 'ca.pem', certificate.cert);
  const refused = await runDaemon(['--check-mail', 'ops@example.org'], { SMTP_URL: urlWithUser(smtp, 'mailer'), SMTP_PASSWORD, SMTP_TLS_CA_FILE: caFile });
  t.is(refused.code, 1);
  t.regex(refused.stderr, /not delivered: SMTP 535 5\.7\.8 bad credentials for mailer\/\*\*\* \(answer to AUTH PLAIN\)/);
  t.regex(refused.stderr, /hint: check the user in SMTP_URL and the password/);
  t.false(refused.stderr.includes(SMTP_PASSWORD) || refused.stdout.includes(SMTP_PASSWORD), 'the password is redacted');
  t.is(smtp.failedLogins, 1);

  const elsewhere = await receiver(t, { host: remote.listen, urlHost: remote.reachAs, tls: certificate });
  const untrusted = await runDaemon(['--check-mail', 'ops@example.org'], { SMTP_URL: elsewhere.url });
  t.is(untrusted.code, 1);
  t.regex(untrusted.stderr, /not delivered: TLS: DEPTH_ZERO_SELF_SIGNED_CERT/);
  t.regex(untrusted.stderr, /give its CA certificate in SMTP_TLS_CA_FILE/);
  t.is(elsewhere.mails.length, 0);

  const closed = await startSmtp();
  await closed.close();
  const nobody = await runDaemon(['--check-mail', 'ops@example.org'], { SMTP_URL: closed.url });
  t.is(nobody.code, 1);
  t.regex(nobody.stderr, /ECONNREFUSED/);
  t.is(smtp.mails.length, 0);
});

test('--check-mail with a CA file that does not vouch for the server says so and names the certificate\'s subject and issuer', async (t) => {
  const smtp = await receiver(t, { host: remote.listen, urlHost: remote.reachAs, tls: certificate });
  const otherCa = selfSignedCertificate(['ca.example.org'], 'Some Other CA');
  const result = await runDaemon(['--check-mail', 'ops@example.org'], { SMTP_URL: smtp.url, SMTP_TLS_CA_FILE: await tempFile(t, 'ca.pem', otherCa.cert) });
  t.is(result.code, 1);
  t.regex(result.stderr, /not delivered: TLS: /);
  t.regex(result.stderr, /hint: SMTP_TLS_CA_FILE does not vouch for this server's certificate: give the CA certificate that issued it/);
  t.regex(result.stderr, /the server's certificate: subject CN=TaskMaster test SMTP; issuer CN=TaskMaster test SMTP/);
  t.notRegex(result.stderr, /give its CA certificate in SMTP_TLS_CA_FILE/, 'not the advice for a missing CA file');
  t.is(smtp.mails.length, 0);
});

test('an SMTP server that is down at start: the daemon listens first, then warns, and keeps running', async (t) => {
  const closed = await startSmtp();
  await closed.close();
  const dataDir = await mkdtemp(join(tmpdir(), 'taskmaster-smtp-down-'));
  const child = spawn(process.execPath, [TASKMASTERD_BIN, '--port', '0', '--data-dir', dataDir], {
    env: baseEnv({ BCRYPT_COST: '4', SMTP_URL: closed.url }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  const deadline = Date.now() + 30_000;
  while (!/SMTP check failed/.test(out) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const lines = out.split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogLine);
  const listening = lines.findIndex((line) => /listening on/.test(line.msg));
  const warning = lines.findIndex((line) => /SMTP check failed/.test(line.msg));
  t.true(listening >= 0 && warning > listening, `listening first, then the warning:\n${out}`);
  t.is(lines[warning]!.level, 40);
  t.regex(lines[warning]!.msg, /ECONNREFUSED/);
  const url = /listening on (http:\/\/\S+)/.exec(lines[listening]!.msg)![1]!;
  t.is((await api(url, 'GET', '/healthz')).status, 200, 'still serving');
});
