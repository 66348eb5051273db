// Throttling with rate-limiter-flexible. State: in the database (db/rate-limits.ts), shared by
// every daemon and kept across restarts; an in-memory twin answers only while the database is
// unreachable. Numbers and their sources are in SECURITY.md, and the tests hold each of them.
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Database } from '../db/connection.js';
import { databaseLimiter } from '../db/rate-limits.js';
import { HttpError } from './errors.js';

export interface ThrottleLimits {
  /** Consecutive failed logins for one account from one address before a block. */
  loginFailuresPerAccountAndAddress: number;
  /** The first such block; each next one doubles, up to longestLoginBlockSeconds. */
  firstLoginBlockSeconds: number;
  longestLoginBlockSeconds: number;
  /** Failed logins for one account from all addresses per hour (ASVS V2.2.1: at most 100). */
  loginFailuresPerAccountPerHour: number;
  accountBlockSeconds: number;
  /** Failed logins from one address across all accounts per hour (credential stuffing). */
  loginFailuresPerAddressPerHour: number;
  registrationsPerAddressPerHour: number;
  verifyFailuresPerAddressPer15Min: number;
  resendsPerAddressPerHour: number;
  /** Mails a resend may send to one address per hour; more are dropped silently (still 202). */
  resendMailsPerEmailPerHour: number;
  /** Password reset requests from one address per hour (then 429). */
  forgotsPerAddressPerHour: number;
  /** Reset mails to one email per hour; more are dropped silently (still 202). */
  resetMailsPerEmailPerHour: number;
  /** Unknown, used or expired reset tokens from one address per 15 minutes. */
  resetFailuresPerAddressPer15Min: number;
}

const HOUR = 3600;

export const DEFAULT_LIMITS: ThrottleLimits = {
  loginFailuresPerAccountAndAddress: 10,
  firstLoginBlockSeconds: 60,
  longestLoginBlockSeconds: 15 * 60,
  loginFailuresPerAccountPerHour: 100,
  accountBlockSeconds: 15 * 60,
  loginFailuresPerAddressPerHour: 100,
  registrationsPerAddressPerHour: 200,
  verifyFailuresPerAddressPer15Min: 50,
  resendsPerAddressPerHour: 20,
  resendMailsPerEmailPerHour: 5,
  forgotsPerAddressPerHour: 20,
  resetMailsPerEmailPerHour: 5,
  resetFailuresPerAddressPer15Min: 50,
};

