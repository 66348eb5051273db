// Access tokens as the tests hold the daemon to them: the contract's format computed here from
// scratch (a CRC-32 of our own and a base-62 of our own, so a wrong checksum rule in the daemon
// cannot make its own tokens pass), creating a token through the API, and counting the queries a
// daemon sends about a token.
import { createHash, randomInt } from 'node:crypto';
import { request } from 'undici';
import type { AccessTokenInfo } from '../../server/contract/api.js';
import type { TestDaemon } from './daemon.js';
import { api, type Reply } from './http.js';

/** The contract's alphabet: digits, then upper case, then lower case. */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, reflected, polynomial 0x04C11DB7), as zlib computes it, over the UTF-8 bytes. */
export function crc32Ieee(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, 'utf8')) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** `value` in base 62 (0-9A-Za-z), most significant digit first, left-padded with 0 to `width`. */
export function base62(value: number, width = 6): string {
  let rest = BigInt(value);
  let digits = '';
  do {
    digits = BASE62[Number(rest % 62n)] + digits;
    rest /= 62n;
  } while (rest > 0n);
  return digits.padStart(width, '0');
}

/** The 6 checksum characters the contract gives 30 random characters. */
export const checksumOf = (random: string): string => base62(crc32Ieee(random));

/** The contract's shape: `tmp_`, 30 random characters, 6 checksum characters, all [0-9A-Za-z]. */
export const TOKEN_SHAPE = /^tmp_([0-9A-Za-z]{30})([0-9A-Za-z]{6})$/;

/** A token of the right shape with a right checksum that no daemon ever issued. */
export function wellFormedToken(): string {
  let random = '';
  for (let i = 0; i < 30; i++) random += BASE62[randomInt(62)];
  return `tmp_${random}${checksumOf(random)}`;
}

/** The same token with its last checksum character changed: the right shape, a wrong checksum. */
export function withWrongChecksum(token: string): string {
  const last = token.at(-1)!;
  const other = BASE62[(BASE62.indexOf(last) + 1) % 62]!;
  return `${token.slice(0, -1)}${other}`;
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export const isProblem = (reply: Reply, status: number, code: string): boolean =>
  reply.status === status && String(reply.headers['content-type']).startsWith('application/problem+json') && reply.json?.code === code;

/** Short text of an answer, for assertion messages. */
export const shown = (reply: Reply): string => `${reply.status} ${reply.text.slice(0, 300)}`;

let names = 0;
/** A name no other token of the test process has. */
export const tokenName = (prefix = 'ci'): string => `${prefix}-${process.pid % 10000}-${++names}`;

export interface TokenBody {
  name?: unknown;
  scopes?: unknown;
  expiresInDays?: unknown;
  allowedCidrs?: unknown;
  currentPassword?: unknown;
}

/** POST /v1/tokens with the session of `account`: a unique name, both scopes, 30 days, unless `body` says otherwise. */
export function postToken(td: { url: string }, account: { token: string; password: string }, body: TokenBody = {}, options: { headers?: Record<string, string>; from?: string } = {}): Promise<Reply> {
  return api(td.url, 'POST', '/v1/tokens', { name: tokenName(), scopes: ['account:read', 'account:write'], expiresInDays: 30, currentPassword: account.password, ...body }, { token: account.token, ...options });
}

/** As postToken, and the 201 it must get: the token and what the list shows of it. */
export async function createToken(td: { url: string }, account: { token: string; password: string }, body: TokenBody = {}, options: { headers?: Record<string, string>; from?: string } = {}): Promise<{ token: string; info: AccessTokenInfo }> {
  const reply = await postToken(td, account, body, options);
  if (reply.status !== 201) throw new Error(`POST /v1/tokens answered ${shown(reply)}`);
  return { token: reply.json.token as string, info: reply.json.accessToken as AccessTokenInfo };
}

export const me = (url: string, token: string, options: { headers?: Record<string, string>; from?: string } = {}): Promise<Reply> => api(url, 'GET', '/v1/me', undefined, { token, ...options });

export async function listTokens(url: string, session: string): Promise<AccessTokenInfo[]> {
  const reply = await api(url, 'GET', '/v1/tokens', undefined, { token: session });
  if (reply.status !== 200) throw new Error(`GET /v1/tokens answered ${shown(reply)}`);
  return reply.json.accessTokens as AccessTokenInfo[];
}

/** A mail's text with its white space folded, so a phrase wrapped across lines is still found. */
export const flat = (text: string): string => text.replace(/\s+/g, ' ');

/** How the mails write a time: `2031-03-04 05:06 UTC`. */
export const mailTime = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

/**
 * A request without the OpenAPI check of `api()`: for a test that asserts what the daemon does
 * apart from whether the document describes it (another test holds the document to it).
 */
export async function unchecked(base: string, method: string, path: string, body: unknown, token: string): Promise<Reply> {
  const response = await request(new URL(path, base), {
    method: method as 'GET',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}
