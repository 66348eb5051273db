// One error type for refusals, and the one middleware that renders them as RFC 9457 problem+json.
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../../db/connection.js';
import type { ErrorCode, Problem } from '../contract/api.js';

export interface ProblemType {
  /** The `title` of every problem of this type (RFC 9457: the same for each occurrence). */
  title: string;
  status: number;
  /** What it means and what to do, for the page at `/problems/<code>`. */
  description: string;
}

/** Every problem type the API answers: its `type` is `/problems/<code>`, a page that says this. */
export const PROBLEM_TYPES: Readonly<Record<ErrorCode, ProblemType>> = {
  invalid_input: { title: 'Invalid input', status: 400, description: 'The request body was read, but some fields are missing or not valid. `errors` maps each field to what is wrong with it; the body itself must be a JSON object.' },
  malformed_json: { title: 'Malformed JSON', status: 400, description: 'The request body is not valid JSON. Send one JSON object, with `Content-Type: application/json`.' },
  unsupported_media_type: { title: 'Unsupported media type', status: 415, description: 'The request body has a type this endpoint does not read. Send JSON with `Content-Type: application/json`.' },
  payload_too_large: { title: 'Request body too large', status: 413, description: 'The request body is larger than 1 MiB, far more than any request of this API needs.' },
  not_found: { title: 'Not found', status: 404, description: 'Nothing is at this path, or the thing asked for does not exist (or is not yours).' },
  method_not_allowed: { title: 'Method not allowed', status: 405, description: 'The path exists but does not take this HTTP method. The `Allow` header lists the methods it takes.' },
  username_taken: { title: 'Username taken', status: 409, description: 'Another account has this username (compared without regard to case). Choose another one.' },
  email_taken: { title: 'Email taken', status: 409, description: 'Another account uses this email address (compared without regard to case). Log in to that account, or use another address.' },
  invalid_token: { title: 'Invalid token', status: 400, description: 'The emailed token is unknown, was replaced by a newer one, was used already, or has expired. Ask for a new email: `taskmaster verify --resend` for a verification link, `taskmaster password forgot` for a password reset.' },
  expired_token: { title: 'Expired token', status: 400, description: 'The emailed token is older than 24 hours. Ask for a new email with `taskmaster verify --resend`.' },
  invalid_credentials: { title: 'Invalid credentials', status: 401, description: 'The email or the password is not right. The answer is the same for an unknown email, so it does not tell which.' },
  email_not_verified: { title: 'Email not verified', status: 403, description: 'The account exists but its email is not verified yet. Use the token or the link from the verification email (`taskmaster verify`), or ask for a new one.' },
  account_disabled: { title: 'Account disabled', status: 403, description: 'The operator of this service has disabled the account: it cannot log in, and its sessions and access tokens were ended. Only the operator can enable it again (`taskmasterd users enable`); ask them, through the support address of the service if it has one.' },
  rate_limited: { title: 'Too many requests', status: 429, description: 'Too many attempts in a short time. Wait as long as the `Retry-After` header says (in seconds), then try again.' },
  unauthenticated: { title: 'Not logged in', status: 401, description: 'The request has no session token, or its session ended (logged out, expired, or ended by a credential change). Log in again and send `Authorization: Bearer <token>`.' },
  wrong_password: { title: 'Wrong password', status: 403, description: 'The current password given to confirm this change is not right. Repeated wrong passwords are throttled like failed logins.' },
  session_required: { title: 'Session required', status: 403, description: 'An access token cannot do this: passwords, the email, deleting the account, tokens and sessions in bulk need a session. Log in with `taskmaster login` and use that session.' },
  insufficient_scope: { title: 'Insufficient scope', status: 403, description: 'The access token has no scope for this request. `WWW-Authenticate` names the scope needed (RFC 6750); create a token with it (`taskmaster token create --scope …`).' },
  otp_required: { title: 'Code required', status: 401, description: 'The account has two-factor authentication on: send the code from the authenticator app (or an unused recovery code) as `code`, or finish a login with `POST /v1/sessions/otp` and the `challenge` this answer carries.' },
  invalid_code: { title: 'Invalid code', status: 403, description: 'The code is not right, was used already, or is from a time step already used (a code is good once). Wrong codes count towards the same login blocks as wrong passwords.' },
  invalid_challenge: { title: 'Invalid challenge', status: 401, description: 'The login challenge is unknown, used, older than 5 minutes, or ended after 5 wrong codes. Log in again from the password.' },
  two_factor_enabled: { title: 'Two-factor already on', status: 409, description: 'Two-factor authentication is on for this account already. Turn it off first (with a code) to enrol a new authenticator.' },
  no_enrolment: { title: 'No enrolment pending', status: 409, description: 'There is no two-factor enrolment waiting for a code: start one with `POST /v1/me/2fa/totp`.' },
  csrf_refused: { title: 'Form refused', status: 403, description: 'A web page\'s form was refused before it did anything: it came from another origin (or from a page that sent `Origin: null`), or it carried no CSRF token made for it in this browser (an old form, or a forged one). Open the page again and send the form from there.' },
  passkey_refused: { title: 'Passkey refused', status: 401, description: 'The passkey\'s answer was not accepted: its challenge is unknown, used or older than 5 minutes; it was made for another site (origin or relying party id); the passkey is not registered here; user verification (a PIN, a fingerprint) did not happen; or its signature counter went backwards (a cloned authenticator). Start again from the page: each try gets a new challenge.' },
  reauthentication_required: { title: 'Sign in again', status: 403, description: 'Adding a passkey needs a sign-in within the last 10 minutes. Sign in again (the password, and the code when two-factor is on), then add it.' },
  last_sign_in_method: { title: 'Last way in', status: 409, description: 'This passkey is the account\'s last way to sign in (it has no password): removing it would lock the account. Set a password or add another passkey first.' },
  address_not_allowed: { title: 'Address not allowed', status: 403, description: 'The access token is restricted to address ranges (`allowedCidrs`) that do not include the address this request came from.' },
  service_unavailable: { title: 'Service unavailable', status: 503, description: 'The service cannot reach its database right now. Try again shortly; `Retry-After` says when.' },
  not_ready: { title: 'Not ready', status: 503, description: 'This daemon should get no traffic now (`GET /readyz`): its database does not answer, lacks migrations (run `taskmasterd migrate`), or, on PostgreSQL, its LISTEN connection for cache invalidations is down. `reasons` lists which; a load balancer sends requests to the other daemons until it is ready again.' },
  internal_error: { title: 'Internal error', status: 500, description: 'Something went wrong on the server. Nothing about it is shown here; the server log has a line for it. Try again.' },
};

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    readonly detail: string,
    readonly errors?: Record<string, string>,
    readonly headers: Record<string, string> = {},
    /** Members the problem carries beside the standard ones (RFC 9457 extensions), like a login `challenge`. */
    readonly extensions: Record<string, string | string[]> = {},
  ) {
    super(detail);
    this.name = 'HttpError';
  }
}

