// The OpenAPI operations of this document and the problem types; server/reference/document.ts builds the document from every capability's.
import type { OperationSpec } from '../core/api-docs.js';
import './schemas.js'; // registers the components its operations name

export const tags: Record<string, string> = {
  Reference: 'This document and the problem types.',
};

export const operations: OperationSpec[] = [
  {
    method: 'get',
    path: '/problems/{code}',
    operationId: 'getProblemType',
    tag: 'Reference',
    summary: 'What a problem code means',
    description: 'Every problem\'s `type` is this URI. A short page for a person, or with `Accept: application/json` the problem type as JSON.',
    parameters: [{ name: 'code', in: 'path', description: 'A problem code.', required: true, schema: { $ref: '#/components/schemas/ErrorCode' } }],
    success: { status: 200, description: 'The problem type (HTML, or JSON when asked).', json: 'ProblemType', html: true },
    problems: ['not_found'],
    database: false,
  },
  {
    method: 'get',
    path: '/v1/openapi.json',
    operationId: 'getOpenApiDocument',
    tag: 'Reference',
    summary: 'This document',
    description: 'The OpenAPI 3.1 description of this whole API.',
    success: { status: 200, description: 'The document.', json: 'OpenApiDocument' },
    problems: [],
    database: false,
  },
];
