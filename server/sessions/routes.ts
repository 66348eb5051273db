import type Router from '@koa/router';
import { invalidInput } from '../core/errors.js';
import { jsonBody } from '../core/body.js';
import { requestBody, requestInfo, requireSession, type Services } from '../core/request.js';

export function sessionRoutes(router: Router, services: Services): void {
  router.post('/v1/sessions', jsonBody, async (ctx) => {
    ctx.body = await services.login.login(requestBody(ctx), requestInfo(ctx));
    ctx.status = 201;
  });

  router.get('/v1/sessions', async (ctx) => {
    const auth = await requireSession(ctx, services);
    ctx.body = { sessions: await services.sessions.list(auth) };
  });

  // `scope` is read once: others or all; anything else names the value it got.
  router.delete('/v1/sessions', async (ctx) => {
    const auth = await requireSession(ctx, services);
    const scope = ctx.query.scope;
    if (scope !== 'others' && scope !== 'all') {
      const got = typeof scope === 'string' ? `"${scope.slice(0, 40)}"` : scope === undefined ? 'nothing' : 'it more than once';
      throw invalidInput({ scope: `scope must be "others" or "all" (got ${got}).` });
    }
    ctx.body = { revoked: await services.sessions.revokeScope(auth, scope, requestInfo(ctx)) };
  });

  router.delete('/v1/sessions/current', async (ctx) => {
    const auth = await requireSession(ctx, services);
    await services.sessions.logout(auth, requestInfo(ctx));
    ctx.status = 204;
  });

  router.delete('/v1/sessions/:id', async (ctx) => {
    const auth = await requireSession(ctx, services);
    await services.sessions.revokeById(auth, ctx.params.id ?? '', requestInfo(ctx));
    ctx.status = 204;
  });
}
