// Two-factor authentication across several daemons on one PostgreSQL (issue 17: "A time step that
// was accepted is never accepted again for that account. Keep it in the database, so that it holds
// across daemons, and test it with two of them"), and the key every one of them must be given:
// in-process daemons sharing a database and an SMTP receiver, as behind a load balancer. The
// codes are computed by the test (test/helpers/totp.ts) at the real clock.
//
// Serial: the tests count sessions and mails of daemons that nothing else in this file uses.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { isProblem, shown } from './helpers/access-tokens.js';
import { activeAccount, identity, lastingSetup, outboxSettled, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api, type Reply } from './helpers/http.js';
import { sharedPostgres, stopSharedPostgres } from './helpers/postgres.js';
import { capturedLog, startSmtp } from './helpers/smtp.js';
import { codeAt, codeForStep, stepOf, withinOneStep } from './helpers/totp.js';
import { RECOVERY_USED_SUBJECT, challengeFor, enableTwoFactor, enrol, login, loginWithChallenge, mailsWith, meUser, nthMail, type TwoFactorAccount } from './helpers/two-factor.js';

test.after.always(stopSharedPostgres);

const KEY = '3c'.repeat(32);
const OTHER_KEY = 'a7'.repeat(32);

/** `count` in-process daemons with `env` on one new PostgreSQL database and one SMTP receiver; closed at the end of the test. */
async function daemonsOnOneDatabase(t: ExecutionContext, count: number, env: Record<string, string> = { TOTP_ENCRYPTION_KEY: KEY }): Promise<{ daemons: TestDaemon[]; databaseUrl: string }> {
  const databaseUrl = await (await sharedPostgres()).createDatabase();
  const smtp = await startSmtp();
  const daemons: TestDaemon[] = [];
  t.teardown(async () => {
    await Promise.all(daemons.map((daemon) => daemon.close()));
    await smtp.close();
  });
  // One after the other: the first applies the migrations.
  for (let i = 0; i < count; i++) daemons.push(await startTestDaemon({ env: { DATABASE_URL: databaseUrl, ...env }, smtp }));
  return { daemons, databaseUrl };
}

const assertProblem = (t: ExecutionContext, reply: Reply, status: number, code: string, label: string) => t.true(isProblem(reply, status, code), `${label}: expected ${status} ${code}, got ${shown(reply)}`);

async function twoFactorOn(daemon: TestDaemon, prefix: string): Promise<TwoFactorAccount> {
  return enableTwoFactor(daemon.url, await activeAccount(daemon, identity(prefix)));
}

test.serial('postgres › a code accepted on A is refused on B and C within its step, and the step before it too; one code sent to A, B and C at the same moment opens one session', async (t) => {
  const { daemons } = await daemonsOnOneDatabase(t, 3);
  const [a, b, c] = daemons as [TestDaemon, TestDaemon, TestDaemon];
  const ROUNDS = 5;
  const letIn: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const account = await twoFactorOn(a, 'xreplay');
    const step = stepOf(await withinOneStep(5_000));
    // The code of the next step (which the daemon takes too), accepted on A...
    const ahead = codeForStep(account.secret, step + 1);
    const accepted = await login(a.url, account, account.password, { code: ahead });
    t.is(accepted.status, 201, `round ${round}, A: ${shown(accepted)}`);
    for (const [name, daemon] of [['B', b], ['C', c]] as const) {
      const replay = await login(daemon.url, account, account.password, { code: ahead });
      if (!isProblem(replay, 403, 'invalid_code')) letIn.push(`round ${round}: ${name} answered ${replay.status}`);
      const viaChallenge = await loginWithChallenge(daemon.url, await challengeFor(daemon.url, account), ahead);
      if (!isProblem(viaChallenge, 403, 'invalid_code')) letIn.push(`round ${round}: ${name} (challenge) answered ${viaChallenge.status}`);
      // ...and the code of this step, right now and never used, is refused as well: it is before an accepted step.
      const before = await login(daemon.url, account, account.password, { code: codeForStep(account.secret, step) });
      if (!isProblem(before, 403, 'invalid_code')) letIn.push(`round ${round}: ${name} took the step before one accepted on A (${before.status})`);
    }
    t.is(stepOf(Date.now()), step, `round ${round}: all within one step`);
  }
  t.deepEqual(letIn, [], `a code accepted on one daemon was let in on another in ${letIn.length} cases`);

  const raced: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const account = await twoFactorOn(a, 'xrace');
    await withinOneStep(5_000);
    const code = await account.phone.next();
    const replies = await Promise.all(daemons.flatMap((daemon) => [login(daemon.url, account, account.password, { code }), login(daemon.url, account, account.password, { code })]));
    const sessions = replies.filter((reply) => reply.status === 201).length;
    if (sessions !== 1 || replies.some((reply) => reply.status !== 201 && !isProblem(reply, 403, 'invalid_code'))) raced.push(`round ${round}: ${replies.map((reply) => reply.status).join(',')}`);
  }
  t.deepEqual(raced, [], 'exactly one session per code, however many daemons it is sent to at once');
});

