// The HTTP client: one typed function per endpoint, over undici.
//
// Start-up matters here (CI scripts call the CLI in loops), and two things in undici cost more
// than the rest of a command together, so:
// - only undici's Client and its request API are loaded (by path), not its index, which pulls in
//   fetch, WebSocket, caches and mocks: about 40 ms saved; the lockfile pins the exact version;
// - those are bundled on their own, as CommonJS, and loaded through V8's code cache
//   (code-cache.ts), so a command compiles undici once per machine, not once per run;
// - undici parses HTTP with a WebAssembly module, and V8's optimising tier for it is pure start-up
//   cost in a process that makes one or two requests: Liftoff, V8's baseline compiler, does it.
import v8 from 'node:v8';
import type { AccessTokenInfo, CreatedAccessToken, MeResponse, PasskeyInfo, Problem, RecoveryCodes, SessionResponse, TotpEnrolment, User, UserResponse, VerifyResponse } from '../server/contract/api.js';
import type { Scope } from '../server/contract/access-tokens.js';
import { DEVICE_CLIENT_ID, DEVICE_GRANT_TYPE, type DeviceCodeResponse, type DeviceTokenResponse } from '../server/contract/device.js';
import { ApiError, UnreachableError } from './errors.js';

v8.setFlagsFromString('--liftoff-only');

declare const __TASKMASTER_VERSION__: string | undefined;
/** `taskmaster/0.1.0 (linux; x64)`: what `taskmaster sessions` shows for a session this CLI opened. */
const USER_AGENT = `taskmaster/${typeof __TASKMASTER_VERSION__ === 'string' ? __TASKMASTER_VERSION__ : '0.0.0-dev'} (${process.platform}; ${process.arch})`;
declare const __UNDICI_BUNDLE__: string | undefined;
// Built, undici is a CommonJS bundle beside this chunk, loaded through V8's code cache; from source, as is.
const { Client, request: undiciRequest } =
  typeof __UNDICI_BUNDLE__ === 'string'
    ? (await import('./code-cache.js')).loadBundle<typeof import('./undici.js')>(new URL(__UNDICI_BUNDLE__, import.meta.url))
    : await import('./undici.js');

export class Api {
  constructor(
    readonly server: string,
    private readonly token: string | undefined,
  ) {}

  register(body: { email: string; username: string; password: string }): Promise<UserResponse> {
    return this.call('POST', '/v1/users', body);
  }

  verify(token: string): Promise<VerifyResponse> {
    return this.call('POST', '/v1/verify', { token });
  }

  resendVerification(email: string): Promise<unknown> {
    return this.call('POST', '/v1/verify/resend', { email });
  }

  login(body: { email: string; password: string; code?: string; deviceToken?: string }): Promise<SessionResponse> {
    return this.call('POST', '/v1/sessions', body);
  }

  /** The account, and the credential this client's token is (a session, or an access token and its scopes). */
  me(): Promise<MeResponse> {
    return this.call('GET', '/v1/me');
  }

  updateMe(body: { username?: string; email?: string; currentPassword?: string; code?: string }): Promise<UserResponse> {
    return this.call('PATCH', '/v1/me', body);
  }

  logout(): Promise<void> {
    return this.call('DELETE', '/v1/sessions/current');
  }

  /** Asks for a password reset email; 202 whatever the email. */
  forgotPassword(email: string): Promise<import('../server/contract/api.js').AcceptedResponse> {
    return this.call('POST', '/v1/password/forgot', { email });
  }

  /** Whose account a reset token is for, while it would work (400 invalid_token otherwise); changes nothing. */
  resetTokenInfo(token: string): Promise<import('../server/contract/api.js').ResetTokenInfo> {
    return this.call('GET', `/v1/password/reset?token=${encodeURIComponent(token)}`);
  }

  /** Sets a new password with the emailed token; every session of the account ends. */
  resetPassword(token: string, password: string): Promise<UserResponse> {
    return this.call('POST', '/v1/password/reset', { token, password });
  }

  /** Changes the password of this session's account; the other sessions end. */
  changePassword(body: { currentPassword: string; newPassword: string; code?: string }): Promise<import('../server/contract/api.js').PasswordChangeResponse> {
    return this.call('POST', '/v1/me/password', body);
  }

  /** The account's sessions; the caller's has `current: true`. */
  sessions(): Promise<{ sessions: import('../server/contract/api.js').SessionInfo[] }> {
    return this.call('GET', '/v1/sessions');
  }

  /** Ends one of the account's sessions by its public id (404 not_found when it is not one of them). */
  revokeSession(id: string): Promise<void> {
    return this.call('DELETE', `/v1/sessions/${encodeURIComponent(id)}`);
  }

  /** Ends the account's other sessions, or all of them with this one. */
  revokeSessions(scope: 'others' | 'all'): Promise<{ revoked: number }> {
    return this.call('DELETE', `/v1/sessions?scope=${scope}`);
  }

