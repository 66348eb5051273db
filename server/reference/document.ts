// The OpenAPI 3.1 document of the HTTP API, built from every capability's operations
// (server/capabilities.ts) and the zod schemas they name (the request schemas the daemon validates
// with, and the response schemas beside them, in each capability's schemas.ts), with each
// operation's problem codes grouped by the status the catalogue (server/core/errors.ts) gives them.
// The daemon serves the committed openapi.json beside this file; `npm run openapi` (this file,
// --write) rebuilds it, and test/openapi.test.ts fails when the committed file differs from a fresh build.
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { CAPABILITIES } from '../capabilities.js';
import { requestDocs, responseDocs, type OperationSpec } from '../core/api-docs.js';
import { PROBLEM_TYPES } from '../core/errors.js';
import { ACCESS_TOKEN_PREFIX, SCOPES, SCOPE_MEANINGS } from '../contract/access-tokens.js';
import { ERROR_CODES, SESSION_TOKEN_PREFIX, type ErrorCode } from '../contract/api.js';
import { packageVersion } from '../core/version.js';

export const OPENAPI_FILE = fileURLToPath(new URL('./openapi.json', import.meta.url));

type Json = { [key: string]: unknown };

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json) => ({ 'application/json': { schema } });
const html = { 'text/html': { schema: { type: 'string', description: 'A small self-contained page (nothing loaded from elsewhere; a strict Content-Security-Policy; no script, but for the daemon\'s own passkey script on the sign-in and account pages).' } } };



/** The problems any request of the operation's kind may get. */
function commonProblems(spec: OperationSpec): ErrorCode[] {
  return [
    ...(spec.body?.json && !spec.oauthErrors ? (['invalid_input', 'malformed_json'] as const) : []),
    ...(spec.body && !spec.oauthErrors ? (['payload_too_large', 'unsupported_media_type'] as const) : []),
    // A credential of an account the operator disabled is refused (403 account_disabled).
    ...(spec.auth ? (['unauthenticated', 'address_not_allowed', 'account_disabled'] as const) : []),
    ...(spec.auth === 'session' ? (['session_required'] as const) : []),
    ...(spec.auth && spec.auth !== 'session' && spec.auth !== 'any' ? (['insufficient_scope'] as const) : []),
    'internal_error',
    ...(spec.database === false ? [] : (['service_unavailable'] as const)),
  ];
}

const pascal = (code: string) => code.replace(/(^|_)([a-z])/g, (_, __, letter: string) => letter.toUpperCase());

const HEADERS = {
  RetryAfter: { description: 'Seconds to wait before trying again.', required: true, schema: { type: 'integer', minimum: 1 } },
  RetryAfterOptional: { description: 'Seconds to wait before trying again, when known.', schema: { type: 'integer', minimum: 1 } },
  WwwAuthenticate: { description: '`Bearer` when the token is missing or no longer valid; `Bearer error="insufficient_scope", scope="<the scope needed>"` (RFC 6750) when an access token lacks the scope.', schema: { type: 'string' } },
  Allow: { description: 'The methods the path takes.', required: true, schema: { type: 'string' } },
};

function problemSchema(status: number, codes: ErrorCode[]): Json {
  return {
    allOf: [ref('Problem'), { type: 'object', properties: { status: { const: status }, code: codes.length === 1 ? { const: codes[0] } : { enum: codes } } }],
  };
}

function problemHeaders(codes: ErrorCode[]): Json | undefined {
  const headers: Json = {};
  if (codes.includes('rate_limited') || codes.includes('not_ready')) headers['Retry-After'] = HEADERS.RetryAfter;
  else if (codes.includes('service_unavailable')) headers['Retry-After'] = HEADERS.RetryAfterOptional;
  if (codes.includes('unauthenticated') || codes.includes('insufficient_scope')) headers['WWW-Authenticate'] = HEADERS.WwwAuthenticate;
  if (codes.includes('method_not_allowed')) headers.Allow = HEADERS.Allow;
  return Object.keys(headers).length > 0 ? headers : undefined;
}

const codeList = (codes: ErrorCode[]) => codes.map((code) => `\`${code}\``).join(', ');

