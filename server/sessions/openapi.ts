// The OpenAPI operations of the account's sessions; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {
  Sessions: 'Logging in, the account\'s sessions, logging out.',
};

export const operations: OperationSpec[] = [
  {
    method: 'get',
    path: '/v1/sessions',
    operationId: 'listSessions',
    tag: 'Sessions',
    summary: 'List the account\'s sessions',
    description: 'The live sessions of the account, newest first; the calling one is marked `current`.',
    auth: 'account:read',
    success: { status: 200, description: 'The sessions.', json: 'SessionList' },
    problems: [],
  },
  {
    method: 'delete',
    path: '/v1/sessions',
    operationId: 'revokeSessions',
    tag: 'Sessions',
    summary: 'End the other sessions, or all of them',
    description: '`scope=others` ends every session of the account but the calling one; `scope=all` ends the calling one too.',
    auth: 'session',
    parameters: [{ name: 'scope', in: 'query', description: 'Which sessions end.', required: true, schema: { type: 'string', enum: ['others', 'all'] } }],
    success: { status: 200, description: 'How many sessions ended.', json: 'RevokedSessions' },
    problems: ['invalid_input'],
  },
  {
    method: 'delete',
    path: '/v1/sessions/current',
    operationId: 'logout',
    tag: 'Sessions',
    summary: 'Log out',
    description: 'Ends the calling session: its token never works again, on any daemon.',
    auth: 'any',
    success: { status: 204, description: 'The session ended.' },
    problems: [],
  },
  {
    method: 'delete',
    path: '/v1/sessions/{id}',
    operationId: 'revokeSession',
    tag: 'Sessions',
    summary: 'End one session',
    description: 'Ends one session of the account by its public id. Another account\'s id is as unknown as a made-up one.',
    auth: 'account:write',
    parameters: [{ name: 'id', in: 'path', description: 'The session\'s public id, from `GET /v1/sessions` (never its token).', required: true, schema: { type: 'string' } }],
    success: { status: 204, description: 'The session ended.' },
    problems: ['not_found'],
  },
];
