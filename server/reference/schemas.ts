// The reference's schemas: problem details, problem types and the document itself (zod, for the
// OpenAPI document). The capabilities' own bodies are in their folders' schemas.ts; the CLI's API
// types (server/contract/api.ts) are held equal to them at compile time by test/api-types.test.ts.
import { z } from 'zod';
import { described, named, responseDocs } from '../core/api-docs.js';
import { ERROR_CODES } from '../contract/api.js';

export const errorCodeSchema = named(responseDocs, z.enum(ERROR_CODES), 'ErrorCode', 'A stable problem code; `/problems/{code}` says what it means.');

export const problemSchema = named(
  responseDocs,
  z.strictObject({
    type: described(responseDocs, z.string().regex(/^\/problems\/[a-z_]+$/), 'The problem type, `/problems/{code}`: a page saying what the code means.'),
    title: described(responseDocs, z.string(), 'The title of the problem type, the same every time.'),
    status: z.int().min(400).max(599),
    detail: described(responseDocs, z.string(), 'What happened this time, and the way on.'),
    code: errorCodeSchema,
    errors: described(responseDocs, z.record(z.string(), z.string()).optional(), 'Field name to what is wrong with it (`body` when the body as a whole is at fault).'),
    challenge: described(responseDocs, z.string().optional(), 'With `otp_required` at login: the challenge to finish with at `POST /v1/sessions/otp` (single use, 5 minutes).'),
    reasons: described(responseDocs, z.array(z.string()).optional(), 'With `not_ready` (`GET /readyz`): each reason the daemon should get no traffic now.'),
  }),
  'Problem',
  'RFC 9457 problem details, with a stable `code`.',
);

export const problemTypeSchema = named(
  responseDocs,
  z.strictObject({
    type: z.string().regex(/^\/problems\/[a-z_]+$/),
    title: z.string(),
    status: z.int().min(400).max(599),
    code: errorCodeSchema,
    description: described(responseDocs, z.string(), 'What the problem means and what to do.'),
  }),
  'ProblemType',
  'A problem type, as `/problems/{code}` describes it.',
);

/** The document itself: open by nature (OpenAPI allows `x-` extensions anywhere). */
export const openApiDocumentSchema = named(
  responseDocs,
  z.looseObject({
    openapi: z.string().regex(/^3\.1\.\d+$/),
    info: z.looseObject({ title: z.string(), version: z.string() }),
    paths: z.record(z.string(), z.looseObject({})),
  }),
  'OpenApiDocument',
  'An OpenAPI 3.1 document.',
);
