// Passkeys' routes. The API: `GET /v1/me/passkeys`, `DELETE /v1/me/passkeys/{id}` (the password
// again). The pages' ceremonies, which the daemon's own script (/assets/passkeys.js) calls with
// JSON: options, then the browser's answer; each passes requireCsrf (PUBLIC_URL's Origin and a
// token made for its path in this browser) like every form. The dashboard's forms: sign in again
// (a passkey needs a sign-in within 10 minutes), rename, remove.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { requireSession } from '../auth/authorize.js';
import type { Services } from '../capabilities.js';
import { jsonBody } from '../core/body.js';
import { HttpError } from '../core/errors.js';
import { requestBody, requestInfo } from '../core/request.js';
import type { PasskeyInfo } from '../contract/api.js';
import { formBody, formFields, requireCsrf } from '../web/csrf.js';
import { pageRoute, safeNext, seeOther, signInPath } from '../web/layout.js';
import { showAccount } from '../web/routes.js';
import { browserSession, deviceTokenOf, startBrowserSession } from '../web/session.js';
import { LOGIN_OPTIONS_PATH, LOGIN_VERIFY_PATH, REGISTER_OPTIONS_PATH, REGISTER_VERIFY_PATH, type PasskeysView } from './pages.js';
import { passkeyScript } from './script.js';

/** A refusal the capabilities answered (4xx), to show on the form; anything else goes on as it is. */
function refusalOf(error: unknown): HttpError {
  if (error instanceof HttpError && error.status < 500) return error;
  throw error;
}

