// The HTTP API's types, shared by the daemon and the CLI. Pure: no I/O, no server modules.
import type { Scope } from './access-tokens.js';

export interface User {
  id: string;
  username: string;
  email: string;
  emailVerified: boolean;
  pendingEmail: string | null;
  /** A second factor (TOTP) is asked at login and before sensitive changes. */
  twoFactorEnabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface UserResponse {
  user: User;
}

/** What the bearer of a request is: a session, or an access token and what it may do. */
export type Credential =
  | { type: 'session' }
  | { type: 'access_token'; id: string; name: string; scopes: Scope[]; expiresAt: string };

/** `GET /v1/me`: the account, and the credential the request came with. */
export interface MeResponse {
  user: User;
  credential: Credential;
}

/** An access token as `GET /v1/tokens` lists it: never the token itself, only its first 8 characters. */
export interface AccessTokenInfo {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: string;
  /** Past this time the token has expired (it stays listed for 30 days). */
  expiresAt: string;
  lastUsedAt: string | null;
  lastUsedAddress: string | null;
  /** null: any address. */
  allowedCidrs: string[] | null;
  prefix: string;
}

/** A passkey as `GET /v1/me/passkeys` lists it: never its key or credential id. */
export interface PasskeyInfo {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** `POST /v1/me/2fa/totp`: a new secret, not in force until a code from it is confirmed. */
export interface TotpEnrolment {
  secret: string;
  otpauthUri: string;
}

/** Ten single-use codes, shown once: each works where a TOTP code does. */
export interface RecoveryCodes {
  recoveryCodes: string[];
}

/** `POST /v1/sessions` without a code for an account with two-factor: finish with `POST /v1/sessions/otp`. */
export interface OtpChallenge {
  challenge: string;
}

/** `POST /v1/tokens`: the token, shown this once. */
export interface CreatedAccessToken {
  token: string;
  accessToken: AccessTokenInfo;
}

/** `POST /v1/verify` with JSON; `outcome`: what the token did (nothing, when it was used already). */
export interface VerifyResponse {
  user: User;
  outcome: 'activated' | 'email_changed' | 'already_active';
}

/** `POST /v1/me/password`: the user, and how many of their other sessions ended. */
export interface PasswordChangeResponse {
  user: User;
  revokedSessions: number;
}

/**
 * `GET /v1/password/reset?token=T` with `Accept: application/json`: whose account a usable reset
 * token is for (the CLI checks the new password against them before it asks twice). Changes nothing.
 */
export interface ResetTokenInfo {
  username: string;
  email: string;
}

/** A 202 that says the same whatever was asked (`POST /v1/password/forgot`, `POST /v1/verify/resend`). */
export interface AcceptedResponse {
  status: 'accepted';
  detail: string;
}

export interface SessionResponse {
  token: string;
  expiresAt: string;
  user: User;
  /** Kept by the client per server and sent with later logins: a known device is not held by an account lock others caused. */
  deviceToken: string;
}

/** RFC 9457 problem details, with our stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: Record<string, string>;
  /** With `otp_required` at login: finish at `POST /v1/sessions/otp`. */
  challenge?: string;
  /** With `not_ready` (GET /readyz): why the daemon should get no traffic now. */
  reasons?: string[];
}

/** Every problem `code` the API answers; each has a page at `/problems/<code>`. */
export const ERROR_CODES = [
  'invalid_input',
  'malformed_json',
  'unsupported_media_type',
  'payload_too_large',
  'not_found',
  'method_not_allowed',
  'username_taken',
  'email_taken',
  'invalid_token',
  'expired_token',
  'invalid_credentials',
  'email_not_verified',
  'account_disabled',
  'rate_limited',
  'unauthenticated',
  'wrong_password',
  'session_required',
  'insufficient_scope',
  'address_not_allowed',
  'otp_required',
  'invalid_code',
  'invalid_challenge',
  'two_factor_enabled',
  'no_enrolment',
  'csrf_refused',
  'passkey_refused',
  'reauthentication_required',
  'last_sign_in_method',
  'service_unavailable',
  'not_ready',
  'internal_error',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export type AccountEventType = 'login' | 'login_failed' | 'logout' | 'password_changed' | 'password_reset' | 'email_changed' | 'session_revoked' | 'token_created' | 'token_revoked' | 'two_factor_enabled' | 'two_factor_disabled' | 'recovery_codes_regenerated' | 'recovery_code_used' | 'code_failed' | 'account_disabled' | 'account_enabled' | 'account_unlocked' | 'verification_resent' | 'device_approved' | 'passkey_added' | 'passkey_removed';

export interface AccountEvent {
  type: AccountEventType;
  at: string;
  address: string | null;
  userAgent: string | null;
  /** Present when the service's operator did it (`taskmasterd users …`), not a request of the account's. */
  actor?: 'operator';
}

export interface SessionInfo {
  /** A public id for revoking it, never the token. */
  id: string;
  current: boolean;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  address: string | null;
  userAgent: string | null;
}

export const SESSION_TOKEN_PREFIX = 'tm_';
export const DEVICE_TOKEN_PREFIX = 'tmd_';
