// The sessions' routes: list them, end one, end others or all, log out.
import type Router from '@koa/router';
import { invalidInput } from '../core/errors.js';
import type { Context } from 'koa';
import type { Services } from '../capabilities.js';
import { requestInfo } from '../core/request.js';
import type { Authenticated } from './store.js';

export function sessionRoutes(router: Router, services: Services): void {
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

/** Resolves the bearer token or throws 401: what every route that needs a session asks first. */
export async function requireSession(ctx: Context, services: Pick<Services, 'sessions'>): Promise<Authenticated> {
  return services.sessions.authenticate(ctx.get('Authorization') || undefined);
}
