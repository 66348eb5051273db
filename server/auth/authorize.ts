// Who is calling, and what each route needs: every route states it, as a session or as a scope.
// A session may do everything its account may; an access token only what its scopes name, from
// the addresses it is restricted to, and never what needs a session (passwords, the email,
// deletion, tokens, sessions in bulk). The credential is resolved once per request (ctx.state).
import type { Context } from 'koa';
import type { Services } from '../capabilities.js';
import { HttpError } from '../core/errors.js';
import { ACCESS_TOKEN_PREFIX, type Scope } from '../contract/access-tokens.js';
import type { Credential, User } from '../contract/api.js';
import type { Authenticated } from '../sessions/store.js';
import type { AccessTokenCredential } from '../tokens/store.js';

export interface Caller {
  user: User;
  /** The hash of the token the request came with (a session's or an access token's). */
  tokenHash: string;
  /** The session, when the caller is one. */
  session?: Authenticated;
  /** The access token, when the caller is one. */
  accessToken?: AccessTokenCredential;
}

type Stores = Pick<Services, 'sessions' | 'tokens' | 'metrics'>;

function unauthenticated(detail: string): HttpError {
  return new HttpError(401, 'unauthenticated', detail, undefined, { 'WWW-Authenticate': 'Bearer' });
}

/** The caller behind `Authorization: Bearer`, or 401 (403 for an access token used from elsewhere). */
export async function callerOf(ctx: Context, stores: Stores): Promise<Caller> {
  if (ctx.state.caller) return ctx.state.caller as Caller;
  const token = /^Bearer +(\S+) *$/i.exec(ctx.get('Authorization'))?.[1];
  if (!token) throw unauthenticated('Log in first: send Authorization: Bearer <token>.');
  let caller: Caller;
  try {
    if (token.startsWith(ACCESS_TOKEN_PREFIX)) {
      const { user, credential } = await stores.tokens.authenticate(token, ctx.ip);
      caller = { user, tokenHash: credential.tokenHash, accessToken: credential };
    } else {
      const session = await stores.sessions.authenticate(token);
      caller = { user: session.user, tokenHash: session.tokenHash, session };
    }
  } catch (error) {
    // A refusal of the token itself (401, or 403 from outside its address ranges), not a database outage.
    if (error instanceof HttpError && error.status < 500) stores.metrics?.tokenRefused(token.startsWith(ACCESS_TOKEN_PREFIX) ? 'access_token' : 'session');
    throw error;
  }
  ctx.state.caller = caller;
  return caller;
}

/** A route that needs a session: an access token gets 403 session_required. */
export async function requireSession(ctx: Context, stores: Stores): Promise<Authenticated> {
  const caller = await callerOf(ctx, stores);
  if (!caller.session) throw sessionRequired();
  return caller.session;
}

/** A route an access token with `scope` may call (a session always may). */
export async function requireScope(ctx: Context, stores: Stores, scope: Scope): Promise<Caller> {
  const caller = await callerOf(ctx, stores);
  if (caller.accessToken && !caller.accessToken.scopes.includes(scope)) {
    throw new HttpError(403, 'insufficient_scope', `This access token may not do this: it needs the scope ${scope}. Create a token with it (taskmaster token create --scope ${scope}).`, undefined, {
      'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope}"`,
    });
  }
  return caller;
}

export function sessionRequired(): HttpError {
  return new HttpError(403, 'session_required', 'An access token cannot do this: it needs a session. Log in (taskmaster login) and try again with that session.');
}

const SESSION_CREDENTIAL: Credential = Object.freeze({ type: 'session' });

/** What GET /v1/me says of the credential: how a service of the platform learns what a bearer token may do. */
export function describeCredential(caller: Caller): Credential {
  return caller.accessToken ? caller.accessToken.described : SESSION_CREDENTIAL;
}