/** A response of problems (and maybe a page), by status; a lone code without a page is a shared component. */
function problemResponse(status: number, codes: ErrorCode[], page: string | undefined, components: Json): Json {
  const only = codes.length === 1 ? codes[0] : undefined;
  const response = (description: string) => ({
    description,
    ...(problemHeaders(codes) ? { headers: problemHeaders(codes) } : {}),
    content: { 'application/problem+json': { schema: problemSchema(status, codes) }, ...(page ? html : {}) },
  });
  if (only && !page) {
    const name = pascal(only);
    components[name] ??= response(`${PROBLEM_TYPES[only].title}: ${codeList(codes)} (see \`/problems/${only}\`).`);
    return { $ref: `#/components/responses/${name}` };
  }
  const titles = codes.map((code) => `\`${code}\` (${PROBLEM_TYPES[code].title})`).join(', ');
  return response(`Problem: ${titles}; each is described at \`/problems/{code}\`.${page ? ` A browser's request gets a page instead. ${page}` : ''}`);
}

/** Who may call: a session always; an access token with the scope named (OpenAPI 3.1 lists it as the scheme's role), or with any scope. */
function securityOf(spec: OperationSpec): Json[] {
  if (!spec.auth) return [];
  if (spec.auth === 'session') return [{ session: [] }];
  return [{ session: [] }, { accessToken: spec.auth === 'any' ? [] : [spec.auth] }];
}

function operation(spec: OperationSpec, components: Json): Json {
  const responses: Json = {};
  const { success } = spec;
  const successContent = { ...(success.json ? json(ref(success.json)) : {}), ...(success.html ? html : {}), ...(success.javascript ? { 'text/javascript': { schema: { type: 'string' } } } : {}) };
  const location = { Location: { description: 'Where the browser goes next: a path of this site.', required: true, schema: { type: 'string' } } };
  responses[String(success.status)] = {
    description: success.description,
    ...(success.status === 303 ? { headers: location } : {}),
    ...(Object.keys(successContent).length > 0 ? { content: successContent } : {}),
  };
  if (spec.redirect) responses['303'] = { description: spec.redirect, headers: location };

  const byStatus = new Map<number, ErrorCode[]>();
  const listed = new Map<ErrorCode, number>(spec.problems.map((problem) => (Array.isArray(problem) ? problem : [problem, PROBLEM_TYPES[problem].status])));
  for (const code of commonProblems(spec)) if (!listed.has(code)) listed.set(code, PROBLEM_TYPES[code].status);
  for (const [code, status] of listed) {
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const pageStatuses = Object.keys(spec.pages ?? {}).map(Number);
  for (const status of [...new Set([...byStatus.keys(), ...pageStatuses])].sort((a, b) => a - b)) {
    const codes = byStatus.get(status);
    const page = spec.pages?.[status];
    responses[String(status)] = codes ? problemResponse(status, codes, page, components) : { description: `A page: ${page}`, content: html };
  }

  for (const oauth of spec.oauthErrors ?? []) {
    responses[String(oauth.status)] = {
      description: oauth.description,
      ...(oauth.retryAfter ? { headers: { 'Retry-After': HEADERS.RetryAfter } } : {}),
      content: json({ allOf: [ref('DeviceError'), { type: 'object', properties: { error: { enum: oauth.codes } } }] }),
    };
  }

  const body = spec.body && {
    required: true,
    content: {
      ...(spec.body.json ? json(ref(spec.body.json)) : {}),
      ...(spec.body.form ? { 'application/x-www-form-urlencoded': { schema: ref(spec.body.form) } } : {}),
    },
  };
  return {
    tags: [spec.tag],
    summary: spec.summary,
    description: spec.description,
    operationId: spec.operationId,
    security: securityOf(spec),
    ...(spec.parameters ? { parameters: spec.parameters } : {}),
    ...(body ? { requestBody: body } : {}),
    responses,
    ...(spec.oauthErrors ? { 'x-oauth-errors': true } : {}),
  };
}

/** The registered schemas as components: zod's ids become `#/components/schemas/<id>` references. */
function componentSchemas(): Record<string, Json> {
  const convert = (registry: typeof requestDocs, io: 'input' | 'output') =>
    z.toJSONSchema(registry, { target: 'draft-2020-12', io, metadata: registry, uri: (id) => `#/components/schemas/${id}` }).schemas;
  const schemas: Record<string, Json> = {};
  for (const [name, schema] of Object.entries({ ...convert(requestDocs, 'input'), ...convert(responseDocs, 'output') })) {
    const { $schema: _dialect, $id: _id, ...rest } = schema as Json;
    schemas[name] = rest;
  }
  // Each problem code with its status and meaning, from the catalogue the daemon answers with.
  const errorCode = schemas.ErrorCode!;
  errorCode.description = `${String(errorCode.description)}\n\n${ERROR_CODES.map((code) => `- \`${code}\` (${PROBLEM_TYPES[code].status}, ${PROBLEM_TYPES[code].title}): ${PROBLEM_TYPES[code].description}`).join('\n')}`;
  return schemas;
}

const DESCRIPTION = `The HTTP API of \`taskmasterd\`, the TaskMaster accounts daemon.

- JSON in and out. Refusals are RFC 9457 \`application/problem+json\` with a stable \`code\`; each code is described at \`/problems/{code}\` (listed under \`ErrorCode\`).
- Authenticated calls send \`Authorization: Bearer <token>\` with a session token (\`${SESSION_TOKEN_PREFIX}…\`) from \`POST /v1/sessions\`, or an access token (\`${ACCESS_TOKEN_PREFIX}…\`) from \`POST /v1/tokens\` within its scopes. A token is accepted only in that header, never in a URL.
- Every GET also answers HEAD, with the same status and headers and no body.
- Any other path answers 404 \`not_found\`; another method on a listed path answers 405 \`method_not_allowed\` with \`Allow\` listing the path's methods (see \`x-other-requests\`).
- Request bodies are at most 1 MiB, \`application/json\` (a JSON object; the pages' forms post \`application/x-www-form-urlencoded\`); a field of the wrong type says which type it must be.
- Answers are never cached (\`Cache-Control: no-store\`, this document aside) and carry \`X-Content-Type-Options: nosniff\`.
- The pages (the emailed links, \`/problems/{code}\`, and the web pages under the tag Web pages) are small self-contained HTML: a strict Content-Security-Policy, no framing; no referrer, but \`same-origin\` on the web pages, whose forms must carry their Origin and a CSRF token.`;

export function buildOpenApiDocument(): Json {
  const responses: Json = {};
  const paths: Record<string, Json> = {};
  const tags = Object.assign({}, ...CAPABILITIES.map((capability) => capability.tags)) as Record<string, string>;
  for (const spec of CAPABILITIES.flatMap((capability) => capability.operations)) {
    if (!Object.hasOwn(tags, spec.tag)) throw new Error(`${spec.operationId}: no capability declares the tag ${spec.tag}`);
    paths[spec.path] ??= {};
    paths[spec.path]![spec.method] = operation(spec, responses);
  }
  // What any other request gets, written out in `x-other-requests` (a tool resolves no reference from an extension).
  const outside: Json = {};
  problemResponse(404, ['not_found'], undefined, outside);
  problemResponse(405, ['method_not_allowed'], undefined, outside);

  return {
    openapi: '3.1.0',
    info: {
      title: 'TaskMaster accounts API',
      version: packageVersion(),
      description: DESCRIPTION,
      license: { name: 'MIT', identifier: 'MIT' },
    },
    // The daemon that serves the document puts its PUBLIC_URL here (server/reference/routes.ts).
    servers: [{ url: 'http://127.0.0.1:4000', description: 'The default daemon; a served copy names that daemon\'s PUBLIC_URL.' }],
    tags: Object.entries(tags).map(([name, description]) => ({ name, description })),
    paths,
    'x-other-requests': {
      description: 'What the daemon answers outside the operations above, as responses by status: a path not listed, a method a listed path does not take, and OPTIONS on a listed path.',
      unknownPath: { 404: outside.NotFound },
      otherMethod: { 405: outside.MethodNotAllowed },
      options: { 200: { description: 'OPTIONS on a listed path: no body; `Allow` lists the path\'s methods.', headers: { Allow: HEADERS.Allow } } },
    },
    components: {
      schemas: componentSchemas(),
      responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => (a < b ? -1 : 1))),
      securitySchemes: {
        session: {
          type: 'http',
          scheme: 'bearer',
          description: `A session token (\`${SESSION_TOKEN_PREFIX}\` and 43 URL-safe characters) from \`POST /v1/sessions\`, valid 30 days unless revoked. A session may do everything its account may. Only in the Authorization header, never in a URL.`,
        },
        accessToken: {
          type: 'http',
          scheme: 'bearer',
          description: `An access token for scripts and CI (\`${ACCESS_TOKEN_PREFIX}\`, 30 random characters and a 6-character CRC-32 checksum) from \`POST /v1/tokens\`. It may call the operations that list its scope (${SCOPES.map((scope) => `\`${scope}\`: ${SCOPE_MEANINGS[scope]}`).join('; ')}), from its \`allowedCidrs\` only, until it expires or is revoked; anything else answers 403 \`insufficient_scope\` (with \`WWW-Authenticate\` naming the scope), \`address_not_allowed\` or \`session_required\`.`,
        },
      },
    },
  };
}

/** The document as committed: two-space JSON and a final newline. */
export function serializeOpenApiDocument(document: Json = buildOpenApiDocument()): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

// `node --import tsx server/reference/document.ts --write` (npm run openapi) rebuilds openapi.json; without --write it prints it.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = serializeOpenApiDocument();
  if (process.argv.includes('--write')) {
    writeFileSync(OPENAPI_FILE, text);
    process.stderr.write(`wrote ${OPENAPI_FILE}\n`);
  } else process.stdout.write(text);
}
