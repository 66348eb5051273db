// The sessions' routes: list them, end one, end others or all, log out.
import type Router from '@koa/router';
import { invalidInput } from '../core/errors.js';
import { callerOf, requireScope, requireSession } from '../auth/authorize.js';
import type { Services } from '../capabilities.js';
import { requestInfo } from '../core/request.js';

export function sessionRoutes(router: Router, services: Services): void {
  router.get('/v1/sessions', async (ctx) => {
    const caller = await requireScope(ctx, services, 'account:read');
    ctx.body = { sessions: await services.sessions.list(caller) };
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

  // With an access token, the token ends itself (whatever its scopes: a leaked token can always be killed with itself).
  router.delete('/v1/sessions/current', async (ctx) => {
    const caller = await callerOf(ctx, services);
    if (caller.accessToken) await services.tokens.revokeItself(caller.user.id, caller.accessToken, requestInfo(ctx));
    else await services.sessions.logout(caller.session!, requestInfo(ctx));
    ctx.status = 204;
  });

  router.delete('/v1/sessions/:id', async (ctx) => {
    const caller = await requireScope(ctx, services, 'account:write');
    await services.sessions.revokeById(caller.user.id, ctx.params.id ?? '', requestInfo(ctx));
    ctx.status = 204;
  });
}
