// What the route handlers share: the services and small helpers over Koa's context.
import type { Context } from 'koa';
import type { Accounts } from '../accounts.js';
import type { SessionStore, Authenticated } from '../sessions.js';
import type { Database } from '../../db/connection.js';

export interface Services {
  accounts: Accounts;
  sessions: SessionStore;
  db: Database;
}

export function requestBody(ctx: Context): unknown {
  return (ctx.request as { body?: unknown }).body;
}

/** Resolves the bearer token or throws 401; the result is kept for the handler. */
export async function requireSession(ctx: Context, services: Services): Promise<Authenticated> {
  return services.sessions.authenticate(ctx.get('Authorization') || undefined);
}
