// Throttling with rate-limiter-flexible. Memory stores today (one daemon); the same limiters take a
// PostgreSQL store when the daemon scales out. Numbers and their sources are in SECURITY.md.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { HttpError } from './errors.js';

export interface ThrottleLimits {
  /** Consecutive failed logins for one account from one address before a block. */
  loginFailuresPerAccountAndAddress: number;
  /** Failed logins for one account from all addresses per hour (ASVS V2.2.1: at most 100). */
  loginFailuresPerAccountPerHour: number;
  /** Failed logins from one address across all accounts per hour (credential stuffing). */
  loginFailuresPerAddressPerHour: number;
  registrationsPerAddressPerHour: number;
  verifyFailuresPerAddressPer15Min: number;
  resendsPerAddressPerHour: number;
  /** Mails a resend may send to one address per hour; more are dropped silently (still 202). */
  resendMailsPerEmailPerHour: number;
}

export const DEFAULT_LIMITS: ThrottleLimits = {
  loginFailuresPerAccountAndAddress: 10,
  loginFailuresPerAccountPerHour: 100,
  loginFailuresPerAddressPerHour: 100,
  registrationsPerAddressPerHour: 200,
  verifyFailuresPerAddressPer15Min: 50,
  resendsPerAddressPerHour: 20,
  resendMailsPerEmailPerHour: 5,
};

const HOUR = 3600;
const FIRST_BLOCK_SECONDS = 60;
const LONGEST_BLOCK_SECONDS = 15 * 60;

function rateLimited(msBeforeNext: number, what: string): HttpError {
  const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new HttpError(429, 'rate_limited', `Too many ${what}. Try again in ${seconds} seconds.`, undefined, { 'Retry-After': String(seconds) });
}

async function consumeOrRefuse(limiter: RateLimiterMemory, key: string, what: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (result) {
    if (result instanceof RateLimiterRes) throw rateLimited(result.msBeforeNext, what);
    throw result;
  }
}

export class Throttle {
  private readonly accountAddress: RateLimiterMemory;
  private readonly accountAddressBlocks: RateLimiterMemory;
  private readonly account: RateLimiterMemory;
  private readonly address: RateLimiterMemory;
  private readonly registrations: RateLimiterMemory;
  private readonly verifyFailures: RateLimiterMemory;
  private readonly resends: RateLimiterMemory;
  private readonly resendMails: RateLimiterMemory;

  constructor(limits: ThrottleLimits = DEFAULT_LIMITS) {
    this.accountAddress = new RateLimiterMemory({ keyPrefix: 'login_aa', points: limits.loginFailuresPerAccountAndAddress, duration: HOUR });
    this.accountAddressBlocks = new RateLimiterMemory({ keyPrefix: 'login_aab', points: 1000, duration: 24 * HOUR });
    this.account = new RateLimiterMemory({ keyPrefix: 'login_a', points: limits.loginFailuresPerAccountPerHour, duration: HOUR, blockDuration: LONGEST_BLOCK_SECONDS });
    this.address = new RateLimiterMemory({ keyPrefix: 'login_ip', points: limits.loginFailuresPerAddressPerHour, duration: HOUR, blockDuration: HOUR });
    this.registrations = new RateLimiterMemory({ keyPrefix: 'register', points: limits.registrationsPerAddressPerHour, duration: HOUR });
    this.verifyFailures = new RateLimiterMemory({ keyPrefix: 'verify', points: limits.verifyFailuresPerAddressPer15Min, duration: 15 * 60 });
    this.resends = new RateLimiterMemory({ keyPrefix: 'resend', points: limits.resendsPerAddressPerHour, duration: HOUR });
    this.resendMails = new RateLimiterMemory({ keyPrefix: 'resend_mail', points: limits.resendMailsPerEmailPerHour, duration: HOUR });
  }

  /** Refuses a login attempt before any password work when one of its keys is blocked. */
  async checkLogin(emailKey: string, address: string): Promise<void> {
    const [pair, account, fromAddress] = await Promise.all([
      this.accountAddress.get(`${emailKey}|${address}`),
      this.account.get(emailKey),
      this.address.get(address),
    ]);
    const waits = [
      pair && pair.remainingPoints <= 0 ? pair.msBeforeNext : 0,
      account && account.remainingPoints <= 0 ? account.msBeforeNext : 0,
      fromAddress && fromAddress.remainingPoints <= 0 ? fromAddress.msBeforeNext : 0,
    ];
    const wait = Math.max(...waits);
    if (wait > 0) throw rateLimited(wait, 'failed logins');
  }

  /** Counts a failed login. A pair that runs out is blocked for 1 min, doubling per block up to 15 min. */
  async loginFailed(emailKey: string, address: string): Promise<void> {
    const pairKey = `${emailKey}|${address}`;
    await Promise.all([
      this.account.consume(emailKey).catch(() => undefined),
      this.address.consume(address).catch(() => undefined),
      this.accountAddress.consume(pairKey).then(
        () => undefined,
        async () => {
          const blocks = await this.accountAddressBlocks.consume(pairKey).catch((result: RateLimiterRes) => result);
          const seconds = Math.min(LONGEST_BLOCK_SECONDS, FIRST_BLOCK_SECONDS * 2 ** Math.max(0, blocks.consumedPoints - 1));
          await this.accountAddress.block(pairKey, seconds);
        },
      ),
    ]);
  }

  /** A successful login clears the consecutive count for that account and address. */
  async loginSucceeded(emailKey: string, address: string): Promise<void> {
    await this.accountAddress.delete(`${emailKey}|${address}`);
  }

  registration(address: string): Promise<void> {
    return consumeOrRefuse(this.registrations, address, 'registrations from your address');
  }

  async checkVerify(address: string): Promise<void> {
    const result = await this.verifyFailures.get(address);
    if (result && result.remainingPoints <= 0) throw rateLimited(result.msBeforeNext, 'invalid tokens');
  }

  async verifyFailed(address: string): Promise<void> {
    await this.verifyFailures.consume(address).catch(() => undefined);
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
}