test.serial('postgres › a recovery code used on A is refused on B; sent to A and B at the same moment it opens one session and sends one notice', async (t) => {
  const { daemons } = await daemonsOnOneDatabase(t, 2);
  const [a, b] = daemons as [TestDaemon, TestDaemon];
  const account = await twoFactorOn(a, 'xrecovery');
  const [first, second] = account.recoveryCodes as [string, string];
  t.is((await login(a.url, account, account.password, { code: first })).status, 201, 'used on A');
  assertProblem(t, await login(b.url, account, account.password, { code: first }), 403, 'invalid_code', 'the same recovery code on B');
  assertProblem(t, await loginWithChallenge(b.url, await challengeFor(b.url, account), first), 403, 'invalid_code', 'with a challenge on B');
  assertProblem(t, await api(b.url, 'POST', '/v1/me/2fa/recovery-codes', { currentPassword: account.password, code: first }, { token: account.token }), 403, 'invalid_code', 'for step-up on B');

  const replies = await Promise.all([a, b, a, b].map((daemon) => login(daemon.url, account, account.password, { code: second })));
  t.deepEqual(replies.map((reply) => reply.status).sort(), [201, 403, 403, 403], replies.map(shown).join('\n'));
  await nthMail(a.smtp, account.email, RECOVERY_USED_SUBJECT, 2);
  await Promise.all(daemons.map((daemon) => outboxSettled(daemon)));
  await new Promise((resolve) => setTimeout(resolve, 500)); // room for a duplicate to arrive
  const notices = mailsWith(a.smtp, account.email, RECOVERY_USED_SUBJECT);
  t.is(notices.length, 2, 'one notice per code used');
  t.regex(notices[0]!.text.replace(/\s+/g, ' '), /\b9 remain\b/);
  t.regex(notices[1]!.text.replace(/\s+/g, ' '), /\b8 remain\b/);
});

test.serial('postgres › a challenge from A is finished on B and then refused on A; wrong codes on A and B end it after 5 in all', async (t) => {
  const { daemons } = await daemonsOnOneDatabase(t, 2);
  const [a, b] = daemons as [TestDaemon, TestDaemon];
  const account = await twoFactorOn(a, 'xchallenge');
  const challenge = await challengeFor(a.url, account);
  const finished = await loginWithChallenge(b.url, challenge, await account.phone.next());
  t.is(finished.status, 201, shown(finished));
  t.true((await meUser(a.url, finished.json.token)).twoFactorEnabled, 'the session from B works on A');
  assertProblem(t, await loginWithChallenge(a.url, challenge, await account.phone.next()), 401, 'invalid_challenge', 'the same challenge on A');

  const dying = await challengeFor(b.url, account);
  const wrong: number[] = [];
  for (const daemon of [a, b, a, b, a]) wrong.push((await loginWithChallenge(daemon.url, dying, account.phone.wrong())).status);
  t.deepEqual(wrong, [403, 403, 403, 403, 403]);
  assertProblem(t, await loginWithChallenge(b.url, dying, codeAt(account.secret)), 401, 'invalid_challenge', 'the 6th, right, on B');
});

