import type Router from '@koa/router';
import { jsonBody } from '../core/body.js';
import { listEvents } from '../activity/events.js';
import { requestBody, requestInfo, requireSession, type Services } from '../core/request.js';

export function meRoutes(router: Router, services: Services): void {
  router.get('/v1/me', async (ctx) => {
    const { user } = await requireSession(ctx, services);
    ctx.body = { user };
  });

  router.get('/v1/me/events', async (ctx) => {
    const { user } = await requireSession(ctx, services);
    ctx.body = { events: await listEvents(services.db.knex, user.id, services.clock()) };
  });

  // The password is asked again however fresh the session: a session alone cannot delete an account.
  router.delete('/v1/me', jsonBody, async (ctx) => {
    const auth = await requireSession(ctx, services);
    await services.accountDeletion.deleteAccount(auth, requestBody(ctx), requestInfo(ctx));
    ctx.status = 204;
  });

  router.patch('/v1/me', jsonBody, async (ctx) => {
    const { user, tokenHash } = await requireSession(ctx, services);
    ctx.body = { user: await services.accounts.updateProfile(user.id, tokenHash, requestBody(ctx), ctx.ip) };
  });
}
