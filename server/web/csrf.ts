// Forms of the web pages: their body, and the two checks every POST of a page passes before it acts
// (OWASP's CSRF cheat sheet: a synchronizer token, and the Origin header verified).
//
// Exports (for every form of server/web/ and the /device page):
// - `formBody`: the middleware that reads a page's form (`application/x-www-form-urlencoded`,
//   at most 64 KiB); `formFields(ctx)` the fields as strings (a repeated field: its first value).
// - `csrfField(ctx, services, action)`: the hidden `csrf` input of a form that posts to `action`;
//   `csrfToken(…)` the token alone, for a page script's JSON post (its body's `csrf` field).
// - `requireCsrf(ctx, services)`: throws 403 `csrf_refused` unless the request comes from
//   PUBLIC_URL's own origin and carries the token made for this path. Call it first in every page
//   POST, before anything changes (for signed-in forms, after browserSession(), so a session that
//   ended sends the browser to /login instead).
//
// The token is HMAC-SHA256(secret, action): per form, and nothing to store. The secret is the
// browser's session token on signed-in pages (the cookie's own value, which a page on another site
// can neither read nor set), and before sign-in a random cookie of its own (double submit: login and
// registration forms too, so nobody signs a victim into the attacker's account). An action's token
// opens no other form. The Origin must be PUBLIC_URL's: a missing Origin falls back to the
// Referer's (these pages send `Referrer-Policy: same-origin`), and `Origin: null` (what a browser
// sends from a no-referrer page, a sandboxed frame, or a data: URL) is refused.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import compose from 'koa-compose';
import type { Services } from '../capabilities.js';
import { HttpError } from '../core/errors.js';
import { html, type Html } from '../core/html.js';
import { requestBody } from '../core/request.js';
import { browserSessionToken, cookieNames, readCookie, setCookie, webState } from './session.js';

const FORM = 'application/x-www-form-urlencoded';
const CSRF_SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

function requireForm(ctx: Context, next: Next): Promise<void> {
  const hasBody = ctx.request.length > 0 || ctx.get('Transfer-Encoding') !== '';
  if (hasBody && !ctx.is(FORM)) throw new HttpError(415, 'unsupported_media_type', `Send the page's form (${FORM}).`);
  return next();
}

/** A page's form: url-encoded, at most 64 KiB (the longest field, a password, is 256 characters). */
export const formBody = compose([requireForm, bodyParser({ enableTypes: ['form'], formLimit: '64kb', encoding: 'utf-8' })]);

/** The form's fields as strings: a missing one is '', a repeated one its first value. */
export function formFields(ctx: Context): Record<string, string> {
  const body = requestBody(ctx);
  const fields: Record<string, string> = {};
  if (body === null || typeof body !== 'object') return fields;
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') fields[name] = first;
  }
  return fields;
}

const actionKey = (action: string) => action.toLowerCase().replace(/\/+$/, '') || '/';

function tokenFor(secret: string, action: string): string {
  return createHmac('sha256', secret).update(`taskmaster-form|${actionKey(action)}`).digest('base64url');
}

/** The signed-out forms' secret: the cookie's, or a new one set now. */
function signedOutSecret(ctx: Context, services: Pick<Services, 'publicUrl'>): string {
  const state = webState(ctx) as { csrfSecret?: string };
  if (state.csrfSecret) return state.csrfSecret;
  const names = cookieNames(services);
  let secret = readCookie(ctx, names.csrf);
  if (!secret || !CSRF_SECRET_SHAPE.test(secret)) {
    secret = randomBytes(32).toString('base64url');
    setCookie(ctx, names, names.csrf, secret);
  }
  state.csrfSecret = secret;
  return secret;
}

/**
 * The hidden field of a form posting to `action` (a path, as in the form's `action`). Signed in
 * (browserSession() answered a session for this request): bound to that session; signed out: to the
 * browser's CSRF cookie, set here when the browser has none yet.
 */
export function csrfField(ctx: Context, services: Pick<Services, 'publicUrl'>, action: string): Html {
  return html`<input type="hidden" name="csrf" value="${csrfToken(ctx, services, action)}">`;
}

/** The token alone, for a page's script that posts JSON to `action` (the passkey ceremonies): its body's `csrf` field. */
export function csrfToken(ctx: Context, services: Pick<Services, 'publicUrl'>, action: string): string {
  return tokenFor(browserSessionToken(ctx) ?? signedOutSecret(ctx, services), action);
}

/** PUBLIC_URL's origin: the only one a page's form may come from. */
export function publicOrigin(services: Pick<Services, 'publicUrl'>): string {
  return new URL(services.publicUrl()).origin;
}

function originOf(ctx: Context): string | undefined {
  const origin = ctx.get('Origin');
  if (origin) return origin;
  const referer = ctx.get('Referer');
  if (!referer || !URL.canParse(referer)) return undefined;
  return new URL(referer).origin;
}

function csrfRefused(detail: string): HttpError {
  return new HttpError(403, 'csrf_refused', detail);
}

/**
 * Refuses (403 `csrf_refused`) a page's POST that did not come from one of this daemon's own
 * pages: another origin (or `null`, or none at all), or no token made for this path with this
 * browser's secret. Nothing is read or changed before it.
 */
export async function requireCsrf(ctx: Context, services: Pick<Services, 'publicUrl'>): Promise<void> {
  const origin = originOf(ctx);
  if (origin !== publicOrigin(services)) {
    throw csrfRefused(origin === undefined || origin === 'null' ? 'This form came from a page that did not say where it was: open the page again at its own address and send it from there.' : `This form came from another address (${origin.slice(0, 100)}), not from this site's own pages: it was refused.`);
  }
  const sent = formFields(ctx).csrf ?? '';
  const secrets = [browserSessionToken(ctx), readCookie(ctx, cookieNames(services).csrf)].filter((secret): secret is string => secret !== undefined && secret !== '');
  const given = Buffer.from(sent);
  const matches = secrets.some((secret) => {
    const expected = Buffer.from(tokenFor(secret, ctx.path));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!matches) throw csrfRefused('This form has expired or did not come from this site. Open the page again and send it from there.');
}
