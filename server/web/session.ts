// The browser session: a cookie holding a real session token (server/sessions/store.ts), so a
// browser's session is listed by `taskmaster sessions`, revocable, 30 days, and ended by logout
// everywhere like any other. It is started only by the login flow (server/login/flow.ts), so the
// throttles and two-factor hold for the pages as for POST /v1/sessions.
//
// Exports (for every page of server/web/ and the /device page):
// - `browserSession(ctx, services)`: the signed-in session behind the request's cookie, or
//   undefined (an ended or expired session's cookie is cleared). Resolved once per request.
// - `startBrowserSession(ctx, services, login)`: after a login, sets the session cookie (and keeps
//   the login's device token in its own cookie).
// - `endBrowserSession(ctx, services)`: clears the session cookie (the session itself is ended by
//   the caller, through SessionStore.logout).
// - `deviceTokenOf(ctx, services)`: the device token cookie, to send with the next login.
// - `cookieNames(services)` and `setCookie` / `readCookie`: the cookies' names and attributes.
//
// Cookies: `HttpOnly; SameSite=Lax; Path=/`, and `Secure` with the `__Host-` prefix when
// PUBLIC_URL is https (the daemon may sit behind a TLS proxy, so it is PUBLIC_URL that decides,
// not the socket). State: none here; the session lives in the database as every session does.
import type { Context } from 'koa';
import type { Services } from '../capabilities.js';
import { HttpError } from '../core/errors.js';
import { DEVICE_TOKEN_PREFIX, type SessionResponse } from '../contract/api.js';
import type { Authenticated } from '../sessions/store.js';

/** A year: the device token only tells the login throttle this browser signed in here before. */
const DEVICE_COOKIE_SECONDS = 365 * 24 * 60 * 60;

export interface CookieNames {
  session: string;
  /** The signed-out forms' CSRF secret (server/web/csrf.ts). */
  csrf: string;
  device: string;
  /** Whether the cookies are `Secure` (PUBLIC_URL is https). */
  secure: boolean;
}

/** The cookies' names: `__Host-` prefixed (which browsers accept only with Secure, Path=/ and no Domain) when PUBLIC_URL is https. */
export function cookieNames(services: Pick<Services, 'publicUrl'>): CookieNames {
  const secure = services.publicUrl().startsWith('https:');
  const prefix = secure ? '__Host-' : '';
  return { session: `${prefix}taskmaster_session`, csrf: `${prefix}taskmaster_csrf`, device: `${prefix}taskmaster_device`, secure };
}

/** Appends a Set-Cookie: HttpOnly, SameSite=Lax, Path=/, Secure when PUBLIC_URL is https; `maxAge` 0 removes it, undefined makes it last until the browser closes. */
export function setCookie(ctx: Context, names: CookieNames, name: string, value: string, maxAgeSeconds?: number): void {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (maxAgeSeconds !== undefined) parts.push(`Max-Age=${Math.max(0, Math.round(maxAgeSeconds))}`);
  if (names.secure) parts.push('Secure');
  ctx.append('Set-Cookie', parts.join('; '));
}

/** A cookie of the request, by exact name (the first, should a browser send two). */
export function readCookie(ctx: Context, name: string): string | undefined {
  const header = ctx.get('Cookie');
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at === -1) continue;
    if (pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

interface WebState {
  /** Resolved once per request: the session, or null when there is none. */
  session?: { auth: Authenticated; token: string } | null;
}

export function webState(ctx: Context): WebState {
  return ((ctx.state as { web?: WebState }).web ??= {});
}

/** The session token behind the request's cookie when it is a live session (for the CSRF tokens of signed-in forms). */
export function browserSessionToken(ctx: Context): string | undefined {
  return webState(ctx).session?.token;
}

/**
 * The signed-in browser session, or undefined. A cookie whose session ended (logged out here or
 * elsewhere, revoked, expired, or the account gone) is cleared, so the browser stops sending it.
 */
export async function browserSession(ctx: Context, services: Pick<Services, 'sessions' | 'publicUrl'>): Promise<Authenticated | undefined> {
  const state = webState(ctx);
  if (state.session !== undefined) return state.session?.auth;
  const names = cookieNames(services);
  const token = readCookie(ctx, names.session);
  state.session = null;
  if (!token) return undefined;
  try {
    state.session = { auth: await services.sessions.authenticate(token), token };
  } catch (error) {
    if (!(error instanceof HttpError) || error.status !== 401) throw error;
    setCookie(ctx, names, names.session, '', 0);
  }
  return state.session?.auth;
}

/** After a login (every factor passed): the session in its cookie, for as long as the session lasts; the device token kept for the next login. */
export function startBrowserSession(ctx: Context, services: Pick<Services, 'publicUrl' | 'clock'>, login: SessionResponse): void {
  const names = cookieNames(services);
  setCookie(ctx, names, names.session, login.token, (Date.parse(login.expiresAt) - services.clock()) / 1000);
  setCookie(ctx, names, names.device, login.deviceToken, DEVICE_COOKIE_SECONDS);
  // A new session: the signed-out CSRF secret has done its part (a login CSRF needed it).
  setCookie(ctx, names, names.csrf, '', 0);
  webState(ctx).session = undefined;
}

/** The browser forgets its session (the caller ended it in the database first). */
export function endBrowserSession(ctx: Context, services: Pick<Services, 'publicUrl'>): void {
  const names = cookieNames(services);
  setCookie(ctx, names, names.session, '', 0);
  webState(ctx).session = null;
}

/** The device token an earlier login in this browser answered, to send with the next login. */
export function deviceTokenOf(ctx: Context, services: Pick<Services, 'publicUrl'>): string | undefined {
  const token = readCookie(ctx, cookieNames(services).device);
  return token && token.startsWith(DEVICE_TOKEN_PREFIX) && token.length <= 128 ? token : undefined;
}