/** The JSON body's field, when it is a string. */
const stringField = (ctx: Context, name: string) => {
  const value = (requestBody(ctx) as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
};

export function passkeyRoutes(router: Router, services: Services): void {
  // ---- the API -------------------------------------------------------------------------------------

  router.get('/v1/me/passkeys', async (ctx) => {
    const auth = await requireSession(ctx, services);
    ctx.body = { passkeys: (await services.passkeys.list(auth.user.id)) satisfies PasskeyInfo[] };
  });

  router.delete('/v1/me/passkeys/:id', jsonBody, async (ctx) => {
    const auth = await requireSession(ctx, services);
    await services.passkeys.remove(auth, ctx.params.id ?? '', requestBody(ctx), requestInfo(ctx));
    ctx.status = 204;
  });

  // ---- the page script -----------------------------------------------------------------------------

  router.get('/assets/passkeys.js', async (ctx) => {
    const script = await passkeyScript();
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.set('X-Content-Type-Options', 'nosniff');
    // The frame sends no-store on every answer; the script is small and changes with each release.
    ctx.body = script;
  });

  // ---- signing in (the /login page's script; /device signs in through /login?next=…) ---------------

  router.post(LOGIN_OPTIONS_PATH, jsonBody, async (ctx) => {
    await requireCsrf(ctx, services);
    ctx.body = await services.passkeys.authenticationOptions(ctx.ip);
  });

  router.post(LOGIN_VERIFY_PATH, jsonBody, async (ctx) => {
    await requireCsrf(ctx, services);
    const next = safeNext(stringField(ctx, 'next'));
    const body = requestBody(ctx) as Record<string, unknown>;
    const login = await services.passkeys.authenticate({ response: body.response }, deviceTokenOf(ctx, services), requestInfo(ctx));
    startBrowserSession(ctx, services, login);
    ctx.body = { location: next ?? '/account' };
  });

  // ---- adding one (the dashboard's script) ---------------------------------------------------------

  /** Signed in (a 401 problem otherwise: the script sends the browser to /login), then the CSRF check. */
  const signedIn = async (ctx: Context) => {
    const auth = await browserSession(ctx, services);
    if (!auth) throw new HttpError(401, 'unauthenticated', 'You are signed out: sign in again, then add the passkey.');
    await requireCsrf(ctx, services);
    return auth;
  };

  router.post(REGISTER_OPTIONS_PATH, jsonBody, async (ctx) => {
    const auth = await signedIn(ctx);
    ctx.body = await services.passkeys.registrationOptions(auth);
  });

  router.post(REGISTER_VERIFY_PATH, jsonBody, async (ctx) => {
    const auth = await signedIn(ctx);
    const body = requestBody(ctx) as Record<string, unknown>;
    const name = typeof body.name === 'string' && body.name.trim() !== '' ? body.name : undefined;
    const passkey = await services.passkeys.register(auth, { response: body.response, ...(name !== undefined ? { name } : {}) }, requestInfo(ctx));
    ctx.status = 201;
    ctx.body = { passkey, location: '/account?done=passkey_added#passkeys' };
  });

  // ---- the dashboard's forms -----------------------------------------------------------------------

  /** A Passkeys form: signed in (or to /login), CSRF checked, then `act`; a refusal shows the dashboard again with it at its form. */
  const passkeyAction = (path: string, form: 'confirm' | 'rename' | 'remove', act: (ctx: Context, auth: NonNullable<Awaited<ReturnType<typeof browserSession>>>, fields: Record<string, string>) => Promise<string>) => {
    router.post(path, formBody, pageRoute(services, async (ctx) => {
      const auth = await browserSession(ctx, services);
      if (!auth) return seeOther(ctx, signInPath('/account'));
      await requireCsrf(ctx, services);
      const fields = formFields(ctx);
      try {
        seeOther(ctx, `/account?done=${await act(ctx, auth, fields)}#passkeys`);
      } catch (caught) {
        const error = refusalOf(caught);
        if (error.status === 401 && error.code === 'unauthenticated') return seeOther(ctx, signInPath('/account'));
        if (error.headers['Retry-After']) ctx.set('Retry-After', error.headers['Retry-After']);
        const refused: NonNullable<PasskeysView['refused']> = { form, ...(form === 'confirm' ? {} : { id: fields.id ?? '' }), values: { name: fields.name ?? '' } };
        const fieldErrors = { ...error.errors };
        delete fieldErrors.body;
        if (error.code === 'otp_required') refused.errors = { code: 'Enter the code from your authenticator app (or a recovery code).' };
        else if (error.code === 'invalid_code') refused.errors = { code: 'That code is not right, or was used already.' };
        else if (error.code === 'invalid_credentials' || error.code === 'wrong_password') refused.errors = { currentPassword: 'The password is not right.' };
        else if (error.code === 'not_found') {
          refused.alert = 'That passkey is gone already.';
          delete refused.id;
        } else if (Object.keys(fieldErrors).length > 0) refused.errors = fieldErrors;
        else refused.alert = error.detail;
        await showAccount(ctx, services, auth, error.status, { passkeysRefused: refused });
      }
    }));
  };

  // Signing in again, for a passkey: the login flow with the account's own email (its throttles and
  // two-factor), a new session in this browser, the old one ended.
  passkeyAction('/account/passkeys/confirm', 'confirm', async (ctx, auth, fields) => {
    const deviceToken = deviceTokenOf(ctx, services);
    const code = (fields.code ?? '').trim();
    const request = requestInfo(ctx);
    const login = await services.login.login({ email: auth.user.email, password: fields.currentPassword ?? '', ...(code ? { code } : {}), ...(deviceToken ? { deviceToken } : {}) }, request);
    await services.sessions.logout(auth, request);
    startBrowserSession(ctx, services, login);
    return 'confirmed';
  });

  passkeyAction('/account/passkeys/rename', 'rename', async (_ctx, auth, fields) => {
    await services.passkeys.rename(auth.user.id, fields.id ?? '', { name: fields.name ?? '' });
    return 'passkey_renamed';
  });

  passkeyAction('/account/passkeys/remove', 'remove', async (ctx, auth, fields) => {
    const code = (fields.code ?? '').trim();
    await services.passkeys.remove(auth, fields.id ?? '', { currentPassword: fields.currentPassword ?? '', ...(code ? { code } : {}) }, requestInfo(ctx));
    return 'passkey_removed';
  });
}
