// Login blocks, as SECURITY.md states them: per account and address 10 failures, then 1 minute,
// doubling per block up to 15; per account from all addresses 100 an hour, then 15 minutes;
// Retry-After is the block's remaining seconds; a known device is not held by the account lock.
//
// The throttle's database stores read the wall clock (Date.now) themselves, so this file moves
// that clock; the tests are serial because they share it.
import test from 'ava';
import { forEachDatabase } from './helpers/databases.js';
import { STRONG_PASSWORD, activeAccount, identity, lastingSetup, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api } from './helpers/http.js';
import { cliUser } from './helpers/cli.js';

const realNow = Date.now;
let offsetMs = 0;
Date.now = () => realNow() + offsetMs;
const later = (seconds: number) => {
  offsetMs += seconds * 1000;
};
test.afterEach.always(() => {
  offsetMs = 0;
});

const WRONG = `${STRONG_PASSWORD}-wrong`;
/** Each address is a client behind the daemon's one trusted proxy hop. */
const from = (address: string) => ({ headers: { 'x-forwarded-for': address } });

function login(td: TestDaemon, email: string, password: string, address: string, deviceToken?: string) {
  return api(td.url, 'POST', '/v1/sessions', { email, password, ...(deviceToken ? { deviceToken } : {}) }, from(address));
}

async function failTimes(td: TestDaemon, email: string, address: string, times: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++) statuses.push((await login(td, email, WRONG, address)).status);
  return statuses;
}

const retryAfter = (reply: { headers: Record<string, unknown> }) => Number(reply.headers['retry-after']);

