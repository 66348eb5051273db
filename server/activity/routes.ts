// The account's security events: GET /v1/me/events.
import type Router from '@koa/router';
import type { Services } from '../capabilities.js';
import { requireSession } from '../sessions/routes.js';
import { listEvents } from './events.js';

export function activityRoutes(router: Router, services: Services): void {
  router.get('/v1/me/events', async (ctx) => {
    const { user } = await requireSession(ctx, services);
    ctx.body = { events: await listEvents(services.db.knex, user.id, services.clock()) };
  });
}
