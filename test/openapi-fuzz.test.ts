// The document against the daemon, Schemathesis-style: request bodies generated with fast-check
// from the request schemas the daemon serves at /v1/openapi.json. What the document allows, the
// daemon accepts (whatever it then decides, never 400 invalid_input, never a 5xx); what it forbids,
// the daemon refuses with 400 invalid_input naming the field. So the document cannot be looser or
// stricter than the daemon without this failing.
import fc from 'fast-check';
import test from 'ava';
import { activeAccount, identity, startTestDaemon, type TestDaemon } from './helpers/daemon.js';
import { api } from './helpers/http.js';

type Schema = {
  $ref?: string;
  type?: string;
  enum?: string[];
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: { required: string[] }[];
  dependentRequired?: Record<string, string[]>;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  description?: string;
};
type Body = Record<string, unknown>;

interface Operation {
  method: string;
  path: string;
  authenticated: boolean;
  schema: Schema;
}

let td: TestDaemon;
let token: string;
let operations: Operation[];

test.before(async () => {
  // Limits raised: thousands of requests from one address are the point here, not the throttle.
  td = await startTestDaemon({
    limits: {
      registrationsPerAddressPerHour: 100_000,
      loginFailuresPerAccountAndAddress: 100_000,
      loginFailuresPerAccountPerHour: 100_000,
      loginFailuresPerAddressPerHour: 100_000,
      verifyFailuresPerAddressPer15Min: 100_000,
      resendsPerAddressPerHour: 100_000,
      forgotsPerAddressPerHour: 100_000,
      resetFailuresPerAddressPer15Min: 100_000,
    },
  });
  token = (await activeAccount(td, identity('fuzz'))).token;
  const document = (await api(td.url, 'GET', '/v1/openapi.json')).json;
  const components = document.components.schemas as Record<string, Schema>;
  const resolve = (schema: Schema): Schema => (schema.$ref ? resolve(components[schema.$ref.split('/').pop()!]!) : schema);
  operations = [];
  for (const [path, methods] of Object.entries(document.paths as Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Schema }> }; security?: unknown[]; 'x-oauth-errors'?: boolean }>>)) {
    for (const [method, operation] of Object.entries(methods)) {
      const json = operation.requestBody?.content['application/json'];
      // The device flow reads its bodies as OAuth does (invalid_client, invalid_request…): test/device.test.ts holds it.
      // The pages' own JSON (the passkey script's ceremonies) needs a page's CSRF token first: test/passkeys*.test.ts hold it.
      if (!json || operation['x-oauth-errors'] || !path.startsWith('/v1/')) continue;
      const schema = resolve(json.schema);
      const properties = Object.fromEntries(
        Object.entries(schema.properties ?? {}).map(([name, property]) => {
          const resolved = resolve(property);
          return [name, resolved.items ? { ...resolved, items: resolve(resolved.items) } : resolved];
        }),
      );
      operations.push({ method: method.toUpperCase(), path, authenticated: (operation.security ?? []).length > 0, schema: { ...schema, properties } });
    }
  }
});
test.after.always(async () => td?.close());

// ---- values a schema allows, and values it forbids -------------------------------------------

const WORDS = ['copper', 'lantern', 'meadow', 'quartz', 'harbor', 'violet', 'thunder', 'saffron', 'glacier', 'orbit', 'juniper', 'falcon'];
/** A new password the document allows: its schema gives the length; the strength its description states. */
const strongPassword = fc.tuple(fc.shuffledSubarray(WORDS, { minLength: 4, maxLength: 5 }), fc.integer({ min: 10, max: 999 })).map(([words, n]) => `${words.join('-')}-${n}`);

/** Code points, as JSON Schema counts them. */
const length = (text: string) => [...text].length;

/** What JSON Schema says of a string value (the subset the document uses). */
function allows(schema: Schema, value: unknown): boolean {
  if (typeof value !== 'string') return false;
  if (schema.minLength !== undefined && length(value) < schema.minLength) return false;
  if (schema.maxLength !== undefined && length(value) > schema.maxLength) return false;
  return schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(value);
}

