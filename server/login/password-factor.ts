// The password, the first factor of every login. An unknown email is compared against a decoy
// hash, so it costs what a wrong password does and the answers are the same.
import { HttpError } from '../core/errors.js';
import { hashPassword, verifyPassword } from '../core/secrets.js';
import type { Factor, FactorOutcome, LoginClaim } from './factor.js';

export function invalidCredentials(): HttpError {
  return new HttpError(401, 'invalid_credentials', 'Email or password is not right.');
}

export class PasswordFactor implements Factor {
  private readonly decoyHash: Promise<string>;

  constructor(bcryptCost: number) {
    this.decoyHash = hashPassword('decoy password for unknown emails', bcryptCost);
  }

  required(): boolean {
    return true;
  }

  async check({ user, body }: LoginClaim): Promise<FactorOutcome> {
    const matches = await verifyPassword(body.password, user?.password_hash ?? (await this.decoyHash));
    return user && matches ? { passed: true } : { passed: false, refusal: invalidCredentials(), failed: true, event: 'login_failed' };
  }
}
