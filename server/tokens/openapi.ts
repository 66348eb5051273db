// The OpenAPI operations of access tokens; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {
  'Access tokens': 'Tokens for scripts and CI: scoped, expiring, optionally bound to addresses, revocable.',
};

export const operations: OperationSpec[] = [
  {
    method: 'post',
    path: '/v1/tokens',
    operationId: 'createToken',
    tag: 'Access tokens',
    summary: 'Create an access token',
    description: 'A new token with the scopes given, expiring in 1–366 days, optionally usable only from `allowedCidrs`; the password again, however fresh the session. The token is in this answer only (stored as its SHA-256); a notice email goes out, and another 7 days before it expires.',
    auth: 'session',
    body: { json: 'CreateTokenBody' },
    success: { status: 201, description: 'The token, shown this once, and what the list shows of it.', json: 'CreatedAccessToken' },
    problems: ['wrong_password', 'rate_limited', 'otp_required', 'invalid_code'],
  },
  {
    method: 'get',
    path: '/v1/tokens',
    operationId: 'listTokens',
    tag: 'Access tokens',
    summary: 'List the account\'s access tokens',
    description: 'Newest first; expired tokens stay listed for 30 days (their `expiresAt` is past).',
    auth: 'session',
    success: { status: 200, description: 'The tokens.', json: 'AccessTokenList' },
    problems: [],
  },
  {
    method: 'delete',
    path: '/v1/tokens/{id}',
    operationId: 'revokeToken',
    tag: 'Access tokens',
    summary: 'Revoke an access token',
    description: 'The token is refused on its next request, on every daemon. Another account\'s id is as unknown as a made-up one.',
    auth: 'session',
    parameters: [{ name: 'id', in: 'path', description: 'The token\'s public id, from `GET /v1/tokens` (never the token).', required: true, schema: { type: 'string' } }],
    success: { status: 204, description: 'The token was revoked.' },
    problems: ['not_found'],
  },
];
