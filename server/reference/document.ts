// The OpenAPI 3.1 document of the HTTP API, built from the zod schemas the daemon validates with
// (server/schemas.ts) and the response schemas beside them (server/api-schemas.ts), with each
// operation's problem codes grouped by the status the catalogue (server/errors.ts) gives them.
// The daemon serves the committed server/openapi.json; `npm run openapi` (this file, --write)
// rebuilds it, and test/openapi.test.ts fails when the committed file differs from a fresh build.
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { requestDocs, responseDocs } from './schemas.js';
import { PROBLEM_TYPES } from '../core/errors.js';
import { ERROR_CODES, SESSION_TOKEN_PREFIX, type ErrorCode } from '../contract/api.js';
import { packageVersion } from '../core/version.js';

export const OPENAPI_FILE = fileURLToPath(new URL('./openapi.json', import.meta.url));

type Json = { [key: string]: unknown };
type Method = 'get' | 'post' | 'patch' | 'delete';
type Tag = 'Health' | 'Accounts' | 'Verification' | 'Sessions' | 'Profile' | 'Passwords' | 'Reference';

const TAGS: Record<Tag, string> = {
  Health: 'Whether the daemon can serve.',
  Accounts: 'Creating an account.',
  Verification: 'The emailed verification and email-change tokens, as JSON or through the link\'s page.',
  Sessions: 'Logging in, the account\'s sessions, logging out.',
  Profile: 'The logged-in account: reading, changing, its activity, deleting it.',
  Passwords: 'Forgotten passwords (an emailed reset token) and changing the password while logged in.',
  Reference: 'This document and the problem types.',
};

interface Parameter {
  name: string;
  in: 'query' | 'path';
  description: string;
  required: boolean;
  schema: Json;
}

interface OperationSpec {
  method: Method;
  path: string;
  operationId: string;
  tag: Tag;
  summary: string;
  description: string;
  /** Needs `Authorization: Bearer <token>`. */
  auth?: true;
  parameters?: Parameter[];
  /** Component names of the body: JSON, and the page's form where a browser posts one. */
  body?: { json: string; form?: string };
  success: { status: number; description: string; json?: string; html?: true };
  /** The problems this operation answers beside those every request of its kind may get (see `commonProblems`). */
  problems: ErrorCode[];
  /** HTML pages answering a failure of a browser's request (page GETs and form posts), by status. */
  pages?: Record<number, string>;
  /** False when the operation never reads the database (so never answers 503). */
  database?: false;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json) => ({ 'application/json': { schema } });
const html = { 'text/html': { schema: { type: 'string', description: 'A small self-contained page (no script, nothing loaded from elsewhere; a strict Content-Security-Policy).' } } };

const tokenQuery = (what: string): Parameter => ({
  name: 'token',
  in: 'query',
  description: `The ${what} token from the email's link (an emailed token, not a session token: those never go in a URL).`,
  required: true,
  schema: { type: 'string' },
});

