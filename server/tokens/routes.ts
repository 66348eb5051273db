// Access tokens' routes: create (with the password again), list, revoke. Each needs a session: a
// token cannot mint or see tokens.
import type Router from '@koa/router';
import { requireSession } from '../auth/authorize.js';
import type { Services } from '../capabilities.js';
import { jsonBody } from '../core/body.js';
import { requestBody, requestInfo } from '../core/request.js';
import type { AccessTokenInfo, CreatedAccessToken } from '../contract/api.js';

export function tokenRoutes(router: Router, services: Services): void {
  router.post('/v1/tokens', jsonBody, async (ctx) => {
    const auth = await requireSession(ctx, services);
    ctx.body = (await services.tokens.create(auth, requestBody(ctx), requestInfo(ctx))) satisfies CreatedAccessToken;
    ctx.status = 201;
  });

  router.get('/v1/tokens', async (ctx) => {
    const auth = await requireSession(ctx, services);
    ctx.body = { accessTokens: (await services.tokens.list(auth.user.id)) satisfies AccessTokenInfo[] };
  });

  router.delete('/v1/tokens/:id', async (ctx) => {
    const auth = await requireSession(ctx, services);
    await services.tokens.revoke(auth.user.id, ctx.params.id ?? '', requestInfo(ctx));
    ctx.status = 204;
  });
}