forEachDatabase((test, db) => {
  const start = async () => startTestDaemon({ env: { ...(await db.env()), TRUST_PROXY: '1' } });

  test.serial('ten failures from one address block that address for 1 minute, then 2, 4, 8, and at most 15', async (t) => {
    const td = await start();
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('block'));
    const expected = [60, 120, 240, 480, 900, 900];
    for (const [round, seconds] of expected.entries()) {
      t.deepEqual(await failTimes(td, account.email, '198.51.100.7', 10), Array(10).fill(401), `round ${round + 1}: ten answered`);
      const blocked = await login(td, account.email, account.password, '198.51.100.7');
      t.is(blocked.status, 429, `round ${round + 1}: the right password waits too`);
      t.true(retryAfter(blocked) <= seconds && retryAfter(blocked) >= seconds - 2, `round ${round + 1}: Retry-After ${retryAfter(blocked)}, expected ${seconds}`);
      // The block lasts what it says: still there a little before its end, gone after it.
      later(seconds - 3);
      const almost = await login(td, account.email, WRONG, '198.51.100.7');
      t.is(almost.status, 429, `round ${round + 1}: still blocked 3 s before the end`);
      t.true(retryAfter(almost) <= 3, `round ${round + 1}: Retry-After counts down (${retryAfter(almost)})`);
      later(4);
    }
    // Another address was never held by any of it.
    t.is((await login(td, account.email, account.password, '198.51.100.8')).status, 201);
  });

  test.serial('the 429 says when to try again in words a person reads, and a success resets the count', async (t) => {
    const td = await start();
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('words'));
    await failTimes(td, account.email, '198.51.100.9', 9);
    t.is((await login(td, account.email, account.password, '198.51.100.9')).status, 201, 'nine failures, then the right password');
    t.deepEqual(await failTimes(td, account.email, '198.51.100.9', 10), Array(10).fill(401), 'the count started again');
    const blocked = await login(td, account.email, WRONG, '198.51.100.9');
    t.is(blocked.json.code, 'rate_limited');
    t.regex(blocked.json.detail, /Try again in (59|60) seconds/);
  });

  test.serial('100 failures from many addresses lock the account for 15 minutes, even for the owner at a fresh address', async (t) => {
    const td = await start();
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('siege'));
    for (let i = 0; i < 10; i++) await failTimes(td, account.email, `203.0.113.${i + 1}`, 10);
    const owner = await login(td, account.email, account.password, '192.0.2.50');
    t.is(owner.status, 429);
    t.true(retryAfter(owner) <= 900 && retryAfter(owner) >= 897, `Retry-After ${retryAfter(owner)}`);
    t.regex(owner.json.detail, /Try again in 15 minutes/);
    later(880);
    t.is((await login(td, account.email, account.password, '192.0.2.50')).status, 429, 'still locked after 14 min 40 s');
    later(25);
    t.is((await login(td, account.email, account.password, '192.0.2.50')).status, 201, 'lifted after 15 minutes');
  });

  test.serial('the owner with a device token from an earlier login gets in while strangers hold the account locked', async (t) => {
    const td = await start();
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('device'));
    const earlier = await login(td, account.email, account.password, '192.0.2.60');
    t.is(earlier.status, 201);
    const deviceToken = earlier.json.deviceToken as string;
    t.regex(deviceToken, /^tmd_[A-Za-z0-9_-]{43}$/);
    const other = await activeAccount(td, identity('neighbour'));
    const othersDevice = (await login(td, other.email, other.password, '192.0.2.61')).json.deviceToken as string;

    for (let i = 0; i < 10; i++) await failTimes(td, account.email, `203.0.113.${i + 20}`, 10);
    t.is((await login(td, account.email, account.password, '192.0.2.62')).status, 429, 'without the device token: locked');
    t.is((await login(td, account.email, account.password, '192.0.2.62', othersDevice)).status, 429, "another account's device token does not count");
    t.is((await login(td, account.email, account.password, '192.0.2.62', 'tmd_made-up')).status, 429, 'a made-up one does not either');
    const owner = await login(td, account.email, account.password, '192.0.2.62', deviceToken);
    t.is(owner.status, 201, 'the known device gets in');
    t.is(owner.json.deviceToken, deviceToken, 'and keeps its device token');

    // The device keeps its own limit: ten wrong passwords from it block it like anyone.
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await login(td, account.email, WRONG, '192.0.2.62', deviceToken)).status);
    t.deepEqual(statuses, Array(10).fill(401));
    t.is((await login(td, account.email, account.password, '192.0.2.62', deviceToken)).status, 429);
  });

  test.serial('a burst of 30 parallel guesses from one address gets 10 password checks, not 30', async (t) => {
    const td = await start();
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('burst'));
    const replies = await Promise.all(Array.from({ length: 30 }, () => login(td, account.email, WRONG, '198.51.100.77')));
    const statuses = replies.map((reply) => reply.status).sort();
    t.deepEqual(statuses, [...Array(10).fill(401), ...Array(20).fill(429)]);
    t.true(replies.filter((reply) => reply.status === 429).every((reply) => retryAfter(reply) >= 1 && retryAfter(reply) <= 900));
    const blocked = await login(td, account.email, account.password, '198.51.100.77');
    t.is(blocked.status, 429);
    t.true(retryAfter(blocked) <= 60, `then the first block: Retry-After ${retryAfter(blocked)}`);
  });

  test.serial('while strangers hold the account locked, the owner in a live session can still change the password', async (t) => {
    const td = await start();
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('locked-owner'));
    for (let i = 0; i < 10; i++) await failTimes(td, account.email, `203.0.113.${i + 60}`, 10);
    t.is((await login(td, account.email, account.password, '192.0.2.70')).status, 429, 'the account is locked');
    const newPassword = 'a-completely-new-passphrase-for-this-owner';
    const change = await api(td.url, 'POST', '/v1/me/password', { currentPassword: account.password, newPassword }, { token: account.token, ...from('192.0.2.70') });
    t.is(change.status, 200, change.text);
    // ...and a guesser holding a stolen session still has only the usual ten tries from its address.
    const guesses = [];
    for (let i = 0; i < 11; i++) {
      guesses.push((await api(td.url, 'POST', '/v1/me/password', { currentPassword: WRONG, newPassword: `${newPassword}-2` }, { token: account.token, ...from('198.51.100.99') })).status);
    }
    t.deepEqual(guesses, [...Array(10).fill(403), 429]);
  });

  test.serial('a 240-character email is throttled in the database like any other: the block survives a restart, and the table names nobody', async (t) => {
    const env = { ...(await db.env()), TRUST_PROXY: '1' };
    const { dataDir, smtp } = await lastingSetup(t, 'longmail');
    const first = await startTestDaemon({ env, dataDir, smtp });
    t.teardown(() => first.close());
    // Long enough that "login_pair:<email>|<address>" is over the column's 255 characters.
    const local = `l${'o'.repeat(50)}ng`;
    const who = { ...identity('long'), email: `${local}@${'d'.repeat(60)}.${'e'.repeat(60)}.${'x'.repeat(61)}.io` };
    t.is(who.email.length, 240);
    const account = await activeAccount(first, who);
    await failTimes(first, account.email, '198.51.100.88', 10);
    const keys = (await first.daemon.db.knex('rate_limits').select('key')).map((row: { key: string }) => row.key);
    t.true(keys.length > 0);
    t.true(keys.every((key: string) => !key.includes('@') && !key.includes('198.51.100.88')), 'keys are hashes');
    await first.close();
    const second = await startTestDaemon({ env, dataDir, smtp });
    t.teardown(() => second.close());
    const reply = await login(second, account.email, account.password, '198.51.100.88');
    t.is(reply.status, 429, 'the block was in the database, not in the daemon that stopped');
  });

  test.serial('taskmaster login keeps the device token per server and gets in while the account is locked by others', async (t) => {
    const td = await startTestDaemon({ env: await db.env() });
    t.teardown(() => td.close());
    const account = await activeAccount(td, identity('clidevice'));
    const user = await cliUser(td.url);
    const first = await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${account.password}\n` });
    t.is(first.code, 0, first.stderr);
    t.is((await user.run(['logout'])).code, 0);
    // Strangers from 127.0.0.2 … 127.0.0.11 (real source addresses) lock the account.
    for (let i = 0; i < 10; i++) {
      for (let n = 0; n < 10; n++) await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: WRONG }, { from: `127.0.0.${i + 2}` });
    }
    t.is((await api(td.url, 'POST', '/v1/sessions', { email: account.email, password: account.password }, { from: '127.0.0.40' })).status, 429);
    const again = await user.run(['login', '--email', account.email, '--password-stdin'], { input: `${account.password}\n` });
    t.is(again.code, 0, again.stderr);
    const bare = await cliUser(td.url);
    const stranger = await bare.run(['login', '--email', account.email, '--password-stdin'], { input: `${account.password}\n` });
    t.is(stranger.code, 1, 'a machine without the device token waits');
    t.regex(stranger.stderr, /Try again in 1[45] minutes/);
  });
});
