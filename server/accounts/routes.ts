import type Router from '@koa/router';
import { jsonBody } from '../core/body.js';
import { requestBody, type Services } from '../core/request.js';

export function userRoutes(router: Router, services: Services): void {
  router.post('/v1/users', jsonBody, async (ctx) => {
    const user = await services.accounts.register(requestBody(ctx), ctx.ip);
    ctx.status = 201;
    ctx.body = { user };
  });
}
