// Passwords and tokens: how they are made, hashed and compared.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import { SESSION_TOKEN_PREFIX } from './shared/api.js';

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
  return bcrypt.hash(prehash(password), cost);
}

export function verifyPassword(password: string, passwordHash: string): Promise<boolean> {
  return bcrypt.compare(prehash(password), passwordHash);
}

export type RandomToken = (bytes: number) => string;

export const randomToken: RandomToken = (bytes) => randomBytes(bytes).toString('base64url');

/** 32 random bytes = 256 bits, as the contract asks. */
export function newSessionToken(random: RandomToken): string {
  return SESSION_TOKEN_PREFIX + random(32);
}

export function newEmailToken(random: RandomToken): string {
  return random(32);
}

export function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
