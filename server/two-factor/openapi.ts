// The OpenAPI operations of two-factor authentication; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {
  'Two-factor': 'TOTP codes (RFC 6238) and recovery codes: enrolment, turning it off, new recovery codes. Logging in with a code is under Sessions.',
};

export const operations: OperationSpec[] = [
  {
    method: 'post',
    path: '/v1/me/2fa/totp',
    operationId: 'enrolTotp',
    tag: 'Two-factor',
    summary: 'Start a TOTP enrolment',
    description: 'With the password again: a new secret (160 bits) and its `otpauth://` URI. Nothing is on until a code from it is confirmed; a pending enrolment is replaced.',
    auth: 'session',
    body: { json: 'TotpEnrolBody' },
    success: { status: 200, description: 'The secret, for the authenticator app.', json: 'TotpEnrolment' },
    problems: ['wrong_password', 'two_factor_enabled', 'rate_limited'],
  },
  {
    method: 'post',
    path: '/v1/me/2fa/totp/confirm',
    operationId: 'confirmTotp',
    tag: 'Two-factor',
    summary: 'Turn two-factor on with a first code',
    description: 'A code from the pending secret turns two-factor on: 10 recovery codes (shown once), every other session ended, a notice email.',
    auth: 'session',
    body: { json: 'TotpConfirmBody' },
    success: { status: 200, description: 'Two-factor is on: the recovery codes.', json: 'RecoveryCodes' },
    problems: [['invalid_code', 400], 'no_enrolment', 'two_factor_enabled'],
  },
  {
    method: 'delete',
    path: '/v1/me/2fa',
    operationId: 'disableTwoFactor',
    tag: 'Two-factor',
    summary: 'Turn two-factor off',
    description: 'With the password and a code (or a recovery code): the secret and the recovery codes go; a notice email.',
    auth: 'session',
    body: { json: 'ReauthBody' },
    success: { status: 204, description: 'Two-factor is off.' },
    problems: ['wrong_password', 'otp_required', 'invalid_code', 'rate_limited'],
  },
  {
    method: 'post',
    path: '/v1/me/2fa/recovery-codes',
    operationId: 'regenerateRecoveryCodes',
    tag: 'Two-factor',
    summary: 'New recovery codes',
    description: 'With the password and a code: 10 new recovery codes (shown once); the old ones die.',
    auth: 'session',
    body: { json: 'ReauthBody' },
    success: { status: 200, description: 'The new recovery codes.', json: 'RecoveryCodes' },
    problems: ['wrong_password', 'otp_required', 'invalid_code', 'no_enrolment', 'rate_limited'],
  },
];
