// Faults: a mail server that stalls, a daemon killed with SIGKILL in a registration storm, and a
// database server that goes away and comes back.
import { api } from './helpers/http.js';
import { spawnDaemon } from './helpers/cli.js';
import { activeAccount, identity, lastingSetup, startTestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { startPostgres } from './helpers/postgres.js';
import { tokenOf } from './helpers/smtp.js';

forEachDatabase((test, db) => {
  test('registrations answer 201 while the SMTP server stalls, and every mail goes out once it answers', async (t) => {
    const td = await startTestDaemon({ env: await db.env() });
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

  // Serial: one storm at a time, as when this file had one; two side by side on two cores would
  // leave more mail in flight at the kill than the test has ever been written for.
  test.serial('kill -9 in a registration storm: after a restart every account that got 201 gets its mail, verifies and logs in', async (t) => {
    const { dataDir, smtp } = await lastingSetup(t, 'crash');
    // The restarted daemon opens the same data: the data folder's SQLite file, or the same PostgreSQL database.
    const env = await db.env();
    const first = await spawnDaemon(['--data-dir', dataDir, '--smtp-url', smtp.url], env);
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

    const second = await spawnDaemon(['--data-dir', dataDir, '--smtp-url', smtp.url], env);
    t.teardown(() => void second.child.kill('SIGTERM'));
    for (const who of created) {
      const mails = await smtp.waitFor((m) => m.to === who.email, 20_000).then(() => smtp.mailsTo(who.email));
      const verified = await api(second.url, 'POST', '/v1/verify', { token: tokenOf(mails.at(-1)!) });
      t.is(verified.status, 200, who.email);
      const login = await api(second.url, 'POST', '/v1/sessions', { email: who.email, password: who.password });
      t.is(login.status, 201, who.email);
    }
  });

  // Only PostgreSQL is a server that can go away under a running daemon; SQLite is a file.
  if (db.dialect === 'postgres') {
    test('PostgreSQL stopping answers 503, not 500; once it is back the same daemon serves logins again', async (t) => {
      const server = await startPostgres(); // a cluster of its own: stopping it disturbs no other test
      t.teardown(() => server.destroy());
      const td = await startTestDaemon({ env: { DATABASE_URL: await server.createDatabase() } });
      t.teardown(() => td.close());
      const account = await activeAccount(td, identity('outage'));

      await server.stop();
      const health = await api(td.url, 'GET', '/healthz');
      t.is(health.status, 503);
      t.is(health.json.code, 'service_unavailable');
      const login = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
      t.is(login.status, 503, 'a login that cannot reach the database may be retried');
      t.is(login.json.code, 'service_unavailable');

      await server.start();
      let back = await api(td.url, 'GET', '/healthz');
      for (let i = 0; i < 100 && back.status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        back = await api(td.url, 'GET', '/healthz');
      }
      t.is(back.status, 200, 'healthy again without a restart');
      const again = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password });
      t.is(again.status, 201);
      t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: again.json.token })).status, 200);
    });
  }
});
