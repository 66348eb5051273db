// Logging in: POST /v1/sessions starts a session once the account's factors are proved.
import type Router from '@koa/router';
import type { Services } from '../capabilities.js';
import { jsonBody } from '../core/body.js';
import { requestBody, requestInfo } from '../core/request.js';

export function loginRoutes(router: Router, services: Services): void {
  router.post('/v1/sessions', jsonBody, async (ctx) => {
    ctx.body = await services.login.login(requestBody(ctx), requestInfo(ctx));
    ctx.status = 201;
  });

  // The second step of a login with two-factor: the challenge the password answered, and the code.
  router.post('/v1/sessions/otp', jsonBody, async (ctx) => {
    ctx.body = await services.login.loginWithChallenge(requestBody(ctx), requestInfo(ctx));
    ctx.status = 201;
  });
}
