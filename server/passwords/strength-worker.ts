// Runs in a worker thread (see password-check.ts): the estimator's ~10 ms per password, off the event loop.
import { passwordProblem } from '../contract/password-strength.js';
import type { PasswordContext } from '../contract/rules.js';

export default function check({ password, context }: { password: string; context: PasswordContext }): string | undefined {
  return passwordProblem(password, context);
}