test.serial('postgres › a code used for a login on A is refused for step-up on B, and wrong codes on A and B add up to one block', async (t) => {
  const { daemons } = await daemonsOnOneDatabase(t, 2);
  const [a, b] = daemons as [TestDaemon, TestDaemon];
  const account = await twoFactorOn(a, 'xstepup');
  await withinOneStep(5_000);
  const code = await account.phone.next();
  t.is((await login(a.url, account, account.password, { code })).status, 201);
  assertProblem(t, await api(b.url, 'DELETE', '/v1/me/2fa', { currentPassword: account.password, code }, { token: account.token }), 403, 'invalid_code', 'turning it off on B with the code used on A');
  t.true((await meUser(b.url, account.token)).twoFactorEnabled, 'still on');

  const blocked = await twoFactorOn(a, 'xblock');
  const answered: number[] = [];
  for (let i = 0; i < 10; i++) answered.push((await login((i % 2 ? b : a).url, blocked, blocked.password, { code: blocked.phone.wrong() })).status);
  t.deepEqual(answered, Array(10).fill(403));
  for (const [name, daemon] of [['A', a], ['B', b]] as const) {
    const reply = await login(daemon.url, blocked, blocked.password, { code: codeAt(blocked.secret) });
    assertProblem(t, reply, 429, 'rate_limited', `the right code on ${name} after 5 wrong ones on each`);
  }
});

test.serial('postgres › turning two-factor on at A ends the other sessions of the account on B at their next request', async (t) => {
  const { daemons } = await daemonsOnOneDatabase(t, 2);
  const [a, b] = daemons as [TestDaemon, TestDaemon];
  const account = await activeAccount(a, identity('xends'));
  const elsewhere = (await login(b.url, account, account.password)).json.token as string;
  for (let i = 0; i < 3; i++) t.is((await api(b.url, 'GET', '/v1/me', undefined, { token: elsewhere })).status, 200, 'used (and cached) on B');
  await enableTwoFactor(a.url, account);
  assertProblem(t, await api(b.url, 'GET', '/v1/me', undefined, { token: elsewhere }), 401, 'unauthenticated', 'the other session on B, next request');
  t.true((await meUser(b.url, account.token)).twoFactorEnabled, 'the caller’s session, on B too');
});

test.serial('postgres › turning two-factor off at A shows on B at the next request: GET /v1/me says it is off, and login there needs no code', async (t) => {
  const { daemons } = await daemonsOnOneDatabase(t, 2);
  const [a, b] = daemons as [TestDaemon, TestDaemon];
  const ROUNDS = 40;
  const stale: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const account = await twoFactorOn(a, 'xoff');
    for (let i = 0; i < 3; i++) t.true((await meUser(b.url, account.token)).twoFactorEnabled, 'on, as B has it cached');
    const off = await api(a.url, 'DELETE', '/v1/me/2fa', { currentPassword: account.password, code: await account.phone.next() }, { token: account.token });
    t.is(off.status, 204, shown(off));
    if ((await meUser(b.url, account.token)).twoFactorEnabled) stale.push(`round ${round}: B still said twoFactorEnabled: true`);
    const plain = await login(b.url, account, account.password);
    if (plain.status !== 201) stale.push(`round ${round}: login on B answered ${plain.status}`);
  }
  t.deepEqual(stale, [], `B showed two-factor on after it was turned off at A in ${stale.length} of ${ROUNDS} rounds`);
});

