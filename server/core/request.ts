// What the route handlers share: the services and small helpers over Koa's context.
import type { Context } from 'koa';
import type { AccountDeletion } from '../accounts/deletion.js';
import type { Accounts } from '../accounts/accounts.js';
import type { Login } from '../login/flow.js';
import type { Passwords } from '../passwords/passwords.js';
import type { SessionStore, Authenticated } from '../sessions/store.js';
import type { Database } from '../../db/connection.js';
import type { RequestInfo } from '../activity/events.js';

export interface Services {
  accounts: Accounts;
  login: Login;
  passwords: Passwords;
  sessions: SessionStore;
  accountDeletion: AccountDeletion;
  db: Database;
  clock: () => number;
}

/** The client address (after TRUST_PROXY) and User-Agent, for throttles, sessions and events. */
export function requestInfo(ctx: Context): RequestInfo {
  return { address: ctx.ip, userAgent: ctx.get('User-Agent') || null };
}

export function requestBody(ctx: Context): unknown {
  return (ctx.request as { body?: unknown }).body;
}

/** Resolves the bearer token or throws 401; the result is kept for the handler. */
export async function requireSession(ctx: Context, services: Services): Promise<Authenticated> {
  return services.sessions.authenticate(ctx.get('Authorization') || undefined);
}
