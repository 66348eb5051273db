// One way to prove who you are, after Kratos' strategies: the login flow (flow.ts) asks the
// account's factors in turn. The password is the first (password-factor.ts); a second factor, or a
// passkey, is a folder of its own that adds one here.
import type { RequestInfo } from '../activity/events.js';
import type { UserRow } from '../accounts/users.js';
import type { HttpError } from '../core/errors.js';
import type { LoginBody } from './schemas.js';

/** What a factor is asked with: the account the email names (undefined when none) and the login body. */
export interface LoginClaim {
  user: UserRow | undefined;
  body: LoginBody;
  request: RequestInfo;
}

export interface Factor {
  /** Whether the flow asks this factor of this account (the password: always, known account or not). */
  required(user: UserRow | undefined): boolean;
  /**
   * Undefined when the claim proves this factor; else the refusal the client gets. It must cost
   * the same whether the account exists or not.
   */
  check(claim: LoginClaim): Promise<HttpError | undefined>;
}
