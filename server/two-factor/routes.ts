// Two-factor's routes: enrol (the password), confirm (a code; it turns on), turn off and new
// recovery codes (re-authentication with a code). Each needs a session.
import type Router from '@koa/router';
import { requireSession } from '../auth/authorize.js';
import type { Services } from '../capabilities.js';
import { jsonBody } from '../core/body.js';
import { requestBody, requestInfo } from '../core/request.js';
import type { RecoveryCodes, TotpEnrolment } from '../contract/api.js';

export function twoFactorRoutes(router: Router, services: Services): void {
  router.post('/v1/me/2fa/totp', jsonBody, async (ctx) => {
    const auth = await requireSession(ctx, services);
    ctx.body = (await services.twoFactor.enrol(auth, requestBody(ctx), requestInfo(ctx))) satisfies TotpEnrolment;
  });

  router.post('/v1/me/2fa/totp/confirm', jsonBody, async (ctx) => {
    const auth = await requireSession(ctx, services);
    ctx.body = (await services.twoFactor.confirm(auth, requestBody(ctx), requestInfo(ctx))) satisfies RecoveryCodes;
  });

  router.delete('/v1/me/2fa', jsonBody, async (ctx) => {
    const auth = await requireSession(ctx, services);
    await services.twoFactor.disable(auth, requestBody(ctx), requestInfo(ctx));
    ctx.status = 204;
  });

  router.post('/v1/me/2fa/recovery-codes', jsonBody, async (ctx) => {
    const auth = await requireSession(ctx, services);
    ctx.body = (await services.twoFactor.regenerateRecoveryCodes(auth, requestBody(ctx), requestInfo(ctx))) satisfies RecoveryCodes;
  });
}
