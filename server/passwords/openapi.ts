// The OpenAPI operations of forgotten, reset and changed passwords; server/reference/document.ts builds the document from every capability's.
import { tokenQuery, type OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {
  Passwords: 'Forgotten passwords (an emailed reset token) and changing the password while logged in.',
};

export const operations: OperationSpec[] = [
  {
    method: 'post',
    path: '/v1/me/password',
    operationId: 'changePassword',
    tag: 'Passwords',
    summary: 'Change the password',
    description: 'Sets a new password after the current one. Every other session ends (the calling one stays), pending reset tokens die, and a notice email goes out. A wrong current password counts as a failed login.',
    auth: 'session',
    body: { json: 'ChangePasswordBody' },
    success: { status: 200, description: 'The account, and how many other sessions ended.', json: 'PasswordChangeResponse' },
    problems: ['wrong_password', 'rate_limited', 'otp_required', 'invalid_code'],
  },
  {
    method: 'post',
    path: '/v1/password/forgot',
    operationId: 'forgotPassword',
    tag: 'Passwords',
    summary: 'Ask for a password reset email',
    description: 'Sends a reset email (link `PUBLIC_URL/v1/password/reset?token=T` and the token on a line of its own, valid 30 minutes, once) when an account has this address. The answer, and its time, are the same whatever the address; the limits are keyed on the client address and the email only.',
    body: { json: 'ForgotPasswordBody' },
    success: { status: 202, description: 'Accepted, whatever the email.', json: 'Accepted' },
    problems: ['rate_limited'],
  },
  {
    method: 'get',
    path: '/v1/password/reset',
    operationId: 'getResetPage',
    tag: 'Passwords',
    summary: 'The emailed reset link: a form',
    description: 'The link from a reset email: a form for the new password, typed twice. Opening it (GET or HEAD) changes nothing. With `Accept: application/json` it answers whose account the token is for.',
    parameters: [tokenQuery('reset')],
    success: { status: 200, description: 'The form (HTML), or with `Accept: application/json` whose account the token is for.', json: 'ResetTokenInfo', html: true },
    problems: ['invalid_token', 'account_disabled'],
    pages: { 400: 'A page saying the link is unknown, used or expired, and how to ask for a new one.', 403: 'A page saying the operator disabled the account, so the link does nothing.' },
  },
  {
    method: 'post',
    path: '/v1/password/reset',
    operationId: 'resetPassword',
    tag: 'Passwords',
    summary: 'Set a new password with an emailed token',
    description: 'Sets the new password, ends every session of the account, counts the email as verified and sends a notice; no session is created. With the reset page\'s form every answer is a page.',
    body: { json: 'ResetPasswordBody', form: 'ResetPasswordForm' },
    success: { status: 200, description: 'The account with its new password (the form gets a page).', json: 'UserResponse', html: true },
    problems: ['invalid_token', 'account_disabled', 'rate_limited'],
    pages: { 400: 'The form again with what is wrong (the passwords differ, or the new one is weak), or a page saying the link does not work.', 403: 'A page saying the operator disabled the account.', 429: 'Too many tokens that did not work from this address: how long to wait.' },
  },
];
