// The account's security events: GET /v1/me/events.
import type Router from '@koa/router';
import type { Services } from '../capabilities.js';
import { requireScope, requireSession } from '../auth/authorize.js';
import { listEvents } from './events.js';

export function activityRoutes(router: Router, services: Services): void {
  router.get('/v1/me/events', async (ctx) => {
    const { user } = await requireScope(ctx, services, 'account:read');
    ctx.body = { events: await listEvents(services.db.knex, user.id, services.clock()) };
  });
}
