// The OpenAPI operations of the health check; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {
  Health: 'Whether the daemon can serve.',
};

export const operations: OperationSpec[] = [
  {
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    tag: 'Health',
    summary: 'Health check',
    description: 'Answers 200 when the database answers within 2 seconds, 503 `service_unavailable` otherwise.',
    success: { status: 200, description: 'The daemon and its database answer.', json: 'Health' },
    problems: [],
  },
];
