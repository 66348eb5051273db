// The OpenAPI operations of the account's security events; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {};

export const operations: OperationSpec[] = [
  {
    method: 'get',
    path: '/v1/me/events',
    operationId: 'listEvents',
    tag: 'Profile',
    summary: 'The account\'s security events',
    description: 'Logins, failed logins, logouts, password and email changes, revoked sessions: the last 90 days, newest first.',
    auth: 'account:read',
    success: { status: 200, description: 'The events.', json: 'EventList' },
    problems: [],
  },
];
