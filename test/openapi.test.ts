// The OpenAPI document: committed as built, served as committed, covering every route the daemon
// has, clean for a third-party linter, and strict enough that the API tests' answers are held to it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import test from 'ava';
import pino from 'pino';
import { createApp } from '../server/app.js';
import { OPENAPI_FILE, serializeOpenApiDocument } from '../server/reference/document.js';
import { startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api, checkAgainstDocument } from './helpers/http.js';

const run = promisify(execFile);
const committed = () => readFileSync(OPENAPI_FILE, 'utf8');
const document = JSON.parse(committed()) as { paths: Record<string, Record<string, unknown>> };

let td: TestDaemon;
test.before(async () => {
  td = await startTestDaemon();
});
test.after.always(async () => td?.close());

test('the committed server/openapi.json is what the schemas build (npm run openapi rebuilds it)', (t) => {
  t.is(committed(), serializeOpenApiDocument(), 'server/openapi.json differs from a fresh build: run `npm run openapi` and commit the result');
});

test('every route the daemon serves is documented, and every documented operation is served', (t) => {
  const app = createApp({} as never, pino({ level: 'silent' }));
  const routes = app.middleware.map((middleware) => (middleware as { router?: { stack: { path: string; methods: string[] }[] } }).router).find(Boolean);
  if (!routes) return t.fail('no router in the app');
  const served = routes.stack
    .flatMap((layer) => layer.methods.filter((method) => method !== 'HEAD').map((method) => `${method} ${layer.path.replace(/:(\w+)/g, '{$1}')}`))
    .sort();
  const documented = Object.entries(document.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
  t.deepEqual(documented, served);
});

test('GET /v1/openapi.json serves the committed document as JSON, with nosniff, its server being this daemon', async (t) => {
  const reply = await api(td.url, 'GET', '/v1/openapi.json');
  t.is(reply.status, 200);
  t.regex(String(reply.headers['content-type']), /^application\/json/);
  t.is(reply.headers['x-content-type-options'], 'nosniff');
  const { servers, ...rest } = reply.json;
  const { servers: committedServers, ...committedRest } = JSON.parse(committed());
  t.deepEqual(rest, committedRest);
  t.deepEqual(servers, [{ url: td.url, description: 'This daemon (PUBLIC_URL).' }]);
  t.is(committedServers[0].url, 'http://127.0.0.1:4000');
  t.is(reply.json.openapi, '3.1.0');
});

test('the served document names PUBLIC_URL as its server, as a generated client needs', async (t) => {
  const behindProxy = await startTestDaemon({ env: { PUBLIC_URL: 'https://accounts.example.org' } });
  t.teardown(() => behindProxy.close());
  const reply = await api(behindProxy.url, 'GET', '/v1/openapi.json');
  t.deepEqual(reply.json.servers, [{ url: 'https://accounts.example.org', description: 'This daemon (PUBLIC_URL).' }]);
});

test('answers outside the operations are documented too: an unknown path, another method, OPTIONS, HEAD', async (t) => {
  // api() checks each against the document's x-other-requests (or the GET for HEAD), as for every test.
  t.is((await api(td.url, 'GET', '/v1/nothing-here')).status, 404);
  t.is((await api(td.url, 'PROPFIND', '/v1/nothing-here')).status, 404);
  t.is((await api(td.url, 'PUT', '/v1/openapi.json')).status, 405);
  const options = await api(td.url, 'OPTIONS', '/v1/me');
  t.is(options.status, 200);
  t.regex(String(options.headers.allow), /PATCH/);
  t.is((await api(td.url, 'HEAD', '/v1/openapi.json')).status, 200);
});

test('redocly lint finds no error in the document', async (t) => {
  // Redocly prints a Node 20 deprecation banner on stderr; the JSON report on stdout is what counts.
  const { stdout } = await run('node_modules/.bin/redocly', ['lint', OPENAPI_FILE, '--format=json'], {
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 90_000,
  }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
  const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[] };
  for (const problem of report.problems) t.log(`${problem.severity} ${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer}`);
  t.is(report.totals.errors, 0, report.problems.filter((problem) => problem.severity === 'error').map((problem) => `${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer}`).join('\n'));
});

// ---- the checker every API test goes through ----------------------------------------------------

const user = { id: '0b7e6a8e-3f4e-4c1a-9d1e-2f3a4b5c6d7e', username: 'ada', email: 'ada@example.com', emailVerified: true, pendingEmail: null, twoFactorEnabled: false, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' };
const answer = (status: number, contentType: string | undefined, body?: unknown, headers: Record<string, string> = {}) => {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  return { status, headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers }, text, json: typeof body === 'object' ? body : undefined };
};
const problem = (status: number, code: string, extra: object = {}) => ({ type: `/problems/${code}`, title: 'A title', status, detail: 'What happened.', code, ...extra });

test('the checker takes documented answers, pages and problems alike', (t) => {
  t.notThrows(() => checkAgainstDocument('GET', '/v1/me', answer(200, 'application/json; charset=utf-8', { user, credential: { type: 'session' } })));
  t.notThrows(() => checkAgainstDocument('DELETE', '/v1/sessions/current', answer(204, undefined)));
  t.notThrows(() => checkAgainstDocument('GET', '/v1/verify', answer(400, 'text/html; charset=utf-8', '<!doctype html>')));
  t.notThrows(() => checkAgainstDocument('HEAD', '/v1/verify', answer(200, 'text/html; charset=utf-8')));
  t.notThrows(() => checkAgainstDocument('POST', '/v1/sessions', answer(429, 'application/problem+json', problem(429, 'rate_limited'), { 'retry-after': '60' })));
  t.notThrows(() => checkAgainstDocument('GET', '/v1/nothing-here', answer(404, 'application/problem+json', problem(404, 'not_found'))));
  t.notThrows(() => checkAgainstDocument('PUT', '/v1/me', answer(405, 'application/problem+json', problem(405, 'method_not_allowed'), { allow: 'HEAD, GET, DELETE, PATCH' })));
  t.notThrows(() => checkAgainstDocument('DELETE', '/v1/sessions/current', answer(401, 'application/problem+json', problem(401, 'unauthenticated'), { 'www-authenticate': 'Bearer' })));
});

test('the checker refuses an undocumented field, status, content type, code or header, naming the operation', (t) => {
  const extraField = t.throws(() => checkAgainstDocument('GET', '/v1/me', answer(200, 'application/json', { user: { ...user, passwordHash: '$2b$' }, credential: { type: 'session' } })));
  t.regex(extraField.message, /getMe \(GET \/v1\/me\) answered 200/);
  t.regex(extraField.message, /must NOT have additional properties/);
  t.regex(extraField.message, /passwordHash/);

  const status = t.throws(() => checkAgainstDocument('GET', '/v1/me', answer(418, 'application/problem+json', problem(418, 'internal_error'))));
  t.regex(status.message, /getMe \(GET \/v1\/me\) answered 418.*status 418 is not documented/);

  const type = t.throws(() => checkAgainstDocument('GET', '/v1/me', answer(200, 'text/plain', 'hello')));
  t.regex(type.message, /content type text\/plain is not documented/);

  const code = t.throws(() => checkAgainstDocument('POST', '/v1/users', answer(409, 'application/problem+json', problem(409, 'wrong_password'))));
  t.regex(code.message, /register \(POST \/v1\/users\) answered 409/);

  const noRetryAfter = t.throws(() => checkAgainstDocument('POST', '/v1/sessions', answer(429, 'application/problem+json', problem(429, 'rate_limited'))));
  t.regex(noRetryAfter.message, /required header Retry-After is missing/);

  const noAllow = t.throws(() => checkAgainstDocument('PUT', '/v1/me', answer(405, 'application/problem+json', problem(405, 'method_not_allowed'))));
  t.regex(noAllow.message, /a method \/v1\/me does not take \(PUT\).*required header Allow is missing/);

  const body = t.throws(() => checkAgainstDocument('DELETE', '/v1/sessions/current', answer(204, 'application/json', { revoked: 1 })));
  t.regex(body.message, /logout .* no body/);

  t.throws(() => checkAgainstDocument('GET', '/v1/nothing-here', answer(200, 'application/json', {})), { message: /an unknown path .* status 200 is not documented/ });
});
