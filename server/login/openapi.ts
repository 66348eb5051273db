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
    description: 'Creates a session (valid 30 days) for a verified account. An unknown email and a wrong password get the same answer. Failed logins are throttled per account and address, and per account from all addresses; a valid `deviceToken` is not held by the account-wide block other addresses caused.',
    body: { json: 'LoginBody' },
    success: { status: 201, description: 'A new session.', json: 'SessionResponse' },
    problems: ['invalid_credentials', 'email_not_verified', 'rate_limited'],
  },
];
