// The device authorization grant (RFC 8628) as `taskmaster login --web` and the daemon both see
// it: the user code's alphabet and shape, and the bodies of `POST /v1/device/code` and
// `POST /v1/device/token`. Pure: no I/O, no server modules.
import type { User } from './api.js';

/** The one client this daemon knows: the CLI (a public client, RFC 8628 §3.1). */
export const DEVICE_CLIENT_ID = 'taskmaster-cli';
export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

/** 20 consonants (no vowels: no words; no look-alikes of digits), as RFC 8628 §6.1 suggests. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;

/**
 * A user code as typed or pasted: case, dashes, spaces and other separators do not count. Anything
 * outside the alphabet makes it no code at all (undefined), so it never reaches the database.
 */
export function normalizeUserCode(typed: string): string | undefined {
  const letters = typed.toUpperCase().replace(/[\s\-_.]/g, '');
  if (letters.length !== USER_CODE_LENGTH) return undefined;
  for (const letter of letters) if (!USER_CODE_ALPHABET.includes(letter)) return undefined;
  return letters;
}

/** `BCDFGHJK` → `BCDF-GHJK`, as shown in the terminal and on the page. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** `POST /v1/device/code`. */
export interface DeviceCodeResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/** `POST /v1/device/token`, once approved: a session like a login's. */
export interface DeviceTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  user: User;
  /** As a password login's `deviceToken`: kept per server and sent with later logins. */
  device_token: string;
}

/** The errors of both endpoints (OAuth's, RFC 6749 §5.2 and RFC 8628 §3.5). */
export type DeviceErrorCode =
  | 'authorization_pending'
  | 'slow_down'
  | 'access_denied'
  | 'expired_token'
  | 'invalid_grant'
  | 'invalid_client'
  | 'invalid_request'
  | 'unsupported_grant_type'
  | 'rate_limited';

export interface DeviceError {
  error: DeviceErrorCode;
  error_description?: string;
}
