// The account's activity (GET /v1/me/events) through the real daemon on SQLite and PostgreSQL:
// what happened, newest first, when, from which address and user agent; kept 90 days.
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { api } from './helpers/http.js';
import { tokenOf } from './helpers/smtp.js';

const SECOND = 1_000;
const DAY = 24 * 60 * 60 * SECOND;

interface Event {
  type: string;
  at: string;
  address: string | null;
  userAgent: string | null;
}

const eventsOf = async (url: string, token: string): Promise<Event[]> => {
  const reply = await api(url, 'GET', '/v1/me/events', undefined, { token });
  if (reply.status !== 200) throw new Error(`GET /v1/me/events answered ${reply.status}: ${reply.text}`);
  return reply.json.events;
};

forEachDatabase((test, db) => {
  // Each test moves its own clock, so each has a daemon of its own.
  async function daemonAt(t: { teardown(fn: () => Promise<void>): void }, start: number): Promise<{ td: TestDaemon; clock: { now: number } }> {
    const clock = { now: start };
    const td = await startTestDaemon({ clock: () => clock.now, env: await db.env() });
    t.teardown(() => td.close());
    return { td, clock };
  }

  test('login, login_failed, logout, email_changed and session_revoked show newest first, with time, address and user agent', async (t) => {
    const start = Date.parse('2031-03-01T12:00:00.000Z');
    const { td, clock } = await daemonAt(t, start);
    const account = await activeAccount(td, identity('act'));
    const at = (offset: number) => new Date(start + offset).toISOString();
    const as = (userAgent: string, from?: string) => ({ headers: { 'user-agent': userAgent }, ...(from ? { from } : {}) });

    clock.now = start + 10 * SECOND;
    const failed = await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: 'not the password' }, as('Stranger/1.0', '127.0.0.4'));
    t.is(failed.status, 401);

    clock.now = start + 20 * SECOND;
    const phone = (await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password }, as('Phone/2.0', '127.0.0.2'))).json.token;

    clock.now = start + 30 * SECOND;
    const newEmail = `moved-${account.email}`;
    t.is((await api(td.url, 'PATCH', '/v1/me', { email: newEmail, currentPassword: account.password }, { token: phone, ...as('Phone/2.0', '127.0.0.2') })).status, 200);
    const confirmation = await td.smtp.waitFor((m) => m.to === newEmail);
    clock.now = start + 40 * SECOND;
    t.is((await api(td.url, 'POST', '/v1/verify', { token: tokenOf(confirmation) }, as('Mail client', '127.0.0.5'))).status, 200);

    clock.now = start + 50 * SECOND;
    const laptop = (await api(td.url, 'POST', '/v1/sessions', { email: newEmail, password: account.password }, as('taskmaster/1.2.3 (linux x64)'))).json.token;
    clock.now = start + 60 * SECOND;
    const [phoneSession] = (await api(td.url, 'GET', '/v1/sessions', undefined, { token: laptop })).json.sessions.filter((s: { userAgent: string }) => s.userAgent === 'Phone/2.0');
    t.is((await api(td.url, 'DELETE', `/v1/sessions/${phoneSession.id}`, undefined, { token: laptop, ...as('taskmaster/1.2.3 (linux x64)') })).status, 204);

    clock.now = start + 70 * SECOND;
    t.is((await api(td.url, 'DELETE', '/v1/sessions/current', undefined, { token: laptop, ...as('taskmaster/1.2.3 (linux x64)', '127.0.0.6') })).status, 204);

    clock.now = start + 80 * SECOND;
    const reader = (await api(td.url, 'POST', '/v1/sessions', { email: newEmail, password: account.password }, as('Reader/1'))).json.token;
    const reply = await api(td.url, 'GET', '/v1/me/events', undefined, { token: reader });
    t.is(reply.status, 200);
    t.deepEqual(reply.json.events, [
      { type: 'login', at: at(80 * SECOND), address: '127.0.0.1', userAgent: 'Reader/1' },
      { type: 'logout', at: at(70 * SECOND), address: '127.0.0.6', userAgent: 'taskmaster/1.2.3 (linux x64)' },
      { type: 'session_revoked', at: at(60 * SECOND), address: '127.0.0.1', userAgent: 'taskmaster/1.2.3 (linux x64)' },
      { type: 'login', at: at(50 * SECOND), address: '127.0.0.1', userAgent: 'taskmaster/1.2.3 (linux x64)' },
      { type: 'email_changed', at: at(40 * SECOND), address: '127.0.0.5', userAgent: 'Mail client' },
      { type: 'login', at: at(20 * SECOND), address: '127.0.0.2', userAgent: 'Phone/2.0' },
      { type: 'login_failed', at: at(10 * SECOND), address: '127.0.0.4', userAgent: 'Stranger/1.0' },
      { type: 'login', at: at(0), address: '127.0.0.1', userAgent: null },
    ]);
  });

  test('scope=others shows as session_revoked and scope=all as logout; a failed login for an unknown email is nobody\'s event', async (t) => {
    const start = Date.parse('2031-04-01T00:00:00.000Z');
    const { td, clock } = await daemonAt(t, start);
    const account = await activeAccount(td, identity('scopes'));
    const other = await activeAccount(td, identity('bystander'));
    await api(td.url, 'POST', '/v1/sessions', { email: `nobody-${account.email}`, password: 'whatever it is' });
    const second = (await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password })).json.token;
    clock.now += SECOND;
    t.deepEqual((await api(td.url, 'DELETE', '/v1/sessions?scope=others', undefined, { token: second })).json, { revoked: 1 });
    clock.now += SECOND;
    t.deepEqual((await api(td.url, 'DELETE', '/v1/sessions?scope=all', undefined, { token: second })).json, { revoked: 1 });
    clock.now += SECOND;
    const reader = (await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password })).json.token;
    t.deepEqual(
      (await eventsOf(td.url, reader)).map((event) => event.type),
      ['login', 'logout', 'session_revoked', 'login', 'login'],
    );
    t.deepEqual((await eventsOf(td.url, other.token)).map((event) => event.type), ['login'], "the other account sees only its own");
    t.is((await api(td.url, 'GET', '/v1/me/events')).status, 401);
  });

  test('events are kept 90 days', async (t) => {
    const start = Date.parse('2031-05-01T00:00:00.000Z');
    const { td, clock } = await daemonAt(t, start);
    const account = await activeAccount(td, identity('old'));
    clock.now = start + 89 * DAY;
    const later = (await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password })).json.token;
    t.deepEqual(
      (await eventsOf(td.url, later)).map((event) => event.at),
      [new Date(start + 89 * DAY).toISOString(), new Date(start).toISOString()],
      'at 89 days the first login is still there',
    );
    clock.now = start + 90 * DAY + SECOND;
    t.deepEqual(
      (await eventsOf(td.url, later)).map((event) => event.at),
      [new Date(start + 89 * DAY).toISOString()],
      'past 90 days it is gone',
    );
  });
});
