// The TOTP code as a login factor (server/login/factor.ts), asked after the password of an account
// with two-factor on. No code: 401 otp_required with a challenge to finish with (not a failed
// login, nor a successful one); a wrong code: 403 invalid_code, a failed login like a wrong password.
import type { Factor, FactorOutcome, LoginClaim } from '../login/factor.js';
import type { UserRow } from '../accounts/users.js';
import { invalidCode, otpRequired, type TwoFactor } from './store.js';

export class TotpFactor implements Factor {
  constructor(private readonly twoFactor: TwoFactor) {}

  required(user: UserRow | undefined): boolean {
    return user !== undefined && user.two_factor_at !== null;
  }

  async check({ user, body, request }: LoginClaim): Promise<FactorOutcome> {
    if (!user) return { passed: false, refusal: invalidCode(), failed: true };
    if (!body.code) return { passed: false, refusal: otpRequired(await this.twoFactor.newChallenge(user.id)), failed: false };
    if (await this.twoFactor.verifyCode(user, body.code, request)) return { passed: true };
    return { passed: false, refusal: invalidCode(), failed: true, event: 'code_failed' };
  }
}
