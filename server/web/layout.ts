// The web pages' layout, on server/core/page.ts's (the same look as the Confirm and reset pages):
// the signed-in header, form fields, redirects and the `next` check.
//
// Exports (for every page of server/web/ and the /device page):
// - `webPage(ctx, services, {title, content, tone?, wide?})`: a whole page; when the request is
//   signed in (browserSession() was asked first), the header shows who and a sign-out button.
// - `sendWebPage(ctx, status, page)`: answers it with the page headers (`WEB_PAGE_HEADERS`: the
//   strict CSP, no framing, `Referrer-Policy: same-origin` so form posts carry their Origin);
//   a page carrying PAGE_SCRIPT_TAG (sign-in and the dashboard, for passkeys) gets `script-src 'self'`.
// - `seeOther(ctx, location)`: a 303 to a path of this site, after a POST or to send a browser on.
// - `safeNext(next)`: `next` when it is a path on this site (`/account?x=1`), else undefined:
//   `//evil.example`, `https://evil.example`, `/\evil.example`, `javascript:` and control
//   characters are refused.
// - `signInPath(next)`: `/login?next=…` for a page that needs a session.
// - `textField`, `passwordField`, `alertBox`, `noticeBox`: form pieces with inline errors.
// - `pageRoute(handler)`: wraps a page's handler so a refusal (an HttpError) is a page, never JSON.
import type { Context, Middleware } from 'koa';
import type { Services } from '../capabilities.js';
import { HttpError } from '../core/errors.js';
import { Html, html } from '../core/html.js';
import { PAGE_CSP, renderPage, say } from '../core/page.js';
import { csrfField } from './csrf.js';
import { webState } from './session.js';

/** The pages' headers: those of the Confirm and reset pages, but `same-origin` referrers (with `no-referrer`, a form posts `Origin: null`). */
export const WEB_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': PAGE_CSP,
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

/** The tag of the one script a page may carry (the passkey ceremonies, server/passkeys/), served by this daemon. */
export const PAGE_SCRIPT_TAG = '<script type="module" src="/assets/passkeys.js"></script>';

/** The policy of a page carrying PAGE_SCRIPT_TAG: scripts from this origin only (no inline script), and fetch to it. */
export const SCRIPT_PAGE_CSP = PAGE_CSP.replace("default-src 'none';", "default-src 'none'; script-src 'self'; connect-src 'self';");

/** Answers a page: a page carrying the passkey script gets `script-src 'self'`; every other keeps no script at all. */
export function sendWebPage(ctx: Context, status: number, page: Html): void {
  ctx.status = status;
  ctx.set({ ...WEB_PAGE_HEADERS });
  if (page.markup.includes(PAGE_SCRIPT_TAG)) ctx.set('Content-Security-Policy', SCRIPT_PAGE_CSP);
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = page.markup;
}

/** A 303 to a path of this site (root-relative: always this origin). No body. */
export function seeOther(ctx: Context, location: string): void {
  ctx.body = null; // before the status: Koa makes a null body a 204 otherwise
  ctx.status = 303;
  ctx.set('Location', location);
  ctx.set('Referrer-Policy', 'same-origin');
}

/**
 * `next` when it names a page of this site: one leading `/` followed by anything but `/` or `\`
 * (browsers read `/\host` as `//host`), no control characters or white space, at most 512
 * characters, and it still resolves to this origin, as a path that passes the same test (dot
 * segments resolved). Anything else: undefined.
 */
export function safeNext(next: string | undefined): string | undefined {
  if (!next || next.length > 512) return undefined;
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return undefined;
  if (/[\\\s\u0000-\u001f\u007f]/.test(next)) return undefined;
  const base = 'http://taskmaster.invalid';
  const resolved = new URL(next, base);
  if (resolved.origin !== base) return undefined;
  const path = resolved.pathname + resolved.search + resolved.hash;
  // Resolving removes dot segments: `/.//evil.example` comes out as `//evil.example`, which a
  // browser reads as another host. What is returned must pass the same test as what was given.
  return path.startsWith('//') || path.startsWith('/\\') ? undefined : path;
}

/** The sign-in page that comes back to `next` afterwards. */
export function signInPath(next?: string): string {
  const safe = safeNext(next);
  return safe && safe !== '/account' ? `/login?next=${encodeURIComponent(safe)}` : '/login';
}

