// Builds the Koa app from its parts. No listen here, so tests and benchmarks can mount it.
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import type { Logger } from 'pino';
import { HttpError, errorMiddleware } from './errors.js';
import type { Services } from './routes/context.js';
import { healthRoutes } from './routes/health.js';
import { meRoutes } from './routes/me.js';
import { sessionRoutes } from './routes/sessions.js';
import { userRoutes } from './routes/users.js';
import { verifyRoutes } from './routes/verify.js';

const BODY_LIMIT = '1mb';

/** One structured line per request. The path only: a query string may hold a token. */
function requestLog(log: Logger) {
  return async function logRequest(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    try {
      await next();
    } finally {
      log.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round((performance.now() - started) * 10) / 10 }, 'request');
    }
  };
}

function securityHeaders(ctx: Context, next: Next): Promise<void> {
  // Every answer may carry a token or account data: never cache, sniff, frame or refer.
  ctx.set({
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  });
  return next();
}

/** A body must be JSON; a request with a body of another type is refused before it is read. */
function requireJson(ctx: Context, next: Next): Promise<void> {
  const hasBody = ctx.request.length > 0 || ctx.get('Transfer-Encoding') !== '';
  if (hasBody && ['POST', 'PATCH', 'PUT'].includes(ctx.method) && !ctx.is('application/json')) {
    throw new HttpError(415, 'unsupported_media_type', 'Send the request body as application/json.');
  }
  return next();
}

export function createApp(services: Services, log: Logger): Koa {
  const app = new Koa();
  app.silent = true; // errors are logged by errorMiddleware, without stacks
  const router = new Router();
  healthRoutes(router, services);
  userRoutes(router, services);
  verifyRoutes(router, services);
  sessionRoutes(router, services);
  meRoutes(router, services);

  app.use(requestLog(log));
  app.use(securityHeaders);
  app.use(errorMiddleware(log));
  app.use(requireJson);
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: BODY_LIMIT, jsonStrict: true, encoding: 'utf-8' }));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