  /** Deletes the account for good; the password is asked again. */
  deleteAccount(currentPassword: string, code?: string): Promise<void> {
    return this.call('DELETE', '/v1/me', { currentPassword, ...(code ? { code } : {}) });
  }

  /** The second step of a login with two-factor: the challenge the password answered, and the code. */
  loginWithChallenge(body: { challenge: string; code: string; deviceToken?: string }): Promise<SessionResponse> {
    return this.call('POST', '/v1/sessions/otp', body);
  }

  /** Starts a TOTP enrolment (the password again): the secret and its otpauth:// URI. */
  enrolTotp(currentPassword: string): Promise<TotpEnrolment> {
    return this.call('POST', '/v1/me/2fa/totp', { currentPassword });
  }

  /** A first code from the new secret turns two-factor on: the recovery codes, once. */
  confirmTotp(code: string): Promise<RecoveryCodes> {
    return this.call('POST', '/v1/me/2fa/totp/confirm', { code });
  }

  disableTwoFactor(body: { currentPassword: string; code?: string }): Promise<void> {
    return this.call('DELETE', '/v1/me/2fa', body);
  }

  newRecoveryCodes(body: { currentPassword: string; code?: string }): Promise<RecoveryCodes> {
    return this.call('POST', '/v1/me/2fa/recovery-codes', body);
  }

  /** The account's security events of the last 90 days, newest first. */
  events(): Promise<{ events: import('../server/contract/api.js').AccountEvent[] }> {
    return this.call('GET', '/v1/me/events');
  }

  /** A new access token (the session's password again); the token is in this answer only. */
  createToken(body: { name: string; scopes: Scope[]; expiresInDays: number; allowedCidrs?: string[]; currentPassword: string; code?: string }): Promise<CreatedAccessToken> {
    return this.call('POST', '/v1/tokens', body);
  }

  /** The account's access tokens, newest first (expired ones for 30 days). */
  tokens(): Promise<{ accessTokens: AccessTokenInfo[] }> {
    return this.call('GET', '/v1/tokens');
  }

  /** Starts a browser login (RFC 8628): the device code to poll with, and the user code to approve. */
  deviceCode(): Promise<DeviceCodeResponse> {
    return this.call('POST', '/v1/device/code', { client_id: DEVICE_CLIENT_ID });
  }

  /** One poll: the session once approved; otherwise an ApiError whose code is the OAuth error (authorization_pending, slow_down…). */
  deviceToken(deviceCode: string, deviceToken: string | undefined): Promise<DeviceTokenResponse> {
    return this.call('POST', '/v1/device/token', { grant_type: DEVICE_GRANT_TYPE, device_code: deviceCode, client_id: DEVICE_CLIENT_ID, ...(deviceToken ? { device_token: deviceToken } : {}) });
  }

  /** The account's passkeys, newest first. */
  passkeys(): Promise<{ passkeys: PasskeyInfo[] }> {
    return this.call('GET', '/v1/me/passkeys');
  }

  /** Removes a passkey (the password again, and the code with two-factor on). */
  removePasskey(id: string, body: { currentPassword: string; code?: string }): Promise<void> {
    return this.call('DELETE', `/v1/me/passkeys/${encodeURIComponent(id)}`, body);
  }

  revokeToken(id: string): Promise<void> {
    return this.call('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
  }

  private async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response;
    let text: string;
    const url = new URL(path, `${this.server}/`);
    const client = new Client(url.origin, { connectTimeout: 10_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
    try {
      response = await undiciRequest.call(client, {
        path: url.pathname + url.search,
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // A CLI makes a call or two: close the socket so nothing keeps the process alive.
        reset: true,
      });
      text = await response.body.text();
    } catch (error) {
      const { code, message } = error as { code?: string; message?: string };
      throw new UnreachableError(this.server, code ?? message ?? 'network error');
    } finally {
      void client.close().catch(() => undefined);
    }
    if (response.statusCode >= 200 && response.statusCode < 300) {
      return (text ? JSON.parse(text) : undefined) as T;
    }
    let problem: Partial<Problem> = {};
    try {
      const body = JSON.parse(text) as Partial<Problem> & { error?: unknown; error_description?: unknown };
      // The device flow answers OAuth errors (RFC 6749 §5.2) rather than problems.
      problem = typeof body.error === 'string' && body.code === undefined ? { code: body.error as Problem['code'], ...(typeof body.error_description === 'string' ? { detail: body.error_description } : {}) } : body;
    } catch {
      // not ours: a proxy or another server
    }
    const retryAfter = Number(response.headers['retry-after']);
    throw new ApiError(
      response.statusCode,
      problem.code ?? `http_${response.statusCode}`,
      problem.detail ?? `The server answered ${response.statusCode}.`,
      problem.errors,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      problem.challenge,
    );
  }
}

export type { User };