/** `value` made exactly `target` code points long, keeping its shape where it can: emails grow their local part. */
function resized(value: string, target: number, filler: string): string {
  if (target <= 0) return '';
  const at = value.indexOf('@');
  const chars = [...value];
  if (chars.length >= target) return chars.slice(chars.length - target).join('');
  const padding = filler.repeat(target - chars.length);
  return at > 0 ? padding + value : value + padding;
}

/**
 * Candidate values for a string field: random ones, ones the pattern makes, and the edges (each
 * length limit and one past it, blank and white-space-wrapped values, characters outside the BMP,
 * which UTF-16 counts twice). The document's own rules then sort them into allowed and forbidden.
 */
function candidates(schema: Schema): fc.Arbitrary<string> {
  const made = schema.pattern ? fc.stringMatching(new RegExp(schema.pattern)) : fc.string({ unit: 'binary', maxLength: 40 });
  const lengths = [schema.minLength, schema.maxLength].flatMap((limit) => (limit === undefined ? [] : [limit - 1, limit, limit + 1]));
  const edges: fc.Arbitrary<string>[] = [fc.constantFrom('', ' ', '\t', '\n \n')];
  if (lengths.length > 0) {
    edges.push(fc.tuple(made, fc.constantFrom(...lengths), fc.constantFrom('a', '7', 'é', '😀')).map(([value, target, filler]) => resized(value, target, filler)));
  }
  return fc.oneof(
    { arbitrary: made, weight: 3 },
    { arbitrary: fc.oneof(...edges), weight: 2 },
    { arbitrary: made.map((value) => ` ${value}\t`), weight: 1 },
    { arbitrary: fc.string({ unit: 'binary', minLength: 0, maxLength: 60 }), weight: 1 },
  );
}

/** Whether the document states the estimator's rule for this field (a new password). */
const isNewPassword = (schema: Schema) => /strength estimator|rules of `password`/.test(schema.description ?? '');

function allowedString(schema: Schema): fc.Arbitrary<string> {
  if (isNewPassword(schema)) {
    // Strong, as the description says, at lengths up to the limit (with characters outside the BMP too).
    return fc.tuple(strongPassword, fc.constantFrom(0, schema.maxLength ?? 0), fc.constantFrom('x', '😀')).map(([password, target, filler]) => (target > 0 ? resized(password, target, filler) : password)).filter((value) => allows(schema, value));
  }
  const limits = [schema.minLength, schema.maxLength].filter((limit): limit is number => limit !== undefined);
  const atLimits = limits.length === 0 ? [] : [fc.tuple(candidates(schema).filter((value) => allows(schema, value)), fc.constantFrom(...limits), fc.constantFrom('a', '7')).map(([value, target, filler]) => resized(value, target, filler))];
  return fc.oneof(candidates(schema), ...atLimits).filter((value) => allows(schema, value));
}

function lengthOk(schema: Schema, value: string): boolean {
  return allows({ ...schema, pattern: undefined }, value);
}
function patternOk(schema: Schema, value: string): boolean {
  return allows({ ...schema, minLength: undefined, maxLength: undefined }, value);
}

/** Values that break one rule each: the wrong type, a length one past a limit, the pattern. */
function forbiddenValue(schema: Schema): fc.Arbitrary<unknown> {
  const wrongType = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.constant({}));
  const ways: fc.Arbitrary<unknown>[] = [wrongType, candidates(schema).filter((value) => !allows(schema, value))];
  const valid = allowedString(schema);
  const pastLimits = [schema.minLength === undefined ? undefined : schema.minLength - 1, schema.maxLength === undefined ? undefined : schema.maxLength + 1].filter((target): target is number => target !== undefined && target >= 0);
  if (pastLimits.length > 0) {
    // The length alone is wrong: the pattern still holds.
    ways.push(fc.tuple(valid, fc.constantFrom(...pastLimits), fc.constantFrom('a', '7')).map(([value, target, filler]) => resized(value, target, filler)).filter((value) => patternOk(schema, value) && !lengthOk(schema, value)));
  }
  if (schema.pattern) {
    // The pattern alone is wrong: the length is fine.
    ways.push(candidates(schema).filter((value) => lengthOk(schema, value) && !patternOk(schema, value)));
  }
  return fc.oneof(...ways);
}

