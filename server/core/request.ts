// Small helpers over Koa's context that every capability's routes use.
import type { Context } from 'koa';
import type { RequestInfo } from '../activity/events.js';

/** The client address (after TRUST_PROXY) and User-Agent, for throttles, sessions and events. */
export function requestInfo(ctx: Context): RequestInfo {
  return { address: ctx.ip, userAgent: ctx.get('User-Agent') || null };
}

export function requestBody(ctx: Context): unknown {
  return (ctx.request as { body?: unknown }).body;
}
