// The device flow's endpoints (RFC 8628): the CLI asks for a code and polls for the approval (OAuth
// error bodies there, not problem+json, a bad body's included); the person approves or denies it
// on /device, signed in (the web pages' cookie session, CSRF and layout: server/web/).
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Services } from '../capabilities.js';
import { jsonOrFormBody } from '../core/body.js';
import { HttpError } from '../core/errors.js';
import { requestBody, requestInfo } from '../core/request.js';
import { formatUserCode, normalizeUserCode, type DeviceCodeResponse, type DeviceError, type DeviceTokenResponse } from '../contract/device.js';
import { formBody, formFields, requireCsrf } from '../web/csrf.js';
import { pageRoute, seeOther, sendWebPage, signInPath } from '../web/layout.js';
import { browserSession } from '../web/session.js';
import { DeviceFlowError, UnknownUserCode } from './authorizations.js';
import { UNKNOWN_CODE, approvedPage, codeEntryPage, confirmPage, deniedPage } from './pages.js';

/** A typed code as shown back in the form: XXXX-XXXX when it is one, else what was typed (cut short). */
function shownCode(typed: string): string {
  const code = normalizeUserCode(typed);
  return code ? formatUserCode(code) : typed.trim().slice(0, 20);
}

/** Where to come back after signing in: this page with the code typed so far. */
const backHere = (typed: string) => signInPath(typed ? `/device?user_code=${encodeURIComponent(shownCode(typed))}` : '/device');

/** Refusals as OAuth error bodies (RFC 6749 §5.2); a server failure stays problem+json (the frame renders it). */
async function oauthErrors(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (caught) {
    let error: DeviceFlowError;
    if (caught instanceof DeviceFlowError) error = caught;
    else {
      const status = caught instanceof HttpError ? caught.status : ((caught as { status?: number })?.status ?? 500);
      if (status >= 500 || status === 429) throw caught;
      error = new DeviceFlowError('invalid_request', caught instanceof HttpError ? caught.detail : 'The request body could not be read: send JSON or a form.');
    }
    ctx.status = error.status;
    ctx.set(error.headers);
    // RFC 6749 §5.1: token answers are never cached (the frame sets no-store on every answer).
    ctx.set('Pragma', 'no-cache');
    ctx.body = { error: error.error, error_description: error.description } satisfies DeviceError;
  }
}

export function deviceRoutes(router: Router, services: Services): void {
  router.post('/v1/device/code', oauthErrors, jsonOrFormBody, async (ctx) => {
    ctx.body = (await services.device.start(requestBody(ctx), requestInfo(ctx))) satisfies DeviceCodeResponse;
  });

  router.post('/v1/device/token', oauthErrors, jsonOrFormBody, async (ctx) => {
    ctx.set('Pragma', 'no-cache');
    ctx.body = (await services.device.exchange(requestBody(ctx), requestInfo(ctx))) satisfies DeviceTokenResponse;
  });

  // The entry form, the code prefilled from the link (verification_uri_complete). Nothing is looked
  // up here: a GET counts no guess and tells nothing; the code is checked when the form is sent.
  router.get('/device', pageRoute(services, async (ctx) => {
    const typed = typeof ctx.query.user_code === 'string' ? ctx.query.user_code : '';
    if (!(await browserSession(ctx, services))) return seeOther(ctx, backHere(typed));
    sendWebPage(ctx, 200, codeEntryPage(ctx, services, shownCode(typed)));
  }));

  // The code sent: with no action, what asks for access and the choice; with approve or deny, the decision.
  router.post('/device', formBody, pageRoute(services, async (ctx) => {
    const auth = await browserSession(ctx, services);
    const fields = formFields(ctx);
    const typed = fields.user_code ?? '';
    if (!auth) return seeOther(ctx, backHere(typed));
    await requireCsrf(ctx, services);
    const request = requestInfo(ctx);
    try {
      if (fields.action === 'approve') {
        await services.device.approve(typed, auth, request);
        return sendWebPage(ctx, 200, approvedPage(ctx, services, auth.user.username));
      }
      if (fields.action === 'deny') {
        await services.device.deny(typed, auth, request);
        return sendWebPage(ctx, 200, deniedPage(ctx, services));
      }
      const pending = await services.device.lookup(typed, auth, request);
      sendWebPage(ctx, 200, confirmPage(ctx, services, pending, auth.user.username, services.clock()));
    } catch (error) {
      if (!(error instanceof UnknownUserCode)) throw error;
      sendWebPage(ctx, 400, codeEntryPage(ctx, services, shownCode(typed), UNKNOWN_CODE));
    }
  }));
}
