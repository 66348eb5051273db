// Assembles the capabilities (server/capabilities.ts) into one Koa app behind one request frame.
// No listen here, so tests and benchmarks can mount it.
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import type { Logger } from 'pino';
import proxyaddr from 'proxy-addr';
import type { TrustProxy } from './core/config.js';
import { notFound, renderProblem } from './core/errors.js';
import { routes, type Routes } from './core/routing.js';
import { CAPABILITIES, type Services } from './capabilities.js';
import type { RequestMetrics } from './metrics/requests.js';

/**
 * The frame of every request, in one middleware that also routes (each layer costs throughput on
 * the hot path):
 * - the headers every answer needs: any answer may carry a token or account data, so it is never
 *   cached or sniffed (the HTML pages add their own framing and referrer rules);
 * - refusals rendered as RFC 9457 problem+json, in this one place;
 * - one structured log line (the path only: a query string may hold a token);
 * - the client address: the socket's, or with TRUST_PROXY the one the trusted proxies report;
 * - with metrics on, the request's count and duration by route pattern (server/metrics/requests.ts).
 */
function requestFrame(log: Logger, trustProxy: TrustProxy, route: Routes, requests: RequestMetrics | undefined) {
  const trust = trustProxyFunction(trustProxy);
  const frame = async function frame(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    if (trust) ctx.request.ip = proxyaddr(ctx.req, trust);
    ctx.res.setHeader('Cache-Control', 'no-store');
    ctx.res.setHeader('X-Content-Type-Options', 'nosniff');
    try {
      await route(ctx, next);
      if (ctx.status === 404 && ctx.body === undefined) throw notFound(ctx);
    } catch (caught) {
      renderProblem(ctx, caught, log);
    }
    const ms = performance.now() - started;
    // By the route's pattern (/v1/sessions/:id), which the router set; never the path itself.
    requests?.observe(ctx.method, (ctx as { _matchedRoute?: string })._matchedRoute, ctx.status, ms / 1000);
    log.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 }, 'request');
  };
  // As @koa/router's own middleware does: the routes can be read from the app (test/openapi.test.ts).
  return Object.assign(frame, { router: route.router });
}

/** Which hops of X-Forwarded-For to believe, walking back from the socket; undefined: none. */
function trustProxyFunction(trustProxy: TrustProxy): ((address: string, hop: number) => boolean) | undefined {
  if (trustProxy === false) return undefined;
  if ('hops' in trustProxy) return (_address, hop) => hop < trustProxy.hops;
  return proxyaddr.compile(trustProxy.addresses);
}

export function createApp(services: Services, log: Logger, trustProxy: TrustProxy = false): Koa {
  const app = new Koa();
  app.silent = true; // errors are logged by requestFrame, without stacks
  const router = new Router();
  for (const capability of CAPABILITIES) capability.mount(router, services);
  app.use(requestFrame(log, trustProxy, routes(router), services.metrics?.requests));
  return app;
}
