// Throttling with rate-limiter-flexible. State: in the database (db/rate-limits.ts), shared by
// every daemon and kept across restarts; an in-memory twin answers only while the database is
// unreachable. Numbers and their sources are in SECURITY.md, and the tests hold each of them.
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Database } from '../../db/connection.js';
import { databaseLimiter } from '../../db/rate-limits.js';
import { HttpError } from './errors.js';
import type { BlockScope } from '../metrics/metrics.js';

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
  /** User codes one browser session may have checked on the device page, over its life (RFC 8628 §5.1). */
  deviceCodeChecksPerSession: number;
  /** User codes checked from one address per hour, across sessions. */
  deviceCodeChecksPerAddressPerHour: number;
  /** Device codes (`POST /v1/device/code`) one address may ask for per hour. */
  deviceCodesPerAddressPerHour: number;
  /** Passkey sign-in challenges (one per /login page shown, where the browser offers passkeys) one address may ask for per hour. */
  passkeyChallengesPerAddressPerHour: number;
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
  deviceCodeChecksPerSession: 20,
  deviceCodeChecksPerAddressPerHour: 100,
  deviceCodesPerAddressPerHour: 60,
  passkeyChallengesPerAddressPerHour: 600,
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
  /**
   * The client showed a valid device token for this account, or is re-entering its password in a
   * live session (see SECURITY.md, "Lockout").
   */
  knownDevice: boolean;
  /** Set by checkLogin: the counts this attempt reached, settled by loginFailed or loginSucceeded. */
  counted?: { pair: number; account: number | undefined } | undefined;
}

/** A login block in force: on the account (every address), on the account from one address, or on one address (every account). */
export interface LoginBlock {
  scope: 'account' | 'account_and_address' | 'address';
  address: string | null;
  /** When it ends (epoch milliseconds). */
  until: number;
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
  private readonly deviceChecksBySession: RateLimiterAbstract;
  private readonly deviceChecksByAddress: RateLimiterAbstract;
  private readonly deviceCodes: RateLimiterAbstract;
  private readonly passkeyChallenges: RateLimiterAbstract;

  constructor(
    db: Database,
    private readonly limits: ThrottleLimits = DEFAULT_LIMITS,
    /** Told of each login block set (the metrics count them). */
    private readonly blocked: (scope: BlockScope) => void = () => undefined,
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
    // A session lives 30 days: its checks are counted over as long.
    this.deviceChecksBySession = limiter('device_check_session', limits.deviceCodeChecksPerSession, 30 * 24 * HOUR);
    this.deviceChecksByAddress = limiter('device_check_address', limits.deviceCodeChecksPerAddressPerHour, HOUR);
    this.deviceCodes = limiter('device_code', limits.deviceCodesPerAddressPerHour, HOUR);
    this.passkeyChallenges = limiter('passkey_challenge', limits.passkeyChallengesPerAddressPerHour, HOUR);
  }

  /**
   * Counts a login attempt before any password work, and refuses it (429) when one of its keys is
   * over its limit or blocked. Counting first, not after a failure, is what holds a burst: of 300
   * parallel guesses only the first 10 reach bcrypt. A known device is not held by (nor counted
   * against, until it fails) the account-wide limit that strangers elsewhere can spend; its own
   * account-and-address limit and its address's limit still apply.
   */
  async checkLogin(attempt: LoginAttempt): Promise<void> {
    const { limits } = this;
    const pairKey = `${attempt.emailKey}|${attempt.address}`;
    const [pair, account, fromAddress] = await Promise.all([
      count(this.pair, pairKey),
      attempt.knownDevice ? undefined : count(this.account, attempt.emailKey),
      count(this.address, attempt.address),
    ]);
    attempt.counted = { pair: pair.consumedPoints, account: account?.consumedPoints };
    // Over a limit but not (yet) blocked, as in a burst: the wait is at most the block to come.
    const pairOver = pair.consumedPoints > limits.loginFailuresPerAccountAndAddress;
    const accountOver = account !== undefined && account.consumedPoints > limits.loginFailuresPerAccountPerHour;
    const addressOver = fromAddress.consumedPoints > limits.loginFailuresPerAddressPerHour;
    const wait = Math.max(
      pairOver ? Math.min(pair.msBeforeNext, limits.longestLoginBlockSeconds * 1000) : 0,
      accountOver ? Math.min(account.msBeforeNext, limits.accountBlockSeconds * 1000) : 0,
      addressOver ? fromAddress.msBeforeNext : 0,
    );
    if (wait > 0) {
      // A refused attempt never reaches a password check, so the limits it was not refused by get
      // their point back: an owner waiting out a lock strangers caused does not spend their own
      // pair's limit meanwhile. A key that is over stays over (giving points back there would
      // undo part of a block set meanwhile, and let a burst slip in).
      attempt.counted = undefined;
      await Promise.all([
        pairOver ? undefined : this.pair.reward(pairKey, 1),
        account && !accountOver ? this.account.reward(attempt.emailKey, 1) : undefined,
        addressOver ? undefined : this.address.reward(attempt.address, 1),
      ]);
      throw rateLimited(wait, 'failed logins');
    }
  }

