// The OpenAPI operations of the health check; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {
  Health: 'Whether the daemon is alive (liveness) and ready for traffic (readiness).',
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
  {
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    tag: 'Health',
    summary: 'Readiness check',
    description:
      'For a load balancer: 200 when this daemon should get traffic, that is, once its database answers within 2 seconds and has every migration this build needs, and, on PostgreSQL, while the LISTEN connection that carries cache invalidations from the other daemons is up. Otherwise 503 `not_ready`, with `reasons`. `/healthz` stays the liveness check: a daemon can be alive and not ready (it reconnects by itself).',
    success: { status: 200, description: 'The daemon is ready for traffic.', json: 'Readiness' },
    problems: ['not_ready'],
    database: false,
  },
];