const OPERATIONS: OperationSpec[] = [
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
    method: 'post',
    path: '/v1/users',
    operationId: 'register',
    tag: 'Accounts',
    summary: 'Register an account',
    description: 'Creates the account and sends a verification email carrying the link `PUBLIC_URL/v1/verify?token=T` and the token `T` on a line of its own. The account can log in once its email is verified.',
    body: { json: 'RegisterBody' },
    success: { status: 201, description: 'The account was created; a verification email is on its way.', json: 'UserResponse' },
    problems: ['username_taken', 'email_taken', 'rate_limited'],
  },
  {
    method: 'get',
    path: '/v1/verify',
    operationId: 'getVerifyPage',
    tag: 'Verification',
    summary: 'The emailed link: a Confirm page',
    description: 'The link from a verification or email-change email. It answers a page whose Confirm button posts the token (`POST /v1/verify` with the form); opening the link, with GET or HEAD, changes nothing, so mail scanners that fetch links activate nothing.',
    parameters: [tokenQuery('verification')],
    success: { status: 200, description: 'A page with a Confirm button (a form posting the token).', html: true },
    problems: [],
    pages: { 400: 'A page saying the token is unknown, used or expired, with nothing to press.' },
  },
  {
    method: 'post',
    path: '/v1/verify',
    operationId: 'verifyEmail',
    tag: 'Verification',
    summary: 'Use an emailed verification token',
    description: 'Activates the account, or confirms a new email address, with the emailed token. With the Confirm page\'s form (`application/x-www-form-urlencoded`) every answer is a page; with JSON, JSON.',
    body: { json: 'VerifyBody', form: 'VerifyBody' },
    success: { status: 200, description: 'The token was used (or had been already): the account, and what the token did. The form gets a page ("Account activated", "Email confirmed" or "Account already active").', json: 'VerifyResponse', html: true },
    problems: ['invalid_token', 'expired_token', 'email_taken', 'rate_limited'],
    pages: { 400: 'The form\'s token is unknown, used or expired.', 409: 'The new email was taken by another account meanwhile.', 429: 'Too many unknown tokens from this address: how long to wait.' },
  },
  {
    method: 'post',
    path: '/v1/verify/resend',
    operationId: 'resendVerification',
    tag: 'Verification',
    summary: 'Ask for a new verification email',
    description: 'Sends a new verification email when an unverified account has this address; the new token replaces the old one. The answer is the same whatever the address.',
    body: { json: 'ResendBody' },
    success: { status: 202, description: 'Accepted, whatever the email.', json: 'Accepted' },
    problems: ['rate_limited'],
  },
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
  {
    method: 'get',
    path: '/v1/sessions',
    operationId: 'listSessions',
    tag: 'Sessions',
    summary: 'List the account\'s sessions',
    description: 'The live sessions of the account, newest first; the calling one is marked `current`.',
    auth: true,
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
    auth: true,
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
    auth: true,
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
    auth: true,
    parameters: [{ name: 'id', in: 'path', description: 'The session\'s public id, from `GET /v1/sessions` (never its token).', required: true, schema: { type: 'string' } }],
    success: { status: 204, description: 'The session ended.' },
    problems: ['not_found'],
  },
  {
    method: 'get',
    path: '/v1/me',
    operationId: 'getMe',
    tag: 'Profile',
    summary: 'The logged-in account',
    description: 'The account of the calling session.',
    auth: true,
    success: { status: 200, description: 'The account.', json: 'UserResponse' },
    problems: [],
  },
  {
    method: 'patch',
    path: '/v1/me',
    operationId: 'updateMe',
    tag: 'Profile',
    summary: 'Change the username or email',
    description: 'A new username applies at once. A new email needs `currentPassword`; it shows as `pendingEmail` until the link sent to it is used, the old address is told, and the account\'s other sessions end.',
    auth: true,
    body: { json: 'UpdateProfileBody' },
    success: { status: 200, description: 'The account after the change.', json: 'UserResponse' },
    problems: ['wrong_password', 'username_taken', 'email_taken', 'rate_limited'],
  },
  {
    method: 'delete',
    path: '/v1/me',
    operationId: 'deleteMe',
    tag: 'Profile',
    summary: 'Delete the account',
    description: 'Deletes the account with its sessions, tokens and activity, after the current password; the username and email are free again, and a goodbye email goes out. A wrong password counts as a failed login.',
    auth: true,
    body: { json: 'DeleteAccountBody' },
    success: { status: 204, description: 'The account is gone.' },
    problems: ['wrong_password', 'rate_limited'],
  },
  {
    method: 'get',
    path: '/v1/me/events',
    operationId: 'listEvents',
    tag: 'Profile',
    summary: 'The account\'s security events',
    description: 'Logins, failed logins, logouts, password and email changes, revoked sessions: the last 90 days, newest first.',
    auth: true,
    success: { status: 200, description: 'The events.', json: 'EventList' },
    problems: [],
  },
  {
    method: 'post',
    path: '/v1/me/password',
    operationId: 'changePassword',
    tag: 'Passwords',
    summary: 'Change the password',
    description: 'Sets a new password after the current one. Every other session ends (the calling one stays), pending reset tokens die, and a notice email goes out. A wrong current password counts as a failed login.',
    auth: true,
    body: { json: 'ChangePasswordBody' },
    success: { status: 200, description: 'The account, and how many other sessions ended.', json: 'PasswordChangeResponse' },
    problems: ['wrong_password', 'rate_limited'],
  },
  {
    method: 'post',
    path: '/v1/password/forgot',
    operationId: 'forgotPassword',
    tag: 'Passwords',
    summary: 'Ask for a password reset email',
    description: 'Sends a reset email (link `PUBLIC_URL/v1/password/reset?token=T` and the token on a line of its own, valid 30 minutes, once) when an account has this address. The answer, and its time, are the same whatever the address; the limits are keyed on the client address and the email only.',
    body: { json: 'ForgotPasswordBody' },
    success: { status: 202, description: 'Accepted, whatever the email.', json: 'Accepted' },
    problems: ['rate_limited'],
  },
  {
    method: 'get',
    path: '/v1/password/reset',
    operationId: 'getResetPage',
    tag: 'Passwords',
    summary: 'The emailed reset link: a form',
    description: 'The link from a reset email: a form for the new password, typed twice. Opening it (GET or HEAD) changes nothing. With `Accept: application/json` it answers whose account the token is for.',
    parameters: [tokenQuery('reset')],
    success: { status: 200, description: 'The form (HTML), or with `Accept: application/json` whose account the token is for.', json: 'ResetTokenInfo', html: true },
    problems: ['invalid_token'],
    pages: { 400: 'A page saying the link is unknown, used or expired, and how to ask for a new one.' },
  },
  {
    method: 'post',
    path: '/v1/password/reset',
    operationId: 'resetPassword',
    tag: 'Passwords',
    summary: 'Set a new password with an emailed token',
    description: 'Sets the new password, ends every session of the account, counts the email as verified and sends a notice; no session is created. With the reset page\'s form every answer is a page.',
    body: { json: 'ResetPasswordBody', form: 'ResetPasswordForm' },
    success: { status: 200, description: 'The account with its new password (the form gets a page).', json: 'UserResponse', html: true },
    problems: ['invalid_token', 'rate_limited'],
    pages: { 400: 'The form again with what is wrong (the passwords differ, or the new one is weak), or a page saying the link does not work.', 429: 'Too many tokens that did not work from this address: how long to wait.' },
  },
  {
    method: 'get',
    path: '/problems/{code}',
    operationId: 'getProblemType',
    tag: 'Reference',
    summary: 'What a problem code means',
    description: 'Every problem\'s `type` is this URI. A short page for a person, or with `Accept: application/json` the problem type as JSON.',
    parameters: [{ name: 'code', in: 'path', description: 'A problem code.', required: true, schema: ref('ErrorCode') }],
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

/** The problems any request of the operation's kind may get. */
function commonProblems(spec: OperationSpec): ErrorCode[] {
  return [
    ...(spec.body ? (['invalid_input', 'malformed_json', 'payload_too_large', 'unsupported_media_type'] as const) : []),
    ...(spec.auth ? (['unauthenticated'] as const) : []),
    'internal_error',
    ...(spec.database === false ? [] : (['service_unavailable'] as const)),
  ];
}

const pascal = (code: string) => code.replace(/(^|_)([a-z])/g, (_, __, letter: string) => letter.toUpperCase());

const HEADERS = {
  RetryAfter: { description: 'Seconds to wait before trying again.', required: true, schema: { type: 'integer', minimum: 1 } },
  RetryAfterOptional: { description: 'Seconds to wait before trying again, when known.', schema: { type: 'integer', minimum: 1 } },
  WwwAuthenticate: { description: '`Bearer` when the session token is missing or no longer valid.', schema: { type: 'string' } },
  Allow: { description: 'The methods the path takes.', required: true, schema: { type: 'string' } },
};

function problemSchema(status: number, codes: ErrorCode[]): Json {
  return {
    allOf: [ref('Problem'), { type: 'object', properties: { status: { const: status }, code: codes.length === 1 ? { const: codes[0] } : { enum: codes } } }],
  };
}

function problemHeaders(codes: ErrorCode[]): Json | undefined {
  const headers: Json = {};
  if (codes.includes('rate_limited')) headers['Retry-After'] = HEADERS.RetryAfter;
  else if (codes.includes('service_unavailable')) headers['Retry-After'] = HEADERS.RetryAfterOptional;
  if (codes.includes('unauthenticated')) headers['WWW-Authenticate'] = HEADERS.WwwAuthenticate;
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

function operation(spec: OperationSpec, components: Json): Json {
  const responses: Json = {};
  const { success } = spec;
  const successContent = { ...(success.json ? json(ref(success.json)) : {}), ...(success.html ? html : {}) };
  responses[String(success.status)] = { description: success.description, ...(Object.keys(successContent).length > 0 ? { content: successContent } : {}) };

  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set([...spec.problems, ...commonProblems(spec)])) {
    const { status } = PROBLEM_TYPES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const pageStatuses = Object.keys(spec.pages ?? {}).map(Number);
  for (const status of [...new Set([...byStatus.keys(), ...pageStatuses])].sort((a, b) => a - b)) {
    const codes = byStatus.get(status);
    const page = spec.pages?.[status];
    responses[String(status)] = codes ? problemResponse(status, codes, page, components) : { description: `A page: ${page}`, content: html };
  }

  const body = spec.body && {
    required: true,
    content: {
      ...json(ref(spec.body.json)),
      ...(spec.body.form ? { 'application/x-www-form-urlencoded': { schema: ref(spec.body.form) } } : {}),
    },
  };
  return {
    tags: [spec.tag],
    summary: spec.summary,
    description: spec.description,
    operationId: spec.operationId,
    security: spec.auth ? [{ bearerAuth: [] }] : [],
    ...(spec.parameters ? { parameters: spec.parameters } : {}),
    ...(body ? { requestBody: body } : {}),
    responses,
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
- Authenticated calls send \`Authorization: Bearer <token>\` with a session token (\`${SESSION_TOKEN_PREFIX}…\`) from \`POST /v1/sessions\`. A session token is accepted only in that header, never in a URL.
- Every GET also answers HEAD, with the same status and headers and no body.
- Any other path answers 404 \`not_found\`; another method on a listed path answers 405 \`method_not_allowed\` with \`Allow\` listing the path's methods (see \`x-other-requests\`).
- Request bodies are at most 1 MiB, \`application/json\` (a JSON object; the two pages' forms post \`application/x-www-form-urlencoded\`); a field of the wrong type says which type it must be.
- Answers are never cached (\`Cache-Control: no-store\`, this document aside) and carry \`X-Content-Type-Options: nosniff\`.
- The pages (the emailed links and \`/problems/{code}\`) are small self-contained HTML: a strict Content-Security-Policy, no framing, no referrer.`;

export function buildOpenApiDocument(): Json {
  const responses: Json = {};
  const paths: Record<string, Json> = {};
  for (const spec of OPERATIONS) {
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
    // Relative: whichever daemon serves this document (http://127.0.0.1:4000 by default).
    servers: [{ url: '/', description: 'The daemon that serves this document.' }],
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
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
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: `A session token (\`${SESSION_TOKEN_PREFIX}\` and 43 URL-safe characters) from \`POST /v1/sessions\`, valid 30 days unless revoked. Only in the Authorization header, never in a URL.`,
        },
      },
    },
  };
}

/** The document as committed: two-space JSON and a final newline. */
export function serializeOpenApiDocument(document: Json = buildOpenApiDocument()): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

// `node --import tsx server/openapi.ts --write` (npm run openapi) rebuilds server/openapi.json; without --write it prints it.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = serializeOpenApiDocument();
  if (process.argv.includes('--write')) {
    writeFileSync(OPENAPI_FILE, text);
    process.stderr.write(`wrote ${OPENAPI_FILE}\n`);
  } else process.stdout.write(text);
}
