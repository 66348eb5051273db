// Passwords and tokens: how they are made, hashed and compared.
import { createHmac, hash, randomBytes, randomInt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import bcrypt from 'bcrypt';
import pLimit from 'p-limit';
import { DEVICE_TOKEN_PREFIX, SESSION_TOKEN_PREFIX } from '../contract/api.js';

/**
 * bcrypt runs on libuv's thread pool, and so does every sqlite3 query and file write. Left alone,
 * a burst of logins fills every thread with ~250 ms hashes and each query waits behind them: a
 * health check took 740 ms under login load. So at most one hash per core runs at once (never more
 * than the pool minus two), which keeps threads free for the database and leaves the event loop a
 * core's share of the CPU. bin/taskmasterd sizes the pool at cores + 2.
 */
export function threadPoolSizeFor(cores: number): number {
  return Math.max(4, cores + 2);
}
const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const bcryptSlots = pLimit(Math.max(1, Math.min(availableParallelism(), poolSize - 2)));

/**
 * bcrypt reads only the first 72 bytes of its input. So that every byte of a long password counts,
 * the password is first condensed with HMAC-SHA-256 (a fixed, app-specific key, so the result cannot
 * be matched against lists of plain SHA-256 hashes) and the base64 of that (44 bytes, no NUL) is
 * what bcrypt hashes. Every password goes through the same path, short or long.
 */
const PREHASH_KEY = 'taskmaster/bcrypt-prehash/v1';

function prehash(password: string): string {
  return createHmac('sha256', PREHASH_KEY).update(password, 'utf8').digest('base64');
}

export function hashPassword(password: string, cost: number): Promise<string> {
  return bcryptSlots(() => bcrypt.hash(prehash(password), cost));
}

export function verifyPassword(password: string, passwordHash: string): Promise<boolean> {
  return bcryptSlots(() => bcrypt.compare(prehash(password), passwordHash));
}

export type RandomToken = (bytes: number) => string;

export const randomToken: RandomToken = (bytes) => randomBytes(bytes).toString('base64url');

/** 32 random bytes = 256 bits, as the contract asks. */
export function newSessionToken(random: RandomToken): string {
  return SESSION_TOKEN_PREFIX + random(32);
}

export function newDeviceToken(random: RandomToken): string {
  return DEVICE_TOKEN_PREFIX + random(32);
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * An email token: 43 characters of [A-Za-z0-9] (43 × log2 62 ≈ 256 bits). Not base64url: a token
 * starting with "-" (1 in 64 of them) was read by `taskmaster verify TOKEN` as an unknown option.
 */
export function newEmailToken(pick: (below: number) => number = randomInt): string {
  let token = '';
  for (let i = 0; i < 43; i++) token += BASE62[pick(BASE62.length)];
  return token;
}

/** One call, no Hash object: this runs on every authenticated request. */
export function sha256Hex(token: string): string {
  return hash('sha256', token, 'hex');
}