/** Whether the document describes this text as an address range (a rule no pattern states; the description does). */
const isAddressRange = (schema: Schema) => /address range/.test(schema.description ?? '');
const addressRange = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 32 })).map(([address, bits]) => `${address}/${bits}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 1, max: 128 })).map(([address, bits]) => `${address}/${bits}`),
  fc.ipV4(),
);

/** A value the schema allows, whatever its type. */
function allowedValue(schema: Schema): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.type === 'integer') return fc.oneof(fc.integer({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6 }), fc.constantFrom(...[schema.minimum, schema.maximum].filter((limit): limit is number => limit !== undefined)));
  if (schema.type === 'array') return fc.array(allowedValue(schema.items!), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 5, 5) });
  if (isAddressRange(schema)) return addressRange;
  return allowedString(schema);
}

/** A value that breaks one rule of the schema. */
function forbiddenOf(schema: Schema): fc.Arbitrary<unknown> {
  const wrongType = fc.oneof(fc.boolean(), fc.constant(null), fc.constant({}), fc.string({ maxLength: 3 }).map((text) => `${text}x`));
  if (schema.enum) return fc.oneof(wrongType, fc.string({ maxLength: 20 }).filter((value) => !schema.enum!.includes(value)));
  if (schema.type === 'integer') {
    const outside = [schema.minimum === undefined ? undefined : schema.minimum - 1, schema.maximum === undefined ? undefined : schema.maximum + 1].filter((value): value is number => value !== undefined);
    return fc.oneof(wrongType, fc.constantFrom(...outside, 1.5), fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }));
  }
  if (schema.type === 'array') {
    const ways: fc.Arbitrary<unknown>[] = [fc.oneof(fc.boolean(), fc.constant(null), fc.constant({}), fc.string({ maxLength: 5 }))];
    if (schema.minItems) ways.push(fc.constant([]));
    if (schema.maxItems !== undefined) ways.push(fc.array(allowedValue(schema.items!), { minLength: schema.maxItems + 1, maxLength: schema.maxItems + 3 }));
    ways.push(fc.tuple(fc.array(allowedValue(schema.items!), { maxLength: 2 }), forbiddenOf(schema.items!)).map(([good, bad]) => [...good, bad]));
    return fc.oneof(...ways);
  }
  if (isAddressRange(schema)) return fc.oneof(wrongType, fc.constantFrom('0.0.0.0/0', '::/0', '10.0.0.0/33', '2001:db8::/129', '300.1.2.3/8', 'localhost', '', ' '), fc.string({ maxLength: 20 }).filter((value) => !/^[0-9a-fA-F.:]+(\/\d+)?$/.test(value)));
  return forbiddenValue(schema);
}

/** A body the schema allows: the required fields, some optional ones, and one of anyOf's choices. */
function allowedBody(schema: Schema): fc.Arbitrary<Body> {
  const names = Object.keys(schema.properties ?? {});
  const values = Object.fromEntries(names.map((name) => [name, allowedValue(schema.properties![name]!)]));
  return fc
    .record(values, { requiredKeys: schema.required ?? [] })
    .filter((body) => (schema.anyOf ?? []).length === 0 || schema.anyOf!.some((choice) => choice.required.every((name) => name in body)))
    .filter((body) => Object.entries(schema.dependentRequired ?? {}).every(([name, needed]) => !(name in body) || needed.every((other) => other in body)))
    .filter((body) => {
      // The personal-information rule a description states: a new password holds neither the username nor the email's local part.
      const password = String(body.password ?? body.newPassword ?? '');
      const local = String(body.email ?? '').trim().split('@')[0]!.toLowerCase();
      const username = String(body.username ?? '').toLowerCase();
      return !(username.length >= 3 && password.toLowerCase().includes(username)) && !(local.length >= 3 && password.toLowerCase().includes(local));
    }) as fc.Arbitrary<Body>;
}

/** A body the schema forbids, and the field the daemon must name: one field wrong, or a rule on fields broken. */
function forbiddenBody(schema: Schema): fc.Arbitrary<{ body: Body; field: string }> {
  const ways: fc.Arbitrary<{ body: Body; field: string }>[] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    ways.push(fc.tuple(allowedBody(schema), forbiddenOf(property)).map(([body, value]) => ({ body: { ...body, [name]: value }, field: name })));
  }
  for (const name of schema.required ?? []) {
    ways.push(allowedBody(schema).map((body) => ({ body: Object.fromEntries(Object.entries(body).filter(([key]) => key !== name)), field: name })));
  }
  if (schema.anyOf) {
    const chosen = new Set(schema.anyOf.flatMap((choice) => choice.required));
    // None of the choices: the daemon names the first choice's field.
    ways.push(allowedBody({ ...schema, anyOf: undefined, dependentRequired: undefined }).map((body) => ({ body: Object.fromEntries(Object.entries(body).filter(([key]) => !chosen.has(key))), field: schema.anyOf![0]!.required[0]! })));
  }
  for (const [name, needed] of Object.entries(schema.dependentRequired ?? {})) {
    for (const other of needed) {
      ways.push(allowedBody(schema).filter((body) => name in body).map((body) => ({ body: Object.fromEntries(Object.entries(body).filter(([key]) => key !== other)), field: other })));
    }
  }
  return fc.oneof(...ways);
}

// ---- the properties ---------------------------------------------------------------------------

const RUNS = 60;

test.serial('the document describes request bodies for every operation that takes one', (t) => {
  const described = operations.map((operation) => `${operation.method} ${operation.path}`).sort();
  t.deepEqual(described, ['DELETE /v1/me', 'DELETE /v1/me/2fa', 'DELETE /v1/me/passkeys/{id}', 'PATCH /v1/me', 'POST /v1/me/2fa/recovery-codes', 'POST /v1/me/2fa/totp', 'POST /v1/me/2fa/totp/confirm', 'POST /v1/me/password', 'POST /v1/password/forgot', 'POST /v1/password/reset', 'POST /v1/sessions', 'POST /v1/sessions/otp', 'POST /v1/tokens', 'POST /v1/users', 'POST /v1/verify', 'POST /v1/verify/resend']);
});

test.serial('every body the document allows is taken by the daemon: never 400 invalid_input, never a 5xx', async (t) => {
  for (const operation of operations) {
    await fc.assert(
      fc.asyncProperty(allowedBody(operation.schema), async (body) => {
        const reply = await api(td.url, operation.method, operation.path, body, operation.authenticated ? { token } : {});
        t.true(reply.status < 500, `${operation.method} ${operation.path} ${JSON.stringify(body)}: ${reply.status}`);
        t.false(reply.status === 400 && reply.json?.code === 'invalid_input', `${operation.method} ${operation.path} refused what the document allows: ${JSON.stringify(body)} → ${reply.text}`);
      }),
      { numRuns: RUNS },
    );
  }
});

test.serial('every body the document forbids is refused with 400 invalid_input naming the field', async (t) => {
  for (const operation of operations) {
    await fc.assert(
      fc.asyncProperty(forbiddenBody(operation.schema), async ({ body, field }) => {
        const reply = await api(td.url, operation.method, operation.path, body, operation.authenticated ? { token } : {});
        t.is(reply.status, 400, `${operation.method} ${operation.path} took what the document forbids (${field}): ${JSON.stringify(body)} → ${reply.text}`);
        t.is(reply.json?.code, 'invalid_input');
        t.truthy(reply.json?.errors?.[field], `${operation.method} ${operation.path}: no word on ${field} in ${reply.text}`);
      }),
      { numRuns: RUNS },
    );
  }
});
