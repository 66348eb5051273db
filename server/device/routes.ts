// The device flow's endpoints (RFC 8628): the CLI asks for a code and polls for the approval. OAuth
// error bodies here, not problem+json, a bad body's included. (The approval page is pages.ts.)
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Services } from '../capabilities.js';
import { jsonOrFormBody } from '../core/body.js';
import { HttpError } from '../core/errors.js';
import { requestBody, requestInfo } from '../core/request.js';
import type { DeviceCodeResponse, DeviceError, DeviceTokenResponse } from '../contract/device.js';
import { DeviceFlowError } from './authorizations.js';

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
}
