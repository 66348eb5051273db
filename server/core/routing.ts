// Routing: @koa/router holds the routes (each capability mounts its own) and decides what a
// request runs. For a path without parameters (all but a few of the API's) that decision depends on
// the path and method alone, so it is asked once, at start-up, and kept in a Map: such a request
// costs a lookup instead of @koa/router's walk over every route and the chain it composes anew per
// request. Any other request (a parameter in the path, a trailing slash, another case, a method
// the path does not take, OPTIONS) goes through @koa/router and its allowedMethods as before.
import type Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import compose from 'koa-compose';

type Layer = Router['stack'][number];

/** Characters with a meaning in a path-to-regexp path (parameters, wildcards, groups). */
const PATTERN = /[:*?+(){}[\]!\\]/;

export interface Routes {
  (ctx: Context, next: Next): Promise<unknown>;
  /** The router behind it: the OpenAPI test reads the routes from it. */
  router: Router;
}

export function routes(router: Router): Routes {
  const throughRouter = compose([router.routes(), router.allowedMethods({ throw: true })]) as Middleware;
  const known = new Map<string, Map<string, Middleware>>();
  for (const layer of router.stack) {
    const path = layer.path;
    if (typeof path !== 'string' || PATTERN.test(path) || known.has(path)) continue;
    const byMethod = new Map<string, Middleware>();
    const methods = new Set(router.stack.flatMap((each) => each.methods));
    for (const method of methods) {
      const match = router.match(path, method);
      if (match.route) byMethod.set(method, decided(router, path, match.path, match.pathAndMethod));
    }
    known.set(path, byMethod);
  }
  const dispatch = (ctx: Context, next: Next) => {
    const route = known.get(ctx.path)?.get(ctx.method);
    return (route ?? throughRouter)(ctx, next) as Promise<unknown>;
  };
  return Object.assign(dispatch, { router });
}

/**
 * What @koa/router's dispatch runs for `path` and these matched layers, composed once: the
 * context fields it sets (params, captures, the matched route), then each layer's middleware.
 */
function decided(router: Router, path: string, matched: Layer[], layers: Layer[]): Middleware {
  const routeLayer = layers.toReversed().find((layer) => layer.methods.length > 0);
  const steps: { layer: Layer; captures: string[]; params: Record<string, string> }[] = [];
  let params: Record<string, string> = {};
  for (const layer of layers) {
    const captures = layer.captures(path);
    params = layer.params(path, captures, params);
    steps.push({ layer, captures, params });
  }
  const enter = ({ layer, captures, params }: (typeof steps)[number], ctx: Context) => {
    const routed = ctx as RoutedContext;
    routed.captures = [...captures];
    routed.params = routed.request.params = { ...params };
    routed.routerPath = layer.path as string;
    routed.routerName = layer.name;
    routed._matchedRoute = layer.path as string;
    if (layer.name) routed._matchedRouteName = layer.name;
  };
  // The usual case, one route and one handler: no chain to walk.
  const only = steps.length === 1 ? steps[0] : undefined;
  const run: Middleware = only
    ? only.layer.stack.length === 1
      ? (only.layer.stack[0] as Middleware)
      : compose(only.layer.stack as Middleware[])
    : compose(steps.flatMap((step) => [(ctx: Context, next: Next) => (enter(step, ctx), next()), ...(step.layer.stack as Middleware[])]));
  return (ctx, next) => {
    const routed = ctx as RoutedContext;
    routed.matched = routed.matched ? [...routed.matched, ...matched] : [...matched];
    routed.router = router;
    routed.routeMatched = true;
    if (only) enter(only, ctx);
    if (routeLayer) routed._matchedRoute = routeLayer.path as string;
    return run(ctx, next);
  };
}

/** The fields @koa/router sets on the context. */
interface RoutedContext extends Context {
  captures: string[];
  params: Record<string, string>;
  request: Context['request'] & { params: Record<string, string> };
  routerPath: string;
  routerName: string | undefined;
  _matchedRoute: string;
  _matchedRouteName?: string;
  matched: Layer[];
  router: Router;
  routeMatched: boolean;
}
