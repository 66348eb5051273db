// TOTP codes as an authenticator app computes them (RFC 6238: SHA-1, 6 digits, 30-second steps),
// with the `otpauth` package, at the clock the test gives (the real one unless a test moves it):
// the daemon is never asked which code is right. An Authenticator also remembers the last step it
// gave a code for, since the daemon accepts each step of an account once (RFC 6238 §5.2).
import { Secret, TOTP, URI } from 'otpauth';

export const STEP_MS = 30_000;

/** The RFC 6238 time step a moment (ms since the epoch) is in. */
export const stepOf = (ms: number): number => Math.floor(ms / STEP_MS);

/** Milliseconds left of the step `ms` is in. */
export const leftOfStep = (ms: number): number => STEP_MS - (ms % STEP_MS);

function totp(secret: string): TOTP {
  return new TOTP({ issuer: 'TaskMaster', label: 'test', algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });
}

/** The code of `secret` for the step `step`. */
export function codeForStep(secret: string, step: number): string {
  return totp(secret).generate({ timestamp: step * STEP_MS });
}

/** The code an authenticator app shows at `ms` (the real clock by default). */
export function codeAt(secret: string, ms: number = Date.now()): string {
  return totp(secret).generate({ timestamp: ms });
}

/**
 * Six digits that are no code of `secret` from 3 steps before `ms` to 3 after (so the daemon's
 * one-step window cannot make them right, whenever it checks them).
 */
export function wrongCode(secret: string, ms: number = Date.now()): string {
  const near = new Set(Array.from({ length: 7 }, (_, i) => codeForStep(secret, stepOf(ms) + i - 3)));
  for (let n = Number(codeAt(secret, ms)) + 123_457; ; n += 7_919) {
    const candidate = String(n % 1_000_000).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

/** What an `otpauth://` URI says, read by the same package an app would use. */
export function parseOtpauthUri(uri: string): { issuer: string; label: string; algorithm: string; digits: number; period: number; secret: string } {
  const otp = URI.parse(uri);
  if (!(otp instanceof TOTP)) throw new Error(`not a TOTP URI: ${uri}`);
  return { issuer: otp.issuer, label: otp.label, algorithm: otp.algorithm, digits: otp.digits, period: otp.period, secret: otp.secret.base32 };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits, when needed, until at least `marginMs` are left of the current step (by `now`), so that
 * what follows runs inside one step; returns the time then.
 */
export async function withinOneStep(marginMs: number, now: () => number = Date.now): Promise<number> {
  const left = leftOfStep(now());
  if (left < marginMs) await sleep(left + 50);
  return now();
}

/** Waits until the step after the current one has begun (plus `afterMs`); returns its number. */
export async function nextStep(now: () => number = Date.now, afterMs = 100): Promise<number> {
  const target = stepOf(now()) + 1;
  await sleep(leftOfStep(now()) + afterMs);
  while (stepOf(now()) < target) await sleep(20);
  return stepOf(now());
}

/**
 * The phone of one account: codes of `secret` at the clock `now`, each for a step after the last
 * one it gave (the daemon takes each step once, and none before an accepted one).
 */
export class Authenticator {
  /** The last step a code was given for (and, the test assumes, accepted). */
  lastStep: number | undefined;

  constructor(
    readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The code shown right now, whatever was used before (for replay tests). */
  current(): string {
    return codeAt(this.secret, this.now());
  }

  /** Six digits that are no code near now. */
  wrong(): string {
    return wrongCode(this.secret, this.now());
  }

  /**
   * The code of the step before the current one, when no later step was used and at least 3 s are
   * left of the current step (the daemon takes the step before): a first code that leaves the
   * current and the next step for two more. Otherwise the code of the current step.
   */
  first(): string {
    const now = this.now();
    const step = this.lastStep === undefined && leftOfStep(now) > 3_000 ? stepOf(now) - 1 : Math.max(stepOf(now), (this.lastStep ?? -Infinity) + 1);
    return this.use(step);
  }

  /**
   * A code the daemon has not taken yet: of the current step, or of the next one (which it takes
   * too) when the current one was used; when both were, it waits for the step to move on.
   */
  async next(): Promise<string> {
    for (;;) {
      const current = stepOf(this.now());
      const step = Math.max(current, (this.lastStep ?? -Infinity) + 1);
      if (step <= current + 1) return this.use(step);
      await sleep(leftOfStep(this.now()) + 50);
    }
  }

  private use(step: number): string {
    this.lastStep = step;
    return codeForStep(this.secret, step);
  }
}