/** The signed-in header: who, and the sign-out button (a form posting to /logout). */
function signedInHeader(ctx: Context, services: Pick<Services, 'publicUrl'>, username: string): Html {
  return html`<div class="who"><a href="/account">${username}</a><form class="inline" method="post" action="/logout">${csrfField(ctx, services, '/logout')}<button type="submit" class="secondary">Sign out</button></form></div>`;
}

export interface WebPageParts {
  title: string;
  content: Html;
  tone?: 'ok' | 'bad' | 'plain';
  wide?: boolean;
}

/** A whole page: signed in (browserSession() answered a session for this request), with the header and its sign-out button. */
export function webPage(ctx: Context, services: Pick<Services, 'publicUrl'>, parts: WebPageParts): Html {
  const session = webState(ctx).session;
  const header = session ? signedInHeader(ctx, services, session.auth.user.username) : undefined;
  return renderPage(parts.title, parts.tone ?? 'plain', parts.content, { ...(header ? { header } : {}), ...(parts.wide ? { wide: true } : {}) });
}

export interface FieldOptions {
  name: string;
  label: string;
  type?: 'text' | 'email';
  value?: string | undefined;
  error?: string | undefined;
  autocomplete?: string;
  required?: boolean;
  autofocus?: boolean;
  /** Extra attributes, as Html (e.g. html` inputmode="numeric"`). */
  extra?: Html;
}

/** A labelled text input keeping what was typed, its error under it (tied by aria-describedby). */
export function textField(field: FieldOptions): Html {
  const id = `field-${field.name}`;
  return html`<label for="${id}">${field.label}</label>
<input type="${field.type ?? 'text'}" id="${id}" name="${field.name}" value="${field.value ?? ''}"${field.autocomplete ? html` autocomplete="${field.autocomplete}"` : ''}${field.required === false ? '' : html` required`}${field.autofocus || field.error ? html` autofocus` : ''}${field.error ? html` aria-invalid="true" aria-describedby="${id}-error"` : ''}${field.extra ?? ''}>
${field.error ? html`<p class="field-error" id="${id}-error">${field.error}</p>\n` : ''}`;
}

/** A labelled password input: never prefilled. */
export function passwordField(field: Omit<FieldOptions, 'value' | 'type'>): Html {
  const id = `field-${field.name}`;
  return html`<label for="${id}">${field.label}</label>
<input type="password" id="${id}" name="${field.name}"${field.autocomplete ? html` autocomplete="${field.autocomplete}"` : ''}${field.required === false ? '' : html` required`}${field.autofocus || field.error ? html` autofocus` : ''}${field.error ? html` aria-invalid="true" aria-describedby="${id}-error"` : ''}${field.extra ?? ''}>
${field.error ? html`<p class="field-error" id="${id}-error">${field.error}</p>\n` : ''}`;
}

export const alertBox = (message: string | Html | undefined) => (message ? html`<p class="alert" role="alert">${message}</p>\n` : html``);
export const noticeBox = (message: string | undefined) => (message ? html`<p class="notice" role="status">${message}</p>\n` : html``);

/** The page a refusal gets when a handler did not show it on its own form. */
export function refusalPage(ctx: Context, services: Pick<Services, 'publicUrl'>, error: HttpError): Html {
  if (error.status === 429) {
    return webPage(ctx, services, { title: 'Too many attempts', tone: 'bad', content: html`${say(error.detail)}<p><a href="/">Back to the start</a></p>` });
  }
  if (error.code === 'csrf_refused') {
    return webPage(ctx, services, { title: 'This form was refused', tone: 'bad', content: html`${say(error.detail)}${say('Nothing was changed.', true)}<p><a href="/">Back to the start</a></p>` });
  }
  return webPage(ctx, services, { title: error.status === 404 ? 'Not found' : 'That did not work', tone: 'bad', content: html`${say(error.detail)}<p><a href="/">Back to the start</a></p>` });
}

/** A page's handler: a refusal it throws becomes a page with the refusal's status and headers, never problem+json. */
export function pageRoute(services: Pick<Services, 'publicUrl'>, handler: (ctx: Context) => Promise<void>): Middleware {
  return async (ctx) => {
    try {
      await handler(ctx);
    } catch (error) {
      if (!(error instanceof HttpError) || error.status >= 500) throw error;
      ctx.set(error.headers);
      ctx.remove('WWW-Authenticate');
      sendWebPage(ctx, error.status, refusalPage(ctx, services, error));
    }
  };
}
