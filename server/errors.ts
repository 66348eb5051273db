// One error type for refusals, and the one middleware that renders them as RFC 9457 problem+json.
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../db/connection.js';
import type { ErrorCode, Problem } from './shared/api.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    readonly detail: string,
    readonly errors?: Record<string, string>,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'HttpError';
  }
}

export function invalidInput(errors: Record<string, string>): HttpError {
  return new HttpError(400, 'invalid_input', 'Some fields are not valid.', errors);
}

export function problemBody(error: HttpError): Problem {
  return {
    type: `/problems/${error.code}`,
    title: TITLES[error.status] ?? 'Error',
    status: error.status,
    detail: error.detail,
    code: error.code,
    ...(error.errors ? { errors: error.errors } : {}),
  };
}

/** Koa's own errors (body parser, router) carry a status; map them to our codes. */
function fromKoaError(error: { status?: number; statusCode?: number; type?: string }): HttpError | undefined {
  const status = error.status ?? error.statusCode;
  if (status === 413) return new HttpError(413, 'payload_too_large', 'The request body is larger than 1 MiB.');
  if (status === 415) return new HttpError(415, 'unsupported_media_type', 'Send the request body as application/json.');
  if (status === 405) return new HttpError(405, 'method_not_allowed', 'This method is not allowed on this path.');
  if (status === 501) return new HttpError(405, 'method_not_allowed', 'This method is not allowed on this path.');
  if (status === 400) {
    const malformed = error.type === 'entity.parse.failed' || error.type === undefined;
    return malformed
      ? new HttpError(400, 'malformed_json', 'The request body is not valid JSON.')
      : new HttpError(400, 'invalid_input', 'The request could not be read.');
  }
  return undefined;
}

/** Renders whatever a request threw as problem+json: ours as they are, Koa's mapped, the rest as a bare 500. */
export function renderProblem(ctx: Context, caught: unknown, log: Logger): void {
  let error: HttpError;
  if (caught instanceof HttpError) error = caught;
  else {
    const mapped = fromKoaError(caught as { status?: number });
    if (mapped) error = mapped;
    else if (isDatabaseUnavailable(caught)) {
      log.warn({ err: { name: (caught as Error).name, message: (caught as Error).message } }, 'database unavailable');
      error = new HttpError(503, 'service_unavailable', 'The service cannot reach its database right now. Try again shortly.', undefined, { 'Retry-After': '5' });
    }
    else {
      // Log the type and message only: a stack or request body could carry a secret.
      log.error({ err: { name: (caught as Error)?.name, message: (caught as Error)?.message } }, 'request failed');
      error = new HttpError(500, 'internal_error', 'Something went wrong on our side. Try again.');
    }
  }
  ctx.status = error.status;
  ctx.set(error.headers);
  const allow = (caught as { headers?: Record<string, string> }).headers?.Allow;
  if (error.status === 405 && allow) ctx.set('Allow', allow);
  ctx.type = 'application/problem+json';
  ctx.body = problemBody(error);
}

export function notFound(ctx: Context): HttpError {
  return new HttpError(404, 'not_found', `No route for ${ctx.method} ${ctx.path}.`);
}