// ---- the key ------------------------------------------------------------------------------------

test.serial('postgres › a daemon without TOTP_ENCRYPTION_KEY warns at start and answers enrolment 503 service_unavailable saying why; nothing is stored', async (t) => {
  const databaseUrl = await (await sharedPostgres()).createDatabase();
  const captured = capturedLog();
  const { dataDir, smtp } = await lastingSetup(t, 'nokey');
  const td = await startTestDaemon({ env: { DATABASE_URL: databaseUrl }, dataDir, smtp, log: captured.log });
  t.teardown(() => td.close());
  t.true(captured.lines.some((line) => line.level === 40 && /TOTP_ENCRYPTION_KEY/.test(line.msg)), `a warning at start: ${captured.all()}`);
  const account = await activeAccount(td, identity('nokey'));
  const reply = await api(td.url, 'POST', '/v1/me/2fa/totp', { currentPassword: account.password }, { token: account.token });
  assertProblem(t, reply, 503, 'service_unavailable', 'enrolment');
  t.regex(reply.json.detail, /TOTP_ENCRYPTION_KEY/, 'the reason names the setting');
  t.false('secret' in reply.json);
  t.is(Number((await td.daemon.db.knex('totp_credentials').count({ n: '*' }).first())?.n), 0, 'nothing stored');
  assertProblem(t, await api(td.url, 'POST', '/v1/me/2fa/totp/confirm', { code: '123456' }, { token: account.token }), 409, 'no_enrolment', 'nothing to confirm');
  t.is((await login(td.url, account, account.password)).status, 201, 'logins go on');
});

test.serial('postgres › once an account has two-factor on, a daemon without the key, or with another key, refuses to start and says why; with the key (or its file) it starts and checks codes', async (t) => {
  const databaseUrl = await (await sharedPostgres()).createDatabase();
  const { dataDir, smtp } = await lastingSetup(t, 'sharedkey');
  const withKey = await startTestDaemon({ env: { DATABASE_URL: databaseUrl, TOTP_ENCRYPTION_KEY: KEY }, dataDir, smtp });
  let account: TwoFactorAccount;
  try {
    const pendingOnly = await activeAccount(withKey, identity('xpending'));
    await enrol(withKey.url, pendingOnly);
    // A pending enrolment turns nothing on: a daemon without the key still starts.
    const keyless = await startTestDaemon({ env: { DATABASE_URL: databaseUrl }, dataDir, smtp });
    await keyless.close();
    account = await twoFactorOn(withKey, 'xkeyed');
  } finally {
    await withKey.close();
  }

  const without = await t.throwsAsync(startTestDaemon({ env: { DATABASE_URL: databaseUrl }, dataDir, smtp }));
  t.regex(without?.message ?? '', /two-factor/, `why: ${without?.message}`);
  t.regex(without?.message ?? '', /TOTP_ENCRYPTION_KEY is not set/, `why: ${without?.message}`);
  const other = await t.throwsAsync(startTestDaemon({ env: { DATABASE_URL: databaseUrl, TOTP_ENCRYPTION_KEY: OTHER_KEY }, dataDir, smtp }));
  t.regex(other?.message ?? '', /TOTP_ENCRYPTION_KEY is not the key the two-factor secrets were encrypted with/, `why: ${other?.message}`);

  const keyFile = join(dataDir, 'operator.key');
  await writeFile(keyFile, `${KEY}\n`, { mode: 0o600 });
  const fromFile = await startTestDaemon({ env: { DATABASE_URL: databaseUrl, TOTP_ENCRYPTION_KEY_FILE: keyFile }, dataDir, smtp });
  t.teardown(() => fromFile.close());
  const reply = await login(fromFile.url, account, account.password, { code: await account.phone.next() });
  t.is(reply.status, 201, `the key from TOTP_ENCRYPTION_KEY_FILE: ${shown(reply)}`);
});
