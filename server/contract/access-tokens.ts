// Access tokens for scripts and CI: their format and scopes, shared by the daemon and the CLI.
// Pure (Node's zlib for CRC-32 aside): the CLI checks a TASKMASTER_TOKEN's checksum offline, and a
// secret scanner can do the same with the rule below, without asking the daemon.
import { crc32 } from 'node:zlib';

export const ACCESS_TOKEN_PREFIX = 'tmp_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_CHARS = 30; // 30 × log2(62) ≈ 178.6 bits
const CHECKSUM_CHARS = 6; // 62^6 > 2^32
/** `tmp_` + 36 characters of [0-9A-Za-z]. */
export const ACCESS_TOKEN_LENGTH = 40;
export const ACCESS_TOKEN_SHAPE = /^tmp_[0-9A-Za-z]{36}$/;

/** What a token may do; everything else needs a session. */
export const SCOPES = ['account:read', 'account:write'] as const;
export type Scope = (typeof SCOPES)[number];
export const SCOPE_MEANINGS: Readonly<Record<Scope, string>> = {
  'account:read': 'read the account: GET /v1/me, GET /v1/sessions, GET /v1/me/events',
  'account:write': 'change the username (PATCH /v1/me) and end a session (DELETE /v1/sessions/{id})',
};

/** Days a token may live: always an expiry, at most a year and a day. */
export const TOKEN_DAYS_MIN = 1;
export const TOKEN_DAYS_MAX = 366;
export const TOKEN_NAME_MAX = 64;

/** The CRC-32 (IEEE, as zlib computes it) of `text`, in base 62 with the alphabet 0-9A-Za-z, most significant digit first, left-padded with 0 to 6. */
export function checksumOf(text: string): string {
  let value = crc32(text);
  let digits = '';
  while (value > 0) {
    digits = ALPHABET[value % 62] + digits;
    value = Math.floor(value / 62);
  }
  return digits.padStart(CHECKSUM_CHARS, '0');
}

/** A new token from `pick` (a uniform random integer below its argument). */
export function newAccessToken(pick: (below: number) => number): string {
  let random = '';
  for (let i = 0; i < RANDOM_CHARS; i++) random += ALPHABET[pick(ALPHABET.length)];
  return `${ACCESS_TOKEN_PREFIX}${random}${checksumOf(random)}`;
}

/** True when `token` has the shape and its last 6 characters are the checksum of the 30 before them. */
export function isWellFormedAccessToken(token: string): boolean {
  if (!ACCESS_TOKEN_SHAPE.test(token)) return false;
  const body = token.slice(ACCESS_TOKEN_PREFIX.length);
  return checksumOf(body.slice(0, RANDOM_CHARS)) === body.slice(RANDOM_CHARS);
}

/** The first 8 characters, as the token list shows it: enough to tell tokens apart, never more. */
export function tokenPrefix(token: string): string {
  return token.slice(0, 8);
}