/** 400 invalid_input; when the body as a whole is at fault (`errors.body`), that is the detail. */
export function invalidInput(errors: Record<string, string>): HttpError {
  return new HttpError(400, 'invalid_input', errors.body ?? 'Some fields are not valid.', errors);
}

export function problemBody(error: HttpError): Problem {
  return {
    type: `/problems/${error.code}`,
    title: PROBLEM_TYPES[error.code].title,
    status: error.status,
    detail: error.detail,
    code: error.code,
    ...(error.errors ? { errors: error.errors } : {}),
    ...error.extensions,
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
  const allow = error.code === 'method_not_allowed' ? allowedMethods(ctx) : undefined;
  // An unknown method on a path that does not exist: the path is what is missing.
  if (allow === '') error = notFound(ctx);
  ctx.status = error.status;
  ctx.set(error.headers);
  if (allow) ctx.set('Allow', allow);
  ctx.type = 'application/problem+json';
  ctx.body = problemBody(error);
}

/**
 * The methods the path takes, from the routes the router matched. @koa/router's allowedMethods,
 * told to throw, throws before it sets Allow, so the header is made here.
 */
function allowedMethods(ctx: Context): string {
  const matched = (ctx as { matched?: { methods: string[] }[] }).matched ?? [];
  return [...new Set(matched.flatMap((route) => route.methods))].join(', ');
}

export function notFound(ctx: Context): HttpError {
  return new HttpError(404, 'not_found', `No route for ${ctx.method} ${ctx.path}.`);
}
