// One way to prove who you are, after Kratos' strategies: the login flow (flow.ts) asks the
// account's factors in turn. The password is the first (password-factor.ts); the TOTP code is
// server/two-factor/factor.ts; a passkey would be a folder of its own that adds one.
import type { RequestInfo } from '../activity/events.js';
import type { UserRow } from '../accounts/users.js';
import type { HttpError } from '../core/errors.js';
import type { AccountEventType } from '../contract/api.js';
import type { LoginBody } from './schemas.js';

/** What a factor is asked with: the account the email names (undefined when none) and the login body. */
export interface LoginClaim {
  user: UserRow | undefined;
  body: LoginBody;
  request: RequestInfo;
}

/**
 * A factor passed, or the refusal the client gets. `failed`: it counts as a failed login (a wrong
 * password, a wrong code); a code not yet given does not. `event`: what the account's activity shows.
 */
export type FactorOutcome = { passed: true } | { passed: false; refusal: HttpError; failed: boolean; event?: AccountEventType };

export interface Factor {
  /** Whether the flow asks this factor of this account (the password: always, known account or not). */
  required(user: UserRow | undefined): boolean;
  /** It must cost the same whether the account exists or not. */
  check(claim: LoginClaim): Promise<FactorOutcome>;
}
