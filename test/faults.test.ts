// Faults: a mail server that stalls, and a daemon killed with SIGKILL in a registration storm.
import test from 'ava';
import { api } from './helpers/http.js';
import { spawnDaemon } from './helpers/cli.js';
import { identity, lastingSetup, startTestDaemon } from './helpers/daemon.js';
import { tokenOf } from './helpers/smtp.js';

test('registrations answer 201 while the SMTP server stalls, and every mail goes out once it answers', async (t) => {
  const td = await startTestDaemon();
  t.teardown(() => td.close());
  td.smtp.hold();
  const opener = identity('stall');
  t.is((await api(td.url, 'POST', '/v1/users', opener)).status, 201);
  // Wait until the sender is stuck inside the stalled server, then register more.
  while (td.smtp.stalled === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const people = Array.from({ length: 10 }, () => identity('stall'));
  const replies = await Promise.all(people.map((who) => api(td.url, 'POST', '/v1/users', who)));
  t.deepEqual(replies.map((reply) => reply.status), people.map(() => 201));
  t.true(td.smtp.stalled > 0, 'the sender was still stuck when every reply came back');
  t.is(td.smtp.mails.length, 0);
  td.smtp.release();
  people.push(opener);
  for (const who of people) t.truthy(await td.smtp.waitFor((m) => m.to === who.email, 20_000));
});

test('kill -9 in a registration storm: after a restart every account that got 201 gets its mail, verifies and logs in', async (t) => {
  const { dataDir, smtp } = await lastingSetup(t, 'crash');
  const first = await spawnDaemon(['--data-dir', dataDir, '--smtp-url', smtp.url]);
  first.child.on('exit', () => undefined);

  const created: ReturnType<typeof identity>[] = [];
  let killed = false;
  const worker = async () => {
    while (!killed) {
      const who = identity('storm');
      try {
        const reply = await api(first.url, 'POST', '/v1/users', who);
        if (reply.status === 201) created.push(who);
      } catch {
        // the daemon died under us
      }
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  while (created.length < 40) await new Promise((resolve) => setTimeout(resolve, 5));
  first.child.kill('SIGKILL');
  killed = true;
  await Promise.all(workers);
  t.log(`${created.length} registrations answered 201 before SIGKILL`);

  const second = await spawnDaemon(['--data-dir', dataDir, '--smtp-url', smtp.url]);
  t.teardown(() => void second.child.kill('SIGTERM'));
  for (const who of created) {
    const mails = await smtp.waitFor((m) => m.to === who.email, 20_000).then(() => smtp.mailsTo(who.email));
    const verified = await api(second.url, 'POST', '/v1/verify', { token: tokenOf(mails.at(-1)!) });
    t.is(verified.status, 200, who.email);
    const login = await api(second.url, 'POST', '/v1/sessions', { email: who.email, password: who.password });
    t.is(login.status, 201, who.email);
  }
});
