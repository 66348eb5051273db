// Mail after a fix, as an operator running a real mail server sees it: held mail goes out within
// seconds once the server works again (after a restart, or the first delivery that succeeds), a
// refused delivery is retried over a new SMTP connection, each delivery is logged, and SIGTERM
// ends the kept SMTP connections with QUIT. Every mail arrives exactly once.
import { spawn } from 'node:child_process';
import test from 'ava';
import { api } from './helpers/http.js';
import { TASKMASTERD_BIN, baseEnv } from './helpers/cli.js';
import { identity, lastingSetup, outboxSettled, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { capturedLog, startSmtp, type SmtpReceiver } from './helpers/smtp.js';

/** Retry delays far longer than any test: a mail that arrives within seconds was not waiting out its backoff. */
const TEN_MINUTES = 10 * 60_000;
const SLOW_RETRIES = { baseMs: TEN_MINUTES, maxMs: TEN_MINUTES, permanentBaseMs: TEN_MINUTES, permanentMaxMs: TEN_MINUTES };
/** "Within seconds": milliseconds on a quiet machine, with room for a loaded CI runner; far below any backoff here. */
const SOON_MS = 15_000;

async function outboxRow(td: TestDaemon, email: string) {
  return td.daemon.db.knex('mail_outbox').where('to_address', email).orderBy('id', 'desc').first();
}

/** Lets a mail sent twice show up before counting: a second pass and a poll. */
async function settleThenCount(td: TestDaemon, smtp: SmtpReceiver, email: string): Promise<number> {
  await outboxSettled(td);
  await new Promise((resolve) => setTimeout(resolve, 500));
  return smtp.mailsTo(email).length;
}

test('mail held while the server refused goes out within seconds of a restart whose SMTP check passes, once, although its retry was 10 minutes away', async (t) => {
  const { dataDir, smtp } = await lastingSetup(t, 'recovery');
  smtp.refusing = true;
  const before = capturedLog();
  const first = await startTestDaemon({ smtp, dataDir, log: before.log, mailRetry: SLOW_RETRIES });
  const who = identity('held');
  t.is((await api(first.url, 'POST', '/v1/users', who)).status, 201);
  await before.waitFor((line) => /not delivered/.test(line.msg) && line.smtpCode === 421);
  const held = await outboxRow(first, who.email);
  t.true(Number(held.next_attempt_at) - Date.now() > 5 * 60_000, 'its next try is minutes away');
  await first.close();

  smtp.refusing = false;
  const after = capturedLog();
  const restarted = Date.now();
  const second = await startTestDaemon({ smtp, dataDir, log: after.log, mailRetry: SLOW_RETRIES });
  t.teardown(() => second.close());
  const recovery = await after.waitFor((line) => /the SMTP check passed: trying 1 held mail now/.test(line.msg));
  t.is(recovery.level, 30);
  await smtp.waitFor((m) => m.to === who.email, SOON_MS);
  t.true(Date.now() - restarted < SOON_MS, `delivered ${Date.now() - restarted} ms after the restart`);
  t.is(await settleThenCount(second, smtp, who.email), 1, 'once');
  const sent = await outboxRow(second, who.email);
  t.truthy(sent.sent_at);
  t.is(sent.attempts, 2);
});

test('held mail goes out within seconds of the first delivery that succeeds after failures, once', async (t) => {
  const logs = capturedLog();
  const td = await startTestDaemon({ log: logs.log, mailRetry: SLOW_RETRIES });
  t.teardown(() => td.close());
  await logs.waitFor((line) => /SMTP server .* answered/.test(line.msg));
  td.smtp.refusing = true;
  const early = identity('early');
  t.is((await api(td.url, 'POST', '/v1/users', early)).status, 201);
  await logs.waitFor((line) => /not delivered/.test(line.msg));

  td.smtp.refusing = false;
  const late = identity('late');
  const fixed = Date.now();
  t.is((await api(td.url, 'POST', '/v1/users', late)).status, 201);
  await td.smtp.waitFor((m) => m.to === late.email, SOON_MS);
  const recovery = await logs.waitFor((line) => /delivered after failed deliveries: trying 1 held mail now/.test(line.msg));
  t.is(recovery.level, 30);
  await td.smtp.waitFor((m) => m.to === early.email, SOON_MS);
  t.true(Date.now() - fixed < SOON_MS, 'the held mail did not wait out its 10 minutes');
  t.is(await settleThenCount(td, td.smtp, early.email), 1, 'the held mail once');
  t.is(td.smtp.mailsTo(late.email).length, 1, 'the new mail once');
});

test('a mail to an unknown mailbox is tried early once after a later success, not again after every one', async (t) => {
  const smtp = await startSmtp({ refuseRecipient: (address) => (address.startsWith('nobody') ? { code: 550, text: '5.1.1 Recipient address rejected: User unknown' } : undefined) });
  t.teardown(() => smtp.close());
  const logs = capturedLog();
  const td = await startTestDaemon({ smtp, log: logs.log, mailRetry: SLOW_RETRIES });
  t.teardown(() => td.close());
  await logs.waitFor((line) => /SMTP server .* answered/.test(line.msg));
  const nobody = { ...identity('unknown'), email: `nobody${process.pid}y@example.com` };
  t.is((await api(td.url, 'POST', '/v1/users', nobody)).status, 201);
  await logs.waitFor((line) => /not delivered/.test(line.msg) && line.attempts === 1);

  const someone = identity('known');
  t.is((await api(td.url, 'POST', '/v1/users', someone)).status, 201);
  await smtp.waitFor((m) => m.to === someone.email, SOON_MS);
  await logs.waitFor((line) => /not delivered/.test(line.msg) && line.attempts === 2);

  for (const who of [identity('known'), identity('known')]) {
    t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
    await smtp.waitFor((m) => m.to === who.email, SOON_MS);
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  t.is(Number((await outboxRow(td, nobody.email)).attempts), 2, 'its failing again was no news: no third try before its backoff');
  t.is(logs.lines.filter((line) => /trying \d+ held mail/.test(line.msg)).length, 1);
});

test('after a 450 at RCPT TO the retry goes over a new SMTP connection: delivered within seconds, once, the first connection ended with QUIT', async (t) => {
  let refusingSession: string | undefined;
  const recipientSessions: string[] = [];
  const smtp = await startSmtp({
    // Like a Postfix smtpd with stale settings: this one connection keeps saying "try again later".
    refuseRecipient: (_address, session) => {
      recipientSessions.push(session);
      refusingSession ??= session;
      return session === refusingSession ? { code: 450, text: '4.3.2 Service currently unavailable, try again later' } : undefined;
    },
  });
  t.teardown(() => smtp.close());
  const logs = capturedLog();
  const td = await startTestDaemon({ smtp, log: logs.log });
  t.teardown(() => td.close());
  await logs.waitFor((line) => /SMTP server .* answered/.test(line.msg));
  const connectionsBefore = smtp.connections;

  const who = identity('stale');
  const started = Date.now();
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const failure = await logs.waitFor((line) => /not delivered/.test(line.msg));
  t.is(failure.smtpCode, 450);
  await smtp.waitFor((m) => m.to === who.email, SOON_MS);
  t.true(Date.now() - started < SOON_MS, 'within seconds');
  t.is(await settleThenCount(td, smtp, who.email), 1, 'once');
  t.is(smtp.connections - connectionsBefore, 2, 'two connections: the refused one and a new one');
  t.is(new Set(recipientSessions).size, 2, 'the retry came over the second connection');
  const onRefused = smtp.commands.filter((entry) => entry.session === refusingSession).map((entry) => entry.command);
  t.is(onRefused.at(-1), 'QUIT', `the refused connection was ended politely: ${onRefused.join(' ')}`);
  t.false(onRefused.includes('RSET'), 'not reset for reuse');
});

test('a refusal ends only its own connection: the mails in flight on the others are delivered, each once', async (t) => {
  let refused = false;
  const smtp = await startSmtp({
    refuseRecipient: (address) => {
      if (refused || !address.startsWith('unlucky')) return undefined;
      refused = true;
      return { code: 451, text: '4.3.0 Temporary lookup failure' };
    },
  });
  t.teardown(() => smtp.close());
  const td = await startTestDaemon({ smtp });
  t.teardown(() => td.close());
  const people = [{ ...identity('crowd'), email: `unlucky${process.pid}@example.com` }, ...Array.from({ length: 9 }, () => identity('crowd'))];
  const replies = await Promise.all(people.map((who) => api(td.url, 'POST', '/v1/users', who)));
  t.deepEqual(
    replies.map((reply) => reply.status),
    people.map(() => 201),
  );
  for (const who of people) await smtp.waitFor((m) => m.to === who.email, SOON_MS);
  await outboxSettled(td);
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.true(refused);
  for (const who of people) t.is(smtp.mailsTo(who.email).length, 1, who.email);
  t.is(smtp.mails.length, people.length, 'nothing twice');
});

test('each delivered mail is logged at info: outbox id, kind, recipient domain (not the address), the server reply and the attempt', async (t) => {
  let refusedOnce = false;
  const smtp = await startSmtp({
    refuseRecipient: (address) => {
      if (refusedOnce || !address.startsWith('second')) return undefined;
      refusedOnce = true;
      return { code: 450, text: '4.2.0 Greylisted, try again later' };
    },
  });
  t.teardown(() => smtp.close());
  const logs = capturedLog();
  const td = await startTestDaemon({ smtp, log: logs.log });
  t.teardown(() => td.close());
  await logs.waitFor((line) => /SMTP server .* answered/.test(line.msg));
  const who = identity('logged');
  t.is((await api(td.url, 'POST', '/v1/users', who)).status, 201);
  const mail = await td.smtp.waitFor((m) => m.to === who.email);
  const row = await outboxRow(td, who.email);
  const line = await logs.waitFor((entry) => /delivered on attempt/.test(entry.msg) && entry.mailId === row.id);
  t.is(line.level, 30);
  t.like(line, { mailId: row.id, kind: 'verification', toDomain: 'example.com', attempt: 1, reply: `250 Ok: queued as ${mail.queueId}` });
  t.is(line.msg, `mail ${row.id} (verification) to …@example.com delivered on attempt 1: 250 Ok: queued as ${mail.queueId}`);
  t.false(JSON.stringify(line).includes(who.email), 'not the whole address');

  // A delivery that recovered says on which attempt.
  const later = { ...identity('logged'), email: `second${process.pid}@Example.ORG` };
  t.is((await api(td.url, 'POST', '/v1/users', later)).status, 201);
  await logs.waitFor((entry) => /not delivered/.test(entry.msg));
  const laterRow = await outboxRow(td, later.email);
  const recovered = await logs.waitFor((entry) => /delivered on attempt/.test(entry.msg) && entry.mailId === laterRow.id);
  t.like(recovered, { attempt: 2, toDomain: 'example.org' });
  t.false(logs.all().toLowerCase().includes(later.email.toLowerCase()), 'not the whole address');
});

test('on SIGTERM the kept SMTP connection is ended with QUIT and the daemon exits 0 within the shutdown limit', async (t) => {
  const { dataDir, smtp } = await lastingSetup(t, 'quit');
  const child = spawn(process.execPath, [TASKMASTERD_BIN, '--port', '0', '--data-dir', dataDir, '--smtp-url', smtp.url], {
    env: baseEnv({ BCRYPT_COST: '4' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  const deadline = Date.now() + 30_000;
  while (!/listening on http/.test(out) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const url = /listening on (http:\/\/[^"\s]+)/.exec(out)![1]!;

  const who = identity('bye');
  t.is((await api(url, 'POST', '/v1/users', who)).status, 201);
  await smtp.waitFor((m) => m.to === who.email);
  // The mail's connection stays open, idle, in the pool (and has not been said goodbye to yet).
  const mailSession = smtp.commands.find((entry) => entry.command === 'MAIL')!.session;
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.false(smtp.commands.some((entry) => entry.session === mailSession && entry.command === 'QUIT'), 'still open before SIGTERM');

  const stopping = Date.now();
  child.kill('SIGTERM');
  const code = await exited;
  t.is(code, 0, out);
  t.true(Date.now() - stopping < 10_000, 'within the shutdown limit');
  const said = smtp.commands.filter((entry) => entry.session === mailSession).map((entry) => entry.command);
  t.is(said.at(-1), 'QUIT', `the kept connection was ended with QUIT: ${said.join(' ')}`);
  t.is(smtp.mailsTo(who.email).length, 1);
});