/** "60 minutes", "15 minutes", "1 minute", "45 seconds": how a person reads a wait. */
export function describeWait(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

function rateLimited(msBeforeNext: number, what: string): HttpError {
  const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new HttpError(429, 'rate_limited', `Too many ${what}. Try again in ${describeWait(seconds)}.`, undefined, { 'Retry-After': String(seconds) });
}

async function consumeOrRefuse(limiter: RateLimiterAbstract, key: string, what: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (result) {
    if (result instanceof RateLimiterRes) throw rateLimited(result.msBeforeNext, what);
    throw result;
  }
}

/** consume() that reports the count instead of rejecting once the points are spent. */
async function count(limiter: RateLimiterAbstract, key: string): Promise<RateLimiterRes> {
  return limiter.consume(key).catch((result: unknown) => {
    if (result instanceof RateLimiterRes) return result;
    throw result;
  });
}

/** Milliseconds left of a spent (or blocked) key, 0 when it may go on. */
async function waitOf(limiter: RateLimiterAbstract, key: string): Promise<number> {
  const result = await limiter.get(key);
  return result && result.remainingPoints <= 0 ? result.msBeforeNext : 0;
}

export interface LoginAttempt {
  emailKey: string;
  address: string;
  /** The client showed a valid device token for this account (see SECURITY.md, "Lockout"). */
  knownDevice: boolean;
}

export class Throttle {
  private readonly pair: RateLimiterAbstract;
  private readonly pairBlocks: RateLimiterAbstract;
  private readonly account: RateLimiterAbstract;
  private readonly address: RateLimiterAbstract;
  private readonly registrations: RateLimiterAbstract;
  private readonly verifyFailures: RateLimiterAbstract;
  private readonly resends: RateLimiterAbstract;
  private readonly resendMails: RateLimiterAbstract;
  private readonly forgots: RateLimiterAbstract;
  private readonly resetMails: RateLimiterAbstract;
  private readonly resetFailures: RateLimiterAbstract;

  constructor(
    db: Database,
    private readonly limits: ThrottleLimits = DEFAULT_LIMITS,
  ) {
    const limiter = (keyPrefix: string, points: number, duration: number) => databaseLimiter(db, { keyPrefix, points, duration });
    this.pair = limiter('login_pair', limits.loginFailuresPerAccountAndAddress, HOUR);
    // How many blocks a pair has had lately: the next block doubles with each.
    this.pairBlocks = limiter('login_pair_blocks', 1_000_000, 24 * HOUR);
    this.account = limiter('login_account', limits.loginFailuresPerAccountPerHour, HOUR);
    this.address = limiter('login_address', limits.loginFailuresPerAddressPerHour, HOUR);
    this.registrations = limiter('register', limits.registrationsPerAddressPerHour, HOUR);
    this.verifyFailures = limiter('verify', limits.verifyFailuresPerAddressPer15Min, 15 * 60);
    this.resends = limiter('resend', limits.resendsPerAddressPerHour, HOUR);
    this.resendMails = limiter('resend_mail', limits.resendMailsPerEmailPerHour, HOUR);
    this.forgots = limiter('forgot', limits.forgotsPerAddressPerHour, HOUR);
    this.resetMails = limiter('reset_mail', limits.resetMailsPerEmailPerHour, HOUR);
    this.resetFailures = limiter('reset_token', limits.resetFailuresPerAddressPer15Min, 15 * 60);
  }

  /**
   * Refuses a login attempt before any password work while one of its keys is blocked. A known
   * device is not held by the account-wide block, which strangers elsewhere can trigger; its own
   * account-and-address limit and its address's limit still apply.
   */
  async checkLogin({ emailKey, address, knownDevice }: LoginAttempt): Promise<void> {
    const waits = await Promise.all([
      waitOf(this.pair, `${emailKey}|${address}`),
      knownDevice ? 0 : waitOf(this.account, emailKey),
      waitOf(this.address, address),
    ]);
    const wait = Math.max(...waits);
    if (wait > 0) throw rateLimited(wait, 'failed logins');
  }

  /**
   * Counts a failed login. The failure that spends a pair's points blocks that pair for 1 minute,
   * doubling with each block up to 15; the one that spends the account's hourly points blocks the
   * account for 15 minutes. After a block the counts start again from zero.
   */
  async loginFailed({ emailKey, address }: LoginAttempt): Promise<void> {
    const pairKey = `${emailKey}|${address}`;
    const { limits } = this;
    await Promise.all([
      count(this.address, address),
      count(this.account, emailKey).then(async (result) => {
        if (result.consumedPoints === limits.loginFailuresPerAccountPerHour) await this.account.block(emailKey, limits.accountBlockSeconds);
      }),
      count(this.pair, pairKey).then(async (result) => {
        if (result.consumedPoints !== limits.loginFailuresPerAccountAndAddress) return;
        const blocks = await count(this.pairBlocks, pairKey);
        const seconds = Math.min(limits.longestLoginBlockSeconds, limits.firstLoginBlockSeconds * 2 ** (blocks.consumedPoints - 1));
        await this.pair.block(pairKey, seconds);
      }),
    ]);
  }

  /** A successful login clears the consecutive count for that account and address. */
  async loginSucceeded({ emailKey, address }: LoginAttempt): Promise<void> {
    await this.pair.delete(`${emailKey}|${address}`);
  }

  registration(address: string): Promise<void> {
    return consumeOrRefuse(this.registrations, address, 'registrations from your address');
  }

  async checkVerify(address: string): Promise<void> {
    const wait = await waitOf(this.verifyFailures, address);
    if (wait > 0) throw rateLimited(wait, 'invalid tokens');
  }

  async verifyFailed(address: string): Promise<void> {
    await count(this.verifyFailures, address);
  }

  resend(address: string): Promise<void> {
    return consumeOrRefuse(this.resends, address, 'verification emails requested');
  }

  /** True when another mail may go to this address now. */
  async resendMailAllowed(emailKey: string): Promise<boolean> {
    return this.resendMails.consume(emailKey).then(
      () => true,
      () => false,
    );
  }

  /** A password reset request; keyed on the address only, never on whether the account exists. */
  forgot(address: string): Promise<void> {
    return consumeOrRefuse(this.forgots, address, 'password reset requests from your address');
  }

  /** True when another reset mail may go to this (normalised) email now; asked for every email, known or not. */
  resetMailAllowed(emailKey: string): Promise<boolean> {
    return this.resetMails.consume(emailKey).then(
      () => true,
      () => false,
    );
  }

  async checkResetToken(address: string): Promise<void> {
    const wait = await waitOf(this.resetFailures, address);
    if (wait > 0) throw rateLimited(wait, 'reset tokens that did not work');
  }

  async resetTokenFailed(address: string): Promise<void> {
    await count(this.resetFailures, address);
  }
}
