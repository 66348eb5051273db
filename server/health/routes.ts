import type Router from '@koa/router';
import { HttpError } from '../core/errors.js';
import type { Services } from '../capabilities.js';

const DB_TIMEOUT_MS = 2000;

export function healthRoutes(router: Router, services: Pick<Services, 'db'>): void {
  router.get('/healthz', async (ctx) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), DB_TIMEOUT_MS);
    });
    try {
      await Promise.race([services.db.knex.raw('select 1'), timeout]);
    } catch {
      throw new HttpError(503, 'service_unavailable', 'The database is not reachable.');
    } finally {
      clearTimeout(timer);
    }
    ctx.body = { status: 'ok' };
  });
}
