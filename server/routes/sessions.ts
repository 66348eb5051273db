import type Router from '@koa/router';
import { jsonBody } from './body.js';
import { requestBody, requireSession, type Services } from './context.js';

export function sessionRoutes(router: Router, services: Services): void {
  router.post('/v1/sessions', jsonBody, async (ctx) => {
    ctx.body = await services.sessions.login(requestBody(ctx), ctx.ip);
    ctx.status = 201;
  });

  router.delete('/v1/sessions/current', async (ctx) => {
    const { tokenHash } = await requireSession(ctx, services);
    await services.sessions.revoke(tokenHash);
    ctx.status = 204;
  });
}
