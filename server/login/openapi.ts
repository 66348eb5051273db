// The OpenAPI operations of logging in; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {};

export const operations: OperationSpec[] = [
  {
    method: 'post',
    path: '/v1/sessions',
    operationId: 'login',
    tag: 'Sessions',
    summary: 'Log in',
    description: 'Creates a session (valid 30 days) for a verified account. An unknown email and a wrong password get the same answer, whether two-factor is on or not. With two-factor on and the password right: without `code`, 401 `otp_required` with a `challenge` for `POST /v1/sessions/otp`; with a wrong code, 403 `invalid_code`. Failed logins (and wrong codes) are throttled per account and address, and per account from all addresses; a valid `deviceToken` is not held by the account-wide block other addresses caused, and lifts no part of two-factor. An account the operator disabled answers 403 `account_disabled` once the password is right (a wrong one gets `invalid_credentials` as ever).',
    body: { json: 'LoginBody' },
    success: { status: 201, description: 'A new session.', json: 'SessionResponse' },
    problems: ['invalid_credentials', 'email_not_verified', 'account_disabled', 'rate_limited', 'otp_required', 'invalid_code'],
  },
  {
    method: 'post',
    path: '/v1/sessions/otp',
    operationId: 'loginWithCode',
    tag: 'Sessions',
    summary: 'Finish a login with the code',
    description: 'For an account with two-factor on, `POST /v1/sessions` without `code` answers 401 `otp_required` with a `challenge` (single use, 5 minutes). This takes the challenge and the code (or a recovery code). A wrong code is a failed login, and after 5 the challenge dies.',
    body: { json: 'OtpLoginBody' },
    success: { status: 201, description: 'A new session.', json: 'SessionResponse' },
    problems: ['invalid_code', 'invalid_challenge', 'email_not_verified', 'account_disabled', 'rate_limited'],
  },
];
