// GET /healthz: liveness (the process and its database answer). GET /readyz: readiness for a load
// balancer (readiness.ts). Neither needs a credential, and neither says more than why it is not ready.
import type Router from '@koa/router';
import { HttpError } from '../core/errors.js';
import type { Services } from '../capabilities.js';
import { readiness, type Readiness } from './readiness.js';

const DB_TIMEOUT_MS = 2000;
/** How long one readiness answer serves further checks. */
const READY_REUSE_MS = 1000;

export function healthRoutes(router: Router, services: Pick<Services, 'db' | 'invalidations'>): void {
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

  // A load balancer asks every few seconds, and anyone may: one answer (and its queries) serves
  // every request of the same second, so a flood of checks cannot crowd out real traffic.
  let recent: { at: number; state: Promise<Readiness> } | undefined;
  router.get('/readyz', async (ctx) => {
    const now = performance.now();
    if (!recent || now - recent.at >= READY_REUSE_MS) recent = { at: now, state: readiness(services.db, services.invalidations) };
    const state = await recent.state;
    if (!state.ready) {
      throw new HttpError(503, 'not_ready', `Not ready: ${state.reasons.join('; ')}.`, undefined, { 'Retry-After': '5' }, { reasons: state.reasons });
    }
    ctx.body = { status: 'ready' };
  });
}
