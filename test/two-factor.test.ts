// Two-factor authentication (issue 17; ../shared/contract.md, "Milestone 3 additions",
// "Two-factor authentication (TOTP, RFC 6238) and recovery codes"), as a user and as an attacker who
// has the password meet it: the real daemon, the real SMTP receiver, SQLite and PostgreSQL. The
// codes are computed here with the `otpauth` package at the test's clock (test/helpers/totp.ts),
// never asked of the daemon. What several daemons on one PostgreSQL do, and the key on PostgreSQL,
// are in two-factor-daemons.test.ts.
//
// Most tests share one daemon per dialect on the real clock; a test that compares database dumps,
// moves a clock or counts throttle blocks starts a daemon of its own. The throttle's database store
// reads the wall clock (Date.now) itself, so the one test that waits out a block moves Date.now, as
// test/lockout.test.ts does: it is serial (ava runs serial tests first, alone), and the offset is
// back to 0 after it.
import { readFileSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { Secret } from 'otpauth';
import { createToken, isProblem, shown, unchecked } from './helpers/access-tokens.js';
import { STRONG_PASSWORD, activeAccount, identity, lastingSetup, outboxSettled, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { forEachDatabase } from './helpers/databases.js';
import { dumpDatabase } from './helpers/dump.js';
import { api, type Reply } from './helpers/http.js';
import { requestReset } from './helpers/reset-mail.js';
import { capturedLog } from './helpers/smtp.js';
import { Authenticator, STEP_MS, codeAt, codeForStep, leftOfStep, nextStep, parseOtpauthUri, stepOf, withinOneStep, wrongCode } from './helpers/totp.js';
import {
  DISABLED_SUBJECT,
  ENABLED_SUBJECT,
  RECOVERY_CODE_SHAPE,
  RECOVERY_USED_SUBJECT,
  challengeFor,
  enableTwoFactor,
  enrol,
  eventTypes,
  flatText,
  login,
  loginWithChallenge,
  mailsWith,
  meUser,
  nthMail,
  type Account,
  type TwoFactorAccount,
} from './helpers/two-factor.js';

const realNow = Date.now;
let offsetMs = 0;
Date.now = () => realNow() + offsetMs;
const later = (seconds: number) => {
  offsetMs += seconds * 1000;
};
test.afterEach.always(() => {
  offsetMs = 0;
});

const WRONG_PASSWORD = `${STRONG_PASSWORD}-wrong`;
const NEW_PASSWORD = 'lantern-orchard-violet-98-quartz';
const MINUTE = 60_000;
const KEY_FILE = 'totp-encryption.key';
/** On PostgreSQL every daemon is given the key (without one, enrolment answers 503: two-factor-daemons.test.ts); SQLite uses its data folder's. */
const POSTGRES_KEY = '5e'.repeat(32);
const retryAfter = (reply: Reply) => Number(reply.headers['retry-after']);
/** Everything the daemon stored but its throttle counters and the activity (a refused code is rightly counted and shown there). */
const snapshot = (td: TestDaemon) => dumpDatabase(td.daemon.db, { except: ['rate_limits', 'account_events'] });
const statuses = (replies: Reply[]) => replies.map((reply) => reply.status);
const countOf = (replies: Reply[], status: number, code?: string) => replies.filter((reply) => reply.status === status && (code === undefined || reply.json?.code === code)).length;

/** A 201 with a session that works. */
async function assertSession(t: ExecutionContext, td: { url: string }, reply: Reply, account: { username: string }, label: string): Promise<string> {
  t.is(reply.status, 201, `${label}: ${shown(reply)}`);
  if (reply.status !== 201) return '';
  t.regex(reply.json.token, /^tm_/, label);
  const user = await meUser(td.url, reply.json.token);
  t.is(user.username, account.username, `${label}: the session is the account's`);
  t.true(user.twoFactorEnabled, `${label}: twoFactorEnabled`);
  return reply.json.token as string;
}

function assertProblem(t: ExecutionContext, reply: Reply, status: number, code: string, label: string): void {
  t.true(isProblem(reply, status, code), `${label}: expected ${status} ${code}, got ${shown(reply)}`);
}

forEachDatabase((test, db) => {
  const daemonEnv = async (): Promise<Record<string, string>> => ({ ...(await db.env()), ...(db.dialect === 'postgres' ? { TOTP_ENCRYPTION_KEY: POSTGRES_KEY } : {}) });
  let td: TestDaemon;
  test.before(async () => {
    // Every test here comes from 127.0.0.1: the per-address hourly limit (which the throttle tests
    // below meet on daemons of their own) is raised so that the tests of this daemon do not add up.
    td = await startTestDaemon({ env: await daemonEnv(), limits: { loginFailuresPerAddressPerHour: 100_000 } });
  });
  test.after.always(async () => td?.close());

  /** A daemon of the test's own on a fresh database of this dialect. */
  async function ownDaemon(t: ExecutionContext, options: Parameters<typeof startTestDaemon>[0] = {}): Promise<TestDaemon> {
    const own = await startTestDaemon({ ...options, env: { ...(await daemonEnv()), ...options.env } });
    t.teardown(() => own.close());
    return own;
  }

  const onAccount = async (daemon: TestDaemon, prefix: string): Promise<Account> => activeAccount(daemon, identity(prefix));
  const withTwoFactor = async (daemon: TestDaemon, prefix: string, now?: () => number): Promise<TwoFactorAccount> => enableTwoFactor(daemon.url, await onAccount(daemon, prefix), now);

  // ---- 1. enrolment ------------------------------------------------------------------------------

  test('enrolment needs a session and the password: none → 401, an access token → 403 session_required, a wrong password → 403 wrong_password and nothing is pending', async (t) => {
    const account = await onAccount(td, 'enrolauth');
    const anonymous = await api(td.url, 'POST', '/v1/me/2fa/totp', { currentPassword: account.password });
    assertProblem(t, anonymous, 401, 'unauthenticated', 'no session');
    const { token: accessToken } = await createToken(td, account);
    assertProblem(t, await api(td.url, 'POST', '/v1/me/2fa/totp', { currentPassword: account.password }, { token: accessToken }), 403, 'session_required', 'an access token');
    assertProblem(t, await api(td.url, 'POST', '/v1/me/2fa/totp/confirm', { code: '123456' }, { token: accessToken }), 403, 'session_required', 'confirm with an access token');

    const wrong = await api(td.url, 'POST', '/v1/me/2fa/totp', { currentPassword: WRONG_PASSWORD }, { token: account.token });
    assertProblem(t, wrong, 403, 'wrong_password', 'a wrong password');
    t.false('secret' in (wrong.json ?? {}), 'no secret with a wrong password');
    const user = await meUser(td.url, account.token);
    const stored = await td.daemon.db.knex('totp_credentials').where('user_id', (await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).json.user.id).count({ n: '*' }).first();
    t.is(Number(stored?.n), 0, 'nothing stored');
    assertProblem(t, await api(td.url, 'POST', '/v1/me/2fa/totp/confirm', { code: '123456' }, { token: account.token }), 409, 'no_enrolment', 'nothing pending to confirm');
    t.false(user.twoFactorEnabled);
    t.is((await login(td.url, account, account.password)).status, 201, 'login needs no code');
  });

  test('the secret is at least 160 bits of base32, and the URI exactly otpauth://totp/TaskMaster:<username>?secret=…&issuer=TaskMaster; an app reading it shows the codes the daemon takes', async (t) => {
    const account = await onAccount(td, 'enroluri');
    const { secret, otpauthUri } = await enrol(td.url, account);
    t.regex(secret, /^[A-Z2-7]+$/, 'base32 (RFC 4648), no padding');
    t.true(secret.length * 5 >= 160, `${secret.length * 5} bits`);
    t.true(Secret.fromBase32(secret).bytes.length >= 20, 'at least 20 bytes once decoded');
    t.is(otpauthUri, `otpauth://totp/TaskMaster:${account.username}?secret=${secret}&issuer=TaskMaster`);
    const app = parseOtpauthUri(otpauthUri);
    t.deepEqual(app, { issuer: 'TaskMaster', label: account.username, algorithm: 'SHA1', digits: 6, period: 30, secret });
    const again = await enrol(td.url, account);
    t.not(again.secret, secret, 'each enrolment is a new secret');
    // The code an app computes from the URI turns it on.
    const phone = new Authenticator(parseOtpauthUri(again.otpauthUri).secret);
    const confirmed = await api(td.url, 'POST', '/v1/me/2fa/totp/confirm', { code: phone.first() }, { token: account.token });
    t.is(confirmed.status, 200, shown(confirmed));
  });

  test('the enrolment answer is as the OpenAPI document says (api() holds every answer to it)', async (t) => {
    const account = await onAccount(td, 'enroldoc');
    await t.notThrowsAsync(api(td.url, 'POST', '/v1/me/2fa/totp', { currentPassword: account.password }, { token: account.token }), 'the 200 checked against the document');
    const document = JSON.parse(readFileSync(new URL('../server/reference/openapi.json', import.meta.url), 'utf8'));
    const uri = document.components.schemas.TotpEnrolment.properties.otpauthUri;
    t.is(uri.format, undefined, `otpauthUri has the format "${uri.format}", which JSON Schema does not define (its pattern says it already)`);
  });

  test('nothing is on until a code is confirmed: login needs no code; a wrong code → 400 invalid_code and still off; a new enrolment replaces the pending one; confirm with none pending → 409', async (t) => {
    const account = await onAccount(td, 'pending');
    assertProblem(t, await api(td.url, 'POST', '/v1/me/2fa/totp/confirm', { code: '123456' }, { token: account.token }), 409, 'no_enrolment', 'before any enrolment');
    const first = await enrol(td.url, account);
    t.false((await meUser(td.url, account.token)).twoFactorEnabled, 'off while pending');
    const plain = await login(td.url, account, account.password);
    t.is(plain.status, 201, `login without a code while pending: ${shown(plain)}`);
    const otherSession = plain.json.token as string;

    const wrong = await api(td.url, 'POST', '/v1/me/2fa/totp/confirm', { code: wrongCode(first.secret) }, { token: account.token });
    assertProblem(t, wrong, 400, 'invalid_code', 'a wrong first code');
    t.false((await meUser(td.url, account.token)).twoFactorEnabled, 'still off after a wrong code');
    t.is((await login(td.url, account, account.password)).status, 201, 'and login still needs no code');
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: otherSession })).status, 200, 'no session ended by a wrong code');

    const second = await enrol(td.url, account);
    const stale = await api(td.url, 'POST', '/v1/me/2fa/totp/confirm', { code: codeAt(first.secret) }, { token: account.token });
    assertProblem(t, stale, 400, 'invalid_code', 'a code of the replaced secret');
    const confirmed = await api(td.url, 'POST', '/v1/me/2fa/totp/confirm', { code: new Authenticator(second.secret).first() }, { token: account.token });
    t.is(confirmed.status, 200, shown(confirmed));
  });

  test('confirming: 10 distinct recovery codes, once; every other session ends and the caller’s stays; a notice mail; twoFactorEnabled; enrolling or confirming again → 409 two_factor_enabled', async (t) => {
    const account = await onAccount(td, 'confirm');
    const others = [(await login(td.url, account, account.password)).json.token as string, (await login(td.url, account, account.password, { from: '127.0.0.2' })).json.token as string];
    for (const other of others) t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: other })).status, 200);
    const { secret } = await enrol(td.url, account);
    const phone = new Authenticator(secret);
    const confirmed = await api(td.url, 'POST', '/v1/me/2fa/totp/confirm', { code: phone.first() }, { token: account.token });
    t.is(confirmed.status, 200, shown(confirmed));
    t.deepEqual(Object.keys(confirmed.json), ['recoveryCodes']);
    const codes: string[] = confirmed.json.recoveryCodes;
    t.is(codes.length, 10);
    t.is(new Set(codes).size, 10, 'distinct');
    t.is(new Set(codes.map((code) => code.replaceAll('-', '').slice(0, 4))).size, 10, 'distinct from their first characters on');
    for (const code of codes) t.regex(code, RECOVERY_CODE_SHAPE);

    for (const [i, other] of others.entries()) assertProblem(t, await api(td.url, 'GET', '/v1/me', undefined, { token: other }), 401, 'unauthenticated', `other session ${i + 1} ended`);
    const user = await meUser(td.url, account.token);
    t.true(user.twoFactorEnabled, 'GET /v1/me says twoFactorEnabled, and the caller’s session stays');

    const mail = await nthMail(td.smtp, account.email, ENABLED_SUBJECT);
    t.regex(flatText(mail), /Two-factor authentication was turned on/);
    t.regex(flatText(mail), /recovery codes/);
    t.false(codes.some((code) => mail.raw.includes(code) || mail.raw.includes(code.replaceAll('-', ''))), 'the mail carries no recovery code');
    t.false(mail.raw.includes(secret), 'nor the secret');

    const again = await api(td.url, 'POST', '/v1/me/2fa/totp', { currentPassword: account.password }, { token: account.token });
    assertProblem(t, again, 409, 'two_factor_enabled', 'enrolling again');
    const reconfirm = await api(td.url, 'POST', '/v1/me/2fa/totp/confirm', { code: await phone.next() }, { token: account.token });
    assertProblem(t, reconfirm, 409, 'two_factor_enabled', 'confirming again shows no codes');
    t.false(reconfirm.text.includes(codes[0]!), 'no recovery code in the refusal');
    const listed = await api(td.url, 'GET', '/v1/me', undefined, { token: account.token });
    t.false(codes.some((code) => listed.text.includes(code)), 'GET /v1/me shows no recovery code');
    t.is(mailsWith(td.smtp, account.email, ENABLED_SUBJECT).length, 1, 'one notice');
  });

  test('two confirmations at once: one turns it on with 10 codes, the other is 409; one notice', async (t) => {
    const account = await onAccount(td, 'confirmrace');
    const { secret } = await enrol(td.url, account);
    await withinOneStep(5_000);
    const code = codeAt(secret);
    const replies = await Promise.all([1, 2, 3].map(() => api(td.url, 'POST', '/v1/me/2fa/totp/confirm', { code }, { token: account.token })));
    t.deepEqual(statuses(replies).sort(), [200, 409, 409], replies.map(shown).join('\n'));
    await nthMail(td.smtp, account.email, ENABLED_SUBJECT);
    await outboxSettled(td);
    t.is(mailsWith(td.smtp, account.email, ENABLED_SUBJECT).length, 1);
  });

  test('the secret is stored encrypted and the recovery codes with a slow hash: a dump of every table (and on SQLite the files) holds neither, nor the login challenge', async (t) => {
    const own = await ownDaemon(t);
    const account = await withTwoFactor(own, 'stored');
    const challenge = await challengeFor(own.url, account);
    const pending = await onAccount(own, 'storedpending');
    const pendingSecret = (await enrol(own.url, pending)).secret;
    const dump = await dumpDatabase(own.daemon.db);
    t.true(dump.includes(account.username) && dump.includes('"totp_credentials":[{') && dump.includes('"recovery_codes":[{'), 'the dump sees the stored rows');
    const secretForms = (secret: string) => {
      const bytes = Buffer.from(Secret.fromBase32(secret).bytes);
      return [secret, secret.toLowerCase(), bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url')];
    };
    for (const form of [...secretForms(account.secret), ...secretForms(pendingSecret)]) t.false(dump.toLowerCase().includes(form.toLowerCase()), `the secret (${form.slice(0, 6)}…) is not in the dump`);
    for (const code of account.recoveryCodes) {
      const plain = code.replaceAll('-', '');
      for (const form of [code, plain, plain.slice(4)]) t.false(dump.includes(form), `the recovery code ${code} is not in the dump as ${form}`);
    }
    t.false(dump.includes(challenge), 'nor the challenge');
    const hashes = (await own.daemon.db.knex('recovery_codes').select('code_hash')).map((row: { code_hash: string }) => row.code_hash);
    t.is(hashes.length, 10);
    t.true(hashes.every((hash) => /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)), 'bcrypt hashes');
    t.is(new Set(hashes.map((hash) => hash.slice(7, 29))).size, 10, 'each with a salt of its own');
    if (db.dialect === 'sqlite') {
      for (const file of await readdir(own.dataDir)) {
        if (file === KEY_FILE) continue;
        const raw = await readFile(join(own.dataDir, file)).catch(() => Buffer.alloc(0));
        t.false(raw.includes(account.secret) || raw.includes(pendingSecret), `${file} does not hold a secret`);
        t.false(account.recoveryCodes.some((code) => raw.includes(code.replaceAll('-', ''))), `${file} does not hold a recovery code`);
      }
    }
  });

  test('the secret never reaches the log, at any level, through enrolment, confirmation, logins and step-up', async (t) => {
    const captured = capturedLog();
    captured.log.level = 'trace';
    const own = await ownDaemon(t, { log: captured.log });
    const account = await withTwoFactor(own, 'logged');
    await loginWithChallenge(own.url, await challengeFor(own.url, account), await account.phone.next());
    await login(own.url, account, account.password, { code: account.recoveryCodes[0]! });
    await api(own.url, 'POST', '/v1/me/2fa/recovery-codes', { currentPassword: account.password, code: await account.phone.next() }, { token: account.token });
    const all = captured.all();
    t.true(all.length > 0);
    t.false(all.includes(account.secret), 'no secret in the log');
    t.false(account.recoveryCodes.some((code) => all.includes(code) || all.includes(code.replaceAll('-', ''))), 'no recovery code in the log');
  });

  // ---- 2. login -------------------------------------------------------------------------------------

  test('a wrong password gets byte for byte the answer of an account without two-factor (and of an unknown email): status, headers, body', async (t) => {
    const plain = await onAccount(td, 'plainwrong');
    const guarded = await withTwoFactor(td, 'guardedwrong');
    // Same length, so nothing but two-factor tells them apart; an attempt is asked again when
    // the Date header's second ticked between the two.
    const unknown = { email: `nobody-${guarded.email.slice(0, guarded.email.indexOf('@'))}@example.com` };
    const comparable = (reply: Reply) => ({ status: reply.status, headers: reply.headers, text: reply.text });
    let pair: [Reply, Reply, Reply] | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const replies = [await login(td.url, plain, WRONG_PASSWORD), await login(td.url, guarded, WRONG_PASSWORD), await login(td.url, unknown, WRONG_PASSWORD)] as [Reply, Reply, Reply];
      pair = replies;
      if (new Set(replies.map((reply) => reply.headers.date)).size === 1) break;
    }
    const [withoutTwoFactor, withTwoFactorOn, noAccount] = pair!;
    assertProblem(t, withTwoFactorOn, 401, 'invalid_credentials', 'wrong password with two-factor on');
    t.deepEqual(comparable(withTwoFactorOn), comparable(withoutTwoFactor), 'the same answer as an account without two-factor');
    t.deepEqual(comparable(withTwoFactorOn), comparable(noAccount), 'and as an unknown email');
    t.deepEqual(Object.keys(withTwoFactorOn.json).sort(), ['code', 'detail', 'status', 'title', 'type'], 'no challenge, nothing more');
    t.false(/code|two-factor|authenticator/i.test(withTwoFactorOn.json.detail), withTwoFactorOn.json.detail);

    // A wrong password with the right code: the same refusal, and the code is not spent by it.
    const code = await guarded.phone.next();
    const withCode = await login(td.url, guarded, WRONG_PASSWORD, { code });
    assertProblem(t, withCode, 401, 'invalid_credentials', 'a wrong password with a right code');
    t.is(withCode.text, withoutTwoFactor.text);
    await assertSession(t, td, await login(td.url, guarded, guarded.password, { code }), guarded, 'the code still works with the right password');
  });

  test('the right password without a code: 401 otp_required with a challenge; the challenge with a right code: a session; `code` in POST /v1/sessions: a session; a wrong code: 403 invalid_code', async (t) => {
    const account = await withTwoFactor(td, 'otplogin');
    const asked = await login(td.url, account, account.password);
    assertProblem(t, asked, 401, 'otp_required', 'no code');
    t.is(typeof asked.json.challenge, 'string');
    t.true(asked.json.challenge.length >= 32, 'a challenge long enough not to be guessed');
    t.false('token' in asked.json, 'no session');

    const plain = await onAccount(td, 'otpignored');
    t.is((await login(td.url, plain, plain.password, { code: '123456' })).status, 201, 'an account without two-factor: a `code` (a script passing --otp always) changes nothing');

    const wrongDirect = await login(td.url, account, account.password, { code: account.phone.wrong() });
    assertProblem(t, wrongDirect, 403, 'invalid_code', 'a wrong code in POST /v1/sessions');
    t.false('token' in wrongDirect.json);
    const wrongViaChallenge = await loginWithChallenge(td.url, asked.json.challenge, account.phone.wrong());
    assertProblem(t, wrongViaChallenge, 403, 'invalid_code', 'a wrong code with the challenge');

    const viaChallenge = await loginWithChallenge(td.url, asked.json.challenge, await account.phone.next());
    await assertSession(t, td, viaChallenge, account, 'the challenge and a right code');
    t.deepEqual(Object.keys(viaChallenge.json).sort(), ['deviceToken', 'expiresAt', 'token', 'user'], 'the answer of POST /v1/sessions');
    const direct = await login(td.url, account, account.password, { code: await account.phone.next() });
    await assertSession(t, td, direct, account, '`code` in POST /v1/sessions');
    // Spaces and dashes in a code are ignored, as people type them.
    const spaced = await account.phone.next();
    await assertSession(t, td, await login(td.url, account, account.password, { code: `${spaced.slice(0, 3)} ${spaced.slice(3)}` }), account, 'a code typed "123 456"');
  });

  test('a code is good once: the same code again is refused within its step, by either route; the code of the step before an accepted one is refused', async (t) => {
    const account = await withTwoFactor(td, 'replay');
    await withinOneStep(8_000);
    const now = Date.now();
    const current = codeForStep(account.secret, stepOf(now));
    const upcoming = codeForStep(account.secret, stepOf(now) + 1);
    // The confirmation took the step before now (Authenticator.first): now and the next are free.
    await assertSession(t, td, await login(td.url, account, account.password, { code: current }), account, 'the code of this step');
    assertProblem(t, await login(td.url, account, account.password, { code: current }), 403, 'invalid_code', 'the same code again, directly');
    assertProblem(t, await loginWithChallenge(td.url, await challengeFor(td.url, account), current), 403, 'invalid_code', 'the same code again, with a challenge');
    t.is(stepOf(Date.now()), stepOf(now), 'all within one step');

    await assertSession(t, td, await login(td.url, account, account.password, { code: upcoming }), account, 'the code of the next step (the step after is accepted)');
    const before = await login(td.url, account, account.password, { code: current });
    assertProblem(t, before, 403, 'invalid_code', 'a step before an accepted one');
    const second = await withTwoFactor(td, 'replayorder');
    await withinOneStep(8_000);
    const step = stepOf(Date.now());
    await assertSession(t, td, await login(td.url, second, second.password, { code: codeForStep(second.secret, step + 1) }), second, 'the next step’s code first');
    assertProblem(t, await login(td.url, second, second.password, { code: codeForStep(second.secret, step) }), 403, 'invalid_code', 'then this step’s code, though never used, is refused');
  });

  test('codes across a step boundary: the code shown just before a boundary works just after it; codes two steps away are refused', async (t) => {
    const account = await withTwoFactor(td, 'boundary');
    await withinOneStep(8_000);
    const now = Date.now();
    assertProblem(t, await login(td.url, account, account.password, { code: codeAt(account.secret, now - 2 * STEP_MS) }), 403, 'invalid_code', 'two steps back');
    assertProblem(t, await login(td.url, account, account.password, { code: codeAt(account.secret, now + 2 * STEP_MS) }), 403, 'invalid_code', 'two steps ahead');

    // Read the code 1.5 s before the boundary, send it 0.3 s after.
    const left = leftOfStep(Date.now());
    if (left > 1_500) await new Promise((resolve) => setTimeout(resolve, left - 1_500));
    const shown = codeAt(account.secret);
    const shownStep = stepOf(Date.now());
    t.is(account.phone.lastStep! < shownStep, true, 'the confirmation used an earlier step');
    const newStep = await nextStep(Date.now, 300);
    t.is(newStep, shownStep + 1);
    await assertSession(t, td, await login(td.url, account, account.password, { code: shown }), account, 'the code of the step just ended');
    const fresh = codeAt(account.secret);
    await assertSession(t, td, await login(td.url, account, account.password, { code: fresh }), account, 'then the code of the new step');
    assertProblem(t, await login(td.url, account, account.password, { code: shown }), 403, 'invalid_code', 'the old one again');
    assertProblem(t, await login(td.url, account, account.password, { code: fresh }), 403, 'invalid_code', 'the new one again');
  });

  test('a challenge is single use: the second time → 401 invalid_challenge, even with a new right code (which is not spent)', async (t) => {
    const account = await withTwoFactor(td, 'challengeonce');
    const challenge = await challengeFor(td.url, account);
    await assertSession(t, td, await loginWithChallenge(td.url, challenge, await account.phone.next()), account, 'first use');
    const fresh = await account.phone.next();
    const again = await loginWithChallenge(td.url, challenge, fresh);
    assertProblem(t, again, 401, 'invalid_challenge', 'second use');
    t.false('token' in again.json);
    assertProblem(t, await loginWithChallenge(td.url, 'not-a-challenge-anyone-was-given', fresh), 401, 'invalid_challenge', 'a made-up challenge');
    const other = await withTwoFactor(td, 'challengeother');
    const othersChallenge = await challengeFor(td.url, other);
    assertProblem(t, await loginWithChallenge(td.url, othersChallenge, fresh), 403, 'invalid_code', 'another account’s challenge with this account’s code');
    await assertSession(t, td, await login(td.url, account, account.password, { code: fresh }), account, 'the code refused with a used challenge was not spent');
  });

  test('a challenge dies after 5 wrong codes: the 6th, even right, → 401 invalid_challenge; the right code still works in a new login', async (t) => {
    const account = await withTwoFactor(td, 'challenge5');
    const challenge = await challengeFor(td.url, account);
    const wrong: number[] = [];
    for (let i = 0; i < 5; i++) wrong.push((await loginWithChallenge(td.url, challenge, account.phone.wrong())).status);
    t.deepEqual(wrong, [403, 403, 403, 403, 403]);
    const right = await account.phone.next();
    const sixth = await loginWithChallenge(td.url, challenge, right);
    assertProblem(t, sixth, 401, 'invalid_challenge', 'the 6th try, with the right code');
    await assertSession(t, td, await loginWithChallenge(td.url, await challengeFor(td.url, account), right), account, 'a new challenge with the same code');
  });

  test('a challenge expires after 5 minutes: used at 4:59.999 it works, at 5:00 it is refused (moved clock)', async (t) => {
    const start = Date.parse('2030-06-01T12:00:00.000Z');
    const clock = { now: start };
    const own = await ownDaemon(t, { clock: () => clock.now });
    const account = await withTwoFactor(own, 'expiry', () => clock.now);
    const [early, late, latest] = [await challengeFor(own.url, account), await challengeFor(own.url, account), await challengeFor(own.url, account)];
    clock.now = start + 5 * MINUTE - 1;
    await assertSession(t, own, await loginWithChallenge(own.url, early, codeAt(account.secret, clock.now)), account, '1 ms before 5 minutes');
    clock.now = start + 5 * MINUTE;
    const code = codeAt(account.secret, clock.now + STEP_MS);
    assertProblem(t, await loginWithChallenge(own.url, late, code), 401, 'invalid_challenge', 'at 5 minutes');
    clock.now = start + 60 * MINUTE;
    assertProblem(t, await loginWithChallenge(own.url, latest, codeAt(account.secret, clock.now)), 401, 'invalid_challenge', 'an hour later');
    await assertSession(t, own, await login(own.url, account, account.password, { code: codeAt(account.secret, clock.now) }), account, 'a new login with a code at that time');
  });

  test('a recovery code logs in once and is refused the second time; its use mails that 9 remain; typed in capitals without dashes it works too', async (t) => {
    const account = await withTwoFactor(td, 'recovery');
    const [first, second, third] = account.recoveryCodes as [string, string, string];
    await assertSession(t, td, await loginWithChallenge(td.url, await challengeFor(td.url, account), first), account, 'a recovery code with a challenge');
    const mail = await nthMail(td.smtp, account.email, RECOVERY_USED_SUBJECT);
    t.regex(flatText(mail), /\b9 remain\b/, flatText(mail));
    t.false(mail.raw.includes(first) || mail.raw.includes(first.replaceAll('-', '')), 'the mail does not repeat the code');
    assertProblem(t, await loginWithChallenge(td.url, await challengeFor(td.url, account), first), 403, 'invalid_code', 'the same recovery code again, with a challenge');
    assertProblem(t, await login(td.url, account, account.password, { code: first }), 403, 'invalid_code', 'the same recovery code again, directly');

    await assertSession(t, td, await login(td.url, account, account.password, { code: second.replaceAll('-', '').toUpperCase() }), account, 'a recovery code in capitals without dashes, directly');
    const secondMail = await nthMail(td.smtp, account.email, RECOVERY_USED_SUBJECT, 2);
    t.regex(flatText(secondMail), /\b8 remain\b/, flatText(secondMail));
    assertProblem(t, await login(td.url, account, account.password, { code: second }), 403, 'invalid_code', 'the second, again');
    // A made-up code of the same shape (the lookup part of a real one, the rest wrong): refused.
    const forged = `${third.slice(0, 5)}${third.slice(5).split('').reverse().join('')}`;
    if (forged !== third) assertProblem(t, await login(td.url, account, account.password, { code: forged }), 403, 'invalid_code', 'a forged code with a real lookup part');
    await assertSession(t, td, await login(td.url, account, account.password, { code: third }), account, 'the third');
  });

  test('one code sent 8 times at once opens exactly one session, TOTP or recovery code alike', async (t) => {
    const account = await withTwoFactor(td, 'parallelcode');
    await withinOneStep(8_000);
    const code = await account.phone.next();
    const totpReplies = await Promise.all(Array.from({ length: 8 }, () => login(td.url, account, account.password, { code })));
    t.deepEqual(statuses(totpReplies).sort(), [201, ...Array(7).fill(403)], totpReplies.map(shown).join('\n'));
    // From two other addresses, so that no address reaches its 10 attempts (a challenge is one).
    const recovery = account.recoveryCodes[4]!;
    const challenges = await Promise.all(Array.from({ length: 4 }, () => challengeFor(td.url, account, { from: '127.0.0.3' })));
    const recoveryReplies = await Promise.all([
      ...challenges.map((challenge) => loginWithChallenge(td.url, challenge, recovery, { from: '127.0.0.3' })),
      ...Array.from({ length: 4 }, () => login(td.url, account, account.password, { code: recovery, from: '127.0.0.4' })),
    ]);
    t.deepEqual(statuses(recoveryReplies).sort(), [201, ...Array(7).fill(403)], recoveryReplies.map(shown).join('\n'));
    await nthMail(td.smtp, account.email, RECOVERY_USED_SUBJECT);
    await outboxSettled(td);
    t.is(mailsWith(td.smtp, account.email, RECOVERY_USED_SUBJECT).length, 1, 'one notice');
  });

  test('a device token lifts no part of two-factor', async (t) => {
    const account = await onAccount(td, 'devicetoken');
    const earlier = await login(td.url, account, account.password);
    const deviceToken = earlier.json.deviceToken as string;
    t.regex(deviceToken, /^tmd_/);
    const guarded = await enableTwoFactor(td.url, { ...account, token: earlier.json.token });
    assertProblem(t, await login(td.url, guarded, guarded.password, { deviceToken }), 401, 'otp_required', 'a known device without a code');
    assertProblem(t, await login(td.url, guarded, guarded.password, { deviceToken, code: guarded.phone.wrong() }), 403, 'invalid_code', 'a known device with a wrong code');
    const finished = await loginWithChallenge(td.url, await challengeFor(td.url, guarded, { deviceToken }), await guarded.phone.next(), { deviceToken });
    await assertSession(t, td, finished, guarded, 'with a code');
    t.is(finished.json.deviceToken, deviceToken, 'the known device keeps its token');
  });

  // ---- 3. throttle ----------------------------------------------------------------------------------

  test.serial('10 wrong codes from one address → 429 with Retry-After; the right code is refused while blocked, and works once the block is over (moved clock)', async (t) => {
    const own = await ownDaemon(t);
    const account = await withTwoFactor(own, 'codeblock');
    const answered: number[] = [];
    for (let i = 0; i < 10; i++) answered.push((await login(own.url, account, account.password, { code: account.phone.wrong() })).status);
    t.deepEqual(answered, Array(10).fill(403), 'ten wrong codes answered');
    const blocked = await login(own.url, account, account.password, { code: codeAt(account.secret) });
    assertProblem(t, blocked, 429, 'rate_limited', 'the right code while blocked');
    t.true(retryAfter(blocked) >= 58 && retryAfter(blocked) <= 60, `Retry-After ${retryAfter(blocked)}`);
    const challenge = await login(own.url, account, account.password);
    assertProblem(t, challenge, 429, 'rate_limited', 'no challenge either while blocked');
    later(retryAfter(blocked) - 3);
    assertProblem(t, await login(own.url, account, account.password, { code: codeAt(account.secret) }), 429, 'rate_limited', '3 s before the end');
    later(4);
    await assertSession(t, own, await login(own.url, account, account.password, { code: codeAt(account.secret) }), account, 'after the block');
  });

  test('wrong passwords and wrong codes count toward one block: 5 + 5 from one address → 429 with Retry-After, for the right code and for a challenge alike', async (t) => {
    const own = await ownDaemon(t);
    const account = await withTwoFactor(own, 'mixedblock');
    const answered: number[] = [];
    for (let i = 0; i < 5; i++) answered.push((await login(own.url, account, WRONG_PASSWORD)).status);
    for (let i = 0; i < 5; i++) answered.push((await login(own.url, account, account.password, { code: account.phone.wrong() })).status);
    t.deepEqual(answered, [...Array(5).fill(401), ...Array(5).fill(403)]);
    const blocked = await login(own.url, account, account.password, { code: codeAt(account.secret) });
    assertProblem(t, blocked, 429, 'rate_limited', 'the right code after 5 wrong passwords and 5 wrong codes');
    t.true(retryAfter(blocked) >= 58 && retryAfter(blocked) <= 60, `the first block, 1 minute: Retry-After ${retryAfter(blocked)}`);
    assertProblem(t, await login(own.url, account, account.password), 429, 'rate_limited', 'no challenge while blocked');
    await assertSession(t, own, await login(own.url, account, account.password, { code: await account.phone.next(), from: '127.0.0.2' }), account, 'another address is not held');
  });

  test('wrong codes sent with challenges count too: a block comes by the 10th attempt from one address, and holds the right code', async (t) => {
    const own = await ownDaemon(t);
    const account = await withTwoFactor(own, 'challengeblock');
    const answered: string[] = [];
    let challenge = await challengeFor(own.url, account);
    for (let attempt = 0; attempt < 12 && answered.at(-1) !== 'rate_limited'; attempt++) {
      const reply = await loginWithChallenge(own.url, challenge, account.phone.wrong());
      answered.push(reply.json.code);
      if (reply.json.code === 'invalid_challenge') {
        const next = await login(own.url, account, account.password);
        if (next.status === 429) answered.push('rate_limited');
        else challenge = next.json.challenge;
      }
    }
    t.log(answered.join(', '));
    t.is(answered.at(-1), 'rate_limited', answered.join(', '));
    t.true(answered.filter((code) => code === 'invalid_code').length <= 10, 'no more than 10 wrong codes answered');
    assertProblem(t, await login(own.url, account, account.password, { code: codeAt(account.secret) }), 429, 'rate_limited', 'the right code waits too');
  });

  test('a user who mistyped the password 9 times, then logs in with the password and the code in two steps (as `taskmaster login` does), gets in, as an account without two-factor does', async (t) => {
    const own = await ownDaemon(t);
    const plain = await onAccount(own, 'ninetypos');
    for (let i = 0; i < 9; i++) await login(own.url, plain, WRONG_PASSWORD);
    t.is((await login(own.url, plain, plain.password)).status, 201, 'without two-factor: 9 typos, then in');

    const account = await withTwoFactor(own, 'ninetypos2fa');
    const typos: number[] = [];
    for (let i = 0; i < 9; i++) typos.push((await login(own.url, account, WRONG_PASSWORD)).status);
    t.deepEqual(typos, Array(9).fill(401));
    const asked = await login(own.url, account, account.password);
    assertProblem(t, asked, 401, 'otp_required', 'the right password: the code is asked');
    const finished = await loginWithChallenge(own.url, asked.json.challenge, await account.phone.next());
    await assertSession(t, own, finished, account, `then the right code (Retry-After ${finished.headers['retry-after'] ?? '-'})`);
  });

  test('30 parallel code guesses against one challenge: at most 5 codes are checked (the challenge dies after 5 wrong ones)', async (t) => {
    const own = await ownDaemon(t);
    const account = await withTwoFactor(own, 'burstchallenge');
    const challenge = await challengeFor(own.url, account);
    const replies = await Promise.all(Array.from({ length: 30 }, () => loginWithChallenge(own.url, challenge, account.phone.wrong())));
    const checked = countOf(replies, 403, 'invalid_code');
    const counts = { invalid_code: checked, invalid_challenge: countOf(replies, 401, 'invalid_challenge'), rate_limited: countOf(replies, 429, 'rate_limited') };
    t.log(JSON.stringify(counts));
    t.is(checked + counts.invalid_challenge + counts.rate_limited, 30, `only these answers: ${statuses(replies).join(',')}`);
    t.true(checked <= 5, `${checked} wrong codes were checked against one challenge (at most 5 allowed): ${JSON.stringify(counts)}`);
    assertProblem(t, await loginWithChallenge(own.url, challenge, codeAt(account.secret)), checked >= 5 ? 401 : 429, checked >= 5 ? 'invalid_challenge' : 'rate_limited', 'then the right code with that challenge');
  });

  test('30 parallel code guesses against one challenge from 3 addresses (10 each, within each address’s limit): at most 5 codes are checked', async (t) => {
    const own = await ownDaemon(t);
    const account = await withTwoFactor(own, 'burstspread');
    const challenge = await challengeFor(own.url, account, { from: '127.0.0.9' });
    const addresses = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => loginWithChallenge(own.url, challenge, account.phone.wrong(), { from: addresses[i % 3]! })));
    const checked = countOf(replies, 403, 'invalid_code');
    const counts = { invalid_code: checked, invalid_challenge: countOf(replies, 401, 'invalid_challenge'), rate_limited: countOf(replies, 429, 'rate_limited') };
    t.log(JSON.stringify(counts));
    const failedEvents = await own.daemon.db.knex('account_events').where('type', 'code_failed').count({ n: '*' }).first();
    t.is(Number(failedEvents?.n), checked, 'one code_failed event per checked code');
    t.true(checked <= 5, `${checked} wrong codes were checked against one challenge (it dies after 5): ${JSON.stringify(counts)}`);
  });

  test('30 parallel guesses with the right password and wrong codes from one address: 10 codes checked, 20 refused with 429; then the right code waits too', async (t) => {
    const own = await ownDaemon(t);
    const account = await withTwoFactor(own, 'burstaccount');
    const replies = await Promise.all(Array.from({ length: 30 }, () => login(own.url, account, account.password, { code: account.phone.wrong() })));
    t.deepEqual(statuses(replies).sort(), [...Array(10).fill(403), ...Array(20).fill(429)], statuses(replies).join(','));
    t.is(countOf(replies, 403, 'invalid_code'), 10);
    t.true(replies.filter((reply) => reply.status === 429).every((reply) => retryAfter(reply) >= 1 && retryAfter(reply) <= 900));
    const right = await login(own.url, account, account.password, { code: codeAt(account.secret) });
    assertProblem(t, right, 429, 'rate_limited', 'the right code after the burst');
    t.true(retryAfter(right) <= 60, `the first block: Retry-After ${retryAfter(right)}`);
  });

  test('step-up: missing and wrong codes count as failed logins: after 5 of each from one address, even the right code → 429 with Retry-After', async (t) => {
    const own = await ownDaemon(t);
    const account = await withTwoFactor(own, 'stepupblock');
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) answers.push((await api(own.url, 'DELETE', '/v1/me/2fa', { currentPassword: account.password }, { token: account.token })).json.code);
    for (let i = 0; i < 5; i++) answers.push((await api(own.url, 'DELETE', '/v1/me/2fa', { currentPassword: account.password, code: account.phone.wrong() }, { token: account.token })).json.code);
    t.deepEqual(answers, [...Array(5).fill('otp_required'), ...Array(5).fill('invalid_code')]);
    const blocked = await api(own.url, 'DELETE', '/v1/me/2fa', { currentPassword: account.password, code: codeAt(account.secret) }, { token: account.token });
    assertProblem(t, blocked, 429, 'rate_limited', 'the right code after ten refusals');
    t.true(retryAfter(blocked) >= 1 && retryAfter(blocked) <= 60, `Retry-After ${retryAfter(blocked)}`);
    t.true((await meUser(own.url, account.token)).twoFactorEnabled, 'still on');
    assertProblem(t, await login(own.url, account, account.password, { code: codeAt(account.secret) }), 429, 'rate_limited', 'and the same block holds logins from that address');
  });

  // ---- 4. step-up -----------------------------------------------------------------------------------

  interface StepUp {
    name: string;
    method: string;
    path: string;
    body(account: TwoFactorAccount): Record<string, unknown>;
    status: number;
    /** What the success must have done. */
    check(t: ExecutionContext, daemon: TestDaemon, account: TwoFactorAccount, reply: Reply): Promise<void>;
  }

  const stepUps: StepUp[] = [
    {
      name: 'a password change (POST /v1/me/password)',
      method: 'POST',
      path: '/v1/me/password',
      body: () => ({ newPassword: NEW_PASSWORD }),
      status: 200,
      async check(t, daemon, account) {
        assertProblem(t, await login(daemon.url, account, account.password), 401, 'invalid_credentials', 'the old password');
        assertProblem(t, await login(daemon.url, account, NEW_PASSWORD), 401, 'otp_required', 'the new password, which still needs a code');
      },
    },
    {
      name: 'an email change (PATCH /v1/me with email)',
      method: 'PATCH',
      path: '/v1/me',
      body: (account) => ({ email: `moved-${account.email}` }),
      status: 200,
      async check(t, daemon, account, reply) {
        t.is(reply.json.user.pendingEmail, `moved-${account.email}`);
        await daemon.smtp.waitFor((mail) => mail.to === `moved-${account.email}`);
      },
    },
    {
      name: 'deleting the account (DELETE /v1/me)',
      method: 'DELETE',
      path: '/v1/me',
      body: () => ({}),
      status: 204,
      async check(t, daemon, account) {
        assertProblem(t, await api(daemon.url, 'GET', '/v1/me', undefined, { token: account.token }), 401, 'unauthenticated', 'the session after deletion');
        assertProblem(t, await login(daemon.url, account, account.password, { code: await account.phone.next() }), 401, 'invalid_credentials', 'logging in after deletion');
      },
    },
    {
      name: 'creating a token (POST /v1/tokens)',
      method: 'POST',
      path: '/v1/tokens',
      body: () => ({ name: 'ci', scopes: ['account:read'], expiresInDays: 30 }),
      status: 201,
      async check(t, daemon, _account, reply) {
        t.is((await api(daemon.url, 'GET', '/v1/me', undefined, { token: reply.json.token })).status, 200, 'the new token works');
      },
    },
    {
      name: 'turning two-factor off (DELETE /v1/me/2fa)',
      method: 'DELETE',
      path: '/v1/me/2fa',
      body: () => ({}),
      status: 204,
      async check(t, daemon, account) {
        t.false((await meUser(daemon.url, account.token)).twoFactorEnabled);
      },
    },
    {
      name: 'new recovery codes (POST /v1/me/2fa/recovery-codes)',
      method: 'POST',
      path: '/v1/me/2fa/recovery-codes',
      body: () => ({}),
      status: 200,
      async check(t, _daemon, account, reply) {
        t.is(reply.json.recoveryCodes.length, 10);
        t.is(new Set([...reply.json.recoveryCodes, ...account.recoveryCodes]).size, 20, 'all new');
      },
    },
  ];

  for (const stepUp of stepUps) {
    test(`step-up: ${stepUp.name} answers 401 otp_required without a code and 403 invalid_code with a wrong one, changing nothing, and works with a right code`, async (t) => {
      const own = await ownDaemon(t);
      const account = await withTwoFactor(own, 'stepup');
      // Without the OpenAPI check, so that what step-up does is tested apart from how the document
      // describes it: the test after this loop holds every route's refusals to the document.
      const send = (extra: Record<string, unknown>) => unchecked(own.url, stepUp.method, stepUp.path, { ...stepUp.body(account), currentPassword: account.password, ...extra }, account.token);
      await outboxSettled(own);
      const mailsBefore = own.smtp.mails.length;
      const before = await snapshot(own);
      const eventsBefore = await eventTypes(own.url, account.token);

      const missing = await send({});
      assertProblem(t, missing, 401, 'otp_required', 'no code');
      const wrong = await send({ code: account.phone.wrong() });
      assertProblem(t, wrong, 403, 'invalid_code', 'a wrong code');
      const used = await send({ code: account.recoveryCodes[0]!.replace(/.$/, (last) => (last === '2' ? '3' : '2')) });
      assertProblem(t, used, 403, 'invalid_code', 'a recovery code with one character changed');
      // A right code with a wrong password: refused, and the code not spent.
      const right = await account.phone.next();
      assertProblem(t, await send({ code: right, currentPassword: WRONG_PASSWORD }), 403, 'wrong_password', 'a wrong password with a right code');

      await outboxSettled(own);
      t.is(await snapshot(own), before, 'nothing changed');
      t.is(own.smtp.mails.length, mailsBefore, 'no mail');
      const added = (await eventTypes(own.url, account.token)).slice(0, -eventsBefore.length || undefined);
      t.is(added.filter((type) => type === 'code_failed').length, 2, `a code_failed event for each wrong code: ${added.join(', ')}`);

      const done = await send({ code: right });
      t.is(done.status, stepUp.status, `with the right code: ${shown(done)}`);
      await stepUp.check(t, own, account, done);
    });
  }

  test('every step-up route documents its 401 otp_required and 403 invalid_code (api() holds the answers to the OpenAPI document)', async (t) => {
    const undocumented: string[] = [];
    for (const stepUp of stepUps) {
      const account = await withTwoFactor(td, 'stepupdoc');
      for (const [label, extra] of [['401 otp_required', {}], ['403 invalid_code', { code: account.phone.wrong() }]] as const) {
        try {
          const reply = await api(td.url, stepUp.method, stepUp.path, { ...stepUp.body(account), currentPassword: account.password, ...extra }, { token: account.token });
          t.is(reply.status, label === '401 otp_required' ? 401 : 403, `${stepUp.method} ${stepUp.path}`);
        } catch (error) {
          undocumented.push(`${stepUp.method} ${stepUp.path}: ${label} (${(error as Error).message.split('\n')[1]?.trim()})`);
        }
      }
    }
    t.deepEqual(undocumented, [], `answers the OpenAPI document does not have:\n${undocumented.join('\n')}`);
  });

  test('step-up takes an unused recovery code instead of a TOTP code, once', async (t) => {
    const account = await withTwoFactor(td, 'stepuprecovery');
    const [code] = account.recoveryCodes as [string];
    const created = await unchecked(td.url, 'POST', '/v1/tokens', { name: 'with-recovery', scopes: ['account:read'], expiresInDays: 1, currentPassword: account.password, code }, account.token);
    t.is(created.status, 201, shown(created));
    const again = await unchecked(td.url, 'POST', '/v1/tokens', { name: 'with-recovery-2', scopes: ['account:read'], expiresInDays: 1, currentPassword: account.password, code }, account.token);
    assertProblem(t, again, 403, 'invalid_code', 'the same recovery code again');
    const mail = await nthMail(td.smtp, account.email, RECOVERY_USED_SUBJECT);
    t.regex(flatText(mail), /\b9 remain\b/);
  });

  test('new recovery codes kill the old ones, used or not', async (t) => {
    const account = await withTwoFactor(td, 'regenerate');
    const [used, unused] = account.recoveryCodes as [string, string];
    await assertSession(t, td, await login(td.url, account, account.password, { code: used }), account, 'an old code before');
    const reply = await api(td.url, 'POST', '/v1/me/2fa/recovery-codes', { currentPassword: account.password, code: await account.phone.next() }, { token: account.token });
    t.is(reply.status, 200, shown(reply));
    const fresh: string[] = reply.json.recoveryCodes;
    t.is(new Set(fresh).size, 10);
    for (const code of fresh) t.regex(code, RECOVERY_CODE_SHAPE);
    for (const old of [used, unused, account.recoveryCodes[9]!]) {
      assertProblem(t, await login(td.url, account, account.password, { code: old }), 403, 'invalid_code', `the old code ${old}`);
    }
    await assertSession(t, td, await login(td.url, account, account.password, { code: fresh[0]! }), account, 'a new code');
    const stored = await td.daemon.db.knex('recovery_codes').where('user_id', (await api(td.url, 'GET', '/v1/me', undefined, { token: account.token })).json.user.id).count({ n: '*' }).first();
    t.is(Number(stored?.n), 10, 'ten stored, the new ones');
  });

  test('turning two-factor off mails a notice; afterwards login needs no code, the old codes are refused as codes, and enrolling starts afresh', async (t) => {
    const account = await withTwoFactor(td, 'disable');
    const other = await loginWithChallenge(td.url, await challengeFor(td.url, account), await account.phone.next());
    const off = await api(td.url, 'DELETE', '/v1/me/2fa', { currentPassword: account.password, code: await account.phone.next() }, { token: account.token });
    t.is(off.status, 204, shown(off));
    t.is(off.text, '');
    const mail = await nthMail(td.smtp, account.email, DISABLED_SUBJECT);
    t.regex(flatText(mail), /turned off/);
    t.false((await meUser(td.url, account.token)).twoFactorEnabled);
    t.is((await api(td.url, 'GET', '/v1/me', undefined, { token: other.json.token })).status, 200, 'turning it off ends no session');
    const plain = await login(td.url, account, account.password);
    t.is(plain.status, 201, `login without a code: ${shown(plain)}`);
    t.false(plain.json.user.twoFactorEnabled);
    const userId = plain.json.user.id as string;
    t.is(Number((await td.daemon.db.knex('totp_credentials').where('user_id', userId).count({ n: '*' }).first())?.n), 0, 'the secret is gone');
    t.is(Number((await td.daemon.db.knex('recovery_codes').where('user_id', userId).count({ n: '*' }).first())?.n), 0, 'and the recovery codes');
    // Off again: 204, nothing to do, no second mail.
    t.is((await api(td.url, 'DELETE', '/v1/me/2fa', { currentPassword: account.password }, { token: account.token })).status, 204);
    assertProblem(t, await api(td.url, 'POST', '/v1/me/2fa/recovery-codes', { currentPassword: account.password }, { token: account.token }), 409, 'no_enrolment', 'new recovery codes while off');
    const again = await enableTwoFactor(td.url, account);
    t.not(again.secret, account.secret);
    assertProblem(t, await login(td.url, again, again.password, { code: account.recoveryCodes[5]! }), 403, 'invalid_code', 'a recovery code from before');
    assertProblem(t, await login(td.url, again, again.password, { code: codeAt(account.secret) }), 403, 'invalid_code', 'a code of the old secret');
    await outboxSettled(td);
    t.is(mailsWith(td.smtp, account.email, DISABLED_SUBJECT).length, 1, 'one notice');
  });

  test('a password reset by email leaves two-factor on: the next login still asks for a code', async (t) => {
    const account = await withTwoFactor(td, 'reset');
    const resetToken = await requestReset(td, account.email);
    const reset = await api(td.url, 'POST', '/v1/password/reset', { token: resetToken, password: NEW_PASSWORD });
    t.is(reset.status, 200, shown(reset));
    t.true(reset.json.user.twoFactorEnabled, 'the answer says it is still on');
    assertProblem(t, await login(td.url, account, NEW_PASSWORD), 401, 'otp_required', 'the new password without a code');
    const session = await assertSession(t, td, await login(td.url, account, NEW_PASSWORD, { code: await account.phone.next() }), account, 'the new password with a code');
    t.true((await meUser(td.url, session)).twoFactorEnabled);
    await assertSession(t, td, await login(td.url, account, NEW_PASSWORD, { code: account.recoveryCodes[0]! }), account, 'the recovery codes survive the reset');
  });

  test('a new password ends the challenges the old one answered: after a reset or a change, a challenge from before → 401 invalid_challenge even with a right code', async (t) => {
    const reset = await withTwoFactor(td, 'challengereset');
    const beforeReset = await challengeFor(td.url, reset);
    const resetToken = await requestReset(td, reset.email);
    t.is((await api(td.url, 'POST', '/v1/password/reset', { token: resetToken, password: NEW_PASSWORD })).status, 200);
    assertProblem(t, await loginWithChallenge(td.url, beforeReset, await reset.phone.next()), 401, 'invalid_challenge', 'a challenge from before the reset');

    const changed = await withTwoFactor(td, 'challengechange');
    const beforeChange = await challengeFor(td.url, changed);
    const change = await api(td.url, 'POST', '/v1/me/password', { currentPassword: changed.password, newPassword: NEW_PASSWORD, code: await changed.phone.next() }, { token: changed.token });
    t.is(change.status, 200, shown(change));
    assertProblem(t, await loginWithChallenge(td.url, beforeChange, await changed.phone.next()), 401, 'invalid_challenge', 'a challenge from before the change');
    await assertSession(t, td, await login(td.url, changed, NEW_PASSWORD, { code: await changed.phone.next() }), changed, 'the new password with a code');
  });

  // ---- 5. timing ------------------------------------------------------------------------------------

  // Serial: measured alone, not beside the bursts of the other tests.
  test.serial('a wrong password costs the same whether two-factor is on or not: median login times within 0.7–1.4x', async (t) => {
    const own = await ownDaemon(t, {
      env: { BCRYPT_COST: '10' },
      limits: { loginFailuresPerAccountAndAddress: 1000, loginFailuresPerAccountPerHour: 1000, loginFailuresPerAddressPerHour: 1000 },
    });
    const plain = await onAccount(own, 'timingplain');
    const guarded = await withTwoFactor(own, 'timingguarded');
    const time = async (who: { email: string }) => {
      const started = process.hrtime.bigint();
      const reply = await login(own.url, who, 'wrong-horse-battery-staple');
      t.is(reply.status, 401);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const without: number[] = [];
    const withIt: number[] = [];
    // Each first in turn, so that neither gains from going second.
    for (let i = 0; i < 21; i++) {
      if (i % 2 === 0) {
        without.push(await time(plain));
        withIt.push(await time(guarded));
      } else {
        withIt.push(await time(guarded));
        without.push(await time(plain));
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const ratio = median(withIt) / median(without);
    t.log(`median without two-factor ${median(without).toFixed(1)} ms, with ${median(withIt).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`);
    t.true(ratio >= 0.7 && ratio <= 1.4, `ratio ${ratio}`);
  });

  // ---- 7. the key -----------------------------------------------------------------------------------

  test('TOTP_ENCRYPTION_KEY that is not 64 hex characters is a start-up error that says so', async (t) => {
    const env = await daemonEnv();
    const { dataDir, smtp } = await lastingSetup(t, 'badkey');
    for (const key of ['abc', 'a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64), `${'0'.repeat(62)} x`]) {
      const error = await t.throwsAsync(startTestDaemon({ dataDir, smtp, env: { ...env, TOTP_ENCRYPTION_KEY: key } }), undefined, `key "${key}"`);
      t.regex(error?.message ?? '', /TOTP_ENCRYPTION_KEY.*64 hex characters/, `key "${key}": ${error?.message}`);
    }
  });

  if (db.dialect === 'sqlite') {
    test('on SQLite the embedded default creates totp-encryption.key (0600) in the data folder at the first start, says so, and reuses it after a restart', async (t) => {
      const { dataDir, smtp } = await lastingSetup(t, 'totpkey');
      const firstLog = capturedLog();
      const first = await startTestDaemon({ dataDir, smtp, log: firstLog.log });
      const path = join(dataDir, KEY_FILE);
      const key = readFileSync(path, 'utf8');
      t.regex(key, /^[0-9a-f]{64}\n$/, 'the key file holds 32 bytes in hex');
      t.is(statSync(path).mode & 0o777, 0o600, 'readable by its owner only');
      t.true(firstLog.lines.some((line) => line.msg.includes(path)), `the log names the file: ${firstLog.all()}`);
      t.false(firstLog.all().includes(key.trim()), 'and never the key');
      const account = await withTwoFactor(first, 'keyfile');
      await first.close();

      const secondLog = capturedLog();
      const second = await startTestDaemon({ dataDir, smtp, log: secondLog.log });
      t.teardown(() => second.close());
      t.is(readFileSync(path, 'utf8'), key, 'the same key after a restart');
      t.false(secondLog.lines.some((line) => /created/.test(line.msg) && line.msg.includes(KEY_FILE)), 'no new key made');
      await assertSession(t, second, await login(second.url, account, account.password, { code: await account.phone.next() }), account, 'a code checked after the restart');
    });

    test('on SQLite, an operator key makes no key file; a restart without it (or with another) refuses to start once an account has two-factor on', async (t) => {
      const { dataDir, smtp } = await lastingSetup(t, 'totpownkey');
      const key = 'ab'.repeat(32);
      const first = await startTestDaemon({ dataDir, smtp, env: { TOTP_ENCRYPTION_KEY: key } });
      const account = await withTwoFactor(first, 'ownkey');
      await first.close();
      t.throws(() => statSync(join(dataDir, KEY_FILE)), undefined, 'no key file made when the operator gives one');
      const other = await t.throwsAsync(startTestDaemon({ dataDir, smtp, env: { TOTP_ENCRYPTION_KEY: 'cd'.repeat(32) } }));
      t.regex(other?.message ?? '', /TOTP_ENCRYPTION_KEY is not the key/);
      // Without it, the data folder's key would be made anew, and it is not theirs either.
      const without = await t.throwsAsync(startTestDaemon({ dataDir, smtp }));
      t.regex(without?.message ?? '', /TOTP_ENCRYPTION_KEY/);
      const back = await startTestDaemon({ dataDir, smtp, env: { TOTP_ENCRYPTION_KEY: key.toUpperCase() } });
      t.teardown(() => back.close());
      await assertSession(t, back, await login(back.url, account, account.password, { code: await account.phone.next() }), account, 'with the key again (in capitals)');
    });
  }

  // ---- 8. events ------------------------------------------------------------------------------------

  test('GET /v1/me/events shows two_factor_enabled, code_failed, recovery_code_used, recovery_codes_regenerated and two_factor_disabled, newest first', async (t) => {
    const account = await withTwoFactor(td, 'events');
    assertProblem(t, await login(td.url, account, account.password, { code: account.phone.wrong() }), 403, 'invalid_code', 'a wrong code at login');
    assertProblem(t, await api(td.url, 'POST', '/v1/me/2fa/recovery-codes', { currentPassword: account.password, code: account.phone.wrong() }, { token: account.token }), 403, 'invalid_code', 'a wrong code at step-up');
    await assertSession(t, td, await login(td.url, account, account.password, { code: account.recoveryCodes[0]! }), account, 'a recovery code');
    t.is((await api(td.url, 'POST', '/v1/me/2fa/recovery-codes', { currentPassword: account.password, code: await account.phone.next() }, { token: account.token })).status, 200);
    t.is((await api(td.url, 'DELETE', '/v1/me/2fa', { currentPassword: account.password, code: await account.phone.next() }, { token: account.token })).status, 204);
    t.deepEqual(await eventTypes(td.url, account.token), [
      'two_factor_disabled',
      'recovery_codes_regenerated',
      'login',
      'recovery_code_used',
      'code_failed',
      'code_failed',
      'two_factor_enabled',
      'login',
    ]);
    const events = (await api(td.url, 'GET', '/v1/me/events', undefined, { token: account.token })).json.events as { type: string; address: string }[];
    t.true(events.every((event) => event.address === '127.0.0.1'), 'each with the address');
  });
});