  /**
   * After a wrong password. The failure that spent a pair's points blocks that pair for 1 minute,
   * doubling with each block up to 15; the one that spent the account's hourly points blocks the
   * account for 15 minutes. After a block the counts start again from zero.
   */
  async loginFailed(attempt: LoginAttempt): Promise<void> {
    const { limits } = this;
    const { emailKey, address, counted } = attempt;
    if (!counted) return;
    const pairKey = `${emailKey}|${address}`;
    const accountCount = counted.account ?? (await count(this.account, emailKey)).consumedPoints;
    await Promise.all([
      accountCount === limits.loginFailuresPerAccountPerHour ? this.account.block(emailKey, limits.accountBlockSeconds).then(() => this.blocked('account')) : undefined,
      (async () => {
        if (counted.pair !== limits.loginFailuresPerAccountAndAddress) return;
        const blocks = await count(this.pairBlocks, pairKey);
        const seconds = Math.min(limits.longestLoginBlockSeconds, limits.firstLoginBlockSeconds * 2 ** (blocks.consumedPoints - 1));
        await this.pair.block(pairKey, seconds);
        this.blocked('account_and_address');
      })(),
    ]);
  }

  /** After the right password: the attempt gives its points back, and the pair's count starts again. */
  async loginSucceeded(attempt: LoginAttempt): Promise<void> {
    const { emailKey, address, counted } = attempt;
    if (!counted) return;
    await Promise.all([
      this.pair.delete(`${emailKey}|${address}`),
      counted.account !== undefined ? this.account.reward(emailKey, 1) : undefined,
      this.address.reward(address, 1),
    ]);
  }

  /**
   * Neither a failure nor a success (the password was right and the code is still to come): the
   * attempt gives its points back and resets nothing; the attempt that brings the code is counted.
   */
  async loginUndecided(attempt: LoginAttempt): Promise<void> {
    const { emailKey, address, counted } = attempt;
    if (!counted) return;
    attempt.counted = undefined;
    await Promise.all([
      this.pair.reward(`${emailKey}|${address}`, 1),
      counted.account !== undefined ? this.account.reward(emailKey, 1) : undefined,
      this.address.reward(address, 1),
    ]);
  }

  /**
   * The login blocks in force for the account (by its normalised email) and for `addresses` (those
   * its failed logins came from): what `taskmasterd users show` lists and `unlock` lifts.
   */
  async loginBlocks(emailKey: string, addresses: string[], now = Date.now()): Promise<LoginBlock[]> {
    const { limits } = this;
    const blocked = async (limiter: RateLimiterAbstract, key: string, points: number) => {
      const result = await limiter.get(key);
      return result && result.consumedPoints > points && result.msBeforeNext > 0 ? now + result.msBeforeNext : undefined;
    };
    const found: LoginBlock[] = [];
    const account = await blocked(this.account, emailKey, limits.loginFailuresPerAccountPerHour);
    if (account !== undefined) found.push({ scope: 'account', address: null, until: account });
    for (const address of addresses) {
      const pair = await blocked(this.pair, `${emailKey}|${address}`, limits.loginFailuresPerAccountAndAddress);
      if (pair !== undefined) found.push({ scope: 'account_and_address', address, until: pair });
      const fromAddress = await blocked(this.address, address, limits.loginFailuresPerAddressPerHour);
      if (fromAddress !== undefined) found.push({ scope: 'address', address, until: fromAddress });
    }
    return found;
  }

  /**
   * Lifts the account's login blocks and counts, and those of `addresses` with it (the account from
   * each, the doubling of its next block, and each address's own hourly count): the owner logs in at
   * once, from where they were locked out. Returns the blocks that were in force.
   */
  async unlockLogin(emailKey: string, addresses: string[]): Promise<LoginBlock[]> {
    const lifted = await this.loginBlocks(emailKey, addresses);
    await this.account.delete(emailKey);
    for (const address of addresses) {
      const pairKey = `${emailKey}|${address}`;
      await Promise.all([this.pair.delete(pairKey), this.pairBlocks.delete(pairKey), this.address.delete(address)]);
    }
    return lifted;
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

  /**
   * A user code typed on the device page, counted before it is looked up (so parallel guesses get
   * no more than the limit), per browser session and per address; refused (429) once either is
   * spent. A right code gives its points back (deviceCodeRight): only wrong ones add up.
   */
  async checkDeviceCode(sessionKey: string, address: string): Promise<void> {
    const [bySession, byAddress] = await Promise.all([count(this.deviceChecksBySession, sessionKey), count(this.deviceChecksByAddress, address)]);
    const sessionOver = bySession.consumedPoints > this.limits.deviceCodeChecksPerSession;
    const addressOver = byAddress.consumedPoints > this.limits.deviceCodeChecksPerAddressPerHour;
    if (!sessionOver && !addressOver) return;
    await Promise.all([sessionOver ? undefined : this.deviceChecksBySession.reward(sessionKey, 1), addressOver ? undefined : this.deviceChecksByAddress.reward(address, 1)]);
    if (addressOver) throw rateLimited(byAddress.msBeforeNext, 'codes that did not work came from your address');
    // The session's count lasts as long as the session: a wait would read as weeks.
    const seconds = String(Math.max(1, Math.ceil(bySession.msBeforeNext / 1000)));
    throw new HttpError(429, 'rate_limited', 'Too many codes that did not work in this browser session. Sign out, sign in again, and type the code the terminal shows.', undefined, { 'Retry-After': seconds });
  }

  /** The code was right: it does not count. */
  async deviceCodeRight(sessionKey: string, address: string): Promise<void> {
    await Promise.all([this.deviceChecksBySession.reward(sessionKey, 1), this.deviceChecksByAddress.reward(address, 1)]);
  }

  deviceCodeRequested(address: string): Promise<void> {
    return consumeOrRefuse(this.deviceCodes, address, 'login requests from your address');
  }

  /** Each sign-in challenge is a row until it expires: an address asking for them without end is refused. */
  passkeyChallengeRequested(address: string): Promise<void> {
    return consumeOrRefuse(this.passkeyChallenges, address, 'passkey sign-ins from your address');
  }
}
