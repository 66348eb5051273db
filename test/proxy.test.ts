// Behind a reverse proxy: X-Forwarded-For is believed only with TRUST_PROXY, and then only from
// the proxies it names, so a guesser cannot dodge the throttle and clients are throttled apart.
import { forEachDatabase } from './helpers/databases.js';
import { STRONG_PASSWORD, activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api } from './helpers/http.js';

const WRONG = `${STRONG_PASSWORD}-wrong`;
const login = (td: TestDaemon, email: string, password: string, forwardedFor: string) =>
  api(td.url, 'POST', '/v1/sessions', { email, password }, { headers: { 'x-forwarded-for': forwardedFor } });

forEachDatabase((test, db) => {
  test('with TRUST_PROXY off, a forged X-Forwarded-For does not dodge the throttle', async (t) => {
    const td = await startTestDaemon({ env: await db.env() });
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('forge'));
    const statuses = [];
    for (let i = 0; i < 11; i++) statuses.push((await login(td, account.email, WRONG, `198.51.100.${i + 1}`)).status);
    t.deepEqual(statuses, [...Array(10).fill(401), 429], 'a new forged address each time changes nothing');
    t.is((await login(td, account.email, account.password, '192.0.2.200')).status, 429);
  });

  test('with TRUST_PROXY=1, two clients behind one proxy are throttled apart', async (t) => {
    const td = await startTestDaemon({ env: { ...(await db.env()), TRUST_PROXY: '1' } });
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('apart'));
    const guesser = [];
    for (let i = 0; i < 11; i++) guesser.push((await login(td, account.email, WRONG, '198.51.100.20')).status);
    t.deepEqual(guesser, [...Array(10).fill(401), 429]);
    t.is((await login(td, account.email, WRONG, '198.51.100.21')).status, 401, 'the other client is still answered');
    t.is((await login(td, account.email, account.password, '198.51.100.21')).status, 201, 'and logs in');
    // A client cannot prepend a forged hop: with one trusted hop the proxy's own entry (the last) counts.
    t.is((await login(td, account.email, account.password, '192.0.2.9, 198.51.100.20')).status, 429);
  });

  test('with TRUST_PROXY naming the proxy, only that proxy is believed', async (t) => {
    const trusted = await startTestDaemon({ env: { ...(await db.env()), TRUST_PROXY: '127.0.0.1' } });
    t.teardown(() => trusted.close());
    const account = await activeAccount(trusted, identity('named'));
    for (let i = 0; i < 10; i++) await login(trusted, account.email, WRONG, '198.51.100.30');
    t.is((await login(trusted, account.email, account.password, '198.51.100.30')).status, 429);
    t.is((await login(trusted, account.email, account.password, '198.51.100.31')).status, 201, 'the proxy at 127.0.0.1 is believed');

    const untrusted = await startTestDaemon({ env: { ...(await db.env()), TRUST_PROXY: '10.9.8.7' } });
    t.teardown(() => untrusted.close());
    const other = await activeAccount(untrusted, identity('unnamed'));
    for (let i = 0; i < 10; i++) await login(untrusted, other.email, WRONG, `198.51.100.${40 + i}`);
    t.is((await login(untrusted, other.email, other.password, '198.51.100.99')).status, 429, 'a socket that is not the named proxy: its header is ignored');
  });
});
