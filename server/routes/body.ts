// Request bodies: JSON only, at most 1 MiB. Mounted on the routes that take a body, so GET and
// DELETE requests skip it entirely.
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import compose from 'koa-compose';
import { HttpError } from '../errors.js';

const BODY_LIMIT = '1mb';

/** A body must be JSON; a request with a body of another type is refused before it is read. */
function requireJson(ctx: Context, next: Next): Promise<void> {
  const hasBody = ctx.request.length > 0 || ctx.get('Transfer-Encoding') !== '';
  if (hasBody && !ctx.is('application/json')) {
    throw new HttpError(415, 'unsupported_media_type', 'Send the request body as application/json.');
  }
  return next();
}

export const jsonBody = compose([requireJson, bodyParser({ enableTypes: ['json'], jsonLimit: BODY_LIMIT, jsonStrict: true, encoding: 'utf-8' })]);

