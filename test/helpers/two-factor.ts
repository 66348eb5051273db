// Two-factor authentication as the tests drive it through the API: enrolment and confirmation,
// logins with and without a code, the mails and the events. Codes come from ./totp.ts.
import { unchecked } from './access-tokens.js';
import type { Reply } from './http.js';
import { api } from './http.js';
import type { ReceivedMail, SmtpReceiver } from './smtp.js';
import { Authenticator } from './totp.js';

export const ENABLED_SUBJECT = 'Two-factor authentication is on for your TaskMaster account';
export const DISABLED_SUBJECT = 'Two-factor authentication was turned off for your TaskMaster account';
export const RECOVERY_USED_SUBJECT = 'A TaskMaster recovery code was used';

/** A recovery code as the contract shows one: `abcd-efgh-jkmn-pqrs`. */
export const RECOVERY_CODE_SHAPE = /^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/;

export interface Account {
  email: string;
  username: string;
  password: string;
  token: string;
}

export interface TwoFactorAccount extends Account {
  secret: string;
  otpauthUri: string;
  recoveryCodes: string[];
  phone: Authenticator;
}

const ok = (reply: Reply, status: number, what: string): Reply => {
  if (reply.status !== status) throw new Error(`${what} answered ${reply.status} ${reply.text.slice(0, 400)}`);
  return reply;
};

/**
 * POST /v1/me/2fa/totp with the password: the 200's secret and URI. Sent without the OpenAPI check
 * of api(), so that what enrolment does is tested apart from how the document describes it: the
 * test "the enrolment answer is as the OpenAPI document says" (two-factor.test.ts) holds the
 * document to this answer.
 */
export async function enrol(url: string, account: Account): Promise<{ secret: string; otpauthUri: string }> {
  const reply = ok(await unchecked(url, 'POST', '/v1/me/2fa/totp', { currentPassword: account.password }, account.token), 200, 'POST /v1/me/2fa/totp');
  return reply.json;
}

/**
 * Turns two-factor on for `account` (enrol, confirm with a first code from the authenticator at
 * `now`): the account with its secret, recovery codes and phone.
 */
export async function enableTwoFactor(url: string, account: Account, now: () => number = Date.now): Promise<TwoFactorAccount> {
  const { secret, otpauthUri } = await enrol(url, account);
  const phone = new Authenticator(secret, now);
  const confirmed = ok(await api(url, 'POST', '/v1/me/2fa/totp/confirm', { code: phone.first() }, { token: account.token }), 200, 'POST /v1/me/2fa/totp/confirm');
  return { ...account, secret, otpauthUri, recoveryCodes: confirmed.json.recoveryCodes, phone };
}

export interface LoginOptions {
  code?: string;
  deviceToken?: string;
  from?: string;
  headers?: Record<string, string>;
}

/** POST /v1/sessions. */
export function login(url: string, who: { email: string }, password: string, options: LoginOptions = {}): Promise<Reply> {
  const { code, deviceToken, ...request } = options;
  return api(url, 'POST', '/v1/sessions', { email: who.email, password, ...(code !== undefined ? { code } : {}), ...(deviceToken !== undefined ? { deviceToken } : {}) }, request);
}

/** POST /v1/sessions/otp. */
export function loginWithChallenge(url: string, challenge: string, code: string, options: Omit<LoginOptions, 'code'> = {}): Promise<Reply> {
  const { deviceToken, ...request } = options;
  return api(url, 'POST', '/v1/sessions/otp', { challenge, code, ...(deviceToken !== undefined ? { deviceToken } : {}) }, request);
}

/** A challenge: the right password without a code, which must answer 401 otp_required. */
export async function challengeFor(url: string, account: { email: string; password: string }, options: Omit<LoginOptions, 'code'> = {}): Promise<string> {
  const reply = ok(await login(url, account, account.password, options), 401, 'POST /v1/sessions without a code');
  if (reply.json?.code !== 'otp_required' || typeof reply.json.challenge !== 'string') throw new Error(`expected otp_required with a challenge: ${reply.text}`);
  return reply.json.challenge as string;
}

/** The account's event types, newest first. */
export async function eventTypes(url: string, token: string): Promise<string[]> {
  const reply = ok(await api(url, 'GET', '/v1/me/events', undefined, { token }), 200, 'GET /v1/me/events');
  return (reply.json.events as { type: string }[]).map((event) => event.type);
}

/** GET /v1/me: the user, or throws. */
export async function meUser(url: string, token: string): Promise<{ twoFactorEnabled: boolean; email: string; pendingEmail?: string | null; username: string }> {
  return ok(await api(url, 'GET', '/v1/me', undefined, { token }), 200, 'GET /v1/me').json.user;
}

/** How many mails with this subject went to `to`. */
export const mailsWith = (smtp: SmtpReceiver, to: string, subject: string): ReceivedMail[] => smtp.mailsTo(to).filter((mail) => mail.subject === subject);

/** Waits for the `n`th (1-based) mail with this subject to `to`. */
export async function nthMail(smtp: SmtpReceiver, to: string, subject: string, n = 1): Promise<ReceivedMail> {
  await smtp.waitFor(() => mailsWith(smtp, to, subject).length >= n);
  return mailsWith(smtp, to, subject)[n - 1]!;
}

/** A mail's text with its white space folded. */
export const flatText = (mail: { text: string }): string => mail.text.replace(/\s+/g, ' ');
