// Request bodies: JSON (a JSON object), at most 1 MiB; the verification link's Confirm form also
// takes an HTML form. Mounted on the routes that take a body, so GET and DELETE requests skip it.
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import compose from 'koa-compose';
import { HttpError, invalidInput } from './errors.js';

const BODY_LIMIT = '1mb';
const FORM = 'application/x-www-form-urlencoded';

/** A body of another type than `types` is refused before it is read. */
function requireType(types: string[], refusal: string) {
  return function requireType(ctx: Context, next: Next): Promise<void> {
    const hasBody = ctx.request.length > 0 || ctx.get('Transfer-Encoding') !== '';
    if (hasBody && !ctx.is(types)) throw new HttpError(415, 'unsupported_media_type', refusal);
    return next();
  };
}

/**
 * A JSON body must be an object: an array, string, number or null says so, as invalid_input. An
 * empty body reads as {}, so each missing field is named.
 */
function requireObject(ctx: Context, next: Next): Promise<void> {
  const request = ctx.request as { body?: unknown };
  if (request.body === '') request.body = {};
  const { body } = request;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidInput({ body: 'The request body must be a JSON object.' });
  }
  return next();
}

// Not jsonStrict: in strict mode the parser refuses a top-level string or number as malformed JSON,
// when it is well-formed JSON of the wrong shape (requireObject says so).
// DELETE too (the parser skips it by default): `DELETE /v1/me` carries the password.
const parseJson = bodyParser({ enableTypes: ['json'], jsonLimit: BODY_LIMIT, jsonStrict: false, encoding: 'utf-8', parsedMethods: ['POST', 'PUT', 'PATCH', 'DELETE'] });
const parseJsonOrForm = bodyParser({ enableTypes: ['json', 'form'], jsonLimit: BODY_LIMIT, formLimit: BODY_LIMIT, jsonStrict: false, encoding: 'utf-8' });

export const jsonBody = compose([requireType(['application/json'], 'Send the request body as application/json.'), parseJson, requireObject]);

/** JSON, or the form a browser posts (the Confirm button of the verification page). */
export const jsonOrFormBody = compose([
  requireType(['application/json', FORM], `Send the request body as application/json (or as the page's form, ${FORM}).`),
  parseJsonOrForm,
  requireObject,
]);

/** True when the request came from a browser's form: answer it with a page, not JSON. */
export function isFormPost(ctx: Context): boolean {
  return ctx.is(FORM) === FORM;
}
